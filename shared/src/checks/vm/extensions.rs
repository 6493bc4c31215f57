//! `vm.approved_extensions`: every extension installed on a VM must be on an allow-list of
//! publisher and type pairs, read from each VM's `extensions` child list.

use serde_json::{Value, json};

use super::{EXTENSIONS, MACHINES};
use crate::checks::props::{self, prop_str, resource_id, resource_name};
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Severity};
use crate::messages::Finding;

/// The approved extensions: Microsoft's first-party agents for monitoring, security, identity,
/// guest configuration, backup, patching and Key Vault certificates, as `(publisher, type)`.
/// Extensions that run arbitrary code supplied at deployment (Custom Script, Run Command,
/// VM Access, DSC) are deliberately absent: they must be reviewed, so they fail.
pub const APPROVED: &[(&str, &str)] = &[
    ("Microsoft.Azure.Monitor", "AzureMonitorLinuxAgent"),
    ("Microsoft.Azure.Monitor", "AzureMonitorWindowsAgent"),
    (
        "Microsoft.Azure.Monitoring.DependencyAgent",
        "DependencyAgentLinux",
    ),
    (
        "Microsoft.Azure.Monitoring.DependencyAgent",
        "DependencyAgentWindows",
    ),
    ("Microsoft.Azure.Security", "IaaSAntimalware"),
    ("Microsoft.Azure.AzureDefenderForServers", "MDE.Linux"),
    ("Microsoft.Azure.AzureDefenderForServers", "MDE.Windows"),
    ("Microsoft.Azure.ActiveDirectory", "AADSSHLoginForLinux"),
    ("Microsoft.Azure.ActiveDirectory", "AADLoginForWindows"),
    ("Microsoft.GuestConfiguration", "ConfigurationforLinux"),
    ("Microsoft.GuestConfiguration", "ConfigurationforWindows"),
    ("Microsoft.Azure.KeyVault", "KeyVaultForLinux"),
    ("Microsoft.Azure.KeyVault", "KeyVaultForWindows"),
    ("Microsoft.Azure.RecoveryServices", "VMSnapshot"),
    ("Microsoft.Azure.RecoveryServices", "VMSnapshotLinux"),
    ("Microsoft.CPlat.Core", "LinuxPatchExtension"),
    ("Microsoft.CPlat.Core", "WindowsPatchExtension"),
    ("Microsoft.Azure.Extensions", "HealthExtension"),
    ("Microsoft.ManagedServices", "ApplicationHealthLinux"),
    ("Microsoft.ManagedServices", "ApplicationHealthWindows"),
    ("Microsoft.Azure.NetworkWatcher", "NetworkWatcherAgentLinux"),
    (
        "Microsoft.Azure.NetworkWatcher",
        "NetworkWatcherAgentWindows",
    ),
];

/// Passes when every extension in `GET {vm}/extensions` has a `properties.publisher` and
/// `properties.type` pair in [`APPROVED`] (compared ignoring ASCII case). A VM without
/// extensions (an empty list) passes; an extension without publisher or type fails (it cannot
/// be identified). A VM whose extensions could not be read gets that error, not a verdict.
pub const APPROVED_EXTENSIONS: Check = Check::custom(
    CheckMeta {
        id: "vm.approved_extensions",
        title: "Only approved extensions installed",
        severity: Severity::Medium,
        description: "Extensions run with SYSTEM or root privileges inside the VM. An extension \
            outside the approved set (a third-party agent, a custom script, run command) can run \
            arbitrary code and persist on the machine, so each one must be reviewed.",
        remediation: "Review the extension; if it is not needed, Portal: Virtual machine > \
            Settings > Extensions + applications > the extension > Uninstall. CLI: `az vm \
            extension delete --resource-group <rg> --vm-name <vm> --name <extension>`.",
    },
    &[MACHINES, EXTENSIONS],
    approved_extensions,
);

/// Whether an extension's publisher and type are on the allow-list.
pub fn is_approved(extension: &Value) -> bool {
    match (
        prop_str(extension, "properties.publisher"),
        prop_str(extension, "properties.type"),
    ) {
        (Some(publisher), Some(kind)) => APPROVED.iter().any(|(p, t)| {
            p.eq_ignore_ascii_case(publisher.trim()) && t.eq_ignore_ascii_case(kind.trim())
        }),
        _ => false,
    }
}

fn approved_extensions(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.all_items(MACHINES)
        .into_iter()
        .map(|vm| match ctx.child(EXTENSIONS, resource_id(vm)) {
            Some(ChildOutcome::Failed(err)) => props::unreadable(vm, "the VM's extensions", err),
            outcome => {
                let extensions: &[Value] = match outcome {
                    Some(ChildOutcome::Items(items)) => items,
                    _ => &[],
                };
                let unapproved: Vec<Value> = extensions
                    .iter()
                    .filter(|e| !is_approved(e))
                    .map(|e| {
                        json!({
                            "name": resource_name(e),
                            "publisher": prop_str(e, "properties.publisher"),
                            "type": prop_str(e, "properties.type"),
                        })
                    })
                    .collect();
                let names: Vec<&str> = unapproved
                    .iter()
                    .filter_map(|e| e["name"].as_str())
                    .collect();
                let message = format!("Extensions not approved: {}", names.join(", "));
                props::verdict(
                    vm,
                    unapproved.is_empty(),
                    vec![props::evidence_value(
                        "extensions (not approved)",
                        Value::Array(unapproved.clone()),
                        "none: every publisher/type on the approved list",
                    )],
                    format!("All {} extension(s) are approved", extensions.len()),
                    message,
                )
            }
        })
        .collect()
}
