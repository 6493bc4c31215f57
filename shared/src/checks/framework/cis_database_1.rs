//! CIS Microsoft Azure Database Services Benchmark v1.0.0: SQL, PostgreSQL, MySQL, Cosmos DB and Redis settings moved out of Foundations from v4.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::{Framework, control};

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Database Services Benchmark",
    version: "1.0.0",
    controls: &[
        control("2.1", &["redis.entra_auth"]),
        control("2.2", &["redis.non_ssl_port_disabled"]),
        control("2.3", &["redis.min_tls_12"]),
        control("2.6", &["redis.public_access_disabled"]),
        control("3.1", &["cosmos.network_restricted"]),
        control("3.2", &["cosmos.private_endpoint"]),
        control("6.1", &["mysql.require_secure_transport"]),
        control("6.2", &["mysql.tls_version"]),
        control("6.3", &["mysql.audit_log_enabled"]),
        control("6.4", &["mysql.audit_log_connection"]),
        control("7.1", &["postgres.require_secure_transport"]),
        control("7.2", &["postgres.session_logging"]),
        control("7.3", &["postgres.session_logging"]),
        control("7.4", &["postgres.session_logging"]),
        control("7.5", &["postgres.connection_throttling"]),
        control("7.6", &["postgres.log_retention"]),
        control("7.7", &["postgres.allow_azure_services_off"]),
        control("10.1", &["sqlserver.auditing_enabled", "sqldb.auditing"]),
        control("10.2", &["sqlserver.no_any_ip_firewall"]),
        control("10.3", &["sqlserver.tde_cmk"]),
        control("10.4", &["sqlserver.entra_admin"]),
        control("10.5", &["sqldb.tde_enabled"]),
        control("10.6", &["sqlserver.audit_retention"]),
        control("10.7", &["sqlserver.public_access_disabled"]),
    ],
};
