//! The app settings that are one property each: declarative checks over the site list and each
//! site's `config/web` and `config/authsettingsV2` (see `checks::rule`).

use super::{AUTH_SETTINGS, SITE_CONFIGS, SITES};
use crate::checks::{Check, CheckMeta, Example, Expect, Missing, Rule, Severity, Target};

/// Passes when the site's `properties.httpsOnly` is `true`.
///
/// Absent fails. Spec: "HttpsOnly: configures a web site to accept only https requests. Issues
/// redirect for http requests" — no default is documented and sites are created with it off.
pub const HTTPS_ONLY: Check = Check::rule(
    CheckMeta {
        id: "appservice.https_only",
        title: "App redirects HTTP to HTTPS",
        severity: Severity::High,
        description: "An app that answers plain HTTP exposes requests, cookies and tokens to \
            anyone on the network path. HTTPS Only redirects every HTTP request to HTTPS.",
        remediation: "Portal: App Service (or Function App) > Settings > Configuration > \
            General settings > HTTPS Only = On. CLI: `az webapp update --resource-group <rg> \
            --name <app> --https-only true` (`az functionapp update ... --set httpsOnly=true` \
            for function apps).",
    },
    Rule {
        target: Target::Items(SITES),
        path: "properties.httpsOnly",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "HTTP requests are redirected to HTTPS",
        fail: "The app answers plain HTTP",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

const CONFIG: Target = Target::Child {
    parent: SITES,
    child: SITE_CONFIGS,
};

/// Passes when `config/web`'s `properties.minTlsVersion` is `1.2` or `1.3`.
///
/// Absent fails. Spec: "MinTlsVersion: configures the minimum version of TLS required for SSL
/// requests" — no default is documented; apps created before 2019 defaulted to 1.0.
pub const MIN_TLS_12: Check = Check::rule(
    CheckMeta {
        id: "appservice.min_tls_12",
        title: "Minimum inbound TLS 1.2",
        severity: Severity::High,
        description: "TLS 1.0 and 1.1 have known weaknesses and are deprecated; an app that \
            accepts them lets clients, or an attacker downgrading a connection, use a weak \
            protocol.",
        remediation: "Portal: App Service > Settings > Configuration > General settings > \
            Minimum Inbound TLS Version = 1.2. CLI: `az webapp config set --resource-group <rg> \
            --name <app> --min-tls-version 1.2` (`az functionapp config set ...` for function \
            apps).",
    },
    Rule {
        target: CONFIG,
        path: "properties.minTlsVersion",
        expect: Expect::OneOf(&["1.2", "1.3"]),
        missing: Missing::Fails,
        when: None,
        pass: "Inbound connections need TLS 1.2 or later",
        fail: "Inbound TLS older than 1.2 is accepted",
        pass_examples: &[Example::Str("1.2"), Example::Str("1.3")],
        fail_examples: &[Example::Str("1.0"), Example::Str("1.1"), Example::Absent],
    },
);

/// Passes when `config/web`'s `properties.ftpsState` is `Disabled` or `FtpsOnly`.
///
/// Absent fails. Spec: "State of FTP / FTPS service" (`AllAllowed`, `FtpsOnly`, `Disabled`);
/// apps are created with `AllAllowed`.
pub const FTP_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "appservice.ftp_disabled",
        title: "FTP off or FTPS-only",
        severity: Severity::Medium,
        description: "Plain FTP sends deployment credentials and files unencrypted, so anyone on \
            the path can steal the credentials and replace the app's code. Allow FTPS only, or \
            disable FTP deployment altogether.",
        remediation: "Portal: App Service > Settings > Configuration > General settings > FTP \
            state = FTPS only (or Disabled). CLI: `az webapp config set --resource-group <rg> \
            --name <app> --ftps-state FtpsOnly` (`az functionapp config set ...` for function \
            apps).",
    },
    Rule {
        target: CONFIG,
        path: "properties.ftpsState",
        expect: Expect::OneOf(&["Disabled", "FtpsOnly"]),
        missing: Missing::Fails,
        when: None,
        pass: "FTP is disabled or FTPS-only",
        fail: "Plain FTP deployment is allowed",
        pass_examples: &[Example::Str("Disabled"), Example::Str("FtpsOnly")],
        fail_examples: &[Example::Str("AllAllowed"), Example::Absent],
    },
);

