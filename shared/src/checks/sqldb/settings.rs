//! The SQL database checks: three declarative ones (one property of the database or of one of
//! its children) and the auditing check, which joins the database's policy with its server's.

use serde_json::Value;

use super::{
    AUDITING, BACKUP_RETENTION, DATABASES, SERVER_AUDITING, SERVERS, TDE, is_user_database,
};
use crate::checks::{
    Check, CheckMeta, ChildOutcome, EvalContext, Example, Expect, Missing, Rule, Severity, Target,
    When, props,
};
use crate::messages::{Finding, FindingStatus};

/// Only user databases: `master` is the server's system database.
const USER_DATABASES: Option<When> = Some(When {
    path: "name",
    expect: Expect::NotOneOf(&["master"]),
});

/// Passes when the database's `transparentDataEncryption/current` has `properties.state`
/// `Enabled`.
///
/// Absent fails. Spec: "Specifies the state of the transparent data encryption." (required);
/// every user database has the child, so its absence means the state is unknown.
pub const TDE_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "sqldb.tde_enabled",
        title: "Transparent data encryption on",
        severity: Severity::High,
        description: "Transparent data encryption encrypts the database, its backups and its \
            log files at rest. Without it, anyone who obtains a copy of the files or backups \
            can read the data.",
        remediation: "Portal: SQL database > Security > Transparent data encryption > Data \
            encryption = On > Save. CLI: `az sql db tde set --resource-group <rg> --server \
            <server> --database <database> --status Enabled`.",
    },
    Rule {
        target: Target::Child {
            parent: DATABASES,
            child: TDE,
        },
        path: "properties.state",
        expect: Expect::Equals("Enabled"),
        missing: Missing::Fails,
        when: USER_DATABASES,
        pass: "Transparent data encryption is on",
        fail: "Transparent data encryption is off",
        pass_examples: &[Example::Str("Enabled")],
        fail_examples: &[Example::Str("Disabled"), Example::Absent],
    },
);

/// Passes when the database's `auditingSettings/default` has `properties.state` `Enabled`, or
/// its server's `auditingSettings/default` does (server auditing covers every database).
///
/// An absent policy counts as not enabled. `master` is not evaluated.
pub const DATABASE_AUDITING: Check = Check::custom(
    CheckMeta {
        id: "sqldb.auditing",
        title: "Database audited (own policy or server policy)",
        severity: Severity::Medium,
        description: "Auditing records logins, queries and permission changes on the database. \
            Without an auditing policy on the database or on its server, there is no trail of \
            who read or changed its data.",
        remediation: "Prefer server-level auditing, which covers every database. Portal: SQL \
            server (or SQL database) > Security > Auditing > Enable Azure SQL Auditing = On, \
            choose a destination > Save. CLI: `az sql server audit-policy update \
            --resource-group <rg> --name <server> --state Enabled ...` or `az sql db \
            audit-policy update --resource-group <rg> --server <server> --name <database> \
            --state Enabled ...`.",
    },
    &[SERVERS, SERVER_AUDITING, DATABASES, AUDITING],
    database_auditing,
);

const STATE: &str = "properties.state";

fn database_auditing(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.all_items(SERVERS)
        .into_iter()
        .flat_map(|server| {
            let server_id = props::resource_id(server);
            let databases: &[Value] = match ctx.child(DATABASES, server_id) {
                Some(ChildOutcome::Items(items)) => items,
                Some(ChildOutcome::Failed(err)) => {
                    return vec![props::unreadable(server, "its databases", err)];
                }
                _ => &[],
            };
            let server_policy = ctx.child(SERVER_AUDITING, server_id);
            databases
                .iter()
                .filter(|db| is_user_database(db))
                .map(|db| database_verdict(ctx, db, server_policy))
                .collect()
        })
        .collect()
}

