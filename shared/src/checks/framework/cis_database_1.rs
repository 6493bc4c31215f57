//! CIS Microsoft Azure Database Services Benchmark v1.0.0: SQL, PostgreSQL, MySQL, Cosmos DB and Redis settings moved out of Foundations from v4.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::Framework;

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Database Services Benchmark",
    version: "1.0.0",
    controls: &[],
};
