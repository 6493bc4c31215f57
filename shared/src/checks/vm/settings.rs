//! The VM and disk settings that are one property each: declarative checks over the VM list and
//! the disk list (see `checks::rule`).

use super::{DISKS, MACHINES, TRUSTED_LAUNCH_PROFILE};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target, When};

/// Passes when `properties.storageProfile.osDisk.managedDisk.id` is set.
///
/// Absent fails: a VM whose OS disk is an unmanaged VHD in a storage account has `vhd.uri` and
/// no `managedDisk` ("The managed disk parameters."). Unmanaged disks were retired on
/// 30 September 2025, so such a VM is a finding about a retired offering, not an error.
pub const MANAGED_DISKS: Check = Check::rule(
    CheckMeta {
        id: "vm.managed_disks",
        title: "OS disk is a managed disk",
        severity: Severity::High,
        description: "An unmanaged OS disk is a VHD blob in a storage account: it inherits that \
            account's keys and network settings, gets none of the managed-disk encryption, \
            access and backup controls, and unmanaged disks were retired on 30 September 2025. \
            Managed disks are encrypted at rest and governed as their own resources.",
        remediation: "Portal: Virtual machine > Disks > Migrate to managed disks (the VM is \
            deallocated). CLI: `az vm deallocate --resource-group <rg> --name <vm>` then \
            `az vm convert --resource-group <rg> --name <vm>`.",
    },
    Rule {
        target: Target::Items(MACHINES),
        path: "properties.storageProfile.osDisk.managedDisk.id",
        expect: Expect::NonEmpty,
        missing: Missing::Fails,
        when: None,
        pass: "The OS disk is a managed disk",
        fail: "The OS disk is an unmanaged VHD (retired offering)",
        pass_examples: &[Example::Str(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/os1",
        )],
        fail_examples: &[Example::Str(""), Example::Absent],
    },
);

