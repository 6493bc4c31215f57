//! The PostgreSQL checks. Parameter checks read the server's `configurations` list through
//! [`db_servers::parameter_findings`]; the firewall checks share [`db_servers::firewall_findings`].
//! A parameter missing from the list fails: every flexible server reports all its parameters,
//! so a missing one means the list could not be trusted.

use super::{CONFIGURATIONS, FIREWALL_RULES, PUBLIC_ACCESS, SERVERS, SINGLE_SERVERS};
use crate::checks::db_servers::{self, FirewallRule, Param, is};
use crate::checks::{Check, CheckMeta, EvalContext, Severity};
use crate::messages::Finding;

/// Passes when parameter `require_secure_transport` is `on`.
///
/// Absent fails. Server default "on" ("Whether client connections to the server are required
/// to use some form of secure transport"), but a server may have turned it off, and only the
/// reported value says which.
pub const REQUIRE_SECURE_TRANSPORT: Check = Check::custom(
    CheckMeta {
        id: "postgres.require_secure_transport",
        title: "TLS required",
        severity: Severity::High,
        description: "With require_secure_transport off the server accepts unencrypted \
            connections, so credentials and query results cross the network in clear text.",
        remediation: "Portal: Azure Database for PostgreSQL flexible server > Settings > Server \
            parameters > require_secure_transport = ON > Save. CLI: `az postgres flexible-server \
            parameter set --resource-group <rg> --server-name <server> --name \
            require_secure_transport --value on`.",
    },
    &[SERVERS, CONFIGURATIONS],
    require_secure_transport,
);

fn require_secure_transport(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "require_secure_transport",
            expected: "on",
            passes: |v| is(v, "on"),
        }],
        "Connections must use TLS",
    )
}

/// Passes when parameters `log_checkpoints`, `log_connections` and `log_disconnections` are all
/// `on` (CIS Database Services 7.2-7.4 in one check: they are one session-logging setting).
///
/// Absent fails (see the module doc).
pub const SESSION_LOGGING: Check = Check::custom(
    CheckMeta {
        id: "postgres.session_logging",
        title: "Checkpoint, connection and disconnection logging on",
        severity: Severity::Low,
        description: "Connection, disconnection and checkpoint logs show who connected when, \
            how long sessions lasted and how the server behaved under load; without them an \
            intrusion or a brute-force attempt leaves no trace in the server logs.",
        remediation: "Portal: PostgreSQL flexible server > Settings > Server parameters > \
            log_checkpoints, log_connections and log_disconnections = ON > Save. CLI: `az \
            postgres flexible-server parameter set --resource-group <rg> --server-name <server> \
            --name log_connections --value on` (likewise log_checkpoints and \
            log_disconnections).",
    },
    &[SERVERS, CONFIGURATIONS],
    session_logging,
);

fn session_logging(ctx: &EvalContext<'_>) -> Vec<Finding> {
    const ON: fn(&str) -> bool = |v| is(v, "on");
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[
            Param {
                name: "log_checkpoints",
                expected: "on",
                passes: ON,
            },
            Param {
                name: "log_connections",
                expected: "on",
                passes: ON,
            },
            Param {
                name: "log_disconnections",
                expected: "on",
                passes: ON,
            },
        ],
        "Checkpoints, connections and disconnections are logged",
    )
}

/// Passes when parameter `connection_throttle.enable` is `on`.
///
/// Absent fails (see the module doc); the server default is off.
pub const CONNECTION_THROTTLING: Check = Check::custom(
    CheckMeta {
        id: "postgres.connection_throttling",
        title: "Connection throttling on",
        severity: Severity::Low,
        description: "Connection throttling slows down clients after repeated failed logins, \
            which blunts password guessing and keeps a flood of bad connections from exhausting \
            the server.",
        remediation: "Portal: PostgreSQL flexible server > Settings > Server parameters > \
            connection_throttle.enable = ON > Save. CLI: `az postgres flexible-server parameter \
            set --resource-group <rg> --server-name <server> --name connection_throttle.enable \
            --value on`.",
    },
    &[SERVERS, CONFIGURATIONS],
    connection_throttling,
);

fn connection_throttling(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "connection_throttle.enable",
            expected: "on",
            passes: |v| is(v, "on"),
        }],
        "Connection throttling is on",
    )
}

/// Passes when parameter `logfiles.retention_days` is an integer greater than 3.
///
/// Absent or not a number fails (see the module doc).
pub const LOG_RETENTION: Check = Check::custom(
    CheckMeta {
        id: "postgres.log_retention",
        title: "Server logs kept > 3 days",
        severity: Severity::Low,
        description: "Server logs kept for only a few days are gone before most incidents are \
            noticed. Keeping them more than 3 days (up to 7 on the server) leaves time to \
            export or examine them.",
        remediation: "Portal: PostgreSQL flexible server > Settings > Server parameters > \
            logfiles.retention_days = 4 to 7 > Save. CLI: `az postgres flexible-server parameter \
            set --resource-group <rg> --server-name <server> --name logfiles.retention_days \
            --value 7`.",
    },
    &[SERVERS, CONFIGURATIONS],
    log_retention,
);

