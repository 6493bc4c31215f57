//! The gateway TLS policy and the WAF policy settings, one property each: declarative checks
//! (see `checks::rule`).

use super::{GATEWAYS, WAF_POLICIES};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

const NO_POLICIES: &str = "No Application Gateway WAF policies in the selected regions";

/// Passes when `properties.sslPolicy.minProtocolVersion` is `TLSv1_2` or `TLSv1_3`, or
/// `properties.sslPolicy.policyName` is a predefined policy whose minimum is TLS 1.2
/// (`AppGwSslPolicy20170401S`, `AppGwSslPolicy20220101`, `AppGwSslPolicy20220101S`).
///
/// Absent fails. Spec: "SSL policy of the application gateway resource." with no default in
/// the schema; the platform default depends on when and with which api-version the gateway
/// was created (older gateways default to `AppGwSslPolicy20150501`, which allows TLS 1.0), so
/// a gateway without an explicit policy is not known to refuse old TLS.
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "appgw.min_tls_12",
        title: "SSL policy minimum TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. A gateway whose \
            SSL policy accepts them lets clients, or an attacker downgrading a connection, reach \
            the applications over a weak protocol.",
        remediation: "Portal: Application gateway > Settings > Listeners > SSL settings (or \
            Listener TLS certificates) > Change default TLS policy > AppGwSslPolicy20220101 (or \
            a custom policy with Min protocol version TLSv1_2). CLI: `az network \
            application-gateway ssl-policy set --gateway-name <gw> --resource-group <rg> \
            --policy-type Predefined --name AppGwSslPolicy20220101`.",
    },
    Rule {
        target: Target::Items(GATEWAYS),
        path: "properties.sslPolicy",
        expect: Expect::AnyOf(&[
            ("minProtocolVersion", Expect::OneOf(&["TLSv1_2", "TLSv1_3"])),
            (
                "policyName",
                Expect::OneOf(&[
                    "AppGwSslPolicy20170401S",
                    "AppGwSslPolicy20220101",
                    "AppGwSslPolicy20220101S",
                ]),
            ),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The SSL policy requires TLS 1.2 or later",
        fail: "The SSL policy does not require TLS 1.2",
        pass_examples: &[
            Example::Json(
                r#"{"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}"#,
            ),
            Example::Json(
                r#"{"policyType": "CustomV2", "minProtocolVersion": "TLSv1_2", "cipherSuites": []}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"policyType": "Predefined", "policyName": "AppGwSslPolicy20150501"}"#,
            ),
            Example::Json(r#"{"policyType": "Custom", "minProtocolVersion": "TLSv1_0"}"#),
            Example::Json("{}"),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.policySettings.state` is `Enabled` and `.mode` is `Prevention`.
///
/// Absent fails. Spec: state "The state of the policy." and mode "The mode of the policy.", no
/// defaults documented; a policy that does not state both is not known to block.
pub const WAF_PREVENTION_MODE: Check = Check::rule(
    CheckMeta {
        id: "appgw.waf_prevention_mode",
        title: "WAF policy enabled in Prevention mode",
        severity: Severity::High,
        description: "In Detection mode the WAF only logs the attacks it recognises and lets \
            them through; a disabled policy does nothing. Prevention mode blocks matching \
            requests.",
        remediation: "Portal: Web Application Firewall policy > Overview > Switch to prevention \
            mode (and Policy settings > Enabled). CLI: `az network application-gateway \
            waf-policy policy-setting update --policy-name <policy> --resource-group <rg> \
            --state Enabled --mode Prevention`.",
    },
    Rule {
        target: Target::Items(WAF_POLICIES),
        path: "properties.policySettings",
        expect: Expect::AllOf(&[
            ("state", Expect::Equals("Enabled")),
            ("mode", Expect::Equals("Prevention")),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The WAF policy is enabled in Prevention mode",
        fail: "The WAF policy does not block attacks",
        pass_examples: &[Example::Json(
            r#"{"state": "Enabled", "mode": "Prevention"}"#,
        )],
        fail_examples: &[
            Example::Json(r#"{"state": "Enabled", "mode": "Detection"}"#),
            Example::Json(r#"{"state": "Disabled", "mode": "Prevention"}"#),
            Example::Absent,
        ],
    },
)
.none_in_scope(NO_POLICIES);

/// Passes when `properties.policySettings.requestBodyCheck` is `true`.
///
/// Absent fails. Spec: "Whether to allow WAF to check request Body.", no default documented.
pub const WAF_REQUEST_BODY_CHECK: Check = Check::rule(
    CheckMeta {
        id: "appgw.waf_request_body_check",
        title: "WAF inspects request bodies",
        severity: Severity::Medium,
        description: "Without request body inspection the WAF sees only headers, cookies and \
            the URL, so attacks carried in POST bodies (form fields, JSON, XML) pass \
            unchecked.",
        remediation: "Portal: Web Application Firewall policy > Settings > Policy settings > \
            Enforce request body inspection = on. CLI: `az network application-gateway \
            waf-policy policy-setting update --policy-name <policy> --resource-group <rg> \
            --request-body-check true`.",
    },
    Rule {
        target: Target::Items(WAF_POLICIES),
        path: "properties.policySettings.requestBodyCheck",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Request bodies are inspected",
        fail: "Request bodies are not inspected",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
)
.none_in_scope(NO_POLICIES);

const BOT_MANAGER: Expect = Expect::Equals("Microsoft_BotManagerRuleSet");

/// Passes when some element of `properties.managedRules.managedRuleSets` has `ruleSetType`
/// `Microsoft_BotManagerRuleSet`.
///
/// Absent or an empty list fails: no bot-protection rule set is in use ("The managed rule sets
/// that are associated with the policy.").
pub const WAF_BOT_PROTECTION: Check = Check::rule(
    CheckMeta {
        id: "appgw.waf_bot_protection",
        title: "Bot-manager rule set enabled",
        severity: Severity::Medium,
        description: "The bot-manager rule set blocks or logs requests from known malicious bots \
            and scanners, based on Microsoft threat intelligence. Without it, credential \
            stuffing and scraping bots reach the application.",
        remediation: "Portal: Web Application Firewall policy > Settings > Managed rules > \
            Assign > Bot Management ruleset (Microsoft_BotManagerRuleSet 1.0 or later). CLI: \
            `az network application-gateway waf-policy managed-rule rule-set add \
            --policy-name <policy> --resource-group <rg> --type Microsoft_BotManagerRuleSet \
            --version 1.0`.",
    },
    Rule {
        target: Target::Items(WAF_POLICIES),
        path: "properties.managedRules.managedRuleSets",
        expect: Expect::AnyElement {
            path: "ruleSetType",
            expect: &BOT_MANAGER,
        },
        missing: Missing::Fails,
        when: None,
        pass: "The bot-manager rule set is enabled",
        fail: "The bot-manager rule set is not enabled",
        pass_examples: &[Example::Json(
            r#"[{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}, {"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.0"}]"#,
        )],
        fail_examples: &[
            Example::Json(r#"[{"ruleSetType": "OWASP", "ruleSetVersion": "3.2"}]"#),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
)
.none_in_scope(NO_POLICIES);
