//! Log Analytics workspace settings, one property each: declarative checks over the
//! subscription's workspace list (2023-09-01).

use super::WORKSPACES;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.publicNetworkAccessForIngestion` and
/// `properties.publicNetworkAccessForQuery` are both `Disabled`.
///
/// Absent fails. Spec: both are `PublicNetworkAccessType` with `"default": "Enabled"` ("The
/// network access type for accessing Log Analytics ingestion/query").
pub const LAW_PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "monitor.law_public_access_disabled",
        title: "Log Analytics ingestion/query not public",
        severity: Severity::Medium,
        description: "A workspace open to public networks accepts log ingestion and answers \
            queries from anywhere on the internet with a valid credential. Restricting both to \
            private links keeps logs, and what they reveal, inside private networks.",
        remediation: "Portal: Log Analytics workspace > Settings > Network isolation: Accept \
            data ingestion from public networks = No, Accept queries from public networks = No \
            (with an Azure Monitor Private Link Scope in place). CLI: `az monitor log-analytics \
            workspace update --resource-group <rg> --workspace-name <ws> \
            --ingestion-access Disabled --query-access Disabled`.",
    },
    Rule {
        target: Target::Items(WORKSPACES),
        path: "properties",
        expect: Expect::AllOf(&[
            (
                "publicNetworkAccessForIngestion",
                Expect::Equals("Disabled"),
            ),
            ("publicNetworkAccessForQuery", Expect::Equals("Disabled")),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "Ingestion and queries are refused from public networks",
        fail: "Ingestion or queries are accepted from public networks",
        pass_examples: &[Example::Json(
            r#"{"publicNetworkAccessForIngestion": "Disabled", "publicNetworkAccessForQuery": "Disabled"}"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"{"publicNetworkAccessForIngestion": "Enabled", "publicNetworkAccessForQuery": "Disabled"}"#,
            ),
            Example::Json(
                r#"{"publicNetworkAccessForIngestion": "Disabled", "publicNetworkAccessForQuery": "Enabled"}"#,
            ),
            Example::Json(r#"{"publicNetworkAccessForIngestion": "Disabled"}"#),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.retentionInDays` is at least 90.
///
/// Absent fails. Spec: "The workspace data retention in days. Allowed values are per pricing
/// plan." With no value the plan's default applies (30 days for pay-as-you-go, 7 for Free).
pub const LAW_RETENTION: Check = Check::rule(
    CheckMeta {
        id: "monitor.law_retention",
        title: "Workspace retention ≥ 90 days (configurable)",
        severity: Severity::Medium,
        description: "Incidents are often discovered weeks after they start; logs deleted after \
            the default 30 days cannot show how an attacker got in. Ninety days of interactive \
            retention is the common baseline.",
        remediation: "Portal: Log Analytics workspace > Settings > Usage and estimated costs > \
            Data retention: 90 days or more. CLI: `az monitor log-analytics workspace update \
            --resource-group <rg> --workspace-name <ws> --retention-time 90`.",
    },
    Rule {
        target: Target::Items(WORKSPACES),
        path: "properties.retentionInDays",
        expect: Expect::AtLeast(90),
        missing: Missing::Fails,
        when: None,
        pass: "Logs are kept at least 90 days",
        fail: "Logs are kept less than 90 days",
        pass_examples: &[Example::Int(90), Example::Int(730)],
        fail_examples: &[Example::Int(30), Example::Int(7), Example::Absent],
    },
);
