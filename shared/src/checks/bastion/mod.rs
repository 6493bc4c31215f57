//! Bastion: the subscription's Bastion hosts (`Microsoft.Network/bastionHosts` 2024-05-01), their
//! diagnostic settings, and the virtual machines list for "a subscription with VMs has a Bastion
//! host" (CIS Foundations 6.0.0 8.4.1).
//!
//! The VM list (`Microsoft.Compute/virtualMachines` 2024-07-01) is read only by `host_exists`;
//! it is this service's own collection because a job scans one service and collects its data
//! once. Absent properties: each check says what a missing property means, from
//! `bastionHost.json`.

mod host_exists;
mod settings;
#[cfg(test)]
mod tests;

use self::host_exists::HOST_EXISTS;
use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const HOSTS: &str = "bastion.hosts";
pub const VIRTUAL_MACHINES: &str = "bastion.virtual_machines";
pub const HOST_LOGS: &str = "bastion.diagnostics";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "bastion",
    name: "Bastion",
    collections: &[
        Collection::list(
            HOSTS,
            "Microsoft.Network/bastionHosts",
            "2024-05-01",
            "Microsoft.Network/bastionHosts/read",
        ),
        Collection::list(
            VIRTUAL_MACHINES,
            "Microsoft.Compute/virtualMachines",
            "2024-07-01",
            "Microsoft.Compute/virtualMachines/read",
        ),
        Collection::diagnostic_settings(HOST_LOGS, HOSTS),
    ],
    checks: CHECKS,
    none_in_scope: "No Bastion hosts in the selected regions",
};

const CHECKS: &[Check] = &[
    HOST_EXISTS,
    SHAREABLE_LINKS_DISABLED,
    SKU_STANDARD_OR_HIGHER,
    AUDIT_LOGS,
];
