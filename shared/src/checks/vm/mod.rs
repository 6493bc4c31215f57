//! Virtual Machines: VM settings from the subscription's VM list, the managed disks from the
//! disk list, public IPs through the network-interface list (NIC -> VM join by ARM id), and each
//! VM's extensions from its `extensions` child list.
//!
//! Why it is read this way: the VM list (`Microsoft.Compute/virtualMachines`, 2024-11-01)
//! carries the storage, OS and security profiles but not public IPs (those live on the NICs'
//! IP configurations) nor the installed extensions (only `GET {vm}/extensions` lists them
//! without `$expand`). Disks are one subscription list (2024-03-02), attached or not.
//!
//! Absent properties: each check states what a missing property means, quoting the Compute
//! spec. A VM with an unmanaged (VHD) OS disk has no `managedDisk` object: it is a finding of
//! `vm.managed_disks`, never an error, and every other check still evaluates it.

mod extensions;
mod public_ip;
mod settings;
#[cfg(test)]
mod tests;

use self::extensions::APPROVED_EXTENSIONS;
use self::public_ip::NO_PUBLIC_IP;
use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const MACHINES: &str = "vm.machines";
pub const EXTENSIONS: &str = "vm.extensions";
pub const DISKS: &str = "vm.disks";
pub const NICS: &str = "vm.nics";

const COMPUTE_API_VERSION: &str = "2024-11-01";
const DISK_API_VERSION: &str = "2024-03-02";
const NETWORK_API_VERSION: &str = "2024-05-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "vm",
    name: "Virtual Machines",
    collections: &[
        Collection::list(
            MACHINES,
            "Microsoft.Compute/virtualMachines",
            COMPUTE_API_VERSION,
            "Microsoft.Compute/virtualMachines/read",
        ),
        Collection::child_list(
            EXTENSIONS,
            MACHINES,
            "/extensions",
            COMPUTE_API_VERSION,
            "Microsoft.Compute/virtualMachines/extensions/read",
        ),
        Collection::list(
            DISKS,
            "Microsoft.Compute/disks",
            DISK_API_VERSION,
            "Microsoft.Compute/disks/read",
        ),
        Collection::list(
            NICS,
            "Microsoft.Network/networkInterfaces",
            NETWORK_API_VERSION,
            "Microsoft.Network/networkInterfaces/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No virtual machines in the selected regions",
};

const CHECKS: &[Check] = &[
    MANAGED_DISKS,
    LINUX_PASSWORD_AUTH_DISABLED,
    NO_PUBLIC_IP,
    TRUSTED_LAUNCH,
    ENCRYPTION_AT_HOST,
    DISK_NETWORK_ACCESS,
    DISK_CMK,
    APPROVED_EXTENSIONS,
];

/// A security profile with Trusted Launch (or a confidential VM) and both Secure Boot and vTPM
/// on; shared by the VM and scale-set checks (same `SecurityProfile` schema).
pub const TRUSTED_LAUNCH_PROFILE: super::Expect = super::Expect::AllOf(&[
    (
        "securityType",
        super::Expect::OneOf(&["TrustedLaunch", "ConfidentialVM"]),
    ),
    ("uefiSettings.secureBootEnabled", super::Expect::True),
    ("uefiSettings.vTpmEnabled", super::Expect::True),
]);
