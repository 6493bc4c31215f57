//! A job's result in bounded messages, and back.
//!
//! No message may grow with the subscription: a storage result for thousands of accounts with
//! evidence on every finding is megabytes, and RabbitMQ 4 refuses messages over 16 MiB by
//! default. A worker therefore cuts a result over its byte bound into chunks ([`chunk`]) —
//! whole checks where they fit, a big check's findings across several chunks — and a split job
//! (see `checks::parts`) sends one result per part. Every piece carries a [`Fragment`]; the
//! ingester stages pieces until all are in and then stores each check as [`CheckCombiner`]
//! combines its pieces (what [`combine`] does in memory for a whole result), so latest results
//! and history look exactly as if one message had carried everything.

use std::collections::{BTreeMap, HashSet};

use crate::checks::{self, CheckStatus};
use crate::json_size::json_len;
use crate::messages::{ArmUsage, CheckResult, Finding, Fragment, ScanResult};

/// Room left in a chunk for the message's envelope (ids, worker name, usage).
const ENVELOPE_ALLOWANCE: usize = 16 * 1024;

/// Cuts `result`, part `part` of `parts`, into messages of at most about `bound` bytes. A whole
/// job's result that fits is returned as it is, with no fragment.
pub fn chunk(mut result: ScanResult, part: u32, parts: u32, bound: usize) -> Vec<ScanResult> {
    let budget = bound.saturating_sub(ENVELOPE_ALLOWANCE).max(1024);
    if parts <= 1 && result.fragment.is_none() && json_len(&result) <= bound {
        result.fragment = None;
        return vec![result];
    }
    let continued_by = result.fragment.and_then(|f| f.continued_by);
    let parts_used = result.fragment.and_then(|f| f.parts_used);
    let checks = std::mem::take(&mut result.checks);
    let mut pieces: Vec<Vec<CheckResult>> = vec![Vec::new()];
    let mut used = 0usize;
    for check in checks {
        let check_len = json_len(&check);
        if used + check_len <= budget {
            used += check_len;
            push(&mut pieces, check);
            continue;
        }
        if check_len <= budget {
            pieces.push(vec![check]);
            used = check_len;
            continue;
        }
        // A check bigger than a chunk: its findings over as many chunks as they need, each
        // piece with the check's status and reason.
        let CheckResult {
            check_id,
            status,
            reason,
            missing_permission,
            findings,
        } = check;
        let header = CheckResult {
            check_id,
            status,
            reason,
            missing_permission,
            findings: Vec::new(),
        };
        let header_len = json_len(&header);
        let mut current = header.clone();
        let mut current_len = header_len;
        for finding in findings {
            let finding = bounded_finding(finding, budget / 2);
            let len = json_len(&finding) + 1;
            if current_len + len > budget && !current.findings.is_empty() {
                pieces.push(vec![std::mem::replace(&mut current, header.clone())]);
                current_len = header_len;
            }
            current_len += len;
            current.findings.push(finding);
        }
        pieces.push(vec![current]);
        used = budget; // start the next check in a fresh chunk
    }
    let pieces: Vec<Vec<CheckResult>> = pieces.into_iter().filter(|p| !p.is_empty()).collect();
    let pieces = if pieces.is_empty() {
        vec![Vec::new()]
    } else {
        pieces
    };
    let chunks = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, checks)| ScanResult {
            arm: if i == 0 {
                result.arm.clone()
            } else {
                ArmUsage::default()
            },
            checks,
            fragment: Some(Fragment {
                part,
                parts: parts.max(1),
                chunk: u32::try_from(i).unwrap_or(u32::MAX),
                chunks,
                continued_by,
                parts_used,
            }),
            ..result.clone()
        })
        .collect()
}

fn push(pieces: &mut [Vec<CheckResult>], check: CheckResult) {
    if let Some(last) = pieces.last_mut() {
        last.push(check);
    }
}

/// A finding no bigger than `limit` bytes: evidence values that would blow the bound are
/// replaced by a note (a single property value is never worth a lost result).
fn bounded_finding(mut finding: Finding, limit: usize) -> Finding {
    if serde_json::to_vec(&finding).map_or(0, |v| v.len()) <= limit {
        return finding;
    }
    for evidence in &mut finding.evidence {
        let len = serde_json::to_vec(&evidence.value).map_or(0, |v| v.len());
        evidence.value = serde_json::Value::String(format!(
            "(value of {len} bytes left out: over the result message bound)"
        ));
    }
    finding
}

