//! CIS Azure Kubernetes Service (AKS) Benchmark v1.7.0, section 5 (managed services: registry, identity, network, cluster).
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::{Framework, control};

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Azure Kubernetes Service (AKS) Benchmark",
    version: "1.7.0",
    controls: &[
        control("5.3.1", &["aks.kms_secrets"]),
        control("5.4.1", &["aks.api_server_restricted"]),
        control("5.4.2", &["aks.api_server_restricted"]),
        control("5.4.3", &["aks.no_node_public_ip"]),
        control("5.4.4", &["aks.network_policy"]),
        control("5.5.1", &["aks.local_accounts_disabled"]),
    ],
};
