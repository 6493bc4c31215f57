//! The Automation account settings, one property each of the account GET or its variable list:
//! declarative checks (see `checks::rule`).

use super::{ACCOUNT_DETAILS, ACCOUNTS, VARIABLES};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

const DETAILS: Target = Target::Child {
    parent: ACCOUNTS,
    child: ACCOUNT_DETAILS,
};

/// Passes when the account's `properties.publicNetworkAccess` is `false` (a boolean in this
/// resource provider).
///
/// Absent fails. Spec: "Indicates whether traffic on the non-ARM endpoint (Webhook/Agent) is
/// allowed from the public internet" — public access is on unless set to false.
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "automation.public_access_disabled",
        title: "Account not reachable from the internet",
        severity: Severity::High,
        description: "With public network access, the account's webhook and hybrid-worker \
            endpoints accept traffic from the whole internet; a leaked webhook URL then starts \
            runbooks from anywhere. Disabling it restricts those endpoints to private \
            endpoints.",
        remediation: "Create a private endpoint first, then Portal: Automation account > \
            Account Settings > Networking > Public access = Disabled. CLI: `az automation \
            account update --resource-group <rg> --name <account> --set \
            properties.publicNetworkAccess=false` (or `az resource update ... --set \
            properties.publicNetworkAccess=false`).",
    },
    Rule {
        target: DETAILS,
        path: "properties.publicNetworkAccess",
        expect: Expect::False,
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "The account's endpoints are reachable from the internet",
        pass_examples: &[Example::Bool(false)],
        fail_examples: &[Example::Bool(true), Example::Absent],
    },
);

