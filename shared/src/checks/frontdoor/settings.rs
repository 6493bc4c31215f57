//! The Front Door WAF policy, custom-domain TLS and log-export checks: declarative checks (see
//! `checks::rule`, `checks::diagnostics`).

use super::{CUSTOM_DOMAINS, PROFILE_LOGS, PROFILES, WAF_POLICIES};
use crate::checks::{
    Check, CheckMeta, Example, Expect, LogRule, Missing, Rule, Severity, Target, When,
};

/// Profiles of the Front Door Standard or Premium SKU.
pub(super) const FRONT_DOOR: When = When {
    path: "sku.name",
    expect: Expect::OneOf(&["Standard_AzureFrontDoor", "Premium_AzureFrontDoor"]),
};

const NO_POLICIES: &str = "No Front Door WAF policies";

/// Passes when `properties.policySettings.enabledState` is `Enabled` and `.mode` is
/// `Prevention`.
///
/// Absent fails. Spec: enabledState "Describes if the policy is in enabled or disabled state.
/// Defaults to Enabled if not specified." but mode "Describes if it is in detection mode or
/// prevention mode at policy level." has no default; without both, blocking is not stated.
pub const WAF_PREVENTION_MODE: Check = Check::rule(
    CheckMeta {
        id: "frontdoor.waf_prevention_mode",
        title: "WAF enabled in Prevention mode",
        severity: Severity::High,
        description: "In Detection mode the Front Door WAF only logs the attacks it recognises \
            and lets them through to the origin; a disabled policy does nothing. Prevention \
            mode blocks matching requests at the edge.",
        remediation: "Portal: Front Door WAF policy > Overview > Switch to prevention mode (and \
            Policy settings > Enabled). CLI: `az network front-door waf-policy update --name \
            <policy> --resource-group <rg> --mode Prevention --disabled false`.",
    },
    Rule {
        target: Target::Items(WAF_POLICIES),
        path: "properties.policySettings",
        expect: Expect::AllOf(&[
            ("enabledState", Expect::Equals("Enabled")),
            ("mode", Expect::Equals("Prevention")),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The WAF policy is enabled in Prevention mode",
        fail: "The WAF policy does not block attacks",
        pass_examples: &[Example::Json(
            r#"{"enabledState": "Enabled", "mode": "Prevention"}"#,
        )],
        fail_examples: &[
            Example::Json(r#"{"enabledState": "Enabled", "mode": "Detection"}"#),
            Example::Json(r#"{"enabledState": "Disabled", "mode": "Prevention"}"#),
            Example::Absent,
        ],
    },
)
.none_in_scope(NO_POLICIES);

const DEFAULT_RULE_SET: Expect = Expect::OneOf(&["Microsoft_DefaultRuleSet", "DefaultRuleSet"]);

/// Passes when some element of `properties.managedRules.managedRuleSets` has `ruleSetType`
/// `Microsoft_DefaultRuleSet` (or the older `DefaultRuleSet`). Only Premium (and classic) WAF
/// policies are evaluated: the Standard tier cannot hold managed rule sets.
///
/// Absent or an empty list fails: "List of rule sets." with none means no managed protection.
pub const WAF_MANAGED_RULES: Check = Check::rule(
    CheckMeta {
        id: "frontdoor.waf_managed_rules",
        title: "Managed default rule set enabled (Premium)",
        severity: Severity::Medium,
        description: "The Microsoft default rule set protects against the OWASP top-ten attack \
            classes (SQL injection, cross-site scripting, remote code execution) and is kept up \
            to date by Microsoft. A policy with only custom rules misses them.",
        remediation: "Portal: Front Door WAF policy > Settings > Managed rules > Assign > \
            Microsoft_DefaultRuleSet 2.1. CLI: `az network front-door waf-policy managed-rules \
            add --policy-name <policy> --resource-group <rg> --type Microsoft_DefaultRuleSet \
            --version 2.1 --action Block`.",
    },
    Rule {
        target: Target::Items(WAF_POLICIES),
        path: "properties.managedRules.managedRuleSets",
        expect: Expect::AnyElement {
            path: "ruleSetType",
            expect: &DEFAULT_RULE_SET,
        },
        missing: Missing::Fails,
        when: Some(When {
            path: "sku.name",
            expect: Expect::OneOf(&["Premium_AzureFrontDoor", "Classic_AzureFrontDoor"]),
        }),
        pass: "The managed default rule set is enabled",
        fail: "The managed default rule set is not enabled",
        pass_examples: &[
            Example::Json(
                r#"[{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1"}]"#,
            ),
            Example::Json(r#"[{"ruleSetType": "DefaultRuleSet", "ruleSetVersion": "1.0"}]"#),
        ],
        fail_examples: &[
            Example::Json(
                r#"[{"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.0"}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
)
.none_in_scope("No Front Door Premium WAF policies");

/// Passes when a custom domain's `properties.tlsSettings.minimumTlsVersion` is `TLS12` (or
/// `TLS13`).
///
/// Absent fails. Spec: "TLS protocol version that will be used for Https", enum `TLS10` |
/// `TLS12`, no default documented.
pub const CUSTOM_DOMAIN_TLS12: Check = Check::rule(
    CheckMeta {
        id: "frontdoor.custom_domain_tls12",
        title: "Custom domains require TLS 1.2",
        severity: Severity::Medium,
        description: "A custom domain accepting TLS 1.0 lets clients, or an attacker \
            downgrading a connection, reach the site over a deprecated protocol with known \
            weaknesses.",
        remediation: "Portal: Front Door profile > Settings > Domains > <domain> > Certificate \
            and TLS > Minimum TLS version = TLS 1.2. CLI: `az afd custom-domain update \
            --custom-domain-name <domain> --profile-name <profile> --resource-group <rg> \
            --minimum-tls-version TLS12`.",
    },
    Rule {
        target: Target::Items(CUSTOM_DOMAINS),
        path: "properties.tlsSettings.minimumTlsVersion",
        expect: Expect::OneOf(&["TLS12", "TLS13"]),
        missing: Missing::Fails,
        when: None,
        pass: "The custom domain requires TLS 1.2 or later",
        fail: "The custom domain accepts TLS older than 1.2",
        pass_examples: &[Example::Str("TLS12")],
        fail_examples: &[Example::Str("TLS10"), Example::Absent],
    },
)
.none_in_scope("No custom domains on Front Door profiles");

/// Passes when a diagnostic setting with a destination enables both `FrontDoorAccessLog` and
/// `FrontDoorWebApplicationFirewallLog` (or the category group `allLogs`; the `audit` group
/// covers neither). No diagnostic setting fails.
pub const ACCESS_LOGS: Check = Check::logs(
    CheckMeta {
        id: "frontdoor.access_logs",
        title: "Access and WAF logs exported",
        severity: Severity::Medium,
        description: "Front Door access logs record every request and WAF logs every rule \
            match. Without a diagnostic setting exporting them, attacks at the edge and their \
            effect cannot be investigated.",
        remediation: "Portal: Front Door profile > Monitoring > Diagnostic settings > Add \
            diagnostic setting > tick FrontDoorAccessLog and FrontDoorWebApplicationFirewallLog \
            > send to a Log Analytics workspace. CLI: `az monitor diagnostic-settings create \
            --name afd-logs --resource <profile-id> --workspace <workspace-id> --logs \
            '[{\"category\":\"FrontDoorAccessLog\",\"enabled\":true},{\"category\":\"FrontDoorWebApplicationFirewallLog\",\"enabled\":true}]'`.",
    },
    LogRule {
        parent: PROFILES,
        settings: PROFILE_LOGS,
        categories: &["FrontDoorAccessLog", "FrontDoorWebApplicationFirewallLog"],
        groups: &["allLogs"],
        when: Some(FRONT_DOOR),
    },
);
