//! Media Services: the subscription's Media Services accounts (`Microsoft.Media/mediaservices`
//! 2023-01-01, the last api-version published).
//!
//! Azure Media Services was retired on 30 June 2024: accounts went read-only and are being
//! deleted. An account still present is itself a finding with that reason
//! (`media.account_present`); the three legacy hardening checks still report on what is left.
//! Most subscriptions no longer have the provider registered, which makes every check Not
//! applicable with that reason. The property paths come from the last published schema.

mod account_present;
mod settings;
#[cfg(test)]
mod tests;

use self::account_present::ACCOUNT_PRESENT;
use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const ACCOUNTS: &str = "media.accounts";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "media",
    name: "Media Services",
    collections: &[Collection::list(
        ACCOUNTS,
        "Microsoft.Media/mediaservices",
        "2023-01-01",
        "Microsoft.Media/mediaservices/read",
    )],
    checks: CHECKS,
    none_in_scope: "No Media Services accounts in the selected regions",
};

const CHECKS: &[Check] = &[
    ACCOUNT_PRESENT,
    PUBLIC_ACCESS_DISABLED,
    STORAGE_MANAGED_IDENTITY,
    MANAGED_IDENTITY,
];
