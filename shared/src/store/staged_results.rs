//! A split job's result, ingested from its staged pieces one check at a time, and without
//! holding even one check whole: a big subscription's storage check has tens of thousands of
//! findings, and the scheduler's memory must not grow with them (issue 16). A check's pieces are
//! read one by one and combined as they come ([`CheckCombiner`]), fingerprinted finding by
//! finding ([`FindingsDigest`]), and their findings' text is appended to a temporary key that
//! the ingestion script joins into the stored result (see `stored_body.rs`); the scripts and the
//! per-check logic are those of whole results (`results.rs`).

use chrono::Utc;
use uuid::Uuid;

use super::fingerprint::FindingsDigest;
use super::results::{INGEST_CHECK, INGEST_FINISH, StoredEntry, outcome_of, summary_of};
use super::stored_body::write_findings;
use super::{IngestOutcome, StagedJob, Store, StoreError};
use crate::fragments::CheckCombiner;
use crate::messages::CheckResult;

/// A check's pieces, written out.
struct WrittenCheck {
    /// The combined result without its findings.
    header: CheckResult,
    digest: FindingsDigest,
    /// The length of the findings' text in the temporary key.
    bytes: usize,
}

impl Store {
    /// Ingests a job's result from its staged pieces (every one in), one check at a time (see
    /// the module doc). The job's own records come last, once every check is in, and drop the
    /// staged pieces; a retry after a failure part-way skips the checks already stored.
    /// Idempotent on the job id like [`Self::ingest`].
    pub async fn ingest_staged(&self, staged: &StagedJob) -> Result<IngestOutcome, StoreError> {
        let Some(header) = crate::fragments::combine_envelopes(staged.envelopes.clone()) else {
            return Ok(IngestOutcome::Refused("no pieces to combine"));
        };
        self.note_connection_error(&header).await?;
        let service = crate::checks::service(&header.service);
        let mut ids: Vec<&str> = staged.check_ids().collect();
        if let Some(service) = service {
            ids.sort_by_key(|id| service.checks.iter().position(|c| c.meta.id == *id));
        }
        let ingested_at = Utc::now().to_rfc3339();
        let mut counts = std::collections::BTreeMap::new();
        for id in ids {
            let entry = self
                .stored_entries(header.connection_id, &[id])
                .await?
                .pop()
                .unwrap_or(StoredEntry(None));
            // This attempt's own key: two ingesters racing on one job never write into each
            // other's text.
            let findings_key = format!("{}:findings:{}:{}", staged.key(), id, Uuid::new_v4());
            let Some(written) = self
                .write_out_check(staged, service, id, entry.is_legacy(), &findings_key)
                .await?
            else {
                continue;
            };
            let WrittenCheck {
                header: check,
                digest,
                bytes,
            } = written;
            *counts.entry(check.status.as_str()).or_insert(0) += 1;
            let args = self.check_args(&header, &check, digest, &entry).await?;
            let script = redis::Script::new(&INGEST_CHECK);
            let mut invocation = script.prepare_invoke();
            self.ingestion_args(&mut invocation, &header, "", &ingested_at, Some(staged));
            invocation.key(&findings_key).arg(1);
            args.push(&mut invocation, bytes.to_string().as_bytes());
            let code: i64 = invocation.invoke_async(&mut self.conn.clone()).await?;
            match code {
                3 => {}
                -3 => return Ok(IngestOutcome::Refused("the staged pieces expired")),
                -4 => {
                    return Err(StoreError::Corrupt {
                        key: findings_key,
                        reason: "the findings written for the check expired before use".into(),
                    });
                }
                other => return Ok(outcome_of(other)),
            }
        }
        let summary = summary_of(&header, counts)?;
        let script = redis::Script::new(&INGEST_FINISH);
        let mut invocation = script.prepare_invoke();
        self.ingestion_args(
            &mut invocation,
            &header,
            &summary,
            &ingested_at,
            Some(staged),
        );
        invocation.arg(0);
        let code: i64 = invocation.invoke_async(&mut self.conn.clone()).await?;
        Ok(outcome_of(code))
    }

    /// Reads a check's staged pieces one by one, combines them as they come, digests their
    /// findings and appends their text to `findings_key`; `None` when the check has no pieces.
    async fn write_out_check(
        &self,
        staged: &StagedJob,
        service: Option<&'static crate::checks::ServiceDef>,
        id: &str,
        legacy_fingerprint: bool,
        findings_key: &str,
    ) -> Result<Option<WrittenCheck>, StoreError> {
        let pieces = staged.pieces_of(id);
        let several_parts = pieces.windows(2).any(|w| w[0].part != w[1].part);
        let mut combiner = CheckCombiner::new(service, id, several_parts);
        let mut digest = FindingsDigest::new(legacy_fingerprint);
        let (mut written, mut bytes) = (0usize, 0usize);
        for piece in &pieces {
            let Some(check) = self.staged_piece(staged, piece).await? else {
                continue;
            };
            let findings = combiner.add(check);
            if findings.is_empty() {
                continue;
            }
            findings.iter().for_each(|f| digest.add(f));
            let mut text = Vec::new();
            let first = written == 0;
            write_findings(&findings, &mut written, &mut text)?;
            drop(findings);
            bytes += text.len();
            self.append_findings(findings_key, first, text).await?;
        }
        let Some(combined) = combiner.finish() else {
            return Ok(None);
        };
        if !combined.keeps_findings {
            // A failed part decided the check: it has no findings.
            self.drop_key(findings_key).await?;
            return Ok(Some(WrittenCheck {
                header: combined.header,
                digest: FindingsDigest::new(legacy_fingerprint),
                bytes: 0,
            }));
        }
        Ok(Some(WrittenCheck {
            header: combined.header,
            digest,
            bytes,
        }))
    }

    /// Appends a piece's findings text to a check's temporary key (set afresh by the first).
    async fn append_findings(
        &self,
        key: &str,
        first: bool,
        text: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if first {
            // Long enough for any one attempt; a key left by an attempt that died goes soon.
            redis::cmd("SET")
                .arg(key)
                .arg(text)
                .arg("EX")
                .arg(3600)
                .query_async::<()>(&mut conn)
                .await?;
        } else {
            redis::cmd("APPEND")
                .arg(key)
                .arg(text)
                .query_async::<i64>(&mut conn)
                .await?;
        }
        Ok(())
    }

    async fn drop_key(&self, key: &str) -> Result<(), StoreError> {
        redis::cmd("DEL")
            .arg(key)
            .query_async::<i64>(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
