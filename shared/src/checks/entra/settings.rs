//! The tenant's authorization policy (`GET /v1.0/policies/authorizationPolicy`, one object):
//! consent, app registration and guest settings, one property each, as declarative checks.

use super::AUTHORIZATION_POLICY;
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

const LEGACY_CONSENT: Expect =
    Expect::Equals("ManagePermissionGrantsForSelf.microsoft-user-default-legacy");

/// Passes when `defaultUserRolePermissions.permissionGrantPoliciesAssigned` does not contain
/// `ManagePermissionGrantsForSelf.microsoft-user-default-legacy` (users may consent to any app
/// for any permission). An empty list (user consent off) and
/// `...microsoft-user-default-low` (verified publishers, low-impact permissions) pass.
///
/// Absent fails: Graph always returns the list; without it the consent setting is unknown.
pub const USER_CONSENT_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "entra.user_consent_restricted",
        title: "Users cannot consent to unverified apps",
        severity: Severity::High,
        description: "When any user may consent to any application, a phishing link to a \
            malicious app (illicit consent grant) gives the attacker lasting access to the \
            user's mail and files without a password. Consent should be off, or limited to \
            verified publishers and low-impact permissions, with admin consent for the rest.",
        remediation: "Portal: Microsoft Entra admin center > Identity > Applications > \
            Enterprise applications > Consent and permissions > User consent settings: Do not \
            allow user consent (or Allow user consent for apps from verified publishers, for \
            selected permissions). CLI: `az rest --method patch --url \
            https://graph.microsoft.com/v1.0/policies/authorizationPolicy --body \
            '{\"defaultUserRolePermissions\":{\"permissionGrantPoliciesAssigned\":[]}}'`.",
    },
    Rule {
        target: Target::Items(AUTHORIZATION_POLICY),
        path: "defaultUserRolePermissions.permissionGrantPoliciesAssigned",
        expect: Expect::NoElement {
            path: "",
            expect: &LEGACY_CONSENT,
        },
        missing: Missing::Fails,
        when: None,
        pass: "Users cannot consent to unverified applications",
        fail: "Users can consent to any application",
        pass_examples: &[
            Example::Json("[]"),
            Example::Json(r#"["ManagePermissionGrantsForSelf.microsoft-user-default-low"]"#),
        ],
        fail_examples: &[
            Example::Json(r#"["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]"#),
            Example::Absent,
        ],
    },
);

/// Passes when `defaultUserRolePermissions.allowedToCreateApps` is `false`.
///
/// Absent fails: Graph's default is `true` ("Indicates whether the default user role can create
/// applications").
pub const USERS_CANNOT_REGISTER_APPS: Check = Check::rule(
    CheckMeta {
        id: "entra.users_cannot_register_apps",
        title: "Non-admins cannot register applications",
        severity: Severity::Medium,
        description: "Any user able to register applications can create an app identity with \
            credentials that outlives their account and can be used to phish consent or \
            persist access. Registration should be limited to administrators and the \
            Application Developer role.",
        remediation: "Portal: Microsoft Entra admin center > Identity > Users > User settings: \
            Users can register applications = No; Save. CLI: `az rest --method patch --url \
            https://graph.microsoft.com/v1.0/policies/authorizationPolicy --body \
            '{\"defaultUserRolePermissions\":{\"allowedToCreateApps\":false}}'`.",
    },
    Rule {
        target: Target::Items(AUTHORIZATION_POLICY),
        path: "defaultUserRolePermissions.allowedToCreateApps",
        expect: Expect::False,
        missing: Missing::Fails,
        when: None,
        pass: "Only administrators can register applications",
        fail: "Every user can register applications",
        pass_examples: &[Example::Bool(false)],
        fail_examples: &[Example::Bool(true), Example::Absent],
    },
);

/// Passes when `guestUserRoleId` is `2af84b1e-32c8-42b7-82bc-daa82404023b` (Restricted Guest
/// User: guests see only their own directory objects).
///
/// Absent fails: the tenant default is `10dae51f-b6af-4016-8d66-8c2a99b929b3` (Guest User,
/// limited access), which still lets guests enumerate groups and members.
pub const GUEST_ACCESS_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "entra.guest_access_restricted",
        title: "Guests see only their own directory objects",
        severity: Severity::Medium,
        description: "With the default or member-level guest permissions, external guests can \
            enumerate users, groups and memberships, a map for phishing and privilege \
            escalation. Restricting guests to their own objects limits what a compromised or \
            curious guest learns.",
        remediation: "Portal: Microsoft Entra admin center > Identity > External Identities > \
            External collaboration settings: Guest user access = Guest user access is \
            restricted to properties and memberships of their own directory objects; Save. \
            CLI: `az rest --method patch --url \
            https://graph.microsoft.com/v1.0/policies/authorizationPolicy --body \
            '{\"guestUserRoleId\":\"2af84b1e-32c8-42b7-82bc-daa82404023b\"}'`.",
    },
    Rule {
        target: Target::Items(AUTHORIZATION_POLICY),
        path: "guestUserRoleId",
        expect: Expect::Equals("2af84b1e-32c8-42b7-82bc-daa82404023b"),
        missing: Missing::Fails,
        when: None,
        pass: "Guests are restricted to their own directory objects",
        fail: "Guests can read other directory objects",
        pass_examples: &[Example::Str("2af84b1e-32c8-42b7-82bc-daa82404023b")],
        fail_examples: &[
            Example::Str("10dae51f-b6af-4016-8d66-8c2a99b929b3"),
            Example::Str("a0b1b346-4d3e-4e8b-98f8-753987be4970"),
            Example::Absent,
        ],
    },
);

/// Passes when `allowInvitesFrom` is `adminsAndGuestInviters` or `none`.
///
/// Absent fails: the tenant default is `everyone`.
pub const GUEST_INVITES_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "entra.guest_invites_restricted",
        title: "Only admins/guest inviters may invite guests",
        severity: Severity::Medium,
        description: "If every member (or every guest) can invite external users, outsiders \
            can be brought into the tenant without review and gain access to whatever is \
            shared with them. Invitations should be limited to administrators and the Guest \
            Inviter role.",
        remediation: "Portal: Microsoft Entra admin center > Identity > External Identities > \
            External collaboration settings: Guest invite settings = Only users assigned to \
            specific admin roles can invite guest users; Save. CLI: `az rest --method patch \
            --url https://graph.microsoft.com/v1.0/policies/authorizationPolicy --body \
            '{\"allowInvitesFrom\":\"adminsAndGuestInviters\"}'`.",
    },
    Rule {
        target: Target::Items(AUTHORIZATION_POLICY),
        path: "allowInvitesFrom",
        expect: Expect::OneOf(&["adminsAndGuestInviters", "none"]),
        missing: Missing::Fails,
        when: None,
        pass: "Only administrators and guest inviters can invite guests",
        fail: "Users other than administrators can invite guests",
        pass_examples: &[Example::Str("adminsAndGuestInviters"), Example::Str("none")],
        fail_examples: &[
            Example::Str("everyone"),
            Example::Str("adminsGuestInvitersAndAllMembers"),
            Example::Absent,
        ],
    },
);
