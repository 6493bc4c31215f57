//! MySQL Server: Azure Database for MySQL flexible servers (their server parameters and
//! firewall rules), and the retired Single Server offering surfaced as a finding.
//!
//! Server parameters come from one `configurations` list per server (one paged GET), not one GET
//! per parameter; firewall rules are read only for servers whose public network access is not
//! disabled. Single Server (`Microsoft.DBforMySQL/servers`) is retired (16 September 2024): its
//! API is read only to name the instances still there. Flexible servers are read at api-version
//! 2023-12-30, whose `network.publicNetworkAccess` the checks use.

mod settings;
#[cfg(test)]
mod tests;

use serde_json::Value;

use self::settings::*;
use super::db_servers;
use super::{Collection, ServiceDef};

pub const SERVERS: &str = "mysql.servers";
pub const CONFIGURATIONS: &str = "mysql.configurations";
pub const FIREWALL_RULES: &str = "mysql.firewall_rules";
pub const SINGLE_SERVERS: &str = "mysql.single_servers";

const API_VERSION: &str = "2023-12-30";
/// The last api-version of the retired Single Server API.
const SINGLE_SERVER_API_VERSION: &str = "2017-12-01";

pub const SERVER_READ: &str = "Microsoft.DBforMySQL/flexibleServers/read";
pub const CONFIGURATION_READ: &str = "Microsoft.DBforMySQL/flexibleServers/configurations/read";
pub const FIREWALL_READ: &str = "Microsoft.DBforMySQL/flexibleServers/firewallRules/read";
pub const SINGLE_SERVER_READ: &str = "Microsoft.DBforMySQL/servers/read";

/// Path of a flexible server's public network access setting.
pub const PUBLIC_ACCESS: &str = "properties.network.publicNetworkAccess";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "mysql",
    name: "MySQL Server",
    collections: &[
        Collection::list(
            SERVERS,
            "Microsoft.DBforMySQL/flexibleServers",
            API_VERSION,
            SERVER_READ,
        ),
        Collection::child_list(
            CONFIGURATIONS,
            SERVERS,
            "/configurations",
            API_VERSION,
            CONFIGURATION_READ,
        ),
        Collection::child_list(
            FIREWALL_RULES,
            SERVERS,
            "/firewallRules",
            API_VERSION,
            FIREWALL_READ,
        )
        .only_for(has_public_access),
        Collection::list(
            SINGLE_SERVERS,
            "Microsoft.DBforMySQL/servers",
            SINGLE_SERVER_API_VERSION,
            SINGLE_SERVER_READ,
        ),
    ],
    checks: &[
        REQUIRE_SECURE_TRANSPORT,
        TLS_VERSION,
        AUDIT_LOG_ENABLED,
        AUDIT_LOG_CONNECTION,
        PUBLIC_ACCESS_RESTRICTED,
        SINGLE_SERVER_PRESENT,
    ],
    none_in_scope: "No MySQL flexible servers in the selected regions",
};

/// Firewall rules are in force only while public network access is not disabled; a server with
/// private access (VNet integration) has none, so they are not read.
fn has_public_access(server: &Value) -> bool {
    !db_servers::public_access_disabled(server, PUBLIC_ACCESS)
}
