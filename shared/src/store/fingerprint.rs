//! A check result's fingerprint: a stable digest of what a customer would see change (status,
//! missing permission, and the findings' resource, verdict and evidence), by which ingestion
//! decides whether a result is a change worth a history entry. Reason text is left out: it is
//! derived from the findings.
//!
//! The fingerprint is computed one finding at a time, in any order, holding nothing per
//! finding: each finding's canonical text is hashed, and the digests are added together modulo
//! 2^256 (a multiset hash), so a check with a hundred thousand findings gathered from many
//! pieces is fingerprinted without ever being held whole. Such fingerprints start with `2:`.
//!
//! Fingerprints stored by earlier builds hashed the findings sorted into one canonical text,
//! which needs them all at once. A check whose stored fingerprint is of that kind is
//! fingerprinted both ways once ([`FindingsDigest::new`] with `legacy`), so that the first result
//! after an upgrade is compared with what is stored instead of always counting as a change.

use sha2::{Digest, Sha256};

use crate::checks::CheckStatus;
use crate::messages::{CheckResult, Finding};

/// What new fingerprints start with.
const VERSION_PREFIX: &str = "2:";

/// The fingerprint of a whole result.
pub fn fingerprint(result: &CheckResult) -> String {
    let mut digest = FindingsDigest::new(false);
    result.findings.iter().for_each(|f| digest.add(f));
    digest
        .finish(result.status, result.missing_permission.as_deref())
        .current
}

/// A result's fingerprint as earlier builds made it (what a store written by them holds).
pub fn legacy_fingerprint(result: &CheckResult) -> String {
    let mut digest = FindingsDigest::new(true);
    result.findings.iter().for_each(|f| digest.add(f));
    digest
        .finish(result.status, result.missing_permission.as_deref())
        .legacy
        .unwrap_or_default()
}

/// A canonical finding: lower-cased resource id, verdict, sorted (property, value as JSON).
type CanonicalFinding = (String, String, Vec<(String, String)>);

fn canonical(finding: &Finding) -> CanonicalFinding {
    let mut evidence: Vec<_> = finding
        .evidence
        .iter()
        .map(|e| (e.property.clone(), e.value.to_string()))
        .collect();
    evidence.sort();
    (
        finding.resource_id.to_ascii_lowercase(),
        format!("{:?}", finding.status),
        evidence,
    )
}

/// A fingerprint being made, one finding at a time.
pub struct FindingsDigest {
    /// The sum of the findings' digests, modulo 2^256 (little-endian limbs).
    sum: [u64; 4],
    count: u64,
    /// The canonical findings, when the earlier kind of fingerprint is wanted too.
    legacy: Option<Vec<CanonicalFinding>>,
}

/// The fingerprints of a result.
pub struct Fingerprints {
    pub current: String,
    /// The earlier kind, when asked for.
    pub legacy: Option<String>,
}

impl FindingsDigest {
    /// `legacy`: also make the earlier kind of fingerprint (this holds every finding's canonical
    /// form; only for the first result of a check after an upgrade).
    pub fn new(legacy: bool) -> Self {
        Self {
            sum: [0; 4],
            count: 0,
            legacy: legacy.then(Vec::new),
        }
    }

    pub fn add(&mut self, finding: &Finding) {
        let canonical = canonical(finding);
        let mut hasher = HashWriter(Sha256::new());
        // (strings and tuples cannot fail to serialize)
        let _ = serde_json::to_writer(&mut hasher, &canonical);
        add_le(&mut self.sum, &hasher.0.finalize());
        self.count += 1;
        if let Some(legacy) = &mut self.legacy {
            legacy.push(canonical);
        }
    }

    pub fn finish(self, status: CheckStatus, missing_permission: Option<&str>) -> Fingerprints {
        let sum: String = self.sum.iter().map(|limb| format!("{limb:016x}")).collect();
        let current = hex16(&Sha256::digest(
            serde_json::json!([status.as_str(), missing_permission, self.count, sum])
                .to_string()
                .as_bytes(),
        ));
        let legacy = self.legacy.map(|mut findings| {
            findings.sort();
            // The canonical text, `["<status>",<missing permission>,[[id,status,[[property,
            // value],..]],..]]`, hashed as it is written (tuples serialize as the arrays a
            // JSON tree would print, byte for byte).
            let mut hasher = HashWriter(Sha256::new());
            let _ = serde_json::to_writer(
                &mut hasher,
                &(status.as_str(), missing_permission, &findings),
            );
            hex16(&hasher.0.finalize())
        });
        Fingerprints {
            current: format!("{VERSION_PREFIX}{current}"),
            legacy,
        }
    }
}