fn log_retention(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "logfiles.retention_days",
            expected: "more than 3 (days)",
            passes: |v| v.trim().parse::<i64>().is_ok_and(|d| d > 3),
        }],
        "Server logs are kept more than 3 days",
    )
}

/// Passes when public network access is disabled or no firewall rule is `0.0.0.0`-`0.0.0.0`
/// (the portal's "Allow public access from any Azure service within Azure to this server").
///
/// A server without a firewall rule list (404) has no rules and passes.
pub const ALLOW_AZURE_SERVICES_OFF: Check = Check::custom(
    CheckMeta {
        id: "postgres.allow_azure_services_off",
        title: "\"Allow all Azure services\" rule absent",
        severity: Severity::Medium,
        description: "The 0.0.0.0 firewall rule admits connections from any Azure service, \
            including virtual machines and functions in other customers' subscriptions, so the \
            server's only barrier is its login.",
        remediation: "Portal: PostgreSQL flexible server > Settings > Networking > clear \"Allow \
            public access from any Azure service within Azure to this server\" > Save. CLI: `az \
            postgres flexible-server firewall-rule delete --resource-group <rg> --name <server> \
            --rule-name <rule>` for the 0.0.0.0 rule.",
    },
    &[SERVERS, FIREWALL_RULES],
    allow_azure_services_off,
);

fn allow_azure_services_off(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::firewall_findings(
        ctx,
        &FirewallRule {
            servers: SERVERS,
            rules: FIREWALL_RULES,
            public_access_path: PUBLIC_ACCESS,
            offending: db_servers::is_allow_azure_services,
            expected: "no rule 0.0.0.0-0.0.0.0 (allow all Azure services)",
            pass: "No firewall rule admits all Azure services",
            fail: "A firewall rule admits all Azure services",
        },
    )
}

/// Passes when public network access is disabled or no firewall rule spans `0.0.0.0` to
/// `255.255.255.255`.
///
/// A server without a firewall rule list (404) has no rules and passes.
pub const PUBLIC_ACCESS_RESTRICTED: Check = Check::custom(
    CheckMeta {
        id: "postgres.public_access_restricted",
        title: "Not open to the whole internet",
        severity: Severity::High,
        description: "A firewall rule from 0.0.0.0 to 255.255.255.255 lets any address on the \
            internet reach the server's login, where it is found by scanners and attacked with \
            password guessing.",
        remediation: "Portal: PostgreSQL flexible server > Settings > Networking > delete the \
            0.0.0.0-255.255.255.255 rule (add the client ranges that need access), or set Public \
            access to Disabled and use private endpoints. CLI: `az postgres flexible-server \
            firewall-rule delete --resource-group <rg> --name <server> --rule-name <rule>`.",
    },
    &[SERVERS, FIREWALL_RULES],
    public_access_restricted,
);

fn public_access_restricted(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::firewall_findings(
        ctx,
        &FirewallRule {
            servers: SERVERS,
            rules: FIREWALL_RULES,
            public_access_path: PUBLIC_ACCESS,
            offending: db_servers::spans_all_ipv4,
            expected: "no rule 0.0.0.0-255.255.255.255",
            pass: "The server is not open to the whole internet",
            fail: "A firewall rule admits the whole internet",
        },
    )
}

/// Fails for each Single Server (`Microsoft.DBforPostgreSQL/servers`) in scope; with none, one
/// passing finding about the subscription. Single Server was retired on 28 March 2025.
pub const SINGLE_SERVER_PRESENT: Check = Check::custom(
    CheckMeta {
        id: "postgres.single_server_present",
        title: "No retired Single Server instances (retired 28 Mar 2025)",
        severity: Severity::Medium,
        description: "Azure Database for PostgreSQL Single Server was retired on 28 March 2025: \
            remaining instances get no security updates or support and may be stopped or \
            migrated by Microsoft at any time.",
        remediation: "Migrate to Azure Database for PostgreSQL flexible server. Portal: Azure \
            Database for PostgreSQL flexible servers > Migration > Create (source: Single \
            Server). CLI: `az postgres flexible-server migration create --resource-group <rg> \
            --name <target-flexible-server> --migration-name <name> --properties \
            <migration.json>`; then delete the single server (`az postgres server delete`).",
    },
    &[SINGLE_SERVERS],
    single_server_present,
)
.none_in_scope("No retired Single Server instances in the selected regions");

fn single_server_present(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::retired_findings(
        ctx,
        SINGLE_SERVERS,
        "Microsoft.DBforPostgreSQL/servers",
        "Single Server was retired on 28 March 2025: migrate to a flexible server",
        "No PostgreSQL Single Server instances in scope",
    )
}
