//! SQL Server: logical servers of Azure SQL Database (`Microsoft.Sql/servers`), their auditing
//! policy, firewall rules, TDE protector and Defender for SQL setting.
//!
//! Server settings (public network access, Entra admin, minimal TLS) come from the server list;
//! the others are one child read per in-scope server, each read once and shared by the checks
//! that use it (auditing serves two). Read at api-version 2023-08-01 (stable), where every
//! child used here exists. Absent properties fail unless a check's doc comment says otherwise.

mod auditing;
mod settings;
#[cfg(test)]
mod tests;

use self::auditing::AUDIT_RETENTION;
use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const SERVERS: &str = "sqlserver.servers";
pub const AUDITING: &str = "sqlserver.auditing";
pub const FIREWALL_RULES: &str = "sqlserver.firewall_rules";
pub const ENCRYPTION_PROTECTOR: &str = "sqlserver.encryption_protector";
pub const THREAT_PROTECTION: &str = "sqlserver.threat_protection";

/// The pinned api-version of `Microsoft.Sql` (also used by the SQL Databases service).
pub const API_VERSION: &str = "2023-08-01";

pub const SERVER_READ: &str = "Microsoft.Sql/servers/read";
pub const AUDITING_READ: &str = "Microsoft.Sql/servers/auditingSettings/read";
pub const FIREWALL_READ: &str = "Microsoft.Sql/servers/firewallRules/read";
pub const ENCRYPTION_PROTECTOR_READ: &str = "Microsoft.Sql/servers/encryptionProtector/read";
pub const THREAT_PROTECTION_READ: &str =
    "Microsoft.Sql/servers/advancedThreatProtectionSettings/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "sqlserver",
    name: "SQL Server",
    collections: &[
        Collection::list(SERVERS, "Microsoft.Sql/servers", API_VERSION, SERVER_READ),
        Collection::child(
            AUDITING,
            SERVERS,
            "/auditingSettings/default",
            API_VERSION,
            AUDITING_READ,
        ),
        Collection::child_list(
            FIREWALL_RULES,
            SERVERS,
            "/firewallRules",
            API_VERSION,
            FIREWALL_READ,
        ),
        Collection::child(
            ENCRYPTION_PROTECTOR,
            SERVERS,
            "/encryptionProtector/current",
            API_VERSION,
            ENCRYPTION_PROTECTOR_READ,
        ),
        Collection::child(
            THREAT_PROTECTION,
            SERVERS,
            "/advancedThreatProtectionSettings/Default",
            API_VERSION,
            THREAT_PROTECTION_READ,
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No SQL servers in the selected regions",
};

const CHECKS: &[Check] = &[
    AUDITING_ENABLED,
    AUDIT_RETENTION,
    NO_ANY_IP_FIREWALL,
    PUBLIC_ACCESS_DISABLED,
    ENTRA_ADMIN,
    TDE_CMK,
    MIN_TLS_12,
    DEFENDER_ENABLED,
];
