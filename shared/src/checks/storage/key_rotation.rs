//! `storage.key_rotation`: key age needs the evaluation time and two timestamps per account, so
//! it is a custom evaluator.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use super::{ACCOUNTS, each_account};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::Finding;

pub(super) const MAX_KEY_AGE_DAYS: i64 = 90;
pub(super) const KEY_PERIOD: &str = "properties.keyPolicy.keyExpirationPeriodInDays";
pub(super) const KEY_TIMES: [(&str, &str); 2] = [
    ("key1", "properties.keyCreationTime.key1"),
    ("key2", "properties.keyCreationTime.key2"),
];

/// Passes when `properties.keyPolicy.keyExpirationPeriodInDays` is between 1 and 90 and both
/// `properties.keyCreationTime.key1` and `.key2` are RFC 3339 times at most 90 days before
/// `ctx.now` (exactly 90 days passes).
///
/// Absent fails. The spec documents no default for `keyPolicy` ("KeyPolicy assigned to the
/// storage account"): without it no rotation reminder exists. `keyCreationTime` ("Storage
/// account keys creation time") is missing on accounts whose keys were never regenerated since
/// the property was introduced, so their age is unknown; an unparseable time fails too.
pub const KEY_ROTATION: Check = Check::custom(
    CheckMeta {
        id: "storage.key_rotation",
        title: "Keys rotated ≤ 90 days and reminder set",
        severity: Severity::Medium,
        description: "Account keys never expire on their own, so a key leaked once keeps working \
            until it is regenerated. A key expiration policy raises rotation reminders, and \
            rotating both keys at least every 90 days limits how long a leaked key is useful.",
        remediation: "Portal: Storage account > Security + networking > Access keys > Set rotation \
            reminder (90 days or less), then Rotate key for key1 and key2. CLI: `az storage \
            account update --name <account> --resource-group <rg> --key-exp-days 90`, then \
            `az storage account keys renew --account-name <account> --resource-group <rg> \
            --key primary` and again with `--key secondary` (update clients between the two).",
    },
    &[ACCOUNTS],
    key_rotation,
);

fn key_rotation(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let cutoff = ctx.now - Duration::days(MAX_KEY_AGE_DAYS);
    let key_expected = format!(
        "RFC 3339 time no earlier than {} (at most {MAX_KEY_AGE_DAYS} days old)",
        cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    each_account(ctx, |account| {
        let period_problem = match props::prop(account, KEY_PERIOD).and_then(Value::as_i64) {
            Some(days) if (1..=MAX_KEY_AGE_DAYS).contains(&days) => None,
            Some(days) => Some(format!("key expiration period is {days} days")),
            None => Some("no key expiration period (rotation reminder) is set".to_string()),
        };
        let key_problems = KEY_TIMES
            .iter()
            .filter_map(|(key, path)| key_age_problem(account, key, path, cutoff));
        let problems: Vec<String> = period_problem.into_iter().chain(key_problems).collect();
        let evidence = std::iter::once(props::evidence(account, KEY_PERIOD, "1 to 90 (days)"))
            .chain(
                KEY_TIMES
                    .iter()
                    .map(|(_, path)| props::evidence(account, path, &key_expected)),
            )
            .collect();
        props::verdict(
            account,
            problems.is_empty(),
            evidence,
            "Rotation reminder is at most 90 days and both keys are at most 90 days old",
            format!(
                "Keys are not rotated every 90 days: {}",
                problems.join("; ")
            ),
        )
    })
}

/// Why one access key fails the age rule, or `None` when it was created on or after `cutoff`.
fn key_age_problem(
    account: &Value,
    key: &str,
    path: &str,
    cutoff: DateTime<Utc>,
) -> Option<String> {
    let Some(raw) = props::prop_str(account, path) else {
        return Some(format!("{key} creation time is not recorded"));
    };
    match DateTime::parse_from_rfc3339(raw) {
        Err(_) => Some(format!(
            "{key} creation time {raw:?} is not an RFC 3339 time"
        )),
        Ok(created) if created < cutoff => Some(format!(
            "{key} was created {}, more than {MAX_KEY_AGE_DAYS} days ago",
            created.format("%Y-%m-%d")
        )),
        Ok(_) => None,
    }
}
