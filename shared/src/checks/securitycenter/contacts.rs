//! The security contact checks: who Defender for Cloud notifies, and of what.
//!
//! Two of them are one property each and written as declarative [`Rule`]s; they are wrapped in
//! a custom evaluator only because an empty contact list must fail (no contact means nobody is
//! notified), where a plain rule would find nothing in scope.

use serde_json::{Value, json};

use super::CONTACTS;
use crate::checks::{
    Check, CheckMeta, EvalContext, Example, Expect, Missing, Rule, Severity, Target, props,
};
use crate::messages::Finding;

const CONTACT_REMEDIATION: &str = "Portal: Microsoft Defender for Cloud > Environment settings > \
    the subscription > Email notifications: set the e-mail recipients, notify users with the \
    Owner role, and alert notifications of severity High (or lower) on; Save. CLI: `az rest \
    --method put --url \"https://management.azure.com/subscriptions/<sub>/providers/\
    Microsoft.Security/securityContacts/default?api-version=2023-12-01-preview\" --body \
    '{\"properties\":{\"emails\":\"secops@contoso.com\",\"isEnabled\":true,\
    \"notificationsByRole\":{\"state\":\"On\",\"roles\":[\"Owner\"]},\"notificationsSources\":\
    [{\"sourceType\":\"Alert\",\"minimalSeverity\":\"High\"}]}}'`.";

/// Passes when `properties.emails` (a `;`-separated list) is a non-empty string.
///
/// Absent fails: the spec has no default ("List of email addresses which will get
/// notifications from Microsoft Defender for Cloud by the configurations defined in this
/// security contact"), and without addresses no one outside the role notifications is told.
pub(super) const EMAILS_RULE: Rule = Rule {
    target: Target::Items(CONTACTS),
    path: "properties.emails",
    expect: Expect::NonEmpty,
    missing: Missing::Fails,
    when: None,
    pass: "Security alerts are e-mailed to the configured contacts",
    fail: "No security contact e-mail address is configured",
    pass_examples: &[Example::Str("secops@contoso.com;ciso@contoso.com")],
    fail_examples: &[Example::Str(""), Example::Str("  "), Example::Absent],
};

pub const CONTACT_EMAILS: Check = Check::custom(
    CheckMeta {
        id: "securitycenter.contact_emails",
        title: "Security contact e-mail configured",
        severity: Severity::Medium,
        description: "Defender for Cloud e-mails security alerts and attack-path notifications \
            to the security contact. Without an address, alerts about active attacks reach \
            only whoever happens to look at the portal.",
        remediation: CONTACT_REMEDIATION,
    },
    &[CONTACTS],
    contact_emails,
);

const OWNER: Expect = Expect::Equals("Owner");

