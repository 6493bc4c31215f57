//! Tests for the storage checks over fixtures shaped like ARM responses (the declarative
//! checks' examples are also run by the catalogue's generic test).
use super::file_shares::*;
use super::key_rotation::*;
use super::*;
use crate::checks::Severity;
use crate::checks::{CheckStatus, ChildOutcome, Dataset, FetchError, ListOutcome, run_check};
use crate::messages::CheckResult;
use crate::messages::FindingStatus;
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use serde_json::json;

/// A `GET /subscriptions/{s}/providers/Microsoft.Storage/storageAccounts` body: a compliant
/// StorageV2 account, a legacy account with every insecure value set explicitly, an account
/// with the optional properties absent (as in the spec's StorageAccountList example), and a
/// compliant BlockBlobStorage account (no file service).
const ACCOUNTS_JSON: &str = include_str!("fixtures/accounts.json");
/// `GET {account}/fileServices/default` bodies.
const FILE_SERVICE_HARDENED: &str = include_str!("fixtures/file_service_hardened.json");
const FILE_SERVICE_PERMISSIVE: &str = include_str!("fixtures/file_service_permissive.json");
const FILE_SERVICE_UNSET: &str = include_str!("fixtures/file_service_unset.json");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn accounts() -> Vec<Value> {
    parse(ACCOUNTS_JSON)["value"]
        .as_array()
        .expect("list body has value[]")
        .clone()
}

fn account(name: &str) -> Value {
    accounts()
        .into_iter()
        .find(|a| a["name"] == name)
        .expect("fixture account")
}

fn id_of(name: &str) -> String {
    account(name)["id"].as_str().expect("id").to_string()
}

fn dataset_with(accounts: Vec<Value>) -> Dataset {
    let mut dataset = Dataset::default();
    dataset.insert_list(ACCOUNTS, ListOutcome::Items(accounts));
    dataset
}

/// The four fixture accounts with the file services the collector would have fetched
/// (none for the BlockBlobStorage account, which `has_file_service` skips).
fn full_dataset() -> Dataset {
    let mut dataset = dataset_with(accounts());
    for (name, body) in [
        ("sthardened", FILE_SERVICE_HARDENED),
        ("stlegacy", FILE_SERVICE_PERMISSIVE),
        ("stbare", FILE_SERVICE_UNSET),
    ] {
        dataset.insert_child(
            FILE_SERVICES,
            &id_of(name),
            ChildOutcome::Object(parse(body)),
        );
    }
    dataset
}

fn run(id: &str, dataset: &Dataset) -> CheckResult {
    let check = SERVICE
        .checks
        .iter()
        .find(|c| c.meta.id == id)
        .expect("check exists");
    run_check(&SERVICE, check, &EvalContext::new(dataset, now(), "sub-id"))
}

fn names_with(result: &CheckResult, status: FindingStatus) -> Vec<&str> {
    let mut names: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.status == status)
        .map(|f| f.resource_name.as_str())
        .collect();
    names.sort_unstable();
    names
}

fn evidence<'r>(result: &'r CheckResult, name: &str, property: &str) -> &'r Value {
    let finding = result
        .findings
        .iter()
        .find(|f| f.resource_name == name)
        .expect("finding for account");
    &finding
        .evidence
        .iter()
        .find(|e| e.property == property)
        .unwrap_or_else(|| panic!("{name} has no evidence for {property}"))
        .value
}

