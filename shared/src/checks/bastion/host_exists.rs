//! `bastion.host_exists`: a property of the subscription, not of one resource (CIS Foundations
//! 6.0.0 8.4.1 "Ensure an Azure Bastion Host Exists"), read from two lists, so it is a custom
//! evaluator.

use serde_json::Value;

use super::{HOSTS, VIRTUAL_MACHINES};
use crate::checks::{Check, CheckMeta, EvalContext, Severity, props};
use crate::messages::Finding;

/// One finding per in-scope virtual machine: it passes when at least one Bastion host exists in
/// the selected regions (a host reaches VMs of its own and of peered virtual networks, so any
/// host counts), and fails otherwise. No virtual machines in scope: not applicable.
pub const HOST_EXISTS: Check = Check::custom(
    CheckMeta {
        id: "bastion.host_exists",
        title: "Subscription with VMs has a Bastion host",
        severity: Severity::Medium,
        description: "Without Azure Bastion, administrators reach virtual machines over RDP or \
            SSH on public IP addresses or through self-managed jump hosts, exposing management \
            ports to the internet. Bastion provides browser-based and native-client sessions \
            over TLS without a public IP on the VM.",
        remediation: "Portal: Create a resource > Bastion > pick the virtual network (it needs \
            a subnet named AzureBastionSubnet, /26 or larger) > Create. CLI: `az network \
            bastion create --name <bastion> --resource-group <rg> --vnet-name <vnet> \
            --public-ip-address <pip> --location <region> --sku Standard`.",
    },
    &[VIRTUAL_MACHINES, HOSTS],
    host_exists,
)
.none_in_scope("No virtual machines in the selected regions");

fn host_exists(ctx: &EvalContext<'_>) -> Vec<Finding> {
    let hosts: Vec<Value> = ctx
        .items(HOSTS)
        .iter()
        .map(|h| Value::String(props::resource_name(h).to_string()))
        .collect();
    ctx.items(VIRTUAL_MACHINES)
        .iter()
        .map(|vm| {
            let evidence = vec![props::evidence_value(
                "bastionHosts",
                Value::Array(hosts.clone()),
                "at least one Bastion host in the selected regions",
            )];
            props::verdict(
                vm,
                !hosts.is_empty(),
                evidence,
                "A Bastion host exists for remote access",
                "No Bastion host exists in the selected regions: remote access needs public \
                 management ports or jump hosts",
            )
        })
        .collect()
}