/// One result from every piece of a job's result (all chunks of all parts). The caller has
/// checked that the pieces are complete and belong to one job. (The ingester does the same one
/// check at a time, with [`combine_envelopes`] and [`CheckCombiner`], so that it never holds a
/// big result, nor even one of its checks.)
pub fn combine(mut pieces: Vec<ScanResult>) -> Option<ScanResult> {
    pieces.sort_by_key(|p| p.fragment.map(|f| (f.part, f.chunk)).unwrap_or((0, 0)));
    // check id -> its pieces in order, each with its part
    let mut by_check: BTreeMap<String, Vec<(u32, CheckResult)>> = BTreeMap::new();
    for piece in &mut pieces {
        let part = piece.fragment.map_or(0, |f| f.part);
        for check in std::mem::take(&mut piece.checks) {
            by_check
                .entry(check.check_id.clone())
                .or_default()
                .push((part, check));
        }
    }
    let mut combined = combine_envelopes(pieces)?;
    let service = checks::service(&combined.service);
    combined.checks = by_check
        .into_values()
        .filter_map(|pieces| combine_pieces(service, pieces))
        .collect();
    if let Some(service) = service {
        let order = |id: &str| service.checks.iter().position(|c| c.meta.id == id);
        combined.checks.sort_by_key(|c| order(&c.check_id));
    }
    Some(combined)
}

/// The envelope of the combined result (ids, the span of times, the ARM usage summed, the
/// connection error if a piece had one), from every piece's envelope; no checks.
pub fn combine_envelopes(mut pieces: Vec<ScanResult>) -> Option<ScanResult> {
    pieces.sort_by_key(|p| p.fragment.map(|f| (f.part, f.chunk)).unwrap_or((0, 0)));
    let first = pieces.first()?.envelope();
    let mut arm = ArmUsage::default();
    let mut started_at = first.started_at;
    let mut finished_at = first.finished_at;
    let mut connection_error = None;
    for piece in pieces {
        arm.requests += piece.arm.requests;
        arm.throttled += piece.arm.throttled;
        arm.retries += piece.arm.retries;
        arm.limiter_wait_ms += piece.arm.limiter_wait_ms;
        arm.collect_ms = arm.collect_ms.max(piece.arm.collect_ms);
        arm.evaluate_ms += piece.arm.evaluate_ms;
        arm.collections.extend(piece.arm.collections);
        started_at = started_at.min(piece.started_at);
        finished_at = finished_at.max(piece.finished_at);
        if connection_error.is_none() {
            connection_error = piece.connection_error;
        }
    }
    Some(ScanResult {
        arm,
        started_at,
        finished_at,
        connection_error,
        checks: Vec::new(),
        fragment: None,
        ..first
    })
}

/// One check's result from its pieces (in part and chunk order, each with its part), as one
/// job would have given it; `None` without pieces.
pub fn combine_pieces(
    service: Option<&'static checks::ServiceDef>,
    pieces: Vec<(u32, CheckResult)>,
) -> Option<CheckResult> {
    let first_part = pieces.first()?.0;
    let several_parts = pieces.iter().any(|(part, _)| *part != first_part);
    let check_id = pieces.first()?.1.check_id.clone();
    let mut combiner = CheckCombiner::new(service, &check_id, several_parts);
    let mut findings = Vec::new();
    for (_, piece) in pieces {
        findings.extend(combiner.add(piece));
    }
    let combined = combiner.finish()?;
    Some(CheckResult {
        findings: if combined.keeps_findings {
            findings
        } else {
            Vec::new()
        },
        ..combined.header
    })
}

/// Combines one check's pieces as they are read, one at a time, without holding their findings:
/// [`CheckCombiner::add`] hands back the findings a piece adds (the caller stores them as it
/// goes) and [`CheckCombiner::finish`] says what the check's status and reason are.
///
/// Pieces of one part (chunks) share status and reason; pieces from several parts are
/// summarized again over all their findings, as one job would have. A piece that ended without
/// findings on a failure (a list it could not read, a part that ran out of time) decides a
/// check of several parts: the findings of the other parts are not the whole. A resource seen
/// in two pieces (an item listed twice while its list was paged) counts once; the ids seen are
/// kept as 16-byte digests, the only thing held per finding.
pub struct CheckCombiner {
    check: Option<(&'static checks::Check, &'static str)>,
    several_parts: bool,
    head: Option<CheckResult>,
    decided_by: Option<CheckResult>,
    seen: HashSet<u128>,
    tally: checks::Tally,
}

/// What a check's pieces combined to.
#[derive(Debug)]
pub struct CombinedCheck {
    /// The check's result without its findings.
    pub header: CheckResult,
    /// Whether the findings handed back by [`CheckCombiner::add`] belong to it (false when a
    /// failed part decided the check: it has none).
    pub keeps_findings: bool,
}

impl CheckCombiner {
    pub fn new(
        service: Option<&'static checks::ServiceDef>,
        check_id: &str,
        several_parts: bool,
    ) -> Self {
        let check = service.and_then(|service| {
            let check = service.checks.iter().find(|c| c.meta.id == check_id)?;
            Some((check, check.none_in_scope.unwrap_or(service.none_in_scope)))
        });
        Self {
            check,
            several_parts,
            head: None,
            decided_by: None,
            seen: HashSet::new(),
            tally: checks::Tally::default(),
        }
    }