/// The seven single-property checks: hardened and blob-only accounts pass, the legacy
/// account fails on its explicit value, the bare account fails on the absent property and
/// shows `null`.
#[test]
fn account_settings_pass_fail_and_absent() {
    let cases = [
        (
            "storage.secure_transfer_required",
            "properties.supportsHttpsTrafficOnly",
            json!(false),
        ),
        (
            "storage.min_tls_12",
            "properties.minimumTlsVersion",
            json!("TLS1_0"),
        ),
        (
            "storage.blob_anonymous_access_disabled",
            "properties.allowBlobPublicAccess",
            json!(true),
        ),
        (
            "storage.default_network_deny",
            "properties.networkAcls.defaultAction",
            json!("Allow"),
        ),
        (
            "storage.public_network_disabled",
            "properties.publicNetworkAccess",
            json!("Enabled"),
        ),
        (
            "storage.shared_key_disabled",
            "properties.allowSharedKeyAccess",
            json!(true),
        ),
        (
            "storage.cross_tenant_replication_off",
            "properties.allowCrossTenantReplication",
            json!(true),
        ),
    ];
    let dataset = full_dataset();
    for (id, path, legacy_value) in cases {
        let result = run(id, &dataset);
        assert_eq!(result.status, CheckStatus::Failed, "{id}");
        assert_eq!(result.findings.len(), 4, "{id}: one finding per account");
        assert_eq!(
            names_with(&result, FindingStatus::Failed),
            ["stbare", "stlegacy"],
            "{id}"
        );
        assert_eq!(
            names_with(&result, FindingStatus::Passed),
            ["stblobonly", "sthardened"],
            "{id}"
        );
        assert_eq!(evidence(&result, "stlegacy", path), &legacy_value, "{id}");
        assert_eq!(
            evidence(&result, "stbare", path),
            &Value::Null,
            "{id}: absent is null"
        );
        let bare = result.findings.iter().find(|f| f.resource_name == "stbare");
        let message = &bare.expect("stbare finding").message;
        assert!(message.contains("not set"), "{id}: {message}");
        assert!(
            result.reason.starts_with("2 of 4 resources fail"),
            "{}",
            result.reason
        );
    }
}

#[test]
fn account_checks_pass_when_every_account_is_compliant() {
    let dataset = dataset_with(vec![account("sthardened"), account("stblobonly")]);
    for check in SERVICE.checks.iter().filter(|c| c.reads() == [ACCOUNTS]) {
        let result = run(check.meta.id, &dataset);
        assert_eq!(
            result.status,
            CheckStatus::Passed,
            "{}: {:?}",
            check.meta.id,
            result
        );
        assert_eq!(result.reason, "All 2 resources in scope pass");
    }
}

#[test]
fn tls_accepts_1_2_and_1_3_only() {
    let with_tls = |v: &str| {
        let mut a = account("sthardened");
        a["properties"]["minimumTlsVersion"] = json!(v);
        a
    };
    let dataset = dataset_with(vec![
        account("sthardened"),
        account("stblobonly"),
        with_tls("TLS1_1"),
    ]);
    let result = run("storage.min_tls_12", &dataset);
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(
        names_with(&result, FindingStatus::Passed),
        ["stblobonly", "sthardened"]
    );
    assert_eq!(
        evidence(&result, "stblobonly", "properties.minimumTlsVersion"),
        "TLS1_3"
    );
    let failed = result
        .findings
        .iter()
        .filter(|f| f.status == FindingStatus::Failed);
    let values: Vec<&Value> = failed
        .flat_map(|f| f.evidence.iter().map(|e| &e.value))
        .collect();
    assert_eq!(values, [&json!("TLS1_1")]);
}

#[test]
fn public_network_secured_by_perimeter_is_not_disabled() {
    let mut a = account("sthardened");
    a["properties"]["publicNetworkAccess"] = json!("SecuredByPerimeter");
    let result = run("storage.public_network_disabled", &dataset_with(vec![a]));
    assert_eq!(result.status, CheckStatus::Failed);
}

#[test]
fn enum_values_compare_case_insensitively_but_booleans_must_be_booleans() {
    let mut a = account("sthardened");
    a["properties"]["networkAcls"]["defaultAction"] = json!("deny");
    a["properties"]["allowSharedKeyAccess"] = json!("false");
    let dataset = dataset_with(vec![a]);
    assert_eq!(
        run("storage.default_network_deny", &dataset).status,
        CheckStatus::Passed
    );
    assert_eq!(
        run("storage.shared_key_disabled", &dataset).status,
        CheckStatus::Failed
    );
}

#[test]
fn key_rotation_pass_fail_and_absent() {
    let result = run("storage.key_rotation", &full_dataset());
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(
        names_with(&result, FindingStatus::Passed),
        ["stblobonly", "sthardened"]
    );
    assert_eq!(
        names_with(&result, FindingStatus::Failed),
        ["stbare", "stlegacy"]
    );

    assert_eq!(evidence(&result, "stlegacy", KEY_PERIOD), 365);
    assert_eq!(
        evidence(&result, "stlegacy", "properties.keyCreationTime.key1"),
        "2021-03-18T04:42:22.4322836Z"
    );
    let legacy = result
        .findings
        .iter()
        .find(|f| f.resource_name == "stlegacy");
    let message = &legacy.expect("stlegacy").message;
    assert!(
        message.contains("key expiration period is 365 days"),
        "{message}"
    );
    assert!(
        message.contains("key1 was created 2021-03-18, more than 90 days ago"),
        "{message}"
    );
    assert!(message.contains("key2 was created 2021-03-18"), "{message}");

    for property in [
        KEY_PERIOD,
        "properties.keyCreationTime.key1",
        "properties.keyCreationTime.key2",
    ] {
        assert_eq!(
            evidence(&result, "stbare", property),
            &Value::Null,
            "{property}"
        );
    }
    let bare = result.findings.iter().find(|f| f.resource_name == "stbare");
    let message = &bare.expect("stbare").message;
    assert!(message.contains("no key expiration period"), "{message}");
    assert!(
        message.contains("key1 creation time is not recorded"),
        "{message}"
    );
}

