//! `media.account_present`: the service is retired, so every account is a finding whatever its
//! settings; no property decides, hence a custom evaluator.

use super::ACCOUNTS;
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

/// The retirement date, quoted in every finding.
pub(super) const RETIRED: &str = "Azure Media Services was retired on 30 June 2024";

/// Every in-scope account fails with the retirement as its reason; no account in scope is Not
/// applicable (nothing to migrate).
pub const ACCOUNT_PRESENT: Check = Check::custom(
    CheckMeta {
        id: "media.account_present",
        title: "Any Media Services account is a finding (service retired 30 Jun 2024)",
        severity: Severity::Medium,
        description: "Azure Media Services was retired on 30 June 2024: accounts can no longer \
            encode or stream, receive no security fixes and are being deleted with their data \
            references. An account still present points at content and keys that need to be \
            migrated or removed.",
        remediation: "Migrate encoding and streaming to a partner solution (see 'Azure Media \
            Services retirement guide'), then Portal: Media Services account > Delete. CLI: \
            `az resource delete --ids <account-id>`.",
    },
    &[ACCOUNTS],
    account_present,
);

fn account_present(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.items(ACCOUNTS)
        .iter()
        .map(|account| {
            let evidence = vec![props::evidence(
                account,
                "type",
                "no Microsoft.Media/mediaservices account",
            )];
            props::finding(
                account,
                FindingStatus::Failed,
                evidence,
                format!("{RETIRED}; this account still exists"),
            )
        })
        .collect()
}
