//! The check catalogue: every compliance check, its metadata, the ARM data it reads, and its
//! evaluation.
//!
//! It lives in `shared` because both binaries need it: the worker evaluates checks, the scheduler
//! serves the catalogue and plans one job per service. The shape follows "collect once, evaluate
//! many" (DESIGN.md contract 5):
//! - a service declares its [`Collection`]s (ARM lists and per-resource child reads);
//! - each [`Check`] names the collections it reads and is a pure function over a [`Dataset`];
//! - the worker fetches every collection of a service once and evaluates all its checks on it.
//!
//! One file per service (`storage.rs`, `nsg.rs`, ...) holds its collections, checks and unit tests
//! with fixtures shaped like real ARM responses.

pub mod acr;
pub mod aiml;
pub mod aks;
pub mod appconfig;
pub mod appgw;
pub mod appservice;
pub mod automation;
pub mod bastion;
pub mod blob;
pub mod containerapps;
pub mod cosmos;
pub mod dataset;
pub mod db_servers;
pub mod defender;
pub mod diagnostics;
pub mod entra;
pub mod eventgrid;
pub mod eventhub;
pub mod framework;
pub mod frontdoor;
pub mod lb;
pub mod media;
pub mod monitor;
pub mod mysql;
pub mod nsg;
pub mod parts;
pub mod postgres;
pub mod props;
pub mod redis;
pub mod region;
pub mod rule;
#[cfg(test)]
mod rule_examples;
pub mod securitycenter;
pub mod servicebus;
pub mod source;
pub mod sqldb;
pub mod sqlserver;
pub mod storage;
#[cfg(test)]
mod testing;
pub mod vm;
pub mod vmss;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use dataset::{ChildOutcome, Dataset, EvalContext, FetchError, ListOutcome};
pub use diagnostics::LogRule;
pub use rule::{Example, Expect, Missing, Rule, Target, When};
pub use source::{Collection, Source};

use crate::messages::{CheckResult, Finding, FindingStatus};

/// How a check ended (product spec section 5). Exactly one per check per scan.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Azure answered 403 for the data the check needs; shown as Failed, reason "Access Denied".
    FailedAccessDenied,
    NotApplicable,
    Error,
    /// Switched off by the customer with a justification.
    Disabled,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 6] = [
        CheckStatus::Passed,
        CheckStatus::Failed,
        CheckStatus::FailedAccessDenied,
        CheckStatus::NotApplicable,
        CheckStatus::Error,
        CheckStatus::Disabled,
    ];

    /// The machine name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::FailedAccessDenied => "failed_access_denied",
            CheckStatus::NotApplicable => "not_applicable",
            CheckStatus::Error => "error",
            CheckStatus::Disabled => "disabled",
        }
    }
}

impl fmt::Display for CheckStatus {
    /// The words a customer sees.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckStatus::Passed => "Passed",
            CheckStatus::Failed => "Failed",
            CheckStatus::FailedAccessDenied => "Failed - Access Denied",
            CheckStatus::NotApplicable => "Not applicable",
            CheckStatus::Error => "Error",
            CheckStatus::Disabled => "Disabled",
        })
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// What a check is, independent of any scan. Served by the API as the catalogue, together with
/// what is derived from the rest of the catalogue: its framework controls (from
/// [`framework`]'s mapping files) and the permissions its data needs (from the collections it
/// reads).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CheckMeta {
    /// Stable id `service.name`; never reused for a different meaning.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    /// Where to fix it: the portal path and the CLI command.
    pub remediation: &'static str,
}

/// How a check decides.
#[derive(Clone, Copy)]
pub enum Logic {
    /// The declarative form: one property against an expectation (see [`rule`]).
    Rule(Rule),
    /// Declarative too: a resource's logs are exported (see [`diagnostics`]).
    Logs(LogRule),
    /// Real logic over the collected data.
    Custom {
        /// Keys of the collections `evaluate` reads.
        reads: &'static [&'static str],
        /// One finding per in-scope resource. An empty list means "nothing in scope".
        evaluate: fn(&EvalContext<'_>) -> Vec<Finding>,
    },
}

/// A check: metadata, and how it decides over the data of its service's collections.
#[derive(Clone, Copy)]
pub struct Check {
    pub meta: CheckMeta,
    pub logic: Logic,
    /// Reason given when nothing is in scope; the service's when `None`.
    pub none_in_scope: Option<&'static str>,
}

impl Check {
    /// A declarative check.
    pub const fn rule(meta: CheckMeta, rule: Rule) -> Self {
        Self {
            meta,
            logic: Logic::Rule(rule),
            none_in_scope: None,
        }
    }

