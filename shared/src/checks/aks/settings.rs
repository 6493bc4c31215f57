//! The cluster settings, one property (or one profile) each: declarative checks over the
//! managed-cluster list (see `checks::rule`).

use super::CLUSTERS;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.enableRBAC` is `true`.
///
/// Absent fails. Spec: "Whether to enable Kubernetes Role-Based Access Control." No default is
/// documented for reads, and RBAC cannot be switched on after creation, so an unknown value is
/// treated as off.
pub const RBAC_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "aks.rbac_enabled",
        title: "Kubernetes RBAC enabled",
        severity: Severity::High,
        description: "Without Kubernetes RBAC every authenticated user and service account has \
            full access to the cluster API. RBAC limits each identity to the verbs and resources \
            its roles grant.",
        remediation: "RBAC is fixed at creation: recreate the cluster with RBAC. Portal: Create \
            Kubernetes cluster > Security > Authentication and Authorization = Local accounts \
            with Kubernetes RBAC or Microsoft Entra ID authentication with Kubernetes RBAC. \
            CLI: `az aks create --resource-group <rg> --name <cluster> ...` (RBAC is on unless \
            `--disable-rbac`).",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.enableRBAC",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Kubernetes RBAC is enabled",
        fail: "Kubernetes RBAC is disabled",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.disableLocalAccounts` is `true`.
