//! Automation: account settings from each account's own GET, and the encryption of each
//! account's variables from its `variables` child list (`Microsoft.Automation`, 2023-11-01).
//!
//! Why a GET per account: the spec's list example returns only `creationTime`, `state` and
//! `lastModified*` in `properties`, while `publicNetworkAccess`, `disableLocalAuth`,
//! `privateEndpointConnections` and `identity` appear on the resource GET (CloudSploit reads
//! each account the same way). The list gives ids and regions; `GET {account}` the settings.
//!
//! Absent properties: each check states what a missing property means, quoting the Automation
//! spec.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const ACCOUNTS: &str = "automation.accounts";
pub const ACCOUNT_DETAILS: &str = "automation.account_details";
pub const VARIABLES: &str = "automation.variables";

const API_VERSION: &str = "2023-11-01";
const ACCOUNT_READ: &str = "Microsoft.Automation/automationAccounts/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "automation",
    name: "Automation",
    collections: &[
        Collection::list(
            ACCOUNTS,
            "Microsoft.Automation/automationAccounts",
            API_VERSION,
            ACCOUNT_READ,
        ),
        Collection::child(ACCOUNT_DETAILS, ACCOUNTS, "", API_VERSION, ACCOUNT_READ),
        Collection::child_list(
            VARIABLES,
            ACCOUNTS,
            "/variables",
            API_VERSION,
            "Microsoft.Automation/automationAccounts/variables/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No Automation accounts in the selected regions",
};

const CHECKS: &[Check] = &[
    PUBLIC_ACCESS_DISABLED,
    LOCAL_AUTH_DISABLED,
    MANAGED_IDENTITY,
    VARIABLES_ENCRYPTED,
    PRIVATE_ENDPOINT,
];
