//! The SQL Server settings that are one property each: declarative checks over the server list
//! or one child of each server (see `checks::rule`).

use super::{AUDITING, ENCRYPTION_PROTECTOR, FIREWALL_RULES, SERVERS, THREAT_PROTECTION};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when the server's `auditingSettings/default` has `properties.state` `Enabled`.
///
/// Absent fails. Spec (`ServerBlobAuditingPolicyProperties.state`, required): "Specifies the
/// state of the audit. If state is Enabled, storageEndpoint or isAzureMonitorTargetEnabled are
/// required." A server without the child (404) has never been audited.
pub const AUDITING_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.auditing_enabled",
        title: "Server auditing on",
        severity: Severity::High,
        description: "Auditing records database events (logins, queries, permission changes) \
            to a storage account, Log Analytics or Event Hubs. Without it there is no trail of \
            who read or changed data, and suspicious activity goes unnoticed. Server-level \
            auditing covers every database of the server.",
        remediation: "Portal: SQL server > Security > Auditing > Enable Azure SQL Auditing = On, \
            choose a destination > Save. CLI: `az sql server audit-policy update --resource-group \
            <rg> --name <server> --state Enabled --lat-destination \
            --workspace-resource-id <workspace-id>` (or `--blob-storage-target-state Enabled \
            --storage-account <account>`).",
    },
    Rule {
        target: Target::Child {
            parent: SERVERS,
            child: AUDITING,
        },
        path: "properties.state",
        expect: Expect::Equals("Enabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Server auditing is enabled",
        fail: "Server auditing is not enabled",
        pass_examples: &[Example::Str("Enabled")],
        fail_examples: &[Example::Str("Disabled"), Example::Absent],
    },
);

const ANY_IP: Expect = Expect::AllOf(&[
    ("properties.startIpAddress", Expect::Equals("0.0.0.0")),
    ("properties.endIpAddress", Expect::Equals("255.255.255.255")),
]);

/// Passes when no item of the server's `firewallRules` list has `properties.startIpAddress`
/// `0.0.0.0` and `properties.endIpAddress` `255.255.255.255`. The `0.0.0.0`-`0.0.0.0` rule is
/// "Allow Azure services and resources to access this server", not the internet, and passes.
///
/// An absent list (404) or an empty one passes: no rule admits anything.
pub const NO_ANY_IP_FIREWALL: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.no_any_ip_firewall",
        title: "No firewall rule for 0.0.0.0–255.255.255.255",
        severity: Severity::Critical,
        description: "A server firewall rule from 0.0.0.0 to 255.255.255.255 lets every address \
            on the internet reach the server's login endpoint, where it is found by scanners and \
            attacked with password guessing and exploits.",
        remediation: "Portal: SQL server > Security > Networking > Firewall rules: delete the \
            0.0.0.0-255.255.255.255 rule and add the client ranges that need access > Save. \
            CLI: `az sql server firewall-rule delete --resource-group <rg> --server <server> \
            --name <rule>`.",
    },
    Rule {
        target: Target::Child {
            parent: SERVERS,
            child: FIREWALL_RULES,
        },
        path: "",
        expect: Expect::NoElement {
            path: "",
            expect: &ANY_IP,
        },
        missing: Missing::Passes,
        when: None,
        pass: "No firewall rule admits the whole internet",
        fail: "A firewall rule admits the whole internet",
        pass_examples: &[
            Example::Json("[]"),
            Example::Json(
                r#"[{"name": "AllowAllWindowsAzureIps", "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}}]"#,
            ),
            Example::Absent,
        ],
        fail_examples: &[Example::Json(
            r#"[{"name": "office", "properties": {"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"}}, {"name": "all", "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"}}]"#,
        )],
    },
);

/// Passes when `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails. Spec: "Whether or not public endpoint access is allowed for this server.
/// Value is optional but if passed in, must be 'Enabled' or 'Disabled' or
/// 'SecuredByPerimeter'" (no default); `SecuredByPerimeter` fails as access then depends on a
/// perimeter this check does not read.
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.public_access_disabled",
        title: "Public network access disabled",
        severity: Severity::High,
        description: "With public network access enabled the server's endpoint is reachable \
            from the internet, limited only by its firewall rules. Disabling it leaves private \
            endpoints as the only way in.",
        remediation: "Create private endpoints for the clients first, then Portal: SQL server > \
            Security > Networking > Public access > Public network access = Disable > Save. \
            CLI: `az sql server update --resource-group <rg> --name <server> \
            --enable-public-network false`.",
    },
    Rule {
        target: Target::Items(SERVERS),
        path: "properties.publicNetworkAccess",
        expect: Expect::Equals("Disabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "Public network access is not disabled",
        pass_examples: &[Example::Str("Disabled")],
        fail_examples: &[
            Example::Str("Enabled"),
            Example::Str("SecuredByPerimeter"),
            Example::Absent,
        ],
    },
);