    /// A declarative "logs are exported" check.
    pub const fn logs(meta: CheckMeta, rule: LogRule) -> Self {
        Self {
            meta,
            logic: Logic::Logs(rule),
            none_in_scope: None,
        }
    }

    /// A check with its own evaluator over the collections it names.
    pub const fn custom(
        meta: CheckMeta,
        reads: &'static [&'static str],
        evaluate: fn(&EvalContext<'_>) -> Vec<Finding>,
    ) -> Self {
        Self {
            meta,
            logic: Logic::Custom { reads, evaluate },
            none_in_scope: None,
        }
    }

    /// Overrides the service's "nothing in scope" reason.
    pub const fn none_in_scope(mut self, reason: &'static str) -> Self {
        self.none_in_scope = Some(reason);
        self
    }

    /// Keys of the collections the check reads. If one of them could not be fetched, the check
    /// ends from that error (access denied, not applicable, error) without being evaluated.
    pub fn reads(&self) -> Vec<&'static str> {
        match &self.logic {
            Logic::Rule(rule) => rule.target.reads(),
            Logic::Logs(rule) => rule.reads(),
            Logic::Custom { reads, .. } => reads.to_vec(),
        }
    }

    /// One finding per in-scope resource.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> Vec<Finding> {
        match &self.logic {
            Logic::Rule(rule) => rule.evaluate(ctx),
            Logic::Logs(rule) => rule.evaluate(ctx),
            Logic::Custom { evaluate, .. } => evaluate(ctx),
        }
    }

    /// The declarative rule, if the check is one.
    pub fn as_rule(&self) -> Option<&Rule> {
        match &self.logic {
            Logic::Rule(rule) => Some(rule),
            Logic::Logs(_) | Logic::Custom { .. } => None,
        }
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("id", &self.meta.id).finish()
    }
}

/// One of the 30 services: a job scans exactly one.
#[derive(Debug, Clone, Copy)]
pub struct ServiceDef {
    /// Short id used in job messages and check ids, e.g. `storage`.
    pub id: &'static str,
    /// Name as the product lists it, e.g. "Storage Accounts".
    pub name: &'static str,
    pub collections: &'static [Collection],
    pub checks: &'static [Check],
    /// Reason given when a check finds nothing in scope, e.g. "No storage accounts in the
    /// selected regions" (a check may override it).
    pub none_in_scope: &'static str,
}

impl ServiceDef {
    pub fn collection(&self, key: &str) -> Option<&'static Collection> {
        self.collections.iter().find(|c| c.key == key)
    }

    /// The permissions a check's data needs: those of the collections it reads, in order,
    /// without repeats.
    pub fn permissions_of(&self, check: &Check) -> Vec<&'static str> {
        let mut permissions = Vec::new();
        for key in check.reads() {
            if let Some(c) = self.collection(key)
                && !permissions.contains(&c.permission)
            {
                permissions.push(c.permission);
            }
        }
        permissions
    }

    pub fn check(&self, id: &str) -> Option<&'static Check> {
        self.checks.iter().find(|c| c.meta.id == id)
    }
}

/// Every service the fleet scans, in a fixed order (the list is explicit so that it is
/// greppable and deterministic).
pub fn catalogue() -> &'static [ServiceDef] {
    static SERVICES: [ServiceDef; 30] = [
        nsg::SERVICE,
        storage::SERVICE,
        appgw::SERVICE,
        frontdoor::SERVICE,
        lb::SERVICE,
        bastion::SERVICE,
        eventgrid::SERVICE,
        eventhub::SERVICE,
        servicebus::SERVICE,
        appconfig::SERVICE,
        aiml::SERVICE,
        media::SERVICE,
        acr::SERVICE,
        aks::SERVICE,
        appservice::SERVICE,
        automation::SERVICE,
        containerapps::SERVICE,
        vm::SERVICE,
        vmss::SERVICE,
        sqlserver::SERVICE,
        sqldb::SERVICE,
        postgres::SERVICE,
        mysql::SERVICE,
        cosmos::SERVICE,
        redis::SERVICE,
        blob::SERVICE,
        defender::SERVICE,
        securitycenter::SERVICE,
        monitor::SERVICE,
        entra::SERVICE,
    ];
    &SERVICES
}

pub fn service(id: &str) -> Option<&'static ServiceDef> {
    catalogue().iter().find(|s| s.id == id)
}

pub fn check(id: &str) -> Option<&'static Check> {
    catalogue()
        .iter()
        .flat_map(|s| s.checks.iter())
        .find(|c| c.meta.id == id)
}

/// The service a check belongs to.
pub fn service_of(check_id: &str) -> Option<&'static ServiceDef> {
    catalogue().iter().find(|s| s.check(check_id).is_some())
}