/// Passes when `properties.notificationsByRole.state` is `On` and `.roles` contains `Owner`.
///
/// Absent fails: `notificationsByRole` has no documented default ("Defines whether to send
/// email notifications from Microsoft Defender for Cloud to persons with specific RBAC roles
/// on the subscription"), and an empty `roles` list notifies nobody.
pub(super) const OWNERS_RULE: Rule = Rule {
    target: Target::Items(CONTACTS),
    path: "properties.notificationsByRole",
    expect: Expect::AllOf(&[
        ("state", Expect::Equals("On")),
        (
            "roles",
            Expect::AnyElement {
                path: "",
                expect: &OWNER,
            },
        ),
    ]),
    missing: Missing::Fails,
    when: None,
    pass: "Subscription owners are notified of alerts",
    fail: "Subscription owners are not notified of alerts",
    pass_examples: &[Example::Json(
        r#"{"state": "On", "roles": ["Owner", "Admin"]}"#,
    )],
    fail_examples: &[
        Example::Json(r#"{"state": "Off", "roles": ["Owner"]}"#),
        Example::Json(r#"{"state": "On", "roles": ["AccountAdmin"]}"#),
        Example::Json(r#"{"state": "On", "roles": []}"#),
        Example::Absent,
    ],
};

pub const NOTIFY_OWNERS: Check = Check::custom(
    CheckMeta {
        id: "securitycenter.notify_owners",
        title: "Owners notified of alerts",
        severity: Severity::Medium,
        description: "Subscription owners can act on an alert at once (isolate a machine, \
            rotate a key). Notifying the Owner role makes sure the people able to respond hear \
            about attacks even when the contact list is out of date.",
        remediation: CONTACT_REMEDIATION,
    },
    &[CONTACTS],
    notify_owners,
);

/// Severities low enough that High-severity alerts are e-mailed.
const THRESHOLDS: [&str; 3] = ["High", "Medium", "Low"];

/// Passes when `properties.isEnabled` is `true` and `properties.notificationsSources` has an
/// entry with `sourceType == "Alert"` and `minimalSeverity` `High`, `Medium` or `Low`.
///
/// Absent fails: `isEnabled` ("Indicates whether the security contact is enabled") and
/// `notificationsSources` ("A collection of sources types which evaluate the email
/// notification") have no defaults; without an `Alert` source no alert is e-mailed. An empty
/// list fails.
pub const ALERT_NOTIFICATIONS: Check = Check::custom(
    CheckMeta {
        id: "securitycenter.alert_notifications",
        title: "Alert e-mails on for High severity or lower threshold",
        severity: Severity::Medium,
        description: "Alert e-mails tell the security contact about threats Defender for Cloud \
            detects. With the contact disabled, or no alert source with a minimal severity of \
            High or lower, high-severity alerts are never e-mailed.",
        remediation: CONTACT_REMEDIATION,
    },
    &[CONTACTS],
    alert_notifications,
);

/// The contacts, or a stand-in `default` contact with no properties when there is none.
fn contacts(ctx: &EvalContext<'_>) -> Vec<Value> {
    let listed = ctx.items(CONTACTS);
    if listed.is_empty() {
        vec![json!({
            "id": format!(
                "/subscriptions/{}/providers/Microsoft.Security/securityContacts/default",
                ctx.subscription_id
            ),
            "name": "default",
            "type": "Microsoft.Security/securityContacts",
        })]
    } else {
        listed.to_vec()
    }
}

fn by_rule(ctx: &EvalContext<'_>, rule: &Rule) -> Vec<Finding> {
    contacts(ctx)
        .iter()
        .map(|c| rule.verdict(c, c, None))
        .collect()
}

fn contact_emails(ctx: &EvalContext<'_>) -> Vec<Finding> {
    by_rule(ctx, &EMAILS_RULE)
}

fn notify_owners(ctx: &EvalContext<'_>) -> Vec<Finding> {
    by_rule(ctx, &OWNERS_RULE)
}

fn is_alert_source(source: &Value) -> bool {
    props::prop_str(source, "sourceType").is_some_and(|t| t.eq_ignore_ascii_case("Alert"))
        && props::prop_str(source, "minimalSeverity")
            .is_some_and(|s| THRESHOLDS.iter().any(|t| t.eq_ignore_ascii_case(s)))
}

fn alert_notifications(ctx: &EvalContext<'_>) -> Vec<Finding> {
    contacts(ctx)
        .iter()
        .map(|contact| {
            let enabled = props::prop_bool(contact, "properties.isEnabled") == Some(true);
            let sources =
                props::prop(contact, "properties.notificationsSources").and_then(Value::as_array);
            let alerting = sources.is_some_and(|s| s.iter().any(is_alert_source));
            let mut problems = Vec::new();
            if !enabled {
                problems.push("the security contact is not enabled");
            }
            if !alerting {
                problems.push("no Alert notification source with minimal severity High or lower");
            }
            props::verdict(
                contact,
                problems.is_empty(),
                vec![
                    props::evidence(contact, "properties.isEnabled", "true"),
                    props::evidence(
                        contact,
                        "properties.notificationsSources",
                        "an entry with sourceType Alert and minimalSeverity High, Medium or Low",
                    ),
                ],
                "Alerts of High severity (or a lower threshold) are e-mailed",
                format!("Alert e-mails are off: {}", problems.join("; ")),
            )
        })
        .collect()
}