/// Passes when `config/web`'s `properties.remoteDebuggingEnabled` is `false`.
///
/// Absent passes. Spec: "<code>true</code> if remote debugging is enabled; otherwise,
/// <code>false</code>." — only `true` turns it on.
pub const REMOTE_DEBUGGING_OFF: Check = Check::rule(
    CheckMeta {
        id: "appservice.remote_debugging_off",
        title: "Remote debugging disabled",
        severity: Severity::High,
        description: "Remote debugging opens extra ports on the app's workers and lets a \
            debugger attach to the live process, read its memory and change its execution. It \
            is meant for short sessions and is often left on.",
        remediation: "Portal: App Service > Settings > Configuration > General settings > \
            Remote debugging = Off. CLI: `az webapp config set --resource-group <rg> --name \
            <app> --remote-debugging-enabled false` (`az functionapp config set ...` for \
            function apps).",
    },
    Rule {
        target: CONFIG,
        path: "properties.remoteDebuggingEnabled",
        expect: Expect::False,
        missing: Missing::Passes,
        when: None,
        pass: "Remote debugging is off",
        fail: "Remote debugging is on",
        pass_examples: &[Example::Bool(false), Example::Absent],
        fail_examples: &[Example::Bool(true)],
    },
);

/// Passes when `config/authsettingsV2`'s `properties.platform.enabled` is `true`.
///
/// Absent fails (also when the settings object is absent). Spec: "<code>true</code> if the
/// Authentication / Authorization feature is enabled for the current app; otherwise,
/// <code>false</code>."
pub const AUTH_ENABLED: Check = Check::rule(
    CheckMeta {
        id: "appservice.auth_enabled",
        title: "Built-in authentication enabled",
        severity: Severity::Medium,
        description: "App Service authentication (Easy Auth) makes the platform authenticate \
            callers before requests reach the app, so an app that forgets to check identities \
            is not exposed anonymously.",
        remediation: "Portal: App Service > Settings > Authentication > Add identity provider \
            (e.g. Microsoft), Restrict access = Require authentication. CLI: `az webapp auth \
            update --resource-group <rg> --name <app> --enabled true --action \
            LoginWithAzureActiveDirectory` (then configure the provider with `az webapp auth \
            microsoft update ...`).",
    },
    Rule {
        target: Target::Child {
            parent: SITES,
            child: AUTH_SETTINGS,
        },
        path: "properties.platform.enabled",
        expect: Expect::True,
        missing: Missing::Fails,
        when: None,
        pass: "Built-in authentication is enabled",
        fail: "Built-in authentication is not enabled",
        pass_examples: &[Example::Bool(true)],
        fail_examples: &[Example::Bool(false), Example::Absent],
    },
);

/// Passes when the site's `properties.publicNetworkAccess` is `Disabled`.
///
/// Absent fails. Spec: "Property to allow or block all public traffic. Allowed Values:
/// 'Enabled', 'Disabled' or an empty string." An empty string or no value leaves the app's
/// public endpoint open (subject only to access restrictions).
pub const PUBLIC_ACCESS_DISABLED: Check = Check::rule(
    CheckMeta {
        id: "appservice.public_access_disabled",
        title: "Public network access disabled",
        severity: Severity::Medium,
        description: "An app with public network access is reachable from the internet. \
            Disabling it limits the app to private endpoints (and the virtual networks that \
            reach them).",
        remediation: "Create a private endpoint for the app first, then Portal: App Service > \
            Settings > Networking > Public network access = Disabled. CLI: `az resource update \
            --resource-group <rg> --name <app> --resource-type Microsoft.Web/sites --set \
            properties.publicNetworkAccess=Disabled`.",
    },
    Rule {
        target: Target::Items(SITES),
        path: "properties.publicNetworkAccess",
        expect: Expect::Equals("Disabled"),
        missing: Missing::Fails,
        when: None,
        pass: "Public network access is disabled",
        fail: "Public network access is not disabled",
        pass_examples: &[Example::Str("Disabled")],
        fail_examples: &[Example::Str("Enabled"), Example::Str(""), Example::Absent],
    },
);
