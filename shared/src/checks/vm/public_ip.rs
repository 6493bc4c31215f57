//! `vm.no_public_ip`: a VM's public IPs are on its network interfaces, so the check joins the
//! NIC list to the VM list by ARM id (case-insensitively: providers vary the casing of ids).

use serde_json::{Value, json};

use super::{MACHINES, NICS};
use crate::checks::props::{self, normalize_id, prop, prop_str, resource_id, resource_name};
use crate::checks::{Check, CheckMeta, EvalContext, Severity};
use crate::messages::{Finding, FindingStatus};

const NIC_VM: &str = "properties.virtualMachine.id";
const VM_NICS: &str = "properties.networkProfile.networkInterfaces";
const IP_CONFIGURATIONS: &str = "properties.ipConfigurations";
const PUBLIC_IP: &str = "properties.publicIPAddress.id";

/// Passes when no network interface of the VM has an IP configuration with
/// `properties.publicIPAddress`.
///
/// A VM's NICs are those whose `properties.virtualMachine.id` names the VM, and those the VM
/// lists in `properties.networkProfile.networkInterfaces[].id`. An IP configuration without
/// `publicIPAddress` has none (spec: "Public IP address bound to the IP configuration."). A NIC
/// the VM names that is not in the NIC list cannot be inspected: the VM gets an Error finding
/// rather than a pass.
pub const NO_PUBLIC_IP: Check = Check::custom(
    CheckMeta {
        id: "vm.no_public_ip",
        title: "No public IP on VM NICs",
        severity: Severity::High,
        description: "A public IP makes the VM directly reachable from the internet, so every \
            open port, weak protocol and unpatched service on it is exposed to scanning and \
            attack. Reach VMs through a load balancer, Application Gateway or Azure Bastion \
            instead.",
        remediation: "Portal: Virtual machine > Networking > Network settings > the network \
            interface > IP configurations > the configuration > Public IP address = None \
            (use Azure Bastion for administration). CLI: `az network nic ip-config update \
            --resource-group <rg> --nic-name <nic> --name <ipconfig> --remove \
            publicIpAddress`.",
    },
    &[MACHINES, NICS],
    no_public_ip,
);

fn no_public_ip(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let nics = ctx.all_items(NICS);
    let nic_index = ctx.index_by_id(NICS);
    ctx.all_items(MACHINES)
        .into_iter()
        .map(|vm| {
            let vm_id = normalize_id(resource_id(vm));
            let mut own: Vec<&Value> = nics
                .iter()
                .copied()
                .filter(|nic| prop_str(nic, NIC_VM).is_some_and(|id| normalize_id(id) == vm_id))
                .collect();
            let mut missing = Vec::new();
            for reference in prop(vm, VM_NICS)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(id) = prop_str(reference, "id") else {
                    continue;
                };
                match nic_index.get(&normalize_id(id)) {
                    Some(nic) => {
                        if !own.iter().any(|o| props::same_id(resource_id(o), id)) {
                            own.push(nic);
                        }
                    }
                    None => missing.push(id.to_string()),
                }
            }
            let exposed: Vec<Value> = own.iter().flat_map(|nic| public_ips(nic)).collect();
            let evidence = vec![props::evidence_value(
                "networkInterfaces[].ipConfigurations[].properties.publicIPAddress",
                Value::Array(exposed.clone()),
                "none",
            )];
            if !exposed.is_empty() {
                props::finding(
                    vm,
                    FindingStatus::Failed,
                    evidence,
                    format!(
                        "{} public IP address(es) on the VM's network interfaces",
                        exposed.len()
                    ),
                )
            } else if !missing.is_empty() {
                props::finding(
                    vm,
                    FindingStatus::Error,
                    evidence,
                    format!(
                        "Network interface(s) not in the NIC list: {}",
                        missing.join(", ")
                    ),
                )
            } else {
                props::finding(
                    vm,
                    FindingStatus::Passed,
                    evidence,
                    format!(
                        "No public IP on the VM's {} network interface(s)",
                        own.len()
                    ),
                )
            }
        })
        .collect()
}

/// `{nic, ipConfiguration, publicIPAddress}` for every IP configuration of `nic` with a public IP.
fn public_ips(nic: &Value) -> Vec<Value> {
    prop(nic, IP_CONFIGURATIONS)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|config| {
            prop_str(config, PUBLIC_IP).map(|ip| {
                json!({
                    "nic": resource_name(nic),
                    "ipConfiguration": resource_name(config),
                    "publicIPAddress": ip,
                })
            })
        })
        .collect()
}