/// `sum += digest` modulo 2^256, both little-endian (the digest's 32 bytes as four limbs).
fn add_le(sum: &mut [u64; 4], digest: &[u8]) {
    let mut carry = false;
    for (limb, word) in sum.iter_mut().zip(digest.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let (partial, c1) = limb.overflowing_add(u64::from_le_bytes(bytes));
        let (total, c2) = partial.overflowing_add(u64::from(carry));
        *limb = total;
        carry = c1 || c2;
    }
}

fn hex16(digest: &[u8]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds written bytes to a digest.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Evidence, FindingStatus};

    fn finding(id: &str, value: serde_json::Value) -> Finding {
        Finding {
            resource_id: id.into(),
            resource_name: "n".into(),
            resource_type: "t".into(),
            location: None,
            status: FindingStatus::Failed,
            evidence: vec![Evidence {
                property: "properties.\"odd\" name".into(),
                value,
                expected: "x".into(),
            }],
            message: "m".into(),
        }
    }

    fn result(findings: Vec<Finding>) -> CheckResult {
        CheckResult {
            check_id: "c".into(),
            status: CheckStatus::Failed,
            reason: "r".into(),
            missing_permission: Some("Microsoft.Web/sites/config/list/action".into()),
            findings,
        }
    }

    #[test]
    fn legacy_fingerprints_are_those_of_the_canonical_json_tree() {
        // Earlier builds stored the digest of this tree; it must still be recognized.
        let tree = |result: &CheckResult| {
            let mut findings: Vec<_> = result.findings.iter().map(canonical).collect();
            findings.sort();
            let canonical =
                serde_json::json!([result.status.as_str(), result.missing_permission, findings]);
            hex16(&Sha256::digest(canonical.to_string().as_bytes()))
        };
        let full = result(vec![
            finding(
                "/B/ünïcode\u{1}",
                serde_json::json!({"a": [1, 2.5, null, "q\"uote"]}),
            ),
            finding("/a/x", serde_json::json!("TLS1_0")),
        ]);
        assert_eq!(legacy_fingerprint(&full), tree(&full));
        let empty = result(Vec::new());
        assert_eq!(legacy_fingerprint(&empty), tree(&empty));
        assert!(!legacy_fingerprint(&full).starts_with(VERSION_PREFIX));
        assert!(fingerprint(&full).starts_with(VERSION_PREFIX));
    }

    #[test]
    fn the_order_of_findings_does_not_matter_but_their_number_and_content_do() {
        let a = finding("/a", serde_json::json!("TLS1_0"));
        let b = finding("/B", serde_json::json!({"x": [1, 2]}));
        let ab = fingerprint(&result(vec![a.clone(), b.clone()]));
        assert_eq!(ab, fingerprint(&result(vec![b.clone(), a.clone()])));
        // resource ids compare without case, as before
        let mut b_lower = b.clone();
        b_lower.resource_id = "/b".into();
        assert_eq!(ab, fingerprint(&result(vec![a.clone(), b_lower])));
        assert_ne!(ab, fingerprint(&result(vec![a.clone()])));
        assert_ne!(
            ab,
            fingerprint(&result(vec![a.clone(), b.clone(), b.clone()]))
        );
        let mut changed = b.clone();
        changed.evidence[0].value = serde_json::json!({"x": [1, 3]});
        assert_ne!(ab, fingerprint(&result(vec![a.clone(), changed])));
        let mut passed = b.clone();
        passed.status = FindingStatus::Passed;
        assert_ne!(ab, fingerprint(&result(vec![a.clone(), passed])));
        let other_status = CheckResult {
            status: CheckStatus::Error,
            ..result(vec![a.clone(), b.clone()])
        };
        assert_ne!(ab, fingerprint(&other_status));
    }

    #[test]
    fn wording_is_not_a_change() {
        let a = result(vec![finding("/a", serde_json::json!("TLS1_0"))]);
        let mut b = a.clone();
        b.reason = "other words".into();
        b.findings[0].message = "other message".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(legacy_fingerprint(&a), legacy_fingerprint(&b));
    }

    #[test]
    fn sums_carry_across_limbs_and_wrap_at_2_to_the_256() {
        let le =
            |limbs: [u64; 4]| -> Vec<u8> { limbs.iter().flat_map(|l| l.to_le_bytes()).collect() };
        let mut sum = [u64::MAX, u64::MAX, 0, 7];
        add_le(&mut sum, &le([1, 0, 0, 0]));
        assert_eq!(sum, [0, 0, 1, 7], "the carry runs through two limbs");
        let mut sum = [u64::MAX; 4];
        add_le(&mut sum, &le([2, 0, 0, 0]));
        assert_eq!(sum, [1, 0, 0, 0], "the top carry is dropped");
        // Many findings in either order: the same digest.
        let findings: Vec<_> = (0..500)
            .map(|i| finding(&format!("/r/{i}"), serde_json::json!(i)))
            .collect();
        let mut reversed = findings.clone();
        reversed.reverse();
        assert_eq!(
            fingerprint(&result(findings)),
            fingerprint(&result(reversed))
        );
    }
}