///
/// Absent fails. Spec: "If set to true, getting static credentials will be disabled for this
/// cluster. This must only be used on Managed Clusters that are AAD enabled." AKS refuses the
/// setting without managed Microsoft Entra integration (`aadProfile.managed`), so `true`
/// implies it. Absent means local accounts are available.
pub const LOCAL_ACCOUNTS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "aks.local_accounts_disabled",
        title: "Local (static-cert) admin accounts disabled",
        severity: Severity::High,
        description: "The local cluster-admin account uses a static client certificate that \
            cannot be revoked per user, leaves no identity in the audit log and bypasses \
            Microsoft Entra ID and Conditional Access. Disabling it makes every access go \
            through Entra ID.",
        remediation: "Enable AKS-managed Microsoft Entra integration first, then Portal: \
            Kubernetes service > Settings > Security configuration > Authentication and \
            Authorization = Microsoft Entra ID authentication with Kubernetes RBAC, clear Local \
            accounts. CLI: `az aks update --resource-group <rg> --name <cluster> \
            --enable-aad --disable-local-accounts`.",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.disableLocalAccounts",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Local accounts are disabled",
        fail: "Local (static-certificate) accounts are enabled",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.apiServerAccessProfile.enablePrivateCluster` is `true` or
/// `properties.apiServerAccessProfile.authorizedIPRanges` is a non-empty list.
///
/// Absent fails: without an access profile the API server is public and open to every address
/// (spec, `authorizedIPRanges`: "IP ranges are specified in CIDR format, e.g. 137.117.106.88/29.
/// This feature is not compatible with clusters that use Public IP Per Node, or clusters that
/// are using a Basic Load Balancer."; an empty list restricts nothing).
pub const API_SERVER_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "aks.api_server_restricted",
        title: "API server private or IP-restricted",
        severity: Severity::High,
        description: "A public API server without authorized IP ranges accepts connections from \
            the whole internet, exposing the cluster's control plane to credential stuffing and \
            to any API vulnerability. A private cluster or authorized IP ranges limit who can \
            reach it.",
        remediation: "Portal: Kubernetes service > Settings > Networking > Public access > \
            Enable authorized IP ranges, and list the administrators' ranges (or create the \
            cluster as private). CLI: `az aks update --resource-group <rg> --name <cluster> \
            --api-server-authorized-ip-ranges <cidr>[,<cidr>...]`.",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.apiServerAccessProfile",
        expect: Expect::AnyOf(&[
            ("enablePrivateCluster", Expect::True),
            ("authorizedIPRanges", Expect::NonEmpty),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "The API server is private or limited to authorized IP ranges",
        fail: "The API server is reachable from any IP address",
        pass_examples: &[
            Example::Json(r#"{"enablePrivateCluster": true}"#),
            Example::Json(
                r#"{"authorizedIPRanges": ["203.0.113.0/24"], "enablePrivateCluster": false}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(r#"{"authorizedIPRanges": [], "enablePrivateCluster": false}"#),
            Example::Absent,
        ],
    },
);

const PUBLIC_NODE_IP: Expect = Expect::True;

/// Passes when no `properties.agentPoolProfiles[]` has `enableNodePublicIP` `true`.
///
/// Absent passes: spec (`enableNodePublicIP`): "Some scenarios may require nodes in a node pool
/// to receive their own dedicated public IP addresses ... The default is false." A pool without
/// the property, and an empty pool list, give no node a public IP.
pub const NO_NODE_PUBLIC_IP: Check = Check::rule(
    CheckMeta {
        id: "aks.no_node_public_ip",
        title: "Nodes have no public IPs",
        severity: Severity::High,
        description: "Nodes with their own public IPs are directly reachable from the internet, \
            bypassing the cluster's load balancer and egress controls, so the kubelet and every \
            host port are exposed.",
        remediation: "Public node IPs are fixed per node pool: add a pool without them and \
            delete the old one. Portal: Kubernetes service > Settings > Node pools > Add node \
            pool (Enable public IP per node cleared). CLI: `az aks nodepool add \
            --resource-group <rg> --cluster-name <cluster> --name <pool> ...` (without \
            `--enable-node-public-ip`), then `az aks nodepool delete ... --name <old-pool>`.",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.agentPoolProfiles",
        expect: Expect::NoElement {
            path: "enableNodePublicIP",
            expect: &PUBLIC_NODE_IP,
        },
        missing: Missing::Passes,
        when: None,
        pass: "No node pool gives nodes a public IP",
        fail: "A node pool gives its nodes public IPs",
        pass_examples: &[
            Example::Json(r#"[{"name": "system", "enableNodePublicIP": false}, {"name": "user"}]"#),
            Example::Json("[]"),
            Example::Absent,
        ],
        fail_examples: &[Example::Json(
            r#"[{"name": "system", "enableNodePublicIP": false}, {"name": "edge", "enableNodePublicIP": true}]"#,
        )],
    },
);

/// Passes when `properties.networkProfile.networkPolicy` is `azure`, `calico` or `cilium`.
///
/// Absent fails. Spec: "Network policy used for building the Kubernetes network." with the value
/// `none`: "Network policies will not be enforced. This is the default value when
/// NetworkPolicy is not specified."
pub const NETWORK_POLICY: Check = Check::rule(
    CheckMeta {
        id: "aks.network_policy",
        title: "Network policy engine enabled",
        severity: Severity::Medium,
        description: "Without a network policy engine, Kubernetes NetworkPolicy objects are \
            ignored and every pod can reach every other pod, so one compromised workload can \
            move laterally through the cluster.",
        remediation: "Portal: Kubernetes service > Settings > Networking > Network policy = \
            Azure, Calico or Cilium. CLI: `az aks update --resource-group <rg> --name \
            <cluster> --network-policy azure` (or `calico`, `cilium`).",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.networkProfile.networkPolicy",
        expect: Expect::OneOf(&["azure", "calico", "cilium"]),
        missing: Missing::Fails,
        when: None,
        pass: "A network policy engine enforces NetworkPolicy objects",
        fail: "No network policy engine is enabled",
        pass_examples: &[
            Example::Str("azure"),
            Example::Str("calico"),
            Example::Str("cilium"),
        ],
        fail_examples: &[Example::Str("none"), Example::Absent],
    },
);

/// Passes when `properties.securityProfile.azureKeyVaultKms.enabled` is `true`.
///
/// Absent fails. Spec: "Whether to enable Azure Key Vault key management service. The default is
/// false."
pub const KMS_SECRETS: Check = Check::rule(
    CheckMeta {
        id: "aks.kms_secrets",
        title: "etcd secrets encrypted with Key Vault KMS",
        severity: Severity::Medium,
        description: "Kubernetes secrets are stored in etcd encrypted only with platform keys. \
            The Key Vault KMS plugin adds envelope encryption with a customer-managed key, which \
            the organization can rotate and revoke.",
        remediation: "Portal: Kubernetes service > Settings > Security configuration > Key \
            management service = Enabled, with a Key Vault key. CLI: `az aks update \
            --resource-group <rg> --name <cluster> --enable-azure-keyvault-kms \
            --azure-keyvault-kms-key-id <key-id>`.",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.securityProfile.azureKeyVaultKms.enabled",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Secrets are encrypted with a Key Vault key (KMS)",
        fail: "Secrets are not encrypted with Key Vault KMS",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when `properties.autoUpgradeProfile.upgradeChannel` is set and not `none`, and
/// `properties.autoUpgradeProfile.nodeOSUpgradeChannel` is `NodeImage` or `SecurityPatch`.
///
/// Absent fails: a cluster without an upgrade channel is not upgraded automatically (as with
/// `none`, which "Disables auto-upgrades and keeps the cluster at its current version of
/// Kubernetes"). A missing `nodeOSUpgradeChannel` is unknown (its default differs between API
/// versions and cluster ages), so it fails; `Unmanaged` and `None` fail too.
pub const AUTO_UPGRADE: Check = Check::rule(
    CheckMeta {
        id: "aks.auto_upgrade",
        title: "Cluster and node-OS auto-upgrade configured",
        severity: Severity::Medium,
        description: "Clusters that are not upgraded fall out of Kubernetes support and miss \
            security fixes for the control plane and node images. Auto-upgrade channels keep the \
            Kubernetes version and the node OS patched without manual work.",
        remediation: "Portal: Kubernetes service > Settings > Cluster configuration > Upgrade \
            > Automatic upgrade = Enabled with patch (recommended) and Node security channel \
            type = Node image or Security patch. CLI: `az aks update --resource-group <rg> \
            --name <cluster> --auto-upgrade-channel patch --node-os-upgrade-channel \
            NodeImage`.",
    },
    Rule {
        target: Target::Items(CLUSTERS),
        path: "properties.autoUpgradeProfile",
        expect: Expect::AllOf(&[
            ("upgradeChannel", Expect::NotOneOf(&["none"])),
            (
                "nodeOSUpgradeChannel",
                Expect::OneOf(&["NodeImage", "SecurityPatch"]),
            ),
        ]),
        missing: Missing::Fails,
        when: None,
        pass: "Cluster and node-OS upgrades are automatic",
        fail: "Cluster or node-OS auto-upgrade is not configured",
        pass_examples: &[
            Example::Json(r#"{"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}"#),
            Example::Json(
                r#"{"upgradeChannel": "stable", "nodeOSUpgradeChannel": "SecurityPatch"}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(r#"{"upgradeChannel": "none", "nodeOSUpgradeChannel": "NodeImage"}"#),
            Example::Json(r#"{"upgradeChannel": "patch", "nodeOSUpgradeChannel": "Unmanaged"}"#),
            Example::Json(r#"{"nodeOSUpgradeChannel": "NodeImage"}"#),
            Example::Absent,
        ],
    },
);
