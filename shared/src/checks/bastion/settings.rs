//! The Bastion host settings that are one property each, and its audit-log export: declarative
//! checks over the subscription's Bastion host list (see `checks::rule`, `checks::diagnostics`).

use super::{HOST_LOGS, HOSTS};
use crate::checks::{Check, CheckMeta, Example, Expect, LogRule, Missing, Rule, Severity, Target};

/// Passes when `properties.enableShareableLink` is not `true`.
///
/// Absent passes. Spec: "Enable/Disable Shareable Link of the Bastion Host resource.",
/// `"default": false`; the feature exists only on Standard and Premium hosts and is off unless
/// switched on.
pub const SHAREABLE_LINKS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "bastion.shareable_links_disabled",
        title: "Shareable links disabled",
        severity: Severity::High,
        description: "A shareable link lets anyone who has the URL open an RDP or SSH session to \
            a virtual machine through Bastion without signing in to the Azure portal, so the \
            link itself becomes a credential that can leak.",
        remediation: "Portal: Bastion > Settings > Configuration > untick Shareable Link > Apply \
            (existing links stop working). CLI: `az network bastion update --name <bastion> \
            --resource-group <rg> --enable-shareable-link false`.",
    },
    Rule {
        target: Target::Items(HOSTS),
        path: "properties.enableShareableLink",
        expect: Expect::False,
        missing: Missing::Passes,
        when: None,
        pass: "Shareable links are disabled",
        fail: "Shareable links are enabled",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

/// Passes when `sku.name` is `Standard` or `Premium`.
///
/// Absent fails. Spec (`Sku.name`): "The name of the sku of this Bastion Host.",
/// `"default": "Basic"`: a host without a SKU is Basic, which has no session controls (native
/// client, IP-based connection, session recording).
pub const SKU_STANDARD_OR_HIGHER: Check = Check::rule(
    CheckMeta {
        id: "bastion.sku_standard_or_higher",
        title: "Standard/Premium SKU (needed for session controls)",
        severity: Severity::Low,
        description: "The Basic and Developer SKUs lack the controls that make Bastion auditable \
            and manageable at scale: host scaling, native client support, IP-based connections, \
            Kerberos and (Premium) session recording and private-only deployment.",
        remediation: "Portal: Bastion > Settings > Configuration > Tier = Standard (or Premium) \
            > Apply. CLI: `az network bastion update --name <bastion> --resource-group <rg> \
            --sku Standard`.",
    },
    Rule {
        target: Target::Items(HOSTS),
        path: "sku.name",
        expect: Expect::OneOf(&["Standard", "Premium"]),
        missing: Missing::Fails,
        when: None,
        pass: "The Bastion host runs the Standard or Premium SKU",
        fail: "The Bastion host runs a SKU without session controls",
        pass_examples: &[Example::Str("Standard"), Example::Str("Premium")],
        fail_examples: &[
            Example::Str("Basic"),
            Example::Str("Developer"),
            Example::Absent,
        ],
    },
);

/// Passes when a diagnostic setting with a destination enables `BastionAuditLogs` (or the
/// category group `audit` or `allLogs`). No diagnostic setting fails: Azure keeps no session
/// audit trail otherwise.
pub const AUDIT_LOGS: Check = Check::logs(
    CheckMeta {
        id: "bastion.audit_logs",
        title: "Bastion audit logs exported",
        severity: Severity::Medium,
        description: "Bastion audit logs record who connected to which virtual machine, from \
            where and when. Without a diagnostic setting exporting them there is no record of \
            remote sessions for investigations.",
        remediation: "Portal: Bastion > Monitoring > Diagnostic settings > Add diagnostic \
            setting > tick 'Bastion Audit Logs' (or category group audit) > send to a Log \
            Analytics workspace or storage account. CLI: `az monitor diagnostic-settings create \
            --name bastion-audit --resource <bastion-id> --workspace <workspace-id> --logs \
            '[{\"category\":\"BastionAuditLogs\",\"enabled\":true}]'`.",
    },
    LogRule {
        parent: HOSTS,
        settings: HOST_LOGS,
        categories: &["BastionAuditLogs"],
        groups: &["audit", "allLogs"],
        when: None,
    },
);