fn database_verdict(
    ctx: &EvalContext<'_>,
    database: &Value,
    server_policy: Option<&ChildOutcome>,
) -> Finding {
    let own = ctx.child(AUDITING, props::resource_id(database));
    let state = |outcome: Option<&ChildOutcome>| match outcome {
        Some(ChildOutcome::Object(policy)) => props::prop(policy, STATE).cloned(),
        _ => None,
    };
    let enabled = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("Enabled"))
    };
    let (own_state, server_state) = (state(own), state(server_policy));
    let evidence = vec![
        props::evidence_value(
            format!("auditingSettings/default: {STATE}"),
            own_state.clone().unwrap_or(Value::Null),
            "Enabled (or the server's auditing Enabled)",
        ),
        props::evidence_value(
            format!("server auditingSettings/default: {STATE}"),
            server_state.clone().unwrap_or(Value::Null),
            "Enabled (or the database's auditing Enabled)",
        ),
    ];
    if enabled(&own_state) || enabled(&server_state) {
        let by = if enabled(&own_state) {
            "its own"
        } else {
            "its server's"
        };
        return props::finding(
            database,
            FindingStatus::Passed,
            evidence,
            format!("The database is audited by {by} auditing policy"),
        );
    }
    // Not proven audited: a policy that could not be read decides before a failure.
    for (outcome, what) in [
        (own, "its auditing policy"),
        (server_policy, "its server's auditing policy"),
    ] {
        if let Some(ChildOutcome::Failed(err)) = outcome {
            return props::unreadable(database, what, err);
        }
    }
    props::finding(
        database,
        FindingStatus::Failed,
        evidence,
        "Neither the database nor its server has auditing enabled",
    )
}

/// Passes when the database's `backupShortTermRetentionPolicies/default` has
/// `properties.retentionDays` of at least 7.
///
/// Absent fails. Spec: "The backup retention period in days. This is how many days
/// Point-in-Time Restore will be supported." No default is documented for the GET.
pub const BACKUP_RETENTION_7_DAYS: Check = Check::rule(
    CheckMeta {
        id: "sqldb.backup_retention",
        title: "Short-term backup retention ≥ 7 days",
        severity: Severity::Low,
        description: "Point-in-time restore reaches back only as far as the short-term \
            retention. With less than 7 days, corruption or a destructive change noticed after \
            a weekend may no longer be recoverable.",
        remediation: "Portal: SQL server > Data management > Backups > Retention policies > \
            select the database > Configure policies > Point-in-time restore = 7 days or more. \
            CLI: `az sql db str-policy set --resource-group <rg> --server <server> --name \
            <database> --retention-days 7`.",
    },
    Rule {
        target: Target::Child {
            parent: DATABASES,
            child: BACKUP_RETENTION,
        },
        path: "properties.retentionDays",
        expect: Expect::AtLeast(7),
        missing: Missing::Fails,
        when: USER_DATABASES,
        pass: "Point-in-time restore covers at least 7 days",
        fail: "Point-in-time restore covers less than 7 days",
        pass_examples: &[Example::Int(7), Example::Int(35)],
        fail_examples: &[Example::Int(1), Example::Int(6), Example::Absent],
    },
);

/// Passes when `properties.requestedBackupStorageRedundancy` is `Geo` or `GeoZone`.
///
/// Absent fails. Spec: "The storage account type to be used to store backups for this
/// database." (no default for existing databases).
pub const GEO_BACKUP_REDUNDANCY: Check = Check::rule(
    CheckMeta {
        id: "sqldb.geo_backup_redundancy",
        title: "Backups geo-redundant",
        severity: Severity::Low,
        description: "Locally or zone-redundant backups stay in one region; a regional outage \
            or disaster can make them unavailable together with the database. Geo-redundant \
            backups can be restored in the paired region.",
        remediation: "Portal: SQL database > Settings > Compute + storage > Backup storage \
            redundancy = Geo-redundant (or Geo-zone-redundant) > Apply. CLI: `az sql db update \
            --resource-group <rg> --server <server> --name <database> \
            --backup-storage-redundancy Geo`.",
    },
    Rule {
        target: Target::Items(DATABASES),
        path: "properties.requestedBackupStorageRedundancy",
        expect: Expect::OneOf(&["Geo", "GeoZone"]),
        missing: Missing::Fails,
        when: USER_DATABASES,
        pass: "Backups are geo-redundant",
        fail: "Backups are not geo-redundant",
        pass_examples: &[Example::Str("Geo"), Example::Str("GeoZone")],
        fail_examples: &[Example::Str("Local"), Example::Str("Zone"), Example::Absent],
    },
);
