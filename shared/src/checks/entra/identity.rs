//! Multi-factor authentication: enforced for the tenant (security defaults or Conditional
//! Access), required for Azure management, and registered by every user. They combine several
//! objects or judge Conditional Access policies, so they are custom evaluators.

use serde_json::{Value, json};

use super::{CONDITIONAL_ACCESS, REGISTRATION_DETAILS, SECURITY_DEFAULTS, tenant};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Finding, FindingStatus};

/// The application id of Windows Azure Service Management API (Azure portal, CLI, PowerShell,
/// ARM), the target of "require MFA for Azure management".
pub(super) const AZURE_MANAGEMENT_APP: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";

fn strings<'a>(value: &'a Value, path: &str) -> Vec<&'a str> {
    props::prop(value, path)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn contains(list: &[&str], wanted: &str) -> bool {
    list.iter().any(|s| s.eq_ignore_ascii_case(wanted))
}

/// An enabled policy (`state == "enabled"`; report-only does not enforce) that grants access
/// only with MFA: `grantControls.builtInControls` contains `mfa`, or an authentication strength
/// is required.
fn requires_mfa(policy: &Value) -> bool {
    let enabled =
        props::prop_str(policy, "state").is_some_and(|s| s.eq_ignore_ascii_case("enabled"));
    let mfa = contains(&strings(policy, "grantControls.builtInControls"), "mfa")
        || props::prop(policy, "grantControls.authenticationStrength")
            .is_some_and(|s| s.is_object());
    enabled && mfa
}

fn for_all_users(policy: &Value) -> bool {
    contains(&strings(policy, "conditions.users.includeUsers"), "All")
}

fn for_azure_management(policy: &Value) -> bool {
    let apps = strings(policy, "conditions.applications.includeApplications");
    contains(&apps, "All") || contains(&apps, AZURE_MANAGEMENT_APP)
}

fn policy_names<'a>(policies: impl Iterator<Item = &'a Value>) -> Vec<&'a str> {
    policies
        .map(|p| props::prop_str(p, "displayName").unwrap_or_else(|| props::resource_id(p)))
        .collect()
}

/// Passes when the security defaults policy has `isEnabled == true`, or an enabled Conditional
/// Access policy applies to all users (`conditions.users.includeUsers` contains `All`) and
/// requires MFA (`grantControls.builtInControls` contains `mfa`, or an authentication strength).
/// One finding about the tenant.
///
/// Absent fails: `isEnabled` missing is not enabled, and no Conditional Access policy (an empty
/// list) enforces nothing. Policies in report-only mode (`enabledForReportingButNotEnforced`)
/// do not count. Exclusions (break-glass accounts) are allowed and shown in the evidence.
pub const MFA_ENFORCED_TENANT_WIDE: Check = Check::custom(
    CheckMeta {
        id: "entra.mfa_enforced_tenant_wide",
        title: "MFA is enforced by Security Defaults or a Conditional Access policy",
        severity: Severity::High,
        description: "Passwords alone are phished, sprayed and reused; multi-factor \
            authentication blocks the vast majority of account takeovers. Security defaults \
            enforce it for every user; tenants with Conditional Access need a policy requiring \
            MFA for all users instead.",
        remediation: "Portal: Microsoft Entra admin center > Identity > Overview > Properties \
            > Manage security defaults = Enabled; or, with Entra ID P1, Protection > \
            Conditional Access > New policy: Users = All users (exclude break-glass accounts), \
            Target resources = All resources, Grant = Require multifactor authentication, \
            Enable policy = On. CLI: `az rest --method patch --url \
            https://graph.microsoft.com/v1.0/policies/identitySecurityDefaultsEnforcementPolicy \
            --body '{\"isEnabled\":true}'`.",
    },
    &[SECURITY_DEFAULTS, CONDITIONAL_ACCESS],
    mfa_enforced_tenant_wide,
);

fn mfa_enforced_tenant_wide(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let defaults = ctx.items(SECURITY_DEFAULTS).first();
    let defaults_on = defaults.and_then(|d| props::prop_bool(d, "isEnabled")) == Some(true);
    let policies = ctx.items(CONDITIONAL_ACCESS);
    let enforcing = policy_names(
        policies
            .iter()
            .filter(|p| requires_mfa(p) && for_all_users(p)),
    );
    let resource = tenant(
        "/policies/identitySecurityDefaultsEnforcementPolicy",
        "microsoft.graph.identitySecurityDefaultsEnforcementPolicy",
    );
    let evidence = vec![
        props::evidence_value(
            "identitySecurityDefaultsEnforcementPolicy.isEnabled",
            defaults
                .and_then(|d| props::prop(d, "isEnabled"))
                .cloned()
                .unwrap_or(Value::Null),
            "true, or a Conditional Access policy requiring MFA for all users",
        ),
        props::evidence_value(
            "conditionalAccessPolicies[enabled, all users, MFA]",
            json!(enforcing),
            "at least one policy, unless security defaults are on",
        ),
    ];
    let pass_message = if defaults_on {
        "Security defaults enforce MFA for every user".to_string()
    } else {
        format!(
            "Conditional Access enforces MFA for all users: {}",
            enforcing.join(", ")
        )
    };
    vec![props::verdict(
        &resource,
        defaults_on || !enforcing.is_empty(),
        evidence,
        pass_message,
        "MFA is not enforced: security defaults are off and no enabled Conditional Access \
         policy requires MFA for all users",
    )]
}

