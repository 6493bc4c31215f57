//! The Defender plan checks: one evaluator over the pricings list, parameterised by a table of
//! plan names ([`Plans`]), and the Servers plan's components.
//!
//! A plan is on when its pricing has `properties.pricingTier == "Standard"` (compared ignoring
//! case). Absent rules, decided once for all plans:
//! - a plan the list does not contain fails (Defender lists every plan the subscription can
//!   have; one that is missing is not on), with a finding about the plan's pricing id and
//!   `pricingTier: null` as evidence;
//! - a pricing without `pricingTier` fails (the spec has no default: "Indicates whether the
//!   Defender plan is enabled on the selected scope");
//! - a required plan marked `deprecated: true` fails, naming its `replacedBy` plans, and a
//!   retired plan that a check's plans replace (Defender for Kubernetes and for Container
//!   Registries, replaced by Defender for Containers) fails when it is still `Standard`: a
//!   retired offering is a finding, never silence.

use serde_json::{Value, json};

use super::{PRICINGS, SETTINGS};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::{Evidence, Finding, FindingStatus};

/// The pricing type, for findings about plans the list does not contain.
const PRICING_TYPE: &str = "Microsoft.Security/pricings";
const TIER: &str = "properties.pricingTier";
const ON: &str = "Standard";

/// The plans one check requires, and the retired plans they replace.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plans {
    /// `(pricing name, what it protects)`: each must be `Standard`.
    pub required: &'static [(&'static str, &'static str)],
    /// Retired pricings whose protection the required plans took over: `Standard` fails.
    pub retired: &'static [&'static str],
}

pub(super) const SERVERS: Plans = Plans {
    required: &[("VirtualMachines", "Defender for Servers")],
    retired: &[],
};
pub(super) const STORAGE: Plans = Plans {
    required: &[("StorageAccounts", "Defender for Storage")],
    retired: &[],
};
pub(super) const SQL: Plans = Plans {
    required: &[
        ("SqlServers", "Defender for Azure SQL Databases"),
        (
            "SqlServerVirtualMachines",
            "Defender for SQL servers on machines",
        ),
    ],
    retired: &[],
};
pub(super) const OSS_DB_COSMOS: Plans = Plans {
    required: &[
        (
            "OpenSourceRelationalDatabases",
            "Defender for open-source relational databases",
        ),
        ("CosmosDbs", "Defender for Azure Cosmos DB"),
    ],
    retired: &[],
};
pub(super) const CONTAINERS: Plans = Plans {
    required: &[("Containers", "Defender for Containers")],
    retired: &["KubernetesService", "ContainerRegistry"],
};
pub(super) const OTHER: Plans = Plans {
    required: &[
        ("AppServices", "Defender for App Service"),
        ("Arm", "Defender for Resource Manager"),
        ("KeyVaults", "Defender for Key Vault"),
        ("CloudPosture", "Defender CSPM"),
        ("Api", "Defender for APIs"),
    ],
    retired: &[],
};

const PLAN_REMEDIATION: &str = "Portal: Microsoft Defender for Cloud > Environment settings > \
    the subscription > Defender plans: set the plan to On and Save. CLI: `az security pricing \
    create --name <plan> --tier Standard` (plan names as in the evidence, e.g. VirtualMachines).";

/// Passes when the `VirtualMachines` pricing is `Standard` (see the module doc for absent and
/// retired plans).
pub const PLAN_SERVERS: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_servers",
        title: "Defender for Servers on",
        severity: Severity::High,
        description: "Defender for Servers brings endpoint detection and response (Defender for \
            Endpoint), vulnerability assessment and threat alerts to virtual machines and Arc \
            machines. Without it, attacks on the machines raise no security alert.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_servers,
);

/// Passes when the `StorageAccounts` pricing is `Standard`.
pub const PLAN_STORAGE: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_storage",
        title: "Defender for Storage on",
        severity: Severity::High,
        description: "Defender for Storage detects unusual access, data exfiltration and \
            malware uploads on storage accounts. Without it, such activity goes unnoticed.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_storage,
);

/// Passes when the `SqlServers` and `SqlServerVirtualMachines` pricings are `Standard` (one
/// finding per plan).
pub const PLAN_SQL: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_sql",
        title: "Defender for SQL (PaaS and on VMs) on",
        severity: Severity::High,
        description: "Defender for SQL finds vulnerabilities and detects SQL injection, brute \
            force and anomalous access on Azure SQL databases and SQL Server on machines. Both \
            plans are needed to cover both kinds of deployment.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_sql,
);

