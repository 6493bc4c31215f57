//! Redis Cache: Azure Cache for Redis settings from the subscription's cache list (one paged
//! list, no per-cache reads), at api-version 2024-11-01.
//!
//! Azure Managed Redis (`Microsoft.Cache/redisEnterprise`) is a separate resource type and not
//! read here. A cache injected into a virtual network (`properties.subnetId`) is private
//! whatever `publicNetworkAccess` says.

mod settings;

use self::settings::*;
use super::{Collection, ServiceDef};

pub const CACHES: &str = "redis.caches";

pub const CACHE_READ: &str = "Microsoft.Cache/redis/read";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "redis",
    name: "Redis Cache",
    collections: &[Collection::list(
        CACHES,
        "Microsoft.Cache/redis",
        "2024-11-01",
        CACHE_READ,
    )],
    checks: &[
        NON_SSL_PORT_DISABLED,
        MIN_TLS_12,
        PUBLIC_ACCESS_DISABLED,
        ENTRA_AUTH,
        ACCESS_KEYS_DISABLED,
    ],
    none_in_scope: "No Azure Cache for Redis instances in the selected regions",
};