/// Evaluates one check over collected data and turns its findings into a result.
pub fn run_check(service: &ServiceDef, check: &Check, ctx: &EvalContext<'_>) -> CheckResult {
    for key in check.reads() {
        if let Some(err) = ctx.dataset.failure(key) {
            return result_from_fetch_error(check, err);
        }
    }
    let findings = check.evaluate(ctx);
    let none_in_scope = check.none_in_scope.unwrap_or(service.none_in_scope);
    summarize(check, findings, none_in_scope)
}

fn result_from_fetch_error(check: &Check, err: &FetchError) -> CheckResult {
    let (status, missing_permission) = match err {
        FetchError::AccessDenied { action, .. } => {
            (CheckStatus::FailedAccessDenied, Some(action.clone()))
        }
        FetchError::NotApplicable { .. } => (CheckStatus::NotApplicable, None),
        FetchError::Error { .. } => (CheckStatus::Error, None),
    };
    CheckResult {
        check_id: check.meta.id.to_string(),
        status,
        reason: err.reason(),
        missing_permission,
        findings: Vec::new(),
    }
}

/// Derives the check status from per-resource findings: a proven failure wins, then access
/// denied, then other errors; all passing (or not applicable) is a pass; nothing is N/A.
pub fn summarize(check: &Check, findings: Vec<Finding>, none_in_scope: &str) -> CheckResult {
    let mut tally = Tally::default();
    findings.iter().for_each(|f| tally.add(f));
    CheckResult {
        findings,
        ..tally.verdict(check, none_in_scope)
    }
}

/// What [`summarize`] counts of findings, one at a time: a check's findings gathered from many
/// pieces are summarized without ever being held together.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    total: usize,
    failed: usize,
    denied: usize,
    errors: usize,
    passed: usize,
    /// The permission named by the first access-denied finding that names one.
    denied_action: Option<String>,
}

impl Tally {
    pub fn add(&mut self, finding: &Finding) {
        self.total += 1;
        match finding.status {
            FindingStatus::Failed => self.failed += 1,
            FindingStatus::AccessDenied => {
                self.denied += 1;
                if self.denied_action.is_none() {
                    self.denied_action = finding
                        .evidence
                        .iter()
                        .find(|e| e.property == dataset::DENIED_ACTION_PROPERTY)
                        .and_then(|e| e.value.as_str().map(str::to_string));
                }
            }
            FindingStatus::Error => self.errors += 1,
            FindingStatus::Passed => self.passed += 1,
            FindingStatus::NotApplicable => {}
        }
    }

    /// The check's status, reason and missing permission over the findings counted (the
    /// result's findings are left empty for the caller).
    pub fn verdict(self, check: &Check, none_in_scope: &str) -> CheckResult {
        let (total, failed, denied, errors, passed) = (
            self.total,
            self.failed,
            self.denied,
            self.errors,
            self.passed,
        );
        let (status, reason) = if failed > 0 {
            (
                CheckStatus::Failed,
                format!("{failed} of {total} resources fail: {}", check.meta.title),
            )
        } else if denied > 0 {
            (
                CheckStatus::FailedAccessDenied,
                format!("Access Denied: {denied} of {total} resources could not be read"),
            )
        } else if errors > 0 {
            (
                CheckStatus::Error,
                format!("{errors} of {total} resources could not be read"),
            )
        } else if passed > 0 {
            (
                CheckStatus::Passed,
                format!("All {passed} resources in scope pass"),
            )
        } else {
            (CheckStatus::NotApplicable, none_in_scope.to_string())
        };
        CheckResult {
            check_id: check.meta.id.to_string(),
            status,
            reason,
            missing_permission: if status == CheckStatus::FailedAccessDenied {
                self.denied_action
            } else {
                None
            },
            findings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_ids_are_unique_well_formed_and_consistent() {
        let mut seen = HashSet::new();
        for service in catalogue() {
            for check in service.checks {
                let id = check.meta.id;
                assert!(seen.insert(id), "duplicate check id {id}");
                assert!(
                    id.starts_with(&format!("{}.", service.id)),
                    "{id} must start with its service id {}",
                    service.id
                );
                assert!(!check.meta.title.is_empty() && !check.meta.remediation.is_empty());
                assert!(
                    !service.permissions_of(check).is_empty(),
                    "{id} names no permission"
                );
                assert!(
                    !check
                        .none_in_scope
                        .unwrap_or(service.none_in_scope)
                        .is_empty()
                );
                for key in check.reads() {
                    assert!(
                        service.collection(key).is_some(),
                        "{id} reads unknown collection {key}"
                    );
                }
            }
            for c in service.collections {
                if let Some(parent) = c.source.parent() {
                    assert!(service.collection(parent).is_some(), "{} parent", c.key);
                }
            }
        }
    }
}