/// Passes when the `OpenSourceRelationalDatabases` and `CosmosDbs` pricings are `Standard`.
pub const PLAN_OSS_DB_COSMOS: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_oss_db_cosmos",
        title: "Defender for OSS DBs and Cosmos DB on",
        severity: Severity::High,
        description: "Defender for open-source relational databases (PostgreSQL, MySQL, \
            MariaDB) and for Azure Cosmos DB detect brute force, injection and anomalous data \
            access on those databases.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_oss_db_cosmos,
);

/// Passes when the `Containers` pricing is `Standard`; the retired `KubernetesService` and
/// `ContainerRegistry` plans still `Standard` fail.
pub const PLAN_CONTAINERS: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_containers",
        title: "Defender for Containers on",
        severity: Severity::High,
        description: "Defender for Containers hardens clusters, scans images for \
            vulnerabilities and detects runtime threats in AKS and registries. It replaced the \
            retired Defender for Kubernetes and Defender for Container Registries plans.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_containers,
);

/// Passes when the `AppServices`, `Arm`, `KeyVaults`, `CloudPosture` and `Api` pricings are
/// `Standard` (one finding per plan).
pub const PLAN_OTHER: Check = Check::custom(
    CheckMeta {
        id: "defender.plan_other",
        title: "Defender for App Service, ARM, Key Vault, CSPM, APIs on",
        severity: Severity::High,
        description: "These plans detect attacks on web apps, suspicious Resource Manager \
            operations and Key Vault access, give attack-path analysis and agentless posture \
            (Defender CSPM) and protect published APIs. Each one off leaves its resources \
            without threat detection.",
        remediation: PLAN_REMEDIATION,
    },
    &[PRICINGS],
    plan_other,
);

fn plan_servers(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &SERVERS)
}
fn plan_storage(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &STORAGE)
}
fn plan_sql(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &SQL)
}
fn plan_oss_db_cosmos(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &OSS_DB_COSMOS)
}
fn plan_containers(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &CONTAINERS)
}
fn plan_other(ctx: &EvalContext<'_>) -> Vec<Finding> {
    plans(ctx, &OTHER)
}

/// The pricing named `name` in the list, or a stand-in body (id, name, type only) for a plan
/// the list does not contain.
fn pricing<'a>(ctx: &EvalContext<'a>, name: &str) -> Result<&'a Value, Value> {
    ctx.items(PRICINGS)
        .iter()
        .find(|p| props::resource_name(p).eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            json!({
                "id": format!(
                    "/subscriptions/{}/providers/{PRICING_TYPE}/{name}",
                    ctx.subscription_id
                ),
                "name": name,
                "type": PRICING_TYPE,
            })
        })
}

fn is_on(pricing: &Value) -> bool {
    props::prop_str(pricing, TIER).is_some_and(|t| t.eq_ignore_ascii_case(ON))
}

fn is_deprecated(pricing: &Value) -> bool {
    props::prop_bool(pricing, "properties.deprecated") == Some(true)
}