/// Passes when an enabled Conditional Access policy includes the Windows Azure Service
/// Management API (`797f4846-ba00-4fd7-ba43-dac1f8f63013`) or `All` applications in
/// `conditions.applications.includeApplications`, applies to all users
/// (`conditions.users.includeUsers` contains `All`; a policy for some roles or groups leaves
/// other users able to manage Azure with a password) and requires MFA. One finding about the
/// tenant.
///
/// Absent fails: no policy (an empty list), or none targeting Azure management with an MFA
/// grant. Security defaults are not counted: they require MFA for Azure management only when a
/// sign-in is judged risky or privileged, which is not an unconditional requirement.
pub const CA_MFA_AZURE_MANAGEMENT: Check = Check::custom(
    CheckMeta {
        id: "entra.ca_mfa_azure_management",
        title: "Conditional Access requires MFA for Azure management",
        severity: Severity::High,
        description: "The Azure portal, CLI, PowerShell and Resource Manager API control every \
            resource of every subscription. A Conditional Access policy requiring MFA for the \
            Windows Azure Service Management API protects them even for users outside other \
            MFA policies.",
        remediation: "Portal: Microsoft Entra admin center > Protection > Conditional Access > \
            New policy: Users = All users (exclude break-glass accounts), Target resources = \
            Select resources > Windows Azure Service Management API, Grant = Require \
            multifactor authentication, Enable policy = On. CLI: `az rest --method post --url \
            https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies --body \
            @policy.json` (includeApplications 797f4846-ba00-4fd7-ba43-dac1f8f63013, \
            builtInControls mfa).",
    },
    &[CONDITIONAL_ACCESS],
    ca_mfa_azure_management,
);

fn ca_mfa_azure_management(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let policies = ctx.items(CONDITIONAL_ACCESS);
    let covering = policy_names(
        policies
            .iter()
            .filter(|p| requires_mfa(p) && for_all_users(p) && for_azure_management(p)),
    );
    let resource = tenant(
        "/identity/conditionalAccess/policies",
        "microsoft.graph.conditionalAccessPolicy",
    );
    vec![props::verdict(
        &resource,
        !covering.is_empty(),
        vec![props::evidence_value(
            "conditionalAccessPolicies[enabled, Azure management, MFA]",
            json!(covering),
            "an enabled policy for all users including application 797f4846-ba00-4fd7-ba43-dac1f8f63013 (or All) that requires MFA",
        )],
        format!(
            "MFA is required for Azure management by {}",
            covering.join(", ")
        ),
        format!(
            "No enabled Conditional Access policy requires MFA for Azure management ({} policies read)",
            policies.len()
        ),
    )]
}

/// One finding per row of the user registration details report: passes when `isMfaRegistered`
/// is `true`. A failing row with `isAdmin == true` says so in its message and evidence (an
/// administrator without MFA is the most urgent case).
///
/// Absent fails: a row without `isMfaRegistered` is not known to be registered. The report
/// (`AuditLog.Read.All`, Entra ID P1 or P2) has no account-enabled flag, so every row it returns
/// is judged. An empty report is not applicable.
pub const USERS_MFA_REGISTERED: Check = Check::custom(
    CheckMeta {
        id: "entra.users_mfa_registered",
        title: "Every enabled user is registered for MFA (admins first)",
        severity: Severity::High,
        description: "A user not registered for MFA can only sign in with a password even where \
            MFA is required, and an attacker holding the password can register their own \
            method first. Administrators without MFA are the most urgent: one phished password \
            is enough to take over the tenant.",
        remediation: "Portal: Microsoft Entra admin center > Protection > Authentication \
            methods > User registration details: filter Multifactor authentication capable = \
            Not capable and ask those users to register at https://aka.ms/mysecurityinfo; \
            enforce registration with the Identity Protection MFA registration policy or a \
            Conditional Access policy. CLI: `az rest --method get --url \
            \"https://graph.microsoft.com/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter=isMfaRegistered eq false\"`.",
    },
    &[REGISTRATION_DETAILS],
    users_mfa_registered,
)
.none_in_scope("The user registration report lists no users");

fn users_mfa_registered(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.items(REGISTRATION_DETAILS)
        .iter()
        .map(|row| {
            let registered = props::prop_bool(row, "isMfaRegistered") == Some(true);
            let admin = props::prop_bool(row, "isAdmin") == Some(true);
            let name = props::prop_str(row, "userPrincipalName")
                .unwrap_or_else(|| props::resource_id(row));
            let resource = json!({
                "id": props::resource_id(row),
                "name": name,
                "type": "microsoft.graph.userRegistrationDetails",
            });
            let evidence = vec![
                props::evidence(row, "isMfaRegistered", "true"),
                props::evidence(row, "isAdmin", "any (administrators first)"),
                props::evidence(row, "methodsRegistered", "a second factor"),
            ];
            let status = if registered {
                FindingStatus::Passed
            } else {
                FindingStatus::Failed
            };
            let message = match (registered, admin) {
                (true, _) => "Registered for MFA".to_string(),
                (false, true) => {
                    "Administrator not registered for MFA: fix first (critical)".to_string()
                }
                (false, false) => "Not registered for MFA".to_string(),
            };
            props::finding(&resource, status, evidence, message)
        })
        .collect()
}
