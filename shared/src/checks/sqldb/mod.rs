//! SQL Databases: the user databases of each logical SQL server, with their transparent data
//! encryption, auditing policy and short-term backup retention.
//!
//! Databases are children of servers (one paged list per in-scope server); TDE, auditing and
//! backup retention are children of databases, read only for user databases (`master` is the
//! server's system database: no checks, no reads). A database counts as audited when its own
//! policy or its server's policy is enabled, so the server's auditing policy is read too.
//! Read at `Microsoft.Sql` api-version 2023-08-01, as SQL Server.

mod settings;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::settings::*;
use super::sqlserver::API_VERSION;
use super::{Collection, ServiceDef, props};

pub const SERVERS: &str = "sqldb.servers";
pub const SERVER_AUDITING: &str = "sqldb.server_auditing";
pub const DATABASES: &str = "sqldb.databases";
pub const TDE: &str = "sqldb.tde";
pub const AUDITING: &str = "sqldb.auditing";
pub const BACKUP_RETENTION: &str = "sqldb.backup_retention";

pub const SERVER_READ: &str = "Microsoft.Sql/servers/read";
pub const SERVER_AUDITING_READ: &str = "Microsoft.Sql/servers/auditingSettings/read";
pub const DATABASE_READ: &str = "Microsoft.Sql/servers/databases/read";
pub const TDE_READ: &str = "Microsoft.Sql/servers/databases/transparentDataEncryption/read";
pub const AUDITING_READ: &str = "Microsoft.Sql/servers/databases/auditingSettings/read";
pub const BACKUP_RETENTION_READ: &str =
    "Microsoft.Sql/servers/databases/backupShortTermRetentionPolicies/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "sqldb",
    name: "SQL Databases",
    collections: &[
        Collection::list(SERVERS, "Microsoft.Sql/servers", API_VERSION, SERVER_READ),
        Collection::child(
            SERVER_AUDITING,
            SERVERS,
            "/auditingSettings/default",
            API_VERSION,
            SERVER_AUDITING_READ,
        ),
        Collection::child_list(DATABASES, SERVERS, "/databases", API_VERSION, DATABASE_READ),
        Collection::child(
            TDE,
            DATABASES,
            "/transparentDataEncryption/current",
            API_VERSION,
            TDE_READ,
        )
        .only_for(is_user_database),
        Collection::child(
            AUDITING,
            DATABASES,
            "/auditingSettings/default",
            API_VERSION,
            AUDITING_READ,
        )
        .only_for(is_user_database),
        Collection::child(
            BACKUP_RETENTION,
            DATABASES,
            "/backupShortTermRetentionPolicies/default",
            API_VERSION,
            BACKUP_RETENTION_READ,
        )
        .only_for(is_user_database),
    ],
    checks: &[
        TDE_ENABLED,
        DATABASE_AUDITING,
        BACKUP_RETENTION_7_DAYS,
        GEO_BACKUP_REDUNDANCY,
    ],
    none_in_scope: "No SQL user databases in the selected regions",
};

/// Every database but the server's `master` (a system database the customer does not own).
pub fn is_user_database(database: &Value) -> bool {
    !props::resource_name(database).eq_ignore_ascii_case("master")
}
