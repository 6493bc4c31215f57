//! Container Registry: registry settings from the subscription's registry list
//! (`Microsoft.ContainerRegistry/registries`, 2025-04-01).
//!
//! The api-version is pinned to 2025-04-01 because `anonymousPullEnabled` is missing from the
//! GA 2023-07-01 schema: reading an older version would make every registry look compliant.
//! The list carries network rules and private-endpoint connections, so no per-registry call is
//! made, and no POST `listCredentials` (outside Reader) is needed.
//!
//! Absent properties: each check states what a missing property means, quoting the
//! ContainerRegistry spec.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const REGISTRIES: &str = "acr.registries";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "acr",
    name: "Container Registry",
    collections: &[Collection::list(
        REGISTRIES,
        "Microsoft.ContainerRegistry/registries",
        "2025-04-01",
        "Microsoft.ContainerRegistry/registries/read",
    )],
    checks: CHECKS,
    none_in_scope: "No container registries in the selected regions",
};

const CHECKS: &[Check] = &[
    ADMIN_USER_DISABLED,
    ANONYMOUS_PULL_DISABLED,
    PUBLIC_ACCESS_DISABLED,
    PRIVATE_ENDPOINT,
];