#[test]
fn key_rotation_uses_ctx_now_and_a_90_day_boundary() {
    let with_keys = |name: &str, key1: &str, key2: &str| {
        let mut a = account("sthardened");
        a["name"] = json!(name);
        a["properties"]["keyCreationTime"] = json!({"key1": key1, "key2": key2});
        a
    };
    let dataset = dataset_with(vec![
        // exactly 90 days before now (2026-06-01T00:00:00Z), with an offset
        with_keys(
            "exactly90",
            "2026-03-03T00:00:00Z",
            "2026-03-03T02:00:00+02:00",
        ),
        with_keys("key2stale", "2026-05-31T00:00:00Z", "2026-03-02T23:59:59Z"),
        with_keys("garbled", "yesterday", "2026-05-31T00:00:00Z"),
    ]);
    let result = run("storage.key_rotation", &dataset);
    assert_eq!(names_with(&result, FindingStatus::Passed), ["exactly90"]);
    assert_eq!(
        names_with(&result, FindingStatus::Failed),
        ["garbled", "key2stale"]
    );
    let message = |name: &str| {
        let f = result.findings.iter().find(|f| f.resource_name == name);
        f.expect("finding").message.clone()
    };
    assert!(
        message("key2stale").contains("key2 was created 2026-03-02, more than 90"),
        "{}",
        message("key2stale")
    );
    assert!(
        !message("key2stale").contains("key1"),
        "{}",
        message("key2stale")
    );
    assert!(message("garbled").contains("\"yesterday\" is not an RFC 3339 time"));
    assert_eq!(
        evidence(&result, "garbled", "properties.keyCreationTime.key1"),
        "yesterday"
    );
}

#[test]
fn key_rotation_needs_a_positive_period_of_at_most_90_days() {
    for (period, passes) in [
        (json!(90), true),
        (json!(1), true),
        (json!(91), false),
        (json!(0), false),
        (json!("90"), false),
    ] {
        let mut a = account("sthardened");
        a["properties"]["keyPolicy"]["keyExpirationPeriodInDays"] = period.clone();
        let result = run("storage.key_rotation", &dataset_with(vec![a]));
        let expected = if passes {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        };
        assert_eq!(result.status, expected, "period {period}");
    }
}

#[test]
fn file_shares_pass_fail_absent_and_not_applicable() {
    let result = run("storage.file_shares_hardened", &full_dataset());
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(names_with(&result, FindingStatus::Passed), ["sthardened"]);
    assert_eq!(
        names_with(&result, FindingStatus::Failed),
        ["stbare", "stlegacy"]
    );
    assert_eq!(
        names_with(&result, FindingStatus::NotApplicable),
        ["stblobonly"]
    );

    let soft_delete = "fileServices/default.properties.shareDeleteRetentionPolicy.enabled";
    let versions = "fileServices/default.properties.protocolSettings.smb.versions";
    let channel = "fileServices/default.properties.protocolSettings.smb.channelEncryption";
    assert_eq!(evidence(&result, "sthardened", versions), "SMB3.1.1");
    assert_eq!(evidence(&result, "stlegacy", soft_delete), false);
    assert_eq!(
        evidence(&result, "stlegacy", versions),
        "SMB2.1;SMB3.0;SMB3.1.1"
    );
    assert_eq!(
        evidence(&result, "stlegacy", channel),
        "AES-128-CCM;AES-128-GCM;AES-256-GCM"
    );
    for property in [soft_delete, versions, channel] {
        assert_eq!(
            evidence(&result, "stbare", property),
            &Value::Null,
            "{property}"
        );
    }
    assert_eq!(evidence(&result, "stblobonly", "kind"), "BlockBlobStorage");
    // The finding is about the account, not its file service.
    let legacy = result
        .findings
        .iter()
        .find(|f| f.resource_name == "stlegacy");
    let legacy = legacy.expect("stlegacy");
    assert_eq!(legacy.resource_id, id_of("stlegacy"));
    assert_eq!(legacy.resource_type, "Microsoft.Storage/storageAccounts");
    assert!(
        legacy.message.contains("share soft delete is not enabled"),
        "{}",
        legacy.message
    );
}

