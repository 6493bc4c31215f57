//! Framework mappings as data: which checks answer which control of a published benchmark.
//!
//! One file per framework (benchmark + version), each a list of controls with the ids of the
//! checks that answer them, so an auditor's question "what covers CIS 9.3.4?" is answered by
//! reading one table, and a new mapping is one line. The catalogue served by the API derives
//! each check's framework references from these tables ([`refs_of`]). The tests fail when a
//! mapping names a check that does not exist, or when a framework maps a check to a control
//! twice.

mod cis_aks_1_7;
mod cis_compute_2;
mod cis_database_1;
mod cis_foundations_5;
mod cis_foundations_6;

use serde::Serialize;

/// A published benchmark at one version, and its controls that checks answer.
#[derive(Debug, Clone, Copy)]
pub struct Framework {
    pub benchmark: &'static str,
    pub version: &'static str,
    pub controls: &'static [Control],
}

/// One control (recommendation) and the checks that answer it.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    /// The control's number as the benchmark prints it, e.g. `9.3.4`.
    pub id: &'static str,
    pub checks: &'static [&'static str],
}

/// Shorthand for a [`Control`] row.
pub const fn control(id: &'static str, checks: &'static [&'static str]) -> Control {
    Control { id, checks }
}

/// A control in a published benchmark, e.g. CIS Microsoft Azure Foundations 6.0.0, 9.3.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrameworkRef {
    pub benchmark: &'static str,
    pub version: &'static str,
    pub control: &'static str,
}

/// Every framework the catalogue maps to, newest Foundations first.
pub fn frameworks() -> &'static [Framework] {
    static FRAMEWORKS: [Framework; 5] = [
        cis_foundations_6::FRAMEWORK,
        cis_foundations_5::FRAMEWORK,
        cis_database_1::FRAMEWORK,
        cis_compute_2::FRAMEWORK,
        cis_aks_1_7::FRAMEWORK,
    ];
    &FRAMEWORKS
}

/// The controls a check answers, in framework order then table order.
pub fn refs_of(check_id: &str) -> Vec<FrameworkRef> {
    frameworks()
        .iter()
        .flat_map(|f| {
            f.controls
                .iter()
                .filter(move |c| c.checks.contains(&check_id))
                .map(move |c| FrameworkRef {
                    benchmark: f.benchmark,
                    version: f.version,
                    control: c.id,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn mappings_name_existing_checks_once_per_control() {
        for f in frameworks() {
            let mut controls = HashSet::new();
            let mut pairs = HashSet::new();
            for c in f.controls {
                assert!(
                    controls.insert(c.id),
                    "{} {}: control {} is listed twice",
                    f.benchmark,
                    f.version,
                    c.id
                );
                assert!(
                    !c.checks.is_empty(),
                    "{}: control {} maps no check",
                    f.version,
                    c.id
                );
                for id in c.checks {
                    assert!(
                        crate::checks::check(id).is_some(),
                        "{} {} control {} names unknown check {id}",
                        f.benchmark,
                        f.version,
                        c.id
                    );
                    assert!(
                        pairs.insert((c.id, *id)),
                        "{} {}: {id} names control {} twice",
                        f.benchmark,
                        f.version,
                        c.id
                    );
                }
            }
        }
    }

    #[test]
    fn a_check_gets_its_controls_from_the_tables() {
        let refs = refs_of("storage.key_rotation");
        let controls: Vec<&str> = refs.iter().map(|r| r.control).collect();
        assert_eq!(controls, ["9.3.1.1", "9.3.1.2"]);
        assert!(refs.iter().all(|r| r.version == "6.0.0"));
        assert!(refs_of("no.such_check").is_empty());
    }
}
