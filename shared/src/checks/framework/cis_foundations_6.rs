//! CIS Microsoft Azure Foundations Benchmark v6.0.0 (127 recommendations): identity, logging and
//! alerts, networking, Defender, storage. Database and compute settings moved to their own
//! benchmarks (see `cis_database_1`, `cis_compute_2`, `cis_aks_1_7`).

use super::{Framework, control};

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Foundations Benchmark",
    version: "6.0.0",
    controls: &[
        control("6.1.1.5", &["nsg.flow_logs_retention"]),
        control("6.1.1.6", &["nsg.flow_logs_retention"]),
        control("7.1", &["nsg.rdp_internet"]),
        control("7.2", &["nsg.ssh_internet"]),
        control("7.3", &["nsg.udp_internet"]),
        control("7.4", &["nsg.http_internet"]),
        control("7.5", &["nsg.flow_logs_retention"]),
        control("7.8", &["nsg.flow_logs_retention"]),
        control("7.10", &["appgw.waf_enabled"]),
        control("7.11", &["nsg.subnet_has_nsg"]),
        control("7.12", &["appgw.min_tls_12"]),
        control("7.14", &["appgw.waf_request_body_check"]),
        control("7.15", &["appgw.waf_bot_protection"]),
        control("8.4.1", &["bastion.host_exists"]),
        control("9.1.1", &["storage.file_shares_hardened"]),
        control("9.1.2", &["storage.file_shares_hardened"]),
        control("9.1.3", &["storage.file_shares_hardened"]),
        control("9.2.1", &["blob.soft_delete"]),
        control("9.2.2", &["blob.container_soft_delete"]),
        control("9.2.3", &["blob.versioning"]),
        control("9.3.1.1", &["storage.key_rotation"]),
        control("9.3.1.2", &["storage.key_rotation"]),
        control("9.3.1.3", &["storage.shared_key_disabled"]),
        control("9.3.2.2", &["storage.public_network_disabled"]),
        control("9.3.2.3", &["storage.default_network_deny"]),
        control("9.3.4", &["storage.secure_transfer_required"]),
        control("9.3.6", &["storage.min_tls_12"]),
        control("9.3.7", &["storage.cross_tenant_replication_off"]),
        control(
            "9.3.8",
            &[
                "storage.blob_anonymous_access_disabled",
                "blob.container_private",
            ],
        ),
    ],
};
