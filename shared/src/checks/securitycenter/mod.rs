//! Security Center (Defender for Cloud's subscription settings): the security contact and its
//! notifications, the Microsoft cloud security benchmark assignment, and the system-updates
//! assessment of machines.
//!
//! Security contacts have no GA api-version: 2023-12-01-preview is the first with
//! `notificationsSources` (alert severity threshold) and `notificationsByRole`, and the only one
//! with the current shape, so it is pinned. Every collection here is subscription-wide (contacts,
//! the subscription's policy assignments, and the assessments list, whose items carry no
//! location): none is region-filtered. A subscription with no security contact at all fails the
//! contact checks (there is nobody to notify), with a finding about the `default` contact.

mod contacts;
mod posture;
#[cfg(test)]
mod tests;

use self::contacts::*;
use self::posture::*;
use super::{Collection, ServiceDef};

pub const CONTACTS: &str = "securitycenter.contacts";
pub const POLICY_ASSIGNMENTS: &str = "securitycenter.policy_assignments";
pub const ASSESSMENTS: &str = "securitycenter.assessments";

pub const SERVICE: ServiceDef = ServiceDef {
    id: "securitycenter",
    name: "Security Center",
    collections: &[
        Collection::list(
            CONTACTS,
            "Microsoft.Security/securityContacts",
            "2023-12-01-preview",
            "Microsoft.Security/securityContacts/read",
        )
        .global(),
        // `atScope()`: the assignments at the subscription and above it (management groups),
        // not those of every resource group, which cannot be the subscription's MCSB assignment.
        Collection::list(
            POLICY_ASSIGNMENTS,
            "Microsoft.Authorization/policyAssignments",
            "2024-04-01",
            "Microsoft.Authorization/policyAssignments/read",
        )
        .global()
        .filtered("atScope()"),
        Collection::list(
            ASSESSMENTS,
            "Microsoft.Security/assessments",
            "2021-06-01",
            "Microsoft.Security/assessments/read",
        )
        .global(),
    ],
    checks: &[
        CONTACT_EMAILS,
        NOTIFY_OWNERS,
        ALERT_NOTIFICATIONS,
        MCSB_ENFORCED,
        SYSTEM_UPDATES,
    ],
    none_in_scope: "Nothing of this kind in the subscription",
};
