//! Tests of the Event Grid rules: their examples on both fixtures (topics and domains), and the
//! verdicts per resource over the fixtures.

use chrono::Utc;

use super::settings::{LOCAL_AUTH_RULE, MIN_TLS_RULE, PRIVATE_ENDPOINT_RULE, PUBLIC_ACCESS_RULE};
use super::{DOMAINS, READS, SERVICE, TOPICS};
use crate::checks::rule_examples::{check_rule, fixture};
use crate::checks::{Dataset, EvalContext, ListOutcome, Rule, Target};
use crate::messages::FindingStatus;

const RULES: [(&str, Rule); 4] = [
    ("eventgrid.public_access_disabled", PUBLIC_ACCESS_RULE),
    ("eventgrid.local_auth_disabled", LOCAL_AUTH_RULE),
    ("eventgrid.min_tls_12", MIN_TLS_RULE),
    ("eventgrid.private_endpoint", PRIVATE_ENDPOINT_RULE),
];

#[test]
fn every_rule_meets_its_examples_on_topics_and_domains() {
    let mut problems = Vec::new();
    for (id, rule) in RULES {
        for key in READS {
            let on = Rule {
                target: Target::Items(key),
                ..rule
            };
            problems.extend(check_rule(&SERVICE, id, &on));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn each_check_judges_topics_and_domains() {
    let mut ds = Dataset::default();
    ds.insert_list(TOPICS, ListOutcome::Items(fixture(&SERVICE, TOPICS)));
    ds.insert_list(DOMAINS, ListOutcome::Items(fixture(&SERVICE, DOMAINS)));
    let ctx = EvalContext::new(&ds, Utc::now(), "subid");
    let verdicts = |id: &str| -> Vec<(String, FindingStatus)> {
        let check = SERVICE.check(id).expect("check");
        check
            .evaluate(&ctx)
            .into_iter()
            .map(|f| (f.resource_name, f.status))
            .collect()
    };
    use FindingStatus::{Failed, Passed};
    let expected = [
        ("eventgrid.public_access_disabled", [Passed, Failed, Passed]),
        ("eventgrid.local_auth_disabled", [Passed, Failed, Failed]),
        ("eventgrid.min_tls_12", [Passed, Failed, Passed]),
        ("eventgrid.private_endpoint", [Passed, Failed, Failed]),
    ];
    for (id, statuses) in expected {
        let names = ["egt-orders", "egt-legacy", "egd-tenants"];
        let wanted: Vec<(String, FindingStatus)> =
            names.iter().map(|n| n.to_string()).zip(statuses).collect();
        assert_eq!(verdicts(id), wanted, "{id}");
    }
}

#[test]
fn a_denied_domain_list_fails_every_check_naming_its_permission() {
    let mut ds = Dataset::default();
    ds.insert_list(TOPICS, ListOutcome::Items(Vec::new()));
    ds.insert_list(
        DOMAINS,
        ListOutcome::Failed(crate::checks::FetchError::AccessDenied {
            action: "Microsoft.EventGrid/domains/read".to_string(),
            message: "denied".to_string(),
        }),
    );
    let ctx = EvalContext::new(&ds, Utc::now(), "subid");
    for check in SERVICE.checks {
        let result = crate::checks::run_check(&SERVICE, check, &ctx);
        assert_eq!(
            result.missing_permission.as_deref(),
            Some("Microsoft.EventGrid/domains/read")
        );
    }
}
