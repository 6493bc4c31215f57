//! The MySQL checks. Parameter checks read the server's `configurations` list through
//! [`db_servers::parameter_findings`]; a parameter missing from the list fails, since every
//! flexible server reports all its parameters.

use super::{CONFIGURATIONS, FIREWALL_RULES, PUBLIC_ACCESS, SERVERS, SINGLE_SERVERS};
use crate::checks::db_servers::{self, FirewallRule, Param, is, list_entries};
use crate::checks::{Check, CheckMeta, EvalContext, Severity};
use crate::messages::Finding;

/// Passes when parameter `require_secure_transport` is `ON`.
///
/// Absent fails (see the module doc). The server default is ON, but it can be turned off and
/// only the reported value says which.
pub const REQUIRE_SECURE_TRANSPORT: Check = Check::custom(
    CheckMeta {
        id: "mysql.require_secure_transport",
        title: "TLS required for connections",
        severity: Severity::High,
        description: "With require_secure_transport OFF the server accepts unencrypted \
            connections, so credentials and query results cross the network in clear text.",
        remediation: "Portal: Azure Database for MySQL flexible server > Settings > Server \
            parameters > require_secure_transport = ON > Save. CLI: `az mysql flexible-server \
            parameter set --resource-group <rg> --server-name <server> --name \
            require_secure_transport --value ON`.",
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
            expected: "ON",
            passes: |v| is(v, "ON"),
        }],
        "Connections must use TLS",
    )
}

/// Passes when parameter `tls_version` (a comma-separated list) lists only `TLSv1.2` and/or
/// `TLSv1.3`.
///
/// Absent or empty fails (see the module doc).
pub const TLS_VERSION: Check = Check::custom(
    CheckMeta {
        id: "mysql.tls_version",
        title: "Only TLS 1.2/1.3 allowed",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated; a server that \
            still offers them lets clients, or an attacker downgrading a connection, use a weak \
            protocol.",
        remediation: "Portal: MySQL flexible server > Settings > Server parameters > tls_version \
            = TLSv1.2 (and/or TLSv1.3) > Save. CLI: `az mysql flexible-server parameter set \
            --resource-group <rg> --server-name <server> --name tls_version --value \
            TLSv1.2,TLSv1.3`.",
    },
    &[SERVERS, CONFIGURATIONS],
    tls_version,
);

fn tls_version(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "tls_version",
            expected: "only TLSv1.2 and/or TLSv1.3",
            passes: |v| {
                let mut entries = list_entries(v).peekable();
                entries.peek().is_some() && entries.all(|e| is(e, "TLSv1.2") || is(e, "TLSv1.3"))
            },
        }],
        "Only TLS 1.2 or later is offered",
    )
}

/// Passes when parameter `audit_log_enabled` is `ON`.
///
/// Absent fails (see the module doc); the server default is OFF.
pub const AUDIT_LOG_ENABLED: Check = Check::custom(
    CheckMeta {
        id: "mysql.audit_log_enabled",
        title: "Audit log on",
        severity: Severity::Medium,
        description: "The audit log records connections, queries and administrative actions; \
            without it there is no record of who did what on the server when an incident is \
            investigated.",
        remediation: "Portal: MySQL flexible server > Settings > Server parameters > \
            audit_log_enabled = ON > Save, then send the MySqlAuditLogs category to a Log \
            Analytics workspace (Diagnostic settings). CLI: `az mysql flexible-server parameter \
            set --resource-group <rg> --server-name <server> --name audit_log_enabled --value \
            ON`.",
    },
    &[SERVERS, CONFIGURATIONS],
    audit_log_enabled,
);

fn audit_log_enabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "audit_log_enabled",
            expected: "ON",
            passes: |v| is(v, "ON"),
        }],
        "The audit log is on",
    )
}

/// Passes when parameter `audit_log_events` (a comma-separated list) contains `CONNECTION` (or
/// `CONNECTION_V2`, its MySQL 8.0 form).
///
/// Absent fails (see the module doc). Whether the audit log itself is on is
/// `mysql.audit_log_enabled`.
pub const AUDIT_LOG_CONNECTION: Check = Check::custom(
    CheckMeta {
        id: "mysql.audit_log_connection",
        title: "Audit log records connections",
        severity: Severity::Medium,
        description: "Connection events (logins, failed logins, disconnections) are what shows \
            password guessing and unexpected clients; an audit log that leaves them out misses \
            the first sign of an attack.",
        remediation: "Portal: MySQL flexible server > Settings > Server parameters > \
            audit_log_events: include CONNECTION > Save. CLI: `az mysql flexible-server \
            parameter set --resource-group <rg> --server-name <server> --name audit_log_events \
            --value CONNECTION,ADMIN,DDL`.",
    },
    &[SERVERS, CONFIGURATIONS],
    audit_log_connection,
);

fn audit_log_connection(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::parameter_findings(
        ctx,
        SERVERS,
        CONFIGURATIONS,
        &[Param {
            name: "audit_log_events",
            expected: "a list containing CONNECTION",
            passes: |v| list_entries(v).any(|e| is(e, "CONNECTION") || is(e, "CONNECTION_V2")),
        }],
        "The audit log records connections",
    )
}

/// Passes when public network access is disabled or no firewall rule spans `0.0.0.0` to
/// `255.255.255.255`.
///
/// A server without a firewall rule list (404) has no rules and passes.
pub const PUBLIC_ACCESS_RESTRICTED: Check = Check::custom(
    CheckMeta {
        id: "mysql.public_access_restricted",
        title: "Not open to the whole internet",
        severity: Severity::High,
        description: "A firewall rule from 0.0.0.0 to 255.255.255.255 lets any address on the \
            internet reach the server's login, where it is found by scanners and attacked with \
            password guessing.",
        remediation: "Portal: MySQL flexible server > Settings > Networking > delete the \
            0.0.0.0-255.255.255.255 rule (add the client ranges that need access), or disable \
            public access and use private endpoints. CLI: `az mysql flexible-server \
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

/// Fails for each Single Server (`Microsoft.DBforMySQL/servers`) in scope; with none, one
/// passing finding about the subscription. MySQL Single Server is retired.
pub const SINGLE_SERVER_PRESENT: Check = Check::custom(
    CheckMeta {
        id: "mysql.single_server_present",
        title: "No retired Single Server instances",
        severity: Severity::Medium,
        description: "Azure Database for MySQL Single Server is retired: remaining instances \
            get no security updates or support and may be stopped or migrated by Microsoft at \
            any time.",
        remediation: "Migrate to Azure Database for MySQL flexible server. Portal: the single \
            server > Migrate to Flexible Server. CLI: `az mysql flexible-server create` for the \
            target, move the data (Azure Database Migration Service or `mysqldump`), then `az \
            mysql server delete --resource-group <rg> --name <server>`.",
    },
    &[SINGLE_SERVERS],
    single_server_present,
)
.none_in_scope("No retired Single Server instances in the selected regions");

fn single_server_present(ctx: &EvalContext<'_>) -> Vec<Finding> {
    db_servers::retired_findings(
        ctx,
        SINGLE_SERVERS,
        "Microsoft.DBforMySQL/servers",
        "MySQL Single Server is retired: migrate to a flexible server",
        "No MySQL Single Server instances in scope",
    )
}