#[test]
fn file_shares_fail_on_any_single_weak_setting() {
    let hardened = parse(FILE_SERVICE_HARDENED);
    let variants = [
        (
            "properties.protocolSettings.smb.channelEncryption",
            json!("AES-128-GCM;AES-256-GCM"),
            "channel ciphers",
        ),
        (
            "properties.protocolSettings.smb.versions",
            json!("SMB3.0;SMB3.1.1"),
            "SMB versions",
        ),
        (
            "properties.protocolSettings.smb.versions",
            json!(""),
            "SMB versions",
        ),
        (
            "properties.shareDeleteRetentionPolicy.enabled",
            json!(false),
            "soft delete",
        ),
    ];
    for (path, value, problem) in variants {
        let mut service = hardened.clone();
        let mut slot = &mut service;
        for key in path.split('.') {
            slot = &mut slot[key];
        }
        *slot = value.clone();
        let mut dataset = dataset_with(vec![account("sthardened")]);
        dataset.insert_child(
            FILE_SERVICES,
            &id_of("sthardened"),
            ChildOutcome::Object(service),
        );
        let result = run("storage.file_shares_hardened", &dataset);
        assert_eq!(result.status, CheckStatus::Failed, "{path} = {value}");
        let message = &result.findings[0].message;
        assert!(message.contains(problem), "{path}: {message}");
        assert_eq!(
            message.matches(';').count(),
            0,
            "only one problem: {message}"
        );
    }
    // Trailing separators and casing do not matter.
    let mut service = hardened;
    service["properties"]["protocolSettings"]["smb"]["versions"] = json!("smb3.1.1;");
    let mut dataset = dataset_with(vec![account("sthardened")]);
    dataset.insert_child(
        FILE_SERVICES,
        &id_of("sthardened"),
        ChildOutcome::Object(service),
    );
    assert_eq!(
        run("storage.file_shares_hardened", &dataset).status,
        CheckStatus::Passed
    );
}

#[test]
fn file_shares_child_access_denied_error_and_absent() {
    let denied = FetchError::AccessDenied {
        action: FILE_SERVICE_READ.to_string(),
        message: "AuthorizationFailed".to_string(),
    };
    let mut dataset = dataset_with(vec![
        account("sthardened"),
        account("stlegacy"),
        account("stblobonly"),
    ]);
    dataset.insert_child(
        FILE_SERVICES,
        &id_of("sthardened"),
        ChildOutcome::Failed(denied.clone()),
    );
    dataset.insert_child(FILE_SERVICES, &id_of("stlegacy"), ChildOutcome::Absent);
    let result = run("storage.file_shares_hardened", &dataset);
    assert_eq!(result.status, CheckStatus::FailedAccessDenied);
    assert_eq!(
        result.missing_permission.as_deref(),
        Some(FILE_SERVICE_READ)
    );
    assert_eq!(
        names_with(&result, FindingStatus::AccessDenied),
        ["sthardened"]
    );
    assert_eq!(
        names_with(&result, FindingStatus::NotApplicable),
        ["stblobonly", "stlegacy"]
    );

    // A proven failure on another account outranks the unreadable one.
    dataset.insert_child(
        FILE_SERVICES,
        &id_of("stlegacy"),
        ChildOutcome::Object(parse(FILE_SERVICE_PERMISSIVE)),
    );
    let result = run("storage.file_shares_hardened", &dataset);
    assert_eq!(result.status, CheckStatus::Failed);
    assert_eq!(result.missing_permission, None);

    // Other read errors end as Error; only not-applicable accounts end as Not applicable.
    let error = FetchError::Error {
        message: "HTTP 500 after retries".to_string(),
    };
    let mut dataset = dataset_with(vec![account("sthardened"), account("stblobonly")]);
    dataset.insert_child(
        FILE_SERVICES,
        &id_of("sthardened"),
        ChildOutcome::Failed(error),
    );
    assert_eq!(
        run("storage.file_shares_hardened", &dataset).status,
        CheckStatus::Error
    );
    let dataset = dataset_with(vec![account("stblobonly")]);
    let result = run("storage.file_shares_hardened", &dataset);
    assert_eq!(result.status, CheckStatus::NotApplicable);
    assert_eq!(result.reason, SERVICE.none_in_scope);
}

