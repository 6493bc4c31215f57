//! The Microsoft cloud security benchmark assignment and the machines' system-updates
//! assessment: both need more than one property (policy parameters, assessment selection by
//! key or name), so they are custom evaluators.

use serde_json::{Value, json};

use super::{ASSESSMENTS, POLICY_ASSIGNMENTS};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Evidence, Finding, FindingStatus};

/// The Microsoft cloud security benchmark initiative (formerly Azure Security Benchmark), the
/// default initiative Defender for Cloud assigns as `SecurityCenterBuiltIn`.
pub(super) const MCSB_INITIATIVE: &str = "1f3afdf9-d0c9-4c3d-847f-89da613e70a8";
pub(super) const MCSB_ASSIGNMENT: &str = "SecurityCenterBuiltIn";

/// Reads the subscription's policy assignments (at its scope and above). Passes when an
/// assignment of the MCSB initiative (its `policyDefinitionId` ends with
/// `policySetDefinitions/1f3afdf9-...`, or it is named `SecurityCenterBuiltIn`) has
/// `properties.enforcementMode` `Default` and no parameter whose name contains `effect` set to
/// `Disabled`.
///
/// Absent: no such assignment fails (the benchmark is not assigned), with a finding about the
/// `SecurityCenterBuiltIn` id; a missing `enforcementMode` passes (spec: "default": "Default");
/// a parameter not given keeps the initiative's default effect (Audit), which passes.
pub const MCSB_ENFORCED: Check = Check::custom(
    CheckMeta {
        id: "securitycenter.mcsb_enforced",
        title: "MCSB (ASC default) assignment enforced",
        severity: Severity::Medium,
        description: "Defender for Cloud's recommendations and secure score come from the \
            Microsoft cloud security benchmark initiative assigned to the subscription. Without \
            it, or with it in DoNotEnforce mode or with policies' effects set to Disabled, \
            misconfigurations produce no recommendation at all.",
        remediation: "Portal: Microsoft Defender for Cloud > Environment settings > the \
            subscription > Security policies: enable Microsoft cloud security benchmark; Policy \
            > Assignments > the benchmark assignment > Edit: Policy enforcement = Enabled and no \
            parameter set to Disabled. CLI: `az policy assignment create --name \
            SecurityCenterBuiltIn --scope /subscriptions/<sub> --policy-set-definition \
            1f3afdf9-d0c9-4c3d-847f-89da613e70a8 --enforcement-mode Default`.",
    },
    &[POLICY_ASSIGNMENTS],
    mcsb_enforced,
);

fn is_mcsb(assignment: &Value) -> bool {
    let definition = props::prop_str(assignment, "properties.policyDefinitionId").unwrap_or("");
    definition
        .trim_end_matches('/')
        .to_ascii_lowercase()
        .ends_with(&format!("policysetdefinitions/{MCSB_INITIATIVE}"))
        || props::resource_name(assignment).eq_ignore_ascii_case(MCSB_ASSIGNMENT)
}