fn replaced_by(pricing: &Value) -> String {
    props::prop(pricing, "properties.replacedBy")
        .and_then(Value::as_array)
        .map(|plans| {
            plans
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "a newer plan".to_string())
}

fn plan_evidence(pricing: &Value) -> Vec<Evidence> {
    let mut evidence = vec![props::evidence(pricing, TIER, ON)];
    if props::prop(pricing, "properties.deprecated").is_some() {
        evidence.push(props::evidence(
            pricing,
            "properties.deprecated",
            "false (a plan that is not retired)",
        ));
    }
    evidence
}

/// One finding per required plan, and one per retired plan still on.
pub(super) fn plans(ctx: &EvalContext<'_>, table: &Plans) -> Vec<Finding> {
    let mut findings: Vec<Finding> = table
        .required
        .iter()
        .map(|(name, what)| match pricing(ctx, name) {
            Err(stand_in) => props::finding(
                &stand_in,
                FindingStatus::Failed,
                vec![props::evidence_value(TIER, Value::Null, ON)],
                format!("{what} is not on: Defender lists no {name} plan for the subscription"),
            ),
            Ok(p) if is_deprecated(p) => props::finding(
                p,
                FindingStatus::Failed,
                plan_evidence(p),
                format!(
                    "{what} ({name}) is a retired plan, replaced by {}",
                    replaced_by(p)
                ),
            ),
            Ok(p) => {
                let tier = props::prop_str(p, TIER).unwrap_or("not set");
                let sub_plan = props::prop_str(p, "properties.subPlan")
                    .map(|s| format!(", sub-plan {s}"))
                    .unwrap_or_default();
                props::verdict(
                    p,
                    is_on(p),
                    plan_evidence(p),
                    format!("{what} is on (Standard{sub_plan})"),
                    format!("{what} is off (pricing tier {tier})"),
                )
            }
        })
        .collect();
    for name in table.retired {
        if let Ok(p) = pricing(ctx, name)
            && is_on(p)
        {
            findings.push(props::finding(
                p,
                FindingStatus::Failed,
                plan_evidence(p),
                format!(
                    "The retired {name} plan is still on; it is replaced by {}",
                    replaced_by(p)
                ),
            ));
        }
    }
    findings
}

/// The Servers plan's components that must be enabled, as named in the pricing's
/// `properties.extensions[]` (2024-01-01).
pub(super) const SERVER_COMPONENTS: [(&str, &str); 2] = [
    ("AgentlessVmScanning", "agentless scanning for machines"),
    ("FileIntegrityMonitoring", "file integrity monitoring"),
];
/// The setting that turns on the Defender for Endpoint integration.
pub(super) const ENDPOINT_SETTING: &str = "WDATP";

/// Reads the `VirtualMachines` pricing and the settings list. Passes when the plan is
/// `Standard`, each of [`SERVER_COMPONENTS`] has an `extensions[]` entry with `isEnabled`
/// `"True"` (a string in the spec; a JSON `true` is accepted too), and the `WDATP` setting has
/// `properties.enabled == true`.
///
/// Absent fails: an extension not listed is not enabled (the spec lists "extensions offered
/// under a plan", enabled or not), a `WDATP` setting not returned or without `enabled` is not
/// on, and a missing `VirtualMachines` plan is off. The extension names for file integrity
/// monitoring are those the "Configure Microsoft Defender for Servers plan" built-in policy
/// sets; agentless scanning's is in the spec's examples.
pub const SERVERS_COMPONENTS: Check = Check::custom(
    CheckMeta {
        id: "defender.servers_components",
        title: "Servers plan components on (agentless scan, FIM, MDE)",
        severity: Severity::Medium,
        description: "Defender for Servers protects machines through its components: agentless \
            scanning finds vulnerabilities and malware from disk snapshots, file integrity \
            monitoring flags changes to critical files, and the Defender for Endpoint \
            integration (WDATP) deploys endpoint detection and response. A plan that is on \
            with components off gives little protection.",
        remediation: "Portal: Microsoft Defender for Cloud > Environment settings > the \
            subscription > Defender plans > Servers > Settings: turn on Agentless scanning for \
            machines, File Integrity Monitoring and Endpoint protection; Save. CLI: `az security \
            pricing create --name VirtualMachines --tier Standard --subplan P2 --extensions \
            name=AgentlessVmScanning isEnabled=True --extensions name=FileIntegrityMonitoring \
            isEnabled=True`, then `az security setting update --name WDATP --enabled true`.",
    },
    &[PRICINGS, SETTINGS],
    servers_components,
);

fn extension_enabled<'a>(pricing: &'a Value, name: &str) -> Option<&'a Value> {
    props::prop(pricing, "properties.extensions")
        .and_then(Value::as_array)
        .and_then(|extensions| {
            extensions
                .iter()
                .find(|e| props::prop_str(e, "name").is_some_and(|n| n.eq_ignore_ascii_case(name)))
        })
        .and_then(|e| props::prop(e, "isEnabled"))
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn servers_components(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let vm = match pricing(ctx, "VirtualMachines") {
        Ok(p) => p.clone(),
        Err(stand_in) => stand_in,
    };
    let mut problems = Vec::new();
    let mut evidence = vec![props::evidence(&vm, TIER, ON)];
    if !is_on(&vm) {
        problems.push("the Defender for Servers plan is off".to_string());
    }
    for (name, what) in SERVER_COMPONENTS {
        let enabled = extension_enabled(&vm, name);
        if !is_true(enabled) {
            problems.push(format!("{what} ({name}) is not enabled"));
        }
        evidence.push(props::evidence_value(
            format!("properties.extensions[name={name}].isEnabled"),
            enabled.cloned().unwrap_or(Value::Null),
            "True",
        ));
    }
    let setting = ctx
        .items(SETTINGS)
        .iter()
        .find(|s| props::resource_name(s).eq_ignore_ascii_case(ENDPOINT_SETTING));
    let endpoint = setting.and_then(|s| props::prop(s, "properties.enabled"));
    if endpoint.and_then(Value::as_bool) != Some(true) {
        problems.push(format!(
            "the Defender for Endpoint integration (setting {ENDPOINT_SETTING}) is not enabled"
        ));
    }
    evidence.push(props::evidence_value(
        format!("settings/{ENDPOINT_SETTING}: properties.enabled"),
        endpoint.cloned().unwrap_or(Value::Null),
        "true",
    ));
    vec![props::verdict(
        &vm,
        problems.is_empty(),
        evidence,
        "Agentless scanning, file integrity monitoring and Defender for Endpoint are on",
        format!("Servers plan components are off: {}", problems.join("; ")),
    )]
}