/// Passes when the account's `properties.disableLocalAuth` is `true`.
///
/// Absent fails. Spec: "Indicates whether requests using non-AAD authentication are blocked" —
/// they are not blocked unless set.
pub const LOCAL_AUTH_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "automation.local_auth_disabled",
        title: "Local (key) auth disabled",
        severity: Severity::Medium,
        description: "Local authentication lets hybrid workers and DSC nodes register and call \
            the account with its shared keys, which cannot be scoped and leave no identity in \
            the logs. Disabling it forces Microsoft Entra ID authentication.",
        remediation: "Portal: not exposed; use ARM. CLI: `az resource update --resource-group \
            <rg> --name <account> --resource-type Microsoft.Automation/automationAccounts --set \
            properties.disableLocalAuth=true`.",
    },
    Rule {
        target: DETAILS,
        path: "properties.disableLocalAuth",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Local (key) authentication is disabled",
        fail: "Local (key) authentication is allowed",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when the account's `identity.type` is set and not `None`.
///
/// Absent fails: an account without an `identity` has no managed identity; runbooks then need
/// stored credentials (or the retired Run As accounts) to reach Azure.
pub const MANAGED_IDENTITY: Check = Check::rule(
    CheckMeta {
        id: "automation.managed_identity",
        title: "Runbooks use a managed identity",
        severity: Severity::Medium,
        description: "Without a managed identity, runbooks authenticate to Azure with stored \
            credentials or certificates that must be rotated and can leak (Run As accounts, \
            the former way, were retired on 30 September 2023). A managed identity has no \
            secret to steal.",
        remediation: "Portal: Automation account > Account Settings > Identity > System \
            assigned > Status = On (then grant it the roles the runbooks need). CLI: `az \
            automation account update --resource-group <rg> --name <account> --assign-identity \
            [system]` (or `az resource update ... --set identity.type=SystemAssigned`).",
    },
    Rule {
        target: DETAILS,
        path: "identity.type",
        expect: Expect::NotOneOf(&["None"]),
        missing: Missing::Fails,
        when: None,
        pass: "The account has a managed identity",
        fail: "The account has no managed identity",
        pass_examples: &[
            Example::Str("SystemAssigned"),
            Example::Str("UserAssigned"),
            Example::Str("SystemAssigned, UserAssigned"),
        ],
        fail_examples: &[Example::Str("None"), Example::Absent],
    },
);

const ENCRYPTED: Expect = Expect::True;

/// Passes when every variable in `GET {account}/variables` has `properties.isEncrypted` `true`.
///
/// An account without variables (an empty list) passes. A variable without `isEncrypted` fails:
/// spec "Gets or sets the encrypted flag of the variable." — variables are created unencrypted
/// unless asked.
pub const VARIABLES_ENCRYPTED: Check = Check::rule(
    CheckMeta {
        id: "automation.variables_encrypted",
        title: "All variables encrypted",
        severity: Severity::Medium,
        description: "Unencrypted Automation variables are readable in clear text by anyone with \
            read access to the account, through the portal or the API. Encrypted variables can \
            only be read from inside a runbook.",
        remediation: "Encryption cannot be added to an existing variable: recreate it \
            encrypted. Portal: Automation account > Shared Resources > Variables > Add a \
            variable > Encrypted = Yes, then delete the old one. CLI: `az automation variable \
            create` is not available; use `New-AzAutomationVariable -Encrypted $true ...` \
            (Az PowerShell) or `az rest --method put --url <variable-id>?api-version=2023-11-01 \
            --body '{\"name\":\"<name>\",\"properties\":{\"value\":\"...\",\"isEncrypted\":true}}'`.",
    },
    Rule {
        target: Target::Child {
            parent: ACCOUNTS,
            child: VARIABLES,
        },
        path: "",
        expect: Expect::EveryElement {
            path: "properties.isEncrypted",
            expect: &ENCRYPTED,
        },
        missing: Missing::Fails,
        when: None,
        pass: "Every variable is encrypted",
        fail: "Some variables are stored unencrypted",
        pass_examples: &[
            Example::Json(r#"[{"name": "sqlPassword", "properties": {"isEncrypted": true}}]"#),
            Example::Json("[]"),
        ],
        fail_examples: &[
            Example::Json(
                r#"[{"name": "a", "properties": {"isEncrypted": true}}, {"name": "b", "properties": {"isEncrypted": false}}]"#,
            ),
            Example::Json(r#"[{"name": "c", "properties": {"value": "\"x\""}}]"#),
        ],
    },
);

const APPROVED: Expect = Expect::Equals("Approved");

/// Passes when the account's `properties.privateEndpointConnections` has a connection whose
/// `properties.privateLinkServiceConnectionState.status` is `Approved`.
///
/// Absent fails: no list (or an empty one) means no private endpoint, and a pending or rejected
/// connection carries no traffic.
pub const PRIVATE_ENDPOINT: Check = Check::rule(
    CheckMeta {
        id: "automation.private_endpoint",
        title: "Private endpoint in use",
        severity: Severity::Medium,
        description: "With an approved private endpoint, hybrid workers and webhook callers in \
            the virtual network reach the account over a private IP, so its traffic never \
            crosses the internet and public access can be switched off.",
        remediation: "Portal: Automation account > Account Settings > Networking > Private \
            access > + Private endpoint (sub-resource Webhook or DSCAndHybridWorker), then \
            approve it. CLI: `az network private-endpoint create --resource-group <rg> --name \
            <pe> --vnet-name <vnet> --subnet <subnet> --private-connection-resource-id \
            <account-id> --group-id Webhook --connection-name <name>`.",
    },
    Rule {
        target: DETAILS,
        path: "properties.privateEndpointConnections",
        expect: Expect::AnyElement {
            path: "properties.privateLinkServiceConnectionState.status",
            expect: &APPROVED,
        },
        missing: Missing::Fails,
        when: None,
        pass: "An approved private endpoint connection exists",
        fail: "No approved private endpoint connection",
        pass_examples: &[Example::Json(
            r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}]"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"[{"properties": {"privateLinkServiceConnectionState": {"status": "Rejected"}}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);