/// Parameters whose name contains `effect` and whose value is `Disabled`.
fn disabled_effects(assignment: &Value) -> Vec<String> {
    let mut names: Vec<String> = props::prop(assignment, "properties.parameters")
        .and_then(Value::as_object)
        .map(|parameters| {
            parameters
                .iter()
                .filter(|(name, _)| name.to_ascii_lowercase().contains("effect"))
                .filter(|(_, p)| {
                    props::prop_str(p, "value").is_some_and(|v| v.eq_ignore_ascii_case("Disabled"))
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn mcsb_enforced(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let assignments: Vec<&Value> = ctx
        .items(POLICY_ASSIGNMENTS)
        .iter()
        .filter(|a| is_mcsb(a))
        .collect();
    if assignments.is_empty() {
        let stand_in = json!({
            "id": format!(
                "/subscriptions/{}/providers/Microsoft.Authorization/policyAssignments/{MCSB_ASSIGNMENT}",
                ctx.subscription_id
            ),
            "name": MCSB_ASSIGNMENT,
            "type": "Microsoft.Authorization/policyAssignments",
        });
        return vec![props::finding(
            &stand_in,
            FindingStatus::Failed,
            vec![props::evidence_value(
                "properties.policyDefinitionId",
                Value::Null,
                "an assignment of the Microsoft cloud security benchmark initiative",
            )],
            "The Microsoft cloud security benchmark initiative is not assigned to the subscription",
        )];
    }
    assignments
        .into_iter()
        .map(|assignment| {
            let mode =
                props::prop_str(assignment, "properties.enforcementMode").unwrap_or("Default");
            let disabled = disabled_effects(assignment);
            let mut problems = Vec::new();
            if !mode.eq_ignore_ascii_case("Default") {
                problems.push(format!("enforcement mode is {mode}"));
            }
            if !disabled.is_empty() {
                problems.push(format!("effects set to Disabled: {}", disabled.join(", ")));
            }
            let evidence = vec![
                props::evidence(assignment, "properties.enforcementMode", "Default"),
                props::evidence_value(
                    "properties.parameters[*Effect=Disabled]",
                    json!(disabled),
                    "no effect parameter set to Disabled",
                ),
            ];
            props::verdict(
                assignment,
                problems.is_empty(),
                evidence,
                "The Microsoft cloud security benchmark is assigned and enforced",
                format!(
                    "The Microsoft cloud security benchmark is not fully enforced: {}",
                    problems.join("; ")
                ),
            )
        })
        .collect()
}

/// Assessment keys of "system updates should be installed on your machines": the one powered by
/// Azure Update Manager, and the older one based on the retired Log Analytics agent.
pub(super) const SYSTEM_UPDATE_KEYS: [&str; 2] = [
    "e1145ab1-eb4f-43d8-911b-36ddf771d13f",
    "4ab6e3c5-74dd-8b35-9ab9-f61b30875b27",
];
/// Display names of the same assessments, matched by prefix when the key is another one.
const SYSTEM_UPDATE_NAMES: [&str; 2] = [
    "System updates should be installed on your machines",
    "Machines should have system updates installed",
];

/// Reads the subscription's assessments list. One finding per machine that has a
/// system-updates assessment (selected by the keys in [`SYSTEM_UPDATE_KEYS`], or a display name
/// starting with one of the known names; the keys are not in the spec and were taken from the
/// assessments' metadata, so the name is the fallback): `properties.status.code` `Healthy`
/// passes, `Unhealthy` fails, `NotApplicable` is not applicable.
///
/// Absent: a missing status code fails (the state is unknown). No machine with such an
/// assessment is not applicable. Assessments carry no location, so every machine is reported
/// whatever the region selection (a subscription-wide posture setting).
pub const SYSTEM_UPDATES: Check = Check::custom(
    CheckMeta {
        id: "securitycenter.system_updates",
        title: "Machines report system updates applied",
        severity: Severity::Medium,
        description: "Missing security and critical updates are the most common way into \
            machines: published vulnerabilities get exploited within days. Defender for Cloud \
            assesses each machine's pending updates; an Unhealthy assessment means updates are \
            missing.",
        remediation: "Portal: Microsoft Defender for Cloud > Recommendations > System updates \
            should be installed on your machines > select the machines > Fix (or Azure Update \
            Manager > Machines > One-time update). CLI: `az vm install-patches --resource-group \
            <rg> --name <vm> --maximum-duration PT2H --reboot-setting IfRequired \
            --classifications-to-include-win Critical Security`.",
    },
    &[ASSESSMENTS],
    system_updates,
)
.none_in_scope("No machine has a system-updates assessment");

fn is_system_updates(assessment: &Value) -> bool {
    let key = props::resource_name(assessment);
    let name = props::prop_str(assessment, "properties.displayName").unwrap_or("");
    SYSTEM_UPDATE_KEYS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key))
        || SYSTEM_UPDATE_NAMES.iter().any(|n| {
            name.to_ascii_lowercase()
                .starts_with(&n.to_ascii_lowercase())
        })
}

fn system_updates(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.items(ASSESSMENTS)
        .iter()
        .filter(|a| is_system_updates(a))
        .map(|assessment| {
            let machine_id = props::prop_str(assessment, "properties.resourceDetails.Id")
                .or_else(|| props::prop_str(assessment, "properties.resourceDetails.id"))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    let id = props::resource_id(assessment);
                    id.find("/providers/Microsoft.Security/")
                        .map_or(id, |at| &id[..at])
                        .to_string()
                });
            let machine_name = machine_id
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            let machine_type = machine_id
                .to_ascii_lowercase()
                .find("/providers/")
                .and_then(|at| {
                    let rest = &machine_id[at + "/providers/".len()..];
                    let parts: Vec<&str> = rest.split('/').collect();
                    (parts.len() >= 2).then(|| format!("{}/{}", parts[0], parts[1]))
                })
                .unwrap_or_default();
            let code = props::prop_str(assessment, "properties.status.code");
            let evidence: Vec<Evidence> = vec![
                props::evidence(assessment, "properties.status.code", "Healthy"),
                props::evidence_value(
                    "assessment",
                    json!(props::resource_id(assessment)),
                    "a system-updates assessment",
                ),
            ];
            let (status, message) = match code {
                Some(c) if c.eq_ignore_ascii_case("Healthy") => (
                    FindingStatus::Passed,
                    "System updates are applied".to_string(),
                ),
                Some(c) if c.eq_ignore_ascii_case("NotApplicable") => (
                    FindingStatus::NotApplicable,
                    props::prop_str(assessment, "properties.status.cause").map_or(
                        "The assessment does not apply to this machine".to_string(),
                        |c| format!("The assessment does not apply: {c}"),
                    ),
                ),
                other => (
                    FindingStatus::Failed,
                    format!(
                        "System updates are missing (assessment status {})",
                        other.unwrap_or("not reported")
                    ),
                ),
            };
            Finding {
                resource_id: machine_id,
                resource_name: machine_name,
                resource_type: machine_type,
                location: None,
                status,
                evidence,
                message,
            }
        })
        .collect()
}
