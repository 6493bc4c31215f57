//! Virtual Machine Scale Sets: the instance model of each scale set, from the subscription's
//! scale-set list (`Microsoft.Compute/virtualMachineScaleSets`, 2024-11-01).
//!
//! The list carries each set's `virtualMachineProfile` (the model every instance is built
//! from), so one paged list answers all five checks. Flexible-orchestration sets created
//! without a profile have no instance model: the profile checks leave them out (their VMs are
//! in the VM list and get the VM checks); the upgrade-policy check still applies.
//!
//! Absent properties: each check states what a missing property means, quoting the Compute
//! spec; an unknown or insecure default fails.

mod settings;

use self::settings::*;
use super::{Check, Collection, Expect, ServiceDef, When};

pub const SCALE_SETS: &str = "vmss.scale_sets";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "vmss",
    name: "Virtual Machine Scale Set",
    collections: &[Collection::list(
        SCALE_SETS,
        "Microsoft.Compute/virtualMachineScaleSets",
        "2024-11-01",
        "Microsoft.Compute/virtualMachineScaleSets/read",
    )],
    checks: CHECKS,
    none_in_scope: "No virtual machine scale sets in the selected regions",
};

const CHECKS: &[Check] = &[
    LINUX_PASSWORD_AUTH_DISABLED,
    NO_INSTANCE_PUBLIC_IP,
    TRUSTED_LAUNCH,
    ENCRYPTION_AT_HOST,
    AUTOMATIC_OS_UPGRADE,
];

/// Scale sets with an instance model (`virtualMachineProfile`).
const HAS_PROFILE: Option<When> = Some(When {
    path: "properties.virtualMachineProfile",
    expect: Expect::NonEmpty,
});
