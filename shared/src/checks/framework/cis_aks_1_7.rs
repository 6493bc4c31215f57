//! CIS Azure Kubernetes Service (AKS) Benchmark v1.7.0, section 5 (managed services: registry, identity, network, cluster).
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::Framework;

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Azure Kubernetes Service (AKS) Benchmark",
    version: "1.7.0",
    controls: &[],
};