/// Passes when `properties.administrators.administratorType` is `ActiveDirectory` (an Entra ID
/// administrator is set). Entra-only authentication
/// (`properties.administrators.azureADOnlyAuthentication`) is better still but not required.
///
/// Absent fails: a server created without an Entra admin reports no `administrators` object.
pub const ENTRA_ADMIN: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.entra_admin",
        title: "Entra ID admin set (ideally Entra-only)",
        severity: Severity::Medium,
        description: "Without a Microsoft Entra administrator the server can only be managed \
            with SQL logins, whose passwords are not covered by the directory's MFA, \
            Conditional Access or central revocation. Entra-only authentication goes further \
            and turns SQL logins off.",
        remediation: "Portal: SQL server > Settings > Microsoft Entra ID > Set admin, choose a \
            group > Save (optionally tick \"Support only Microsoft Entra authentication\"). CLI: \
            `az sql server ad-admin create --resource-group <rg> --server-name <server> \
            --display-name <group> --object-id <group-object-id>`.",
    },
    Rule {
        target: Target::Items(SERVERS),
        path: "properties.administrators.administratorType",
        expect: Expect::Equals("ActiveDirectory"),
        missing: Missing::Fails,
        when: None,
        pass: "A Microsoft Entra administrator is set",
        fail: "No Microsoft Entra administrator is set",
        pass_examples: &[Example::Str("ActiveDirectory")],
        fail_examples: &[Example::Absent],
    },
);

/// Passes when the server's `encryptionProtector/current` has `properties.serverKeyType`
/// `AzureKeyVault` (a customer-managed key).
///
/// Absent fails. Spec: "The encryption protector type like 'ServiceManaged',
/// 'AzureKeyVault'." (required); every server has the child, so its absence is unknown.
pub const TDE_CMK: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.tde_cmk",
        title: "TDE protector is a Key Vault key",
        severity: Severity::Medium,
        description: "With a service-managed TDE protector Microsoft holds the key that \
            encrypts every database's encryption key. A customer-managed key in Key Vault keeps \
            control (rotation, revocation, audit of key use) with the customer.",
        remediation: "Portal: SQL server > Security > Transparent data encryption > \
            Customer-managed key, select a Key Vault key > Save. CLI: `az sql server key create \
            --resource-group <rg> --server <server> --kid <key-id>`, then `az sql server \
            tde-key set --resource-group <rg> --server <server> --server-key-type \
            AzureKeyVault --kid <key-id>`.",
    },
    Rule {
        target: Target::Child {
            parent: SERVERS,
            child: ENCRYPTION_PROTECTOR,
        },
        path: "properties.serverKeyType",
        expect: Expect::Equals("AzureKeyVault"),
        missing: Missing::Fails,
        when: None,
        pass: "The TDE protector is a customer-managed Key Vault key",
        fail: "The TDE protector is not a customer-managed key",
        pass_examples: &[Example::Str("AzureKeyVault")],
        fail_examples: &[Example::Str("ServiceManaged"), Example::Absent],
    },
);

/// Passes when `properties.minimalTlsVersion` is `1.2` or `1.3`.
///
/// Absent fails. Spec: "Minimal TLS version. Allowed values: 'None', '1.0', '1.1', '1.2',
/// '1.3'"; `None` (and absent) means no minimum is enforced.
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.min_tls_12",
        title: "Minimum TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated. A server \
            without a minimum accepts them, so a client or an attacker downgrading the \
            connection can use a weak protocol.",
        remediation: "Portal: SQL server > Security > Networking > Connectivity > Minimum TLS \
            version = 1.2 > Save. CLI: `az sql server update --resource-group <rg> --name \
            <server> --minimal-tls-version 1.2`.",
    },
    Rule {
        target: Target::Items(SERVERS),
        path: "properties.minimalTlsVersion",
        expect: Expect::OneOf(&["1.2", "1.3"]),
        missing: Missing::Fails,
        when: None,
        pass: "Connections need TLS 1.2 or later",
        fail: "Connections over TLS older than 1.2 are accepted",
        pass_examples: &[Example::Str("1.2"), Example::Str("1.3")],
        fail_examples: &[
            Example::Str("1.0"),
            Example::Str("1.1"),
            Example::Str("None"),
            Example::Absent,
        ],
    },
);

/// Passes when the server's `advancedThreatProtectionSettings/Default` has `properties.state`
/// `Enabled`.
///
/// Absent fails. Spec: "Specifies the state of the Advanced Threat Protection, whether it is
/// enabled or disabled or a state has not been applied yet on the specific database or server."
pub const DEFENDER_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "sqlserver.defender_enabled",
        title: "Defender for SQL on at server level",
        severity: Severity::High,
        description: "Microsoft Defender for SQL (Advanced Threat Protection) detects SQL \
            injection, unusual access and brute-force attempts on the server's databases and \
            raises alerts. Without it such attacks are noticed only if someone reads the logs.",
        remediation: "Portal: SQL server > Security > Microsoft Defender for Cloud > Enable \
            Microsoft Defender for SQL. CLI: `az sql server advanced-threat-protection-setting \
            update --resource-group <rg> --name <server> --state Enabled`.",
    },
    Rule {
        target: Target::Child {
            parent: SERVERS,
            child: THREAT_PROTECTION,
        },
        path: "properties.state",
        expect: Expect::Equals("Enabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Defender for SQL is enabled",
        fail: "Defender for SQL is not enabled",
        pass_examples: &[Example::Str("Enabled")],
        fail_examples: &[Example::Str("Disabled"), Example::Absent],
    },
);
