//! CIS Microsoft Azure Compute Services Benchmark v2.0.0: App Service, Functions and virtual machine settings moved out of Foundations from v4.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::Framework;

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Compute Services Benchmark",
    version: "2.0.0",
    controls: &[],
};
