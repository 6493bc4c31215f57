//! The container-app and environment settings: declarative checks over the app list, each
//! app's auth configs and the environment list (see `checks::rule`).

use super::{APPS, AUTH_CONFIGS, ENVIRONMENTS, WITH_INGRESS};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when `properties.configuration.ingress.allowInsecure` is `false`; only apps with
/// ingress are evaluated.
///
/// Absent passes. Spec: "Bool indicating if HTTP connections to is allowed. If set to false
/// HTTP connections are automatically redirected to HTTPS connections" with `"default": false`.
pub const HTTPS_ONLY: Check = Check::rule(
    CheckMeta {
        id: "containerapps.https_only",
        title: "Ingress refuses plain HTTP",
        severity: Severity::High,
        description: "With insecure connections allowed, the app answers plain HTTP, so requests, \
            cookies and tokens can be read or altered in transit. Otherwise HTTP is redirected \
            to HTTPS.",
        remediation: "Portal: Container app > Settings > Ingress > Insecure connections = clear \
            Allowed. CLI: `az containerapp ingress update --resource-group <rg> --name <app> \
            --allow-insecure false`.",
    },
    Rule {
        target: Target::Items(APPS),
        path: "properties.configuration.ingress.allowInsecure",
        expect: Expect::False,
        missing: Missing::Passes,
        when: WITH_INGRESS,
        pass: "Plain HTTP is redirected to HTTPS",
        fail: "The app accepts plain HTTP connections",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

const ALLOW_RULE: Expect = Expect::Equals("Allow");

/// Passes when `properties.configuration.ingress.external` is `false`, or
/// `properties.configuration.ingress.ipSecurityRestrictions` has an `Allow` rule (then only
/// the listed ranges get in); only apps with ingress are evaluated.
///
/// Absent fails: ARM returns `external` for every app with ingress; an ingress without it
/// cannot be shown to be internal. A list of only `Deny` rules still admits every other
/// address, so it fails; an empty list restricts nothing.
pub const EXTERNAL_INGRESS_RESTRICTED: Check = Check::rule(
    CheckMeta {
        id: "containerapps.external_ingress_restricted",
        title: "External ingress limited by IP rules",
        severity: Severity::Medium,
        description: "External ingress without IP restrictions exposes the app to the whole \
            internet. Internal ingress, or Allow rules listing the ranges that need access, \
            shrink the attack surface to known callers.",
        remediation: "Portal: Container app > Settings > Ingress > Ingress traffic = Limited to \
            Container Apps Environment, or IP Security Restrictions Mode = Allow traffic from \
            IPs configured below, with the allowed ranges. CLI: `az containerapp ingress \
            access-restriction set --resource-group <rg> --name <app> --rule-name <name> \
            --ip-address <cidr> --action Allow`.",
    },
    Rule {
        target: Target::Items(APPS),
        path: "properties.configuration.ingress",
        expect: Expect::AnyOf(&[
            ("external", Expect::False),
            (
                "ipSecurityRestrictions",
                Expect::AnyElement {
                    path: "action",
                    expect: &ALLOW_RULE,
                },
            ),
        ]),
        missing: Missing::Fails,
        when: WITH_INGRESS,
        pass: "Ingress is internal or limited to allowed IP ranges",
        fail: "External ingress is open to every address",
        pass_examples: &[
            Example::Json(r#"{"external": false, "targetPort": 80}"#),
            Example::Json(
                r#"{"external": true, "ipSecurityRestrictions": [{"name": "office", "ipAddressRange": "203.0.113.0/24", "action": "Allow"}]}"#,
            ),
        ],
        fail_examples: &[
            Example::Json(r#"{"external": true, "ipSecurityRestrictions": []}"#),
            Example::Json(
                r#"{"external": true, "ipSecurityRestrictions": [{"name": "bad", "ipAddressRange": "198.51.100.7/32", "action": "Deny"}]}"#,
            ),
            Example::Json(r#"{"targetPort": 80}"#),
        ],
    },
);

const SET: Expect = Expect::NonEmpty;

/// Passes when every `properties.configuration.secrets[]` has a `keyVaultUrl`.
///
/// Absent passes: an app without secrets (no list, or an empty one) stores none in the app.
/// Spec (`keyVaultUrl`): "Azure Key Vault URL pointing to the secret referenced by the container
/// app." A secret without it holds its value in the app's configuration.
pub const SECRETS_IN_KEYVAULT: Check = Check::rule(
    CheckMeta {
        id: "containerapps.secrets_in_keyvault",
        title: "Secrets are Key Vault references",
        severity: Severity::Medium,
        description: "Secrets stored in the app's configuration are copied into every revision, \
            readable by anyone who can list the app's secrets, and never rotate on their own. \
            Key Vault references keep the value in Key Vault, with its access policies, \
            auditing and rotation.",
        remediation: "Give the app a managed identity with Key Vault Secrets User, then Portal: \
            Container app > Settings > Secrets > edit each secret > Key Vault reference. CLI: \
            `az containerapp secret set --resource-group <rg> --name <app> --secrets \
            <name>=keyvaultref:<secret-uri>,identityref:<identity-id>`.",
    },
    Rule {
        target: Target::Items(APPS),
        path: "properties.configuration.secrets",
        expect: Expect::EveryElement {
            path: "keyVaultUrl",
            expect: &SET,
        },
        missing: Missing::Passes,
        when: None,
        pass: "Every secret is a Key Vault reference",
        fail: "Some secrets are stored in the app instead of Key Vault",
        pass_examples: &[
            Example::Json(
                r#"[{"name": "db", "keyVaultUrl": "https://kv.vault.azure.net/secrets/db", "identity": "system"}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
        fail_examples: &[Example::Json(
            r#"[{"name": "db", "keyVaultUrl": "https://kv.vault.azure.net/secrets/db"}, {"name": "apikey"}]"#,
        )],
    },
);

const ENABLED: Expect = Expect::True;

/// Passes when the app's `authConfigs` list has a config whose `properties.platform.enabled` is
/// `true`; only apps with ingress are evaluated (others are not fetched).
///
/// An empty list fails: no auth config means built-in authentication was never set up. Spec
/// (`platform.enabled`): "<code>true</code> if the Authentication / Authorization feature is
/// enabled for the current app; otherwise, <code>false</code>."
pub const AUTH_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "containerapps.auth_enabled",
        title: "Built-in auth enabled",
        severity: Severity::Low,
        description: "Built-in authentication (Easy Auth) makes the platform reject \
            unauthenticated requests before they reach the app, so an app that forgets to check \
            identities is not exposed anonymously.",
        remediation: "Portal: Container app > Security > Authentication > Add identity provider \
            (e.g. Microsoft), Restrict access = Require authentication. CLI: `az containerapp \
            auth microsoft update --resource-group <rg> --name <app> --client-id <app-id> \
            --client-secret <secret> --tenant-id <tenant>` then `az containerapp auth update \
            --resource-group <rg> --name <app> --enabled true --action RedirectToLoginPage`.",
    },
    Rule {
        target: Target::Child {
            parent: APPS,
            child: AUTH_CONFIGS,
        },
        path: "",
        expect: Expect::AnyElement {
            path: "properties.platform.enabled",
            expect: &ENABLED,
        },
        missing: Missing::Fails,
        when: WITH_INGRESS,
        pass: "Built-in authentication is enabled",
        fail: "Built-in authentication is not enabled",
        pass_examples: &[Example::Json(
            r#"[{"name": "current", "properties": {"platform": {"enabled": true}}}]"#,
        )],
        fail_examples: &[
            Example::Json(
                r#"[{"name": "current", "properties": {"platform": {"enabled": false}}}]"#,
            ),
            Example::Json("[]"),
            Example::Absent,
        ],
    },
);

/// Passes when the environment's `properties.vnetConfiguration.internal` is `true`.
///
/// Absent fails. Spec: "Boolean indicating the environment only has an internal load balancer.
/// These environments do not have a public static IP resource. They must provide
/// infrastructureSubnetId if enabling this property"; an environment without a VNet
/// configuration has a public endpoint.
pub const ENV_INTERNAL: Check = Check::rule(
    CheckMeta {
        id: "containerapps.env_internal",
        title: "Environment is VNet-internal",
        severity: Severity::Medium,
        description: "An external environment has a public IP through which every app with \
            external ingress is reachable from the internet. An internal environment exposes \
            apps only inside its virtual network.",
        remediation: "Internal mode is fixed at creation: create a new environment in a VNet \
            with Virtual IP = Internal and move the apps. Portal: Create Container Apps \
            environment > Networking > Use your own virtual network = Yes, Virtual IP = \
            Internal. CLI: `az containerapp env create --resource-group <rg> --name <env> \
            --location <region> --infrastructure-subnet-resource-id <subnet-id> --internal-only \
            true`.",
    },
    Rule {
        target: Target::Items(ENVIRONMENTS),
        path: "properties.vnetConfiguration.internal",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "The environment is internal to its virtual network",
        fail: "The environment has a public endpoint",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
)
.none_in_scope("No Container Apps environments in the selected regions");
