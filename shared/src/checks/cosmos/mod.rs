//! Cosmos DB: account settings from the subscription's database account list (one paged list,
//! no per-account reads: every property used is in the list response at api-version
//! 2024-11-15).
//!
//! Absent properties fail unless a check's doc comment says otherwise: the spec's defaults for
//! these settings are the insecure values (local auth and key-based metadata writes allowed,
//! TLS 1.0 accepted).

mod settings;

use self::settings::*;
use super::{Collection, ServiceDef};

pub const ACCOUNTS: &str = "cosmos.accounts";

pub const ACCOUNT_READ: &str = "Microsoft.DocumentDB/databaseAccounts/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "cosmos",
    name: "Cosmos DB",
    collections: &[Collection::list(
        ACCOUNTS,
        "Microsoft.DocumentDB/databaseAccounts",
        "2024-11-15",
        ACCOUNT_READ,
    )],
    checks: &[
        NETWORK_RESTRICTED,
        PRIVATE_ENDPOINT,
        LOCAL_AUTH_DISABLED,
        KEY_METADATA_WRITE_DISABLED,
        MIN_TLS_12,
    ],
    none_in_scope: "No Cosmos DB accounts in the selected regions",
};
