//! Load Balancer: SKU and configuration of the subscription's load balancers, and the SKU of its
//! public IP addresses, from two subscription lists (`Microsoft.Network` 2024-05-01).
//!
//! The Basic SKU of both load balancers and public IP addresses was retired on 30 September
//! 2025: a Basic resource still present is a finding with that reason, not silence. Absent
//! properties: each check says what a missing property means, from the property's description
//! in `loadBalancer.json` / `publicIpAddress.json`.

mod settings;

use self::settings::*;
use super::{Check, Collection, ServiceDef};

pub const LOAD_BALANCERS: &str = "lb.load_balancers";
pub const PUBLIC_IPS: &str = "lb.public_ips";

const API_VERSION: &str = "2024-05-01";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "lb",
    name: "Load Balancer",
    collections: &[
        Collection::list(
            LOAD_BALANCERS,
            "Microsoft.Network/loadBalancers",
            API_VERSION,
            "Microsoft.Network/loadBalancers/read",
        ),
        Collection::list(
            PUBLIC_IPS,
            "Microsoft.Network/publicIPAddresses",
            API_VERSION,
            "Microsoft.Network/publicIPAddresses/read",
        ),
    ],
    checks: CHECKS,
    none_in_scope: "No load balancers in the selected regions",
};

const CHECKS: &[Check] = &[
    NOT_BASIC_SKU,
    NO_BASIC_PUBLIC_IP,
    BACKEND_POOL_NOT_EMPTY,
    RULES_HAVE_PROBE,
];
