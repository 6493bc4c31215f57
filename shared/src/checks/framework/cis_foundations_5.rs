//! CIS Microsoft Azure Foundations Benchmark v5.0.0 (155 recommendations), kept for the identity and tenant-setting controls (Conditional Access, guest and consent settings) that v6.0.0 dropped.
//! Control numbers are from a third-party extraction checked against the benchmark's section
//! names, not against the official PDF.

use super::{Framework, control};

pub const FRAMEWORK: Framework = Framework {
    benchmark: "CIS Microsoft Azure Foundations Benchmark",
    version: "5.0.0",
    controls: &[
        control("5.2.4", &["entra.mfa_enforced_tenant_wide"]),
        control("5.2.6", &["entra.ca_mfa_azure_management"]),
        control("5.12", &["entra.user_consent_restricted"]),
        control("5.13", &["entra.user_consent_restricted"]),
        control("5.14", &["entra.users_cannot_register_apps"]),
        control("5.15", &["entra.guest_access_restricted"]),
        control("5.16", &["entra.guest_invites_restricted"]),
        control("5.26", &["entra.global_admin_count"]),
    ],
};
