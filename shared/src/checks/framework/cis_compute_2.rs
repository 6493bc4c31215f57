//! CIS Microsoft Azure Compute Services Benchmark v2.0.0: App Service, Functions and virtual machine settings moved out of Foundations from v4.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::{Framework, control};

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Compute Services Benchmark",
    version: "2.0.0",
    controls: &[
        control("2.1.4", &["appservice.basic_auth_disabled"]),
        control("2.1.5", &["appservice.ftp_disabled"]),
        control("2.1.7", &["appservice.https_only"]),
        control("2.1.8", &["appservice.min_tls_12"]),
        control("2.1.10", &["appservice.remote_debugging_off"]),
        control("2.1.12", &["appservice.auth_enabled"]),
        control("2.1.14", &["appservice.public_access_disabled"]),
        control("20.1", &["vm.managed_disks"]),
        control("20.2", &["vm.disk_cmk"]),
        control("20.3", &["vm.disk_cmk"]),
        control("20.4", &["vm.disk_network_access"]),
        control("20.6", &["vm.approved_extensions"]),
        control("20.10", &["vm.trusted_launch"]),
        control("20.11", &["vm.encryption_at_host"]),
    ],
};