    /// Takes the next piece; returns the findings it adds to the check.
    pub fn add(&mut self, mut piece: CheckResult) -> Vec<Finding> {
        if self.several_parts
            && self.decided_by.is_none()
            && piece.findings.is_empty()
            && matches!(
                piece.status,
                CheckStatus::Error | CheckStatus::FailedAccessDenied
            )
        {
            self.decided_by = Some(piece.clone());
        }
        let mut findings = std::mem::take(&mut piece.findings);
        findings.retain(|f| self.seen.insert(digest_of(&f.resource_id)));
        for finding in &findings {
            self.tally.add(finding);
        }
        if self.head.is_none() {
            self.head = Some(piece);
        }
        findings
    }

    /// The check's result over every piece added; `None` when none was.
    pub fn finish(self) -> Option<CombinedCheck> {
        if let Some(header) = self.decided_by {
            return Some(CombinedCheck {
                header,
                keeps_findings: false,
            });
        }
        let head = self.head?;
        let header = match self.check {
            Some((check, none_in_scope)) if self.several_parts => {
                self.tally.verdict(check, none_in_scope)
            }
            _ => head,
        };
        Some(CombinedCheck {
            header,
            keeps_findings: true,
        })
    }
}

/// A resource id's 16-byte digest (what [`CheckCombiner`] remembers of it).
fn digest_of(resource_id: &str) -> u128 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(resource_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Evidence, FindingStatus, MAX_PARTS, MESSAGE_VERSION, Message, Trigger};
    use uuid::Uuid;

    fn finding(i: usize, status: FindingStatus) -> Finding {
        Finding {
            resource_id: format!(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i:05}"
            ),
            resource_name: format!("sa{i:05}"),
            resource_type: "Microsoft.Storage/storageAccounts".into(),
            location: Some("eastus".into()),
            status,
            evidence: vec![Evidence {
                property: "properties.minimumTlsVersion".into(),
                value: serde_json::json!("TLS1_2"),
                expected: "TLS1_2 or TLS1_3".into(),
            }],
            message: "Minimum TLS version is TLS1_2".into(),
        }
    }

    fn result(findings: usize) -> ScanResult {
        let service = checks::service("storage").expect("storage");
        let checks = service
            .checks
            .iter()
            .map(|c| {
                let findings: Vec<Finding> = (0..findings)
                    .map(|i| finding(i, FindingStatus::Passed))
                    .collect();
                CheckResult {
                    check_id: c.meta.id.into(),
                    status: CheckStatus::Passed,
                    reason: format!(
                        "All {findings} resources in scope pass",
                        findings = findings.len()
                    ),
                    missing_permission: None,
                    findings,
                }
            })
            .collect();
        ScanResult {
            schema: ScanResult::SCHEMA.into(),
            version: MESSAGE_VERSION,
            job_id: Uuid::new_v4(),
            scan_id: Uuid::new_v4(),
            organization_id: "acme".into(),
            connection_id: Uuid::new_v4(),
            service: "storage".into(),
            trigger: Trigger::Scheduled,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            worker: "w".into(),
            arm: ArmUsage {
                requests: 7,
                ..ArmUsage::default()
            },
            checks,
            connection_error: None,
            fragment: None,
        }
    }

    #[test]
    fn a_small_result_travels_whole() {
        let r = result(3);
        let out = chunk(r.clone(), 0, 1, 1024 * 1024);
        assert_eq!(out, vec![r]);
    }

    #[test]
    fn a_big_result_is_cut_under_the_bound_and_combines_back_exactly() {
        let r = result(2_000);
        let whole = serde_json::to_vec(&r).expect("json").len();
        let bound = 64 * 1024;
        let pieces = chunk(r.clone(), 0, 1, bound);
        assert!(pieces.len() > whole / bound, "{} pieces", pieces.len());
        for p in &pieces {
            let len = serde_json::to_vec(p).expect("json").len();
            assert!(len <= bound, "piece of {len} bytes over {bound}");
            let f = p.fragment.expect("fragment");
            assert_eq!((f.part, f.parts, f.chunks), (0, 1, pieces.len() as u32));
        }
        let mut shuffled = pieces.clone();
        shuffled.reverse();
        let back = combine(shuffled).expect("combined");
        assert_eq!(back.checks, r.checks);
        assert_eq!(back.arm.requests, 7, "usage counted once");
    }

    #[test]
    fn parts_are_summarized_again_over_all_findings() {
        let mut a = result(2);
        let mut b = result(0);
        let check = a.checks[0].check_id.clone();
        a.checks.truncate(1);
        b.checks.truncate(1);
        b.checks[0].findings = vec![finding(7, FindingStatus::Failed)];
        b.checks[0].status = CheckStatus::Failed;
        a.fragment = Some(Fragment::whole(1, 3));
        b.fragment = Some(Fragment::whole(2, 3));
        b.job_id = a.job_id;
        let c = combine(vec![b, a]).expect("combined");
        assert_eq!(c.checks.len(), 1);
        assert_eq!(c.checks[0].check_id, check);
        assert_eq!(c.checks[0].status, CheckStatus::Failed);
        assert_eq!(c.checks[0].findings.len(), 3);
        assert!(
            c.checks[0].reason.starts_with("1 of 3 resources fail"),
            "{}",
            c.checks[0].reason
        );
    }

    #[test]
    fn a_part_that_failed_decides_its_checks() {
        let mut a = result(2);
        let mut b = result(0);
        a.checks.truncate(1);
        b.checks.truncate(1);
        b.checks[0].status = CheckStatus::Error;
        b.checks[0].reason = "time bound exceeded".into();
        a.fragment = Some(Fragment::whole(1, 3));
        b.fragment = Some(Fragment::whole(2, 3));
        let c = combine(vec![a, b]).expect("combined");
        assert_eq!(c.checks[0].status, CheckStatus::Error);
    }

    #[test]
    fn a_huge_evidence_value_is_left_out_not_the_result() {
        let mut f = finding(1, FindingStatus::Failed);
        f.evidence[0].value = serde_json::json!("x".repeat(100_000));
        let bounded = bounded_finding(f, 10_000);
        assert!(serde_json::to_vec(&bounded).expect("json").len() < 10_000);
        assert_eq!(bounded.status, FindingStatus::Failed);
    }

    #[test]
    fn fragments_out_of_range_are_refused() {
        let ok = Fragment {
            part: 0,
            parts: 2,
            chunk: 1,
            chunks: 2,
            continued_by: None,
            parts_used: None,
        };
        assert!(ok.invalid().is_none());
        for bad in [
            Fragment {
                part: 2,
                parts: 2,
                chunk: 0,
                chunks: 1,
                continued_by: None,
                parts_used: None,
            },
            Fragment {
                part: 0,
                parts: 0,
                chunk: 0,
                chunks: 1,
                continued_by: None,
                parts_used: None,
            },
            Fragment {
                part: 0,
                parts: 1,
                chunk: 0,
                chunks: 0,
                continued_by: None,
                parts_used: None,
            },
            Fragment {
                part: 0,
                parts: 1,
                chunk: 0,
                chunks: 5000,
                continued_by: None,
                parts_used: None,
            },
            Fragment {
                part: 0,
                parts: 99_999,
                chunk: 0,
                chunks: 1,
                continued_by: None,
                parts_used: None,
            },
        ] {
            assert!(bad.invalid().is_some(), "{bad:?}");
        }
    }

    #[test]
    fn continuations_follow_the_numbering() {
        let f = |part, parts, continued_by| Fragment {
            part,
            parts,
            chunk: 0,
            chunks: 1,
            continued_by,
            parts_used: None,
        };
        assert!(f(1, 3, Some(4)).invalid().is_none(), "1 continues as 1 + 3");
        assert!(f(4, 3, Some(7)).invalid().is_none(), "and 4 as 7");
        assert!(
            f(0, 3, Some(3)).invalid().is_some(),
            "the coordinator has no continuation"
        );
        assert!(f(1, 3, Some(5)).invalid().is_some(), "not 1 + 3");
        assert!(
            f(3, 3, None).invalid().is_some(),
            "a multiple of parts is the coordinator's line"
        );
        assert!(
            f(1 + 3 * 64, 3, None).invalid().is_some(),
            "past the last generation"
        );
    }

    #[test]
    fn only_the_coordinator_says_how_many_parts_were_used() {
        let f = |part, parts_used| Fragment {
            parts_used,
            ..Fragment::whole(part, MAX_PARTS)
        };
        assert!(f(0, Some(7)).invalid().is_none());
        assert!(f(0, Some(MAX_PARTS)).invalid().is_none());
        assert!(f(0, Some(0)).invalid().is_some(), "part 0 is one");
        assert!(f(0, Some(MAX_PARTS + 1)).invalid().is_some());
        assert!(f(3, Some(7)).invalid().is_some(), "a part does not know");
    }

    #[test]
    fn chunks_keep_the_parts_used() {
        let mut whole = result(400);
        whole.fragment = Some(Fragment {
            parts_used: Some(5),
            ..Fragment::whole(0, MAX_PARTS)
        });
        let pieces = chunk(whole, 0, MAX_PARTS, 32 * 1024);
        assert!(pieces.len() > 1);
        for piece in pieces {
            assert_eq!(piece.fragment.and_then(|f| f.parts_used), Some(5));
        }
    }
}
