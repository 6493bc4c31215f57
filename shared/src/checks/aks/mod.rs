//! Kubernetes Service (AKS): cluster settings from the subscription's managed-cluster list
//! (`Microsoft.ContainerService/managedClusters`, 2025-01-01).
//!
//! The list returns each cluster's full model (API server access, agent pools, network, security
//! and auto-upgrade profiles), so one paged list answers all seven checks; no per-cluster call
//! and no credential-listing POST (`listClusterUserCredential`) is made.
//!
//! Absent properties: each check states what a missing property means, quoting the
//! ContainerService spec; an unknown or insecure default fails.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const CLUSTERS: &str = "aks.clusters";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "aks",
    name: "Kubernetes Service (AKS)",
    collections: &[Collection::list(
        CLUSTERS,
        "Microsoft.ContainerService/managedClusters",
        "2025-01-01",
        "Microsoft.ContainerService/managedClusters/read",
    )],
    checks: CHECKS,
    none_in_scope: "No AKS clusters in the selected regions",
};

const CHECKS: &[Check] = &[
    RBAC_ENABLED,
    LOCAL_ACCOUNTS_DISABLED,
    API_SERVER_RESTRICTED,
    NO_NODE_PUBLIC_IP,
    NETWORK_POLICY,
    KMS_SECRETS,
    AUTO_UPGRADE,
];