/// Passes when `properties.osProfile.linuxConfiguration.disablePasswordAuthentication` is
/// `true`; only Linux VMs (`properties.storageProfile.osDisk.osType` is `Linux`) are evaluated.
///
/// Absent fails. Spec: "Specifies whether password authentication should be disabled." No
/// default is documented, and a VM created from a specialized disk has no `osProfile` at all:
/// whether the image accepts passwords cannot be proven, so the VM fails.
pub const LINUX_PASSWORD_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "vm.linux_password_auth_disabled",
        title: "Linux VMs use SSH keys only",
        severity: Severity::High,
        description: "A Linux VM that accepts SSH passwords can be brute-forced or reached with \
            a reused or leaked password. With password authentication disabled only holders of \
            an authorized SSH private key can log in.",
        remediation: "Add an SSH public key (Portal: Virtual machine > Help > Reset password > \
            Reset SSH public key), then set `PasswordAuthentication no` in sshd_config; \
            redeploy with `az vm create ... --authentication-type ssh --generate-ssh-keys` to \
            set `disablePasswordAuthentication`. CLI to add a key: `az vm user update \
            --resource-group <rg> --name <vm> --username <user> --ssh-key-value <key.pub>`.",
    },
    Rule {
        target: Target::Items(MACHINES),
        path: "properties.osProfile.linuxConfiguration.disablePasswordAuthentication",
        expect: Expect::True,
        missing: Missing::Fails,
        when: Some(When {
            path: "properties.storageProfile.osDisk.osType",
            expect: Expect::Equals("Linux"),
        }),
        pass: "Password authentication is disabled (SSH keys only)",
        fail: "SSH password authentication is not disabled",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.securityProfile.securityType` is `TrustedLaunch` or `ConfidentialVM`
/// and `uefiSettings.secureBootEnabled` and `uefiSettings.vTpmEnabled` are both `true`.
///
/// Absent fails. Spec: "Specifies the SecurityType of the virtual machine. It has to be set to
/// any specified value to enable UefiSettings. The default behavior is: UefiSettings will not be
/// enabled unless this property is set." A VM without a security profile is a Standard VM.
pub const TRUSTED_LAUNCH: Check = Check::rule(
    CheckMeta {
        id: "vm.trusted_launch",
        title: "Trusted Launch with Secure Boot and vTPM",
        severity: Severity::Medium,
        description: "Trusted Launch protects the boot chain: Secure Boot allows only signed \
            boot loaders and kernels, and the virtual TPM measures the boot for attestation, \
            defeating boot kits and rootkits that standard VMs cannot detect.",
        remediation: "Portal: Virtual machine > Configuration > Security type = Trusted launch \
            virtual machines, with Secure Boot and vTPM checked (Gen2 VMs; the VM is \
            deallocated). CLI: `az vm update --resource-group <rg> --name <vm> --security-type \
            TrustedLaunch --enable-secure-boot true --enable-vtpm true`.",
    },
    Rule {
        target: Target::Items(MACHINES),
        path: "properties.securityProfile",
        expect: TRUSTED_LAUNCH_PROFILE,
        missing: Missing::Fails,
        when: None,
        pass: "Trusted Launch is on with Secure Boot and vTPM",
        fail: "The VM does not run Trusted Launch with Secure Boot and vTPM",
        pass_examples: &[
            Example::Json(
                r#"{"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": true, "vTpmEnabled": true}}"#,
            ),
            Example::Json(
                r#"{"securityType": "ConfidentialVM", "uefiSettings": {"secureBootEnabled": true, "vTpmEnabled": true}}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": false, "vTpmEnabled": true}}"#,
            ),
            Example::Json(r#"{"encryptionAtHost": true}"#),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.securityProfile.encryptionAtHost` is `true`.
///
/// Absent fails. Spec: "The default behavior is: The Encryption at host will be disabled unless
/// this property is set to true for the resource."
pub const ENCRYPTION_AT_HOST: Check = Check::rule(
    CheckMeta {
        id: "vm.encryption_at_host",
        title: "Encryption at host",
        severity: Severity::Medium,
        description: "Server-side encryption covers the disks at rest in storage, but not the \
            temporary disk nor the disk caches on the host. Encryption at host encrypts those \
            too, end to end from the VM host to storage.",
        remediation: "Register the feature once (`az feature register --namespace \
            Microsoft.Compute --name EncryptionAtHost`), then Portal: Virtual machine \
            (deallocated) > Disks > Additional settings > Encryption at host = Yes. CLI: \
            `az vm update --resource-group <rg> --name <vm> --set \
            securityProfile.encryptionAtHost=true`.",
    },
    Rule {
        target: Target::Items(MACHINES),
        path: "properties.securityProfile.encryptionAtHost",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Encryption at host is on",
        fail: "Encryption at host is off",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when the disk's `properties.publicNetworkAccess` is `Disabled` or its
/// `properties.networkAccessPolicy` is `DenyAll` or `AllowPrivate`.
///
/// Absent fails. Spec (`NetworkAccessPolicy`): "Policy for accessing the disk via network",
/// `AllowAll` being "The disk can be exported or uploaded to from any network"; ARM reports
/// `AllowAll` for disks that never set it. `publicNetworkAccess` has no documented default.
/// Both attached and unattached disks are evaluated (an unattached disk can be exported too).
pub const DISK_NETWORK_ACCESS: Check = Check::rule(
    CheckMeta {
        id: "vm.disk_network_access",
        title: "Disks not exportable from all networks",
        severity: Severity::High,
        description: "A disk whose network access policy is AllowAll can have a SAS export URL \
            generated and downloaded from any network, copying the whole disk out of Azure. \
            Restricting exports to a private link (AllowPrivate with a disk access) or denying \
            them keeps disk contents inside private networks.",
        remediation: "Portal: Disk > Settings > Networking > Network access = Disable public \
            access and enable private access (or Disable public and private access). CLI: \
            `az disk update --resource-group <rg> --name <disk> --network-access-policy DenyAll \
            --public-network-access Disabled`.",
    },
    Rule {
        target: Target::Items(DISKS),
        path: "properties",
        expect: Expect::AnyOf(&[
            ("publicNetworkAccess", Expect::Equals("Disabled")),
            (
                "networkAccessPolicy",
                Expect::OneOf(&["DenyAll", "AllowPrivate"]),
            ),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The disk cannot be exported from public networks",
        fail: "The disk can be exported from any network",
        pass_examples: &[
            Example::Json(r#"{"networkAccessPolicy": "DenyAll"}"#),
            Example::Json(r#"{"networkAccessPolicy": "AllowPrivate"}"#),
            Example::Json(
                r#"{"networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Disabled"}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(
                r#"{"networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Enabled"}"#,
            ),
            Example::Json(r#"{"diskSizeGB": 128}"#),
            Example::Absent,
        ],
    },
);

/// Passes when the disk's `properties.encryption.type` is `EncryptionAtRestWithCustomerKey` or
/// `EncryptionAtRestWithPlatformAndCustomerKeys`.
///
/// Absent fails. Spec (`EncryptionType`): the default, `EncryptionAtRestWithPlatformKey`, is
/// "Disk is encrypted at rest with Platform managed key. It is the default encryption type."
pub const DISK_CMK: Check = Check::rule(
    CheckMeta {
        id: "vm.disk_cmk",
        title: "Disks (attached and unattached) use CMK",
        severity: Severity::Low,
        description: "Platform-managed keys are controlled by Microsoft. A customer-managed key \
            in Key Vault (through a disk encryption set) lets the organization rotate, audit and \
            revoke access to the disk data itself, as many regulations require.",
        remediation: "Create a disk encryption set with a Key Vault key (`az disk-encryption-set \
            create ...`), then Portal: Disk (VM deallocated or disk unattached) > Settings > \
            Encryption > Key management = Customer-managed key. CLI: `az disk update \
            --resource-group <rg> --name <disk> --encryption-type \
            EncryptionAtRestWithCustomerKey --disk-encryption-set <des-id>`.",
    },
    Rule {
        target: Target::Items(DISKS),
        path: "properties.encryption.type",
        expect: Expect::OneOf(&[
            "EncryptionAtRestWithCustomerKey",
            "EncryptionAtRestWithPlatformAndCustomerKeys",
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The disk is encrypted with a customer-managed key",
        fail: "The disk is encrypted with a platform-managed key only",
        pass_examples: &[
            Example::Str("EncryptionAtRestWithCustomerKey"),
            Example::Str("EncryptionAtRestWithPlatformAndCustomerKeys"),
        ],
        fail_examples: &[
            Example::Str("EncryptionAtRestWithPlatformKey"),
            Example::Absent,
        ],
    },
);
