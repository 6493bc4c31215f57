//! Tests of the SQL database checks over fixtures shaped like the ARM list responses.
use serde_json::{Value, json};

use super::*;
use crate::checks::testing::{self, items, names};
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome};
use crate::messages::{CheckResult, FindingStatus};

const SERVER: &str = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/\
    Default-SQL-SouthEastAsia/providers/Microsoft.Sql/servers/testsvr";

fn db(name: &str) -> String {
    format!("{SERVER}/databases/{name}")
}

/// testdb: encrypted, audited, 7-day retention, geo backups. testdb2: none of it. master:
/// listed, never read.
fn dataset() -> Dataset {
    let mut ds = Dataset::default();
    ds.insert_list(
        SERVERS,
        ListOutcome::Items(items(include_str!("fixtures/servers.json"))),
    );
    let server_policy = items(include_str!("fixtures/server_auditing.json")).remove(0);
    ds.insert_child(SERVER_AUDITING, SERVER, ChildOutcome::Object(server_policy));
    ds.insert_child(
        DATABASES,
        SERVER,
        ChildOutcome::Items(items(include_str!("fixtures/databases.json"))),
    );
    for (key, text) in [
        (TDE, include_str!("fixtures/tde.json")),
        (AUDITING, include_str!("fixtures/auditing.json")),
        (
            BACKUP_RETENTION,
            include_str!("fixtures/backup_retention.json"),
        ),
    ] {
        for (item, name) in items(text).into_iter().zip(["testdb", "testdb2"]) {
            ds.insert_child(key, &db(name), ChildOutcome::Object(item));
        }
    }
    ds
}

fn run(check: &str, ds: &Dataset) -> CheckResult {
    testing::run(&SERVICE, check, ds)
}

#[test]
fn user_databases_are_judged_and_master_is_skipped() {
    let ds = dataset();
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(r.status, CheckStatus::Failed, "{}", check.meta.id);
        assert_eq!(
            names(&r, FindingStatus::Passed),
            ["testdb"],
            "{}",
            check.meta.id
        );
        assert_eq!(
            names(&r, FindingStatus::Failed),
            ["testdb2"],
            "{}",
            check.meta.id
        );
        assert!(r.findings.iter().all(|f| f.resource_name != "master"));
    }
    let master = json!({"name": "master", "id": db("master")});
    assert!(!is_user_database(&master));
    assert!(is_user_database(&json!({"name": "testdb"})));
}

#[test]
fn server_auditing_covers_every_database() {
    let mut ds = dataset();
    ds.insert_child(
        SERVER_AUDITING,
        SERVER,
        ChildOutcome::Object(json!({"name": "default", "properties": {"state": "Enabled"}})),
    );
    let r = run("sqldb.auditing", &ds);
    assert_eq!(r.status, CheckStatus::Passed);
    let f = r.findings.iter().find(|f| f.resource_name == "testdb2");
    assert!(f.expect("testdb2").message.contains("its server's"));
    // No policy anywhere (404s) fails.
    let mut ds = dataset();
    ds.insert_child(SERVER_AUDITING, SERVER, ChildOutcome::Absent);
    ds.insert_child(AUDITING, &db("testdb2"), ChildOutcome::Absent);
    let r = run("sqldb.auditing", &ds);
    assert_eq!(names(&r, FindingStatus::Failed), ["testdb2"]);
    // An unreadable policy is access denied, unless the other policy proves auditing.
    let denied = ChildOutcome::Failed(FetchError::AccessDenied {
        action: AUDITING_READ.into(),
        message: String::new(),
    });
    ds.insert_child(AUDITING, &db("testdb2"), denied.clone());
    ds.insert_child(AUDITING, &db("testdb"), denied);
    let r = run("sqldb.auditing", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(AUDITING_READ));
}

#[test]
fn a_denied_database_list_and_server_list_name_the_action() {
    let mut ds = dataset();
    ds.insert_child(
        DATABASES,
        SERVER,
        ChildOutcome::Failed(FetchError::AccessDenied {
            action: DATABASE_READ.into(),
            message: String::new(),
        }),
    );
    let r = run("sqldb.auditing", &ds);
    assert_eq!(r.status, CheckStatus::FailedAccessDenied);
    assert_eq!(r.missing_permission.as_deref(), Some(DATABASE_READ));
    // As the collector does: children of a refused list fail with it.
    let refused = FetchError::AccessDenied {
        action: SERVER_READ.into(),
        message: String::new(),
    };
    let mut ds = Dataset::default();
    ds.insert_list(SERVERS, ListOutcome::Failed(refused.clone()));
    for key in [SERVER_AUDITING, DATABASES, TDE, AUDITING, BACKUP_RETENTION] {
        ds.insert_failure(key, refused.clone());
    }
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(
            r.status,
            CheckStatus::FailedAccessDenied,
            "{}",
            check.meta.id
        );
        assert_eq!(r.missing_permission.as_deref(), Some(SERVER_READ));
    }
}

#[test]
fn a_server_with_only_master_has_nothing_in_scope() {
    let mut ds = dataset();
    let master: Vec<Value> = items(include_str!("fixtures/databases.json"))
        .into_iter()
        .filter(|d| d["name"] == "master")
        .collect();
    ds.insert_child(DATABASES, SERVER, ChildOutcome::Items(master));
    for check in SERVICE.checks {
        let r = run(check.meta.id, &ds);
        assert_eq!(r.status, CheckStatus::NotApplicable, "{}", check.meta.id);
        assert_eq!(r.reason, SERVICE.none_in_scope);
    }
}
