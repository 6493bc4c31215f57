//! The scale-set settings, one property of the instance model or upgrade policy each:
//! declarative checks over the scale-set list (see `checks::rule`).

use super::{HAS_PROFILE, SCALE_SETS};
use crate::checks::vm::TRUSTED_LAUNCH_PROFILE;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target, When};

/// Passes when
/// `properties.virtualMachineProfile.osProfile.linuxConfiguration.disablePasswordAuthentication`
/// is `true`; only Linux sets (a `linuxConfiguration` in the instance model) are evaluated.
///
/// Absent fails. Spec: "Specifies whether password authentication should be disabled." No
/// default is documented.
pub const LINUX_PASSWORD_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "vmss.linux_password_auth_disabled",
        title: "Linux instances use SSH keys only",
        severity: Severity::High,
        description: "Instances that accept SSH passwords can be brute-forced or reached with a \
            reused or leaked password, and a scale set multiplies that exposure by its instance \
            count. With password authentication disabled only SSH key holders can log in.",
        remediation: "The setting is fixed at creation: redeploy the scale set with SSH keys \
            only. Portal: Create a virtual machine scale set > Administrator account > \
            Authentication type = SSH public key. CLI: `az vmss create --resource-group <rg> \
            --name <set> --image <image> --authentication-type ssh --generate-ssh-keys ...`.",
    },
    Rule {
        target: Target::Items(SCALE_SETS),
        path: "properties.virtualMachineProfile.osProfile.linuxConfiguration.disablePasswordAuthentication",
        expect: Expect::True,
        missing: Missing::Fails,
        when: Some(When {
            path: "properties.virtualMachineProfile.osProfile.linuxConfiguration",
            expect: Expect::NonEmpty,
        }),
        pass: "Instances accept SSH keys only",
        fail: "Instances accept SSH passwords",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

const PUBLIC_IP_CONFIG: Expect = Expect::NonEmpty;
const CONFIG_WITH_PUBLIC_IP: Expect = Expect::AnyElement {
    path: "properties.publicIPAddressConfiguration",
    expect: &PUBLIC_IP_CONFIG,
};

/// Passes when no
/// `properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[]` has an IP
/// configuration with `properties.publicIPAddressConfiguration`.
///
/// Absent passes: without network interface configurations (or with an empty list) no instance
/// gets a public IP; spec: "The publicIPAddressConfiguration." is only present when each
/// instance is given its own public IP.
pub const NO_INSTANCE_PUBLIC_IP: Check = Check::rule(
    CheckMeta {
        id: "vmss.no_instance_public_ip",
        title: "Instances get no public IPs",
        severity: Severity::High,
        description: "A public IP per instance makes every instance directly reachable from the \
            internet, so each open port and unpatched service is exposed. Put the set behind a \
            load balancer or Application Gateway and administer it through Azure Bastion.",
        remediation: "Portal: Virtual machine scale set > Networking > the network interface > \
            IP configuration > Public IP address = Disabled, then upgrade the instances. CLI: \
            `az vmss update --resource-group <rg> --name <set> --remove \
            virtualMachineProfile.networkProfile.networkInterfaceConfigurations[0].ipConfigurations[0].publicIPAddressConfiguration` \
            then `az vmss update-instances --instance-ids '*' ...`.",
    },
    Rule {
        target: Target::Items(SCALE_SETS),
        path: "properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations",
        expect: Expect::NoElement {
            path: "properties.ipConfigurations",
            expect: &CONFIG_WITH_PUBLIC_IP,
        },
        missing: Missing::Passes,
        when: HAS_PROFILE,
        pass: "Instances get no public IP",
        fail: "Each instance gets a public IP",
        pass_examples: &[
            Example::Json(
                r#"[{"name": "nic", "properties": {"ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": "/s"}}}]}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
        fail_examples: &[Example::Json(
            r#"[{"name": "nic", "properties": {"ipConfigurations": [{"name": "ip", "properties": {"publicIPAddressConfiguration": {"name": "pub", "properties": {"idleTimeoutInMinutes": 15}}}}]}}]"#,
        )],
    },
);

/// Passes when `properties.virtualMachineProfile.securityProfile.securityType` is
/// `TrustedLaunch` or `ConfidentialVM` and `uefiSettings.secureBootEnabled` and
/// `uefiSettings.vTpmEnabled` are both `true`.
///
/// Absent fails. Spec: "The default behavior is: UefiSettings will not be enabled unless this
/// property is set."
pub const TRUSTED_LAUNCH: Check = Check::rule(
    CheckMeta {
        id: "vmss.trusted_launch",
        title: "Trusted Launch with Secure Boot and vTPM",
        severity: Severity::Medium,
        description: "Trusted Launch protects each instance's boot chain: Secure Boot allows only \
            signed boot loaders and kernels, and the virtual TPM measures the boot for \
            attestation, defeating boot kits and rootkits.",
        remediation: "Portal: Virtual machine scale set > Configuration > Security type = \
            Trusted launch with Secure Boot and vTPM (Gen2 images). CLI: `az vmss update \
            --resource-group <rg> --name <set> --security-type TrustedLaunch \
            --enable-secure-boot true --enable-vtpm true`, then upgrade the instances.",
    },
    Rule {
        target: Target::Items(SCALE_SETS),
        path: "properties.virtualMachineProfile.securityProfile",
        expect: TRUSTED_LAUNCH_PROFILE,
        missing: Missing::Fails,
        when: HAS_PROFILE,
        pass: "Instances run Trusted Launch with Secure Boot and vTPM",
        fail: "Instances do not run Trusted Launch with Secure Boot and vTPM",
        pass_examples: &[Example::Json(
            r#"{"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": true, "vTpmEnabled": true}}"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"{"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": true, "vTpmEnabled": false}}"#,
            ),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.virtualMachineProfile.securityProfile.encryptionAtHost` is `true`.
///
/// Absent fails. Spec: "The default behavior is: The Encryption at host will be disabled unless
/// this property is set to true for the resource."
pub const ENCRYPTION_AT_HOST: Check = Check::rule(
    CheckMeta {
        id: "vmss.encryption_at_host",
        title: "Encryption at host",
        severity: Severity::Medium,
        description: "Server-side encryption covers the disks at rest in storage, but not the \
            instances' temporary disks nor the disk caches on the host. Encryption at host \
            encrypts those too.",
        remediation: "Portal: Virtual machine scale set (deallocated) > Disks > Encryption at \
            host = Yes. CLI: `az vmss update --resource-group <rg> --name <set> --set \
            virtualMachineProfile.securityProfile.encryptionAtHost=true`, then upgrade the \
            instances.",
    },
    Rule {
        target: Target::Items(SCALE_SETS),
        path: "properties.virtualMachineProfile.securityProfile.encryptionAtHost",
        expect: Expect::True,
        missing: Missing::Fails,
        when: HAS_PROFILE,
        pass: "Encryption at host is on",
        fail: "Encryption at host is off",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade` is
/// `true`.
///
/// Absent fails. Spec: "Indicates whether OS upgrades should automatically be applied to scale
/// set instances in a rolling fashion when a newer version of the OS image becomes available.
/// Default value is false."
pub const AUTOMATIC_OS_UPGRADE: Check = Check::rule(
    CheckMeta {
        id: "vmss.automatic_os_upgrade",
        title: "Automatic OS image upgrades",
        severity: Severity::Medium,
        description: "Without automatic OS image upgrades, instances keep running the image they \
            were created from, missing security patches until someone reimages them. Automatic \
            upgrades roll new platform images out in batches, respecting health probes.",
        remediation: "Portal: Virtual machine scale set > Upgrade policy > Automatic OS upgrade \
            = Enabled (an application health extension or probe is needed). CLI: `az vmss \
            update --resource-group <rg> --name <set> --set \
            upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade=true`.",
    },
    Rule {
        target: Target::Items(SCALE_SETS),
        path: "properties.upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "OS image upgrades are automatic",
        fail: "OS image upgrades are not automatic",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);