#[test]
fn denied_account_list_fails_every_check_naming_the_permission() {
    let mut dataset = Dataset::default();
    let denied = FetchError::AccessDenied {
        action: ACCOUNT_READ.to_string(),
        message: "The client does not have authorization to perform action".to_string(),
    };
    dataset.insert_list(ACCOUNTS, ListOutcome::Failed(denied));
    for check in SERVICE.checks {
        let result = run(check.meta.id, &dataset);
        assert_eq!(
            result.status,
            CheckStatus::FailedAccessDenied,
            "{}",
            check.meta.id
        );
        assert_eq!(result.missing_permission.as_deref(), Some(ACCOUNT_READ));
        assert!(result.reason.contains(ACCOUNT_READ), "{}", result.reason);
        assert!(result.findings.is_empty());
    }
}

#[test]
fn no_accounts_in_scope_is_not_applicable() {
    let dataset = dataset_with(Vec::new());
    for check in SERVICE.checks {
        let result = run(check.meta.id, &dataset);
        assert_eq!(
            result.status,
            CheckStatus::NotApplicable,
            "{}",
            check.meta.id
        );
        assert_eq!(result.reason, "No storage accounts in the selected regions");
    }
}

#[test]
fn catalogue_lists_the_nine_storage_checks() {
    let ids: Vec<(&str, Severity)> = SERVICE
        .checks
        .iter()
        .map(|c| (c.meta.id, c.meta.severity))
        .collect();
    assert_eq!(
        ids,
        [
            ("storage.secure_transfer_required", Severity::High),
            ("storage.min_tls_12", Severity::High),
            ("storage.blob_anonymous_access_disabled", Severity::High),
            ("storage.default_network_deny", Severity::High),
            ("storage.public_network_disabled", Severity::Medium),
            ("storage.shared_key_disabled", Severity::Medium),
            ("storage.cross_tenant_replication_off", Severity::Medium),
            ("storage.key_rotation", Severity::Medium),
            ("storage.file_shares_hardened", Severity::Medium),
        ]
    );
    for check in SERVICE.checks {
        let frameworks = crate::checks::framework::refs_of(check.meta.id);
        assert!(!check.meta.description.is_empty() && !frameworks.is_empty());
        let permissions = SERVICE.permissions_of(check);
        assert!(permissions.contains(&ACCOUNT_READ), "{}", check.meta.id);
        for key in check.reads() {
            let collection = SERVICE.collection(key).expect("declared collection");
            assert!(
                permissions.contains(&collection.permission),
                "{}",
                check.meta.id
            );
        }
    }
    let controls: Vec<&str> = crate::checks::framework::refs_of(FILE_SHARES_HARDENED.meta.id)
        .iter()
        .map(|f| f.control)
        .collect();
    assert_eq!(controls, ["9.1.1", "9.1.2", "9.1.3"]);
}

#[test]
fn only_accounts_with_a_file_service_are_fetched() {
    assert!(has_file_service(&account("sthardened")));
    assert!(has_file_service(&account("stlegacy")));
    assert!(!has_file_service(&account("stblobonly")));
}

/// The custom checks are per account: over slices of the accounts they find exactly what they
/// find over all of them, so a storage job may be split on its accounts (`checks::parts`).
#[test]
fn custom_checks_find_the_same_on_slices_of_the_accounts() {
    let ids: Vec<&str> = crate::checks::parts::PER_RESOURCE_CUSTOM
        .iter()
        .copied()
        .filter(|id| id.starts_with("storage."))
        .collect();
    assert_eq!(ids.len(), 2);
    for id in ids {
        let whole = full_dataset();
        let mut all = run(id, &whole).findings;
        let accounts = whole.items(ACCOUNTS).to_vec();
        assert!(accounts.len() >= 2);
        let mut sliced = Vec::new();
        for slice in accounts.chunks(2) {
            let mut part = whole.clone();
            part.insert_list(ACCOUNTS, ListOutcome::Items(slice.to_vec()));
            sliced.extend(run(id, &part).findings);
        }
        all.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
        sliced.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
        assert_eq!(all, sliced, "{id}");
    }
}
