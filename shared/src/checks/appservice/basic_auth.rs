//! `appservice.basic_auth_disabled`: basic-auth publishing credentials are two policies (FTP
//! and SCM/Kudu), each its own child resource, and both must be off; a check over two children
//! of the same site is a custom evaluator.

use serde_json::Value;

use super::{PUBLISHING_POLICIES, SITES};
use crate::checks::props::{self, prop_bool, resource_id, resource_name};
use crate::checks::{Check, CheckMeta, ChildOutcome, EvalContext, Severity};
use crate::messages::Finding;

const ALLOW: &str = "properties.allow";

/// Passes when the policies `ftp` and `scm` in `GET {site}/basicPublishingCredentialsPolicies`
/// both have `properties.allow` `false`.
///
/// A policy missing from the list, or without `allow`, fails. Spec: "<code>true</code> to allow
/// access to a publishing method; otherwise, <code>false</code>." Basic authentication is on
/// for apps unless it was switched off, so a missing value is not proof of anything. A policy
/// list that could not be read gives that error (e.g. Access Denied) for the site instead of a
/// verdict.
pub const BASIC_AUTH_DISABLED: Check = Check::custom(
    CheckMeta {
        id: "appservice.basic_auth_disabled",
        title: "Basic-auth publishing credentials off (FTP and SCM)",
        severity: Severity::Medium,
        description: "Basic-auth publishing credentials are a username and password that can \
            deploy code to the app over FTP or Kudu (SCM), bypassing Microsoft Entra ID, MFA \
            and Conditional Access. Disabling them forces deployments through Entra \
            identities.",
        remediation: "Portal: App Service > Settings > Configuration > General settings > SCM \
            Basic Auth Publishing Credentials = Off and FTP Basic Auth Publishing Credentials = \
            Off. CLI: `az resource update --resource-group <rg> --name ftp --namespace \
            Microsoft.Web --resource-type basicPublishingCredentialsPolicies --parent \
            sites/<app> --set properties.allow=false` and the same with `--name scm`.",
    },
    &[SITES, PUBLISHING_POLICIES],
    basic_auth_disabled,
);

/// The `allow` flag of the policy named `name` (`ftp` or `scm`), `None` when it is not there.
fn allowed(policies: &[Value], name: &str) -> Option<bool> {
    policies
        .iter()
        .find(|p| {
            resource_name(p)
                .rsplit('/')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|p| prop_bool(p, ALLOW))
}

fn basic_auth_disabled(ctx: &EvalContext<'_>) -> Vec<Finding> {
    ctx.all_items(SITES)
        .into_iter()
        .map(|site| {
            let policies: &[Value] = match ctx.child(PUBLISHING_POLICIES, resource_id(site)) {
                Some(ChildOutcome::Failed(err)) => {
                    return props::unreadable(site, "the publishing credential policies", err);
                }
                Some(ChildOutcome::Items(items)) => items,
                _ => &[],
            };
            let (ftp, scm) = (allowed(policies, "ftp"), allowed(policies, "scm"));
            let shown = |v: Option<bool>| v.map_or(Value::Null, Value::Bool);
            let evidence = vec![
                props::evidence_value(
                    "basicPublishingCredentialsPolicies/ftp: properties.allow",
                    shown(ftp),
                    "false",
                ),
                props::evidence_value(
                    "basicPublishingCredentialsPolicies/scm: properties.allow",
                    shown(scm),
                    "false",
                ),
            ];
            let on: Vec<&str> = [("FTP", ftp), ("SCM", scm)]
                .into_iter()
                .filter(|(_, allow)| *allow != Some(false))
                .map(|(name, _)| name)
                .collect();
            props::verdict(
                site,
                on.is_empty(),
                evidence,
                "Basic-auth publishing is off for FTP and SCM",
                format!(
                    "Basic-auth publishing credentials are not disabled for {}",
                    on.join(" and ")
                ),
            )
        })
        .collect()
}
