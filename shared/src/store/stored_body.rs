//! The stored text of a check's latest result, laid out so that Redis can put it together and
//! take it apart without the ingester ever holding it whole.
//!
//! A check of a big subscription has tens of thousands of findings: megabytes of text that the
//! ingester would otherwise build, hash and keep (and keep again as the last good evaluation of
//! a later transient Error). Instead the ingester writes the findings out as it reads them (into
//! a temporary key, or an argument for a small result) and gives the ingestion script the
//! **head**: the text before the findings. The script joins head, findings and tail:
//!
//! ```text
//! {"status":…,"reason":…,"scan_id":…,"finished_at":…   <- the last good head, `g` bytes
//!  ,"check_id":…,"missing_permission":…,"service":…,"job_id":…,"findings":[   <- '[' at `fs`
//!  …findings…]                                                                 <- ']' at `fe`
//!  (,"last_good":{…})}                                                          <- '{' at `ls`
//! ```
//!
//! and records `g`, `fs`, `fe` and `ls` (1-based, `ls` 0 when absent) with the check's
//! fingerprint. The first four fields are those of a [`LastGood`](super::LastGood) in its order,
//! so when a transient Error must keep the last good evaluation the script builds it from the
//! stored text by slicing: `text[1..=g] + ',"findings":' + text[fs..=fe] + '}'`, or, when the
//! stored result is itself an Error, `text[ls..len-1]`. The text is ordinary JSON: every reader
//! deserializes it as a [`StoredCheckResult`](super::StoredCheckResult), whatever the order.
//!
//! Texts stored by earlier builds have no offsets; for those the ingester reads the stored
//! result once, as before (see `results.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::checks::CheckStatus;
use crate::messages::{CheckResult, Finding, ScanResult};

/// The text of a stored result before its findings, and where its last good head ends.
pub struct BodyHead {
    pub text: String,
    /// The byte length of the last good head (`g`).
    pub good_head_len: usize,
}

#[derive(Serialize)]
struct GoodHead<'a> {
    status: CheckStatus,
    reason: &'a str,
    scan_id: Uuid,
    finished_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct RestHead<'a> {
    check_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing_permission: Option<&'a str>,
    service: &'a str,
    job_id: Uuid,
}

impl BodyHead {
    /// The head of `check` (its findings are not looked at) as a result of job `result`.
    pub fn new(result: &ScanResult, check: &CheckResult) -> Result<Self, serde_json::Error> {
        let good = serde_json::to_string(&GoodHead {
            status: check.status,
            reason: &check.reason,
            scan_id: result.scan_id,
            finished_at: result.finished_at,
        })?;
        let rest = serde_json::to_string(&RestHead {
            check_id: &check.check_id,
            missing_permission: check.missing_permission.as_deref(),
            service: &result.service,
            job_id: result.job_id,
        })?;
        // Both are objects with at least one field: `{…}`.
        let good_head_len = good.len() - 1;
        let mut text = String::with_capacity(good.len() + rest.len() + 16);
        text.push_str(&good[..good_head_len]);
        text.push(',');
        text.push_str(&rest[1..rest.len() - 1]);
        text.push_str(",\"findings\":[");
        Ok(Self {
            text,
            good_head_len,
        })
    }
}

/// Writes findings as the inside of a JSON array, a comma before each but the very first one
/// of the check (`written` counts them across calls).
pub fn write_findings(
    findings: &[Finding],
    written: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    for finding in findings {
        if *written > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, finding)?;
        *written += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Evidence, FindingStatus};
    use crate::store::{LastGood, StoredCheckResult};

    fn envelope() -> ScanResult {
        ScanResult {
            schema: "scan-result".into(),
            version: crate::messages::MESSAGE_VERSION,
            job_id: Uuid::new_v4(),
            scan_id: Uuid::new_v4(),
            organization_id: "org".into(),
            connection_id: Uuid::new_v4(),
            service: "storage".into(),
            trigger: crate::messages::Trigger::OnDemand,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            worker: "w".into(),
            arm: Default::default(),
            checks: Vec::new(),
            connection_error: None,
            fragment: None,
        }
    }

    fn check(status: CheckStatus, n: usize) -> CheckResult {
        CheckResult {
            check_id: "storage.min_tls_12".into(),
            status,
            reason: "why \"quoted\" ünïcode".into(),
            missing_permission: (status == CheckStatus::FailedAccessDenied)
                .then(|| "Microsoft.Storage/x/read".into()),
            findings: (0..n)
                .map(|i| Finding {
                    resource_id: format!("/subscriptions/s/r/{i}"),
                    resource_name: format!("r{i}"),
                    resource_type: "t".into(),
                    location: Some("westeurope".into()),
                    status: FindingStatus::Failed,
                    evidence: vec![Evidence {
                        property: "p".into(),
                        value: serde_json::json!({"v": [i, "x"]}),
                        expected: "e".into(),
                    }],
                    message: "m".into(),
                })
                .collect(),
        }
    }

    /// What the ingestion script does with a head and findings (without a last good).
    fn assemble(head: &BodyHead, findings: &[u8]) -> (String, usize, usize) {
        let fs = head.text.len();
        let fe = fs + findings.len() + 1;
        let mut text = head.text.clone();
        text.push_str(std::str::from_utf8(findings).expect("utf-8"));
        text.push_str("]}");
        (text, fs, fe)
    }

    #[test]
    fn the_assembled_text_is_the_stored_result_and_slices_into_its_last_good() {
        let envelope = envelope();
        for (status, n) in [
            (CheckStatus::Failed, 3),
            (CheckStatus::Passed, 0),
            (CheckStatus::FailedAccessDenied, 1),
        ] {
            let check = check(status, n);
            let head = BodyHead::new(&envelope, &check).expect("head");
            let mut findings = Vec::new();
            let mut written = 0;
            // in two calls, as pieces arrive
            write_findings(&check.findings[..n / 2], &mut written, &mut findings).expect("ok");
            write_findings(&check.findings[n / 2..], &mut written, &mut findings).expect("ok");
            let (text, fs, fe) = assemble(&head, &findings);
            let stored: StoredCheckResult = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(
                stored,
                StoredCheckResult {
                    result: check.clone(),
                    service: envelope.service.clone(),
                    scan_id: envelope.scan_id,
                    job_id: envelope.job_id,
                    finished_at: envelope.finished_at,
                    last_good: None,
                }
            );
            // the script's slice (1-based, inclusive) of a last good evaluation
            let good = format!(
                "{},\"findings\":{}}}",
                &text[..head.good_head_len],
                &text[fs - 1..fe]
            );
            let good: LastGood = serde_json::from_str(&good).expect("a last good");
            assert_eq!(good.status, status);
            assert_eq!(good.reason, check.reason);
            assert_eq!(good.findings, check.findings);
            assert_eq!(good.scan_id, envelope.scan_id);
            assert_eq!(good.finished_at, envelope.finished_at);
        }
    }
}
