//! The whole path: create the demo connection through the API -> first scan enqueued ->
//! workers (tokens from the emulator's Entra, data from its ARM) -> results queue -> ingest ->
//! Redis. The results must equal the scenario's expectations, check by check and resource by
//! resource.

use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_scenario_json, demo_with_unique_secret};
use shared::checks::CheckStatus;
use shared::store::ConnectionState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_scan_matches_the_scenario_check_by_check() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let (id, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = scan.expect("a first scan is enqueued on create");
    fleet
        .wait_for_scan(id, scan, Duration::from_secs(120))
        .await
        .expect("scan completes");

    let latest = fleet.store.latest_results(id).await.expect("results");
    let demo = demo_scenario_json();
    let expectations = demo["expectations"].as_object().expect("expectations");
    let catalogue_checks: usize = shared::checks::catalogue()
        .iter()
        .map(|s| s.checks.len())
        .sum();
    assert_eq!(
        latest.len(),
        catalogue_checks,
        "one latest result per check"
    );
    assert_eq!(
        expectations.len(),
        catalogue_checks,
        "the scenario states every check"
    );
    let mismatches = e2e::compare_with_expectations(&latest, &demo["expectations"]);
    assert!(
        mismatches.is_empty(),
        "results differ from the scenario:\n{}",
        mismatches.join("\n")
    );

    // Out-of-region resources never appear.
    for r in &latest {
        for f in &r.result.findings {
            assert!(
                !f.resource_name.contains("japan"),
                "{} leaked {}",
                r.result.check_id,
                f.resource_name
            );
        }
    }

    // The connection is Active, counts add up, the next scan is planned within a week.
    let record = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    let status = fleet
        .store
        .status(&record, chrono::Utc::now())
        .await
        .expect("status");
    assert_eq!(status.state, ConnectionState::Active);
    assert_eq!(status.last_completed_scan_id, Some(scan));
    assert_eq!(
        status.counts.values().sum::<u64>() as usize,
        catalogue_checks
    );
    let failed = expectations
        .values()
        .filter(|e| e["status"] == "failed")
        .count() as u64;
    assert_eq!(
        status
            .counts
            .get(&CheckStatus::Failed)
            .copied()
            .unwrap_or(0),
        failed
    );
    let next = status.next_scan_at.expect("next scan planned");
    assert!(next > chrono::Utc::now() && next < chrono::Utc::now() + chrono::Duration::days(7));

    // One history entry per check after one scan.
    for check_id in expectations.keys() {
        assert_eq!(
            fleet.store.history_len(id, check_id).await.expect("xlen"),
            1,
            "{check_id}"
        );
    }

    // The API serves the same.
    let (code, body) = fleet
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{id}/results"),
            None,
        )
        .await
        .expect("api");
    assert_eq!(code, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(catalogue_checks));
    let (code, body) = fleet
        .call(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
        .await
        .expect("api");
    assert_eq!(code, 200);
    assert_eq!(body["status"]["state"], "active");
    assert!(body.get("client_secret").is_none());

    // ARM calls: report them against the minimum the scenario needs.
    let counters = fleet.emulator.counters();
    let sub = demo["subscriptions"][0]["id"].as_str().expect("sub");
    let calls = |validation: bool| -> u64 {
        counters
            .by_endpoint
            .iter()
            .filter(|(k, _)| k.starts_with("GET /subscriptions"))
            .filter(|(k, _)| {
                // Validation reads the principal's permissions, its role assignments and its
                // roles by id; scans read other Microsoft.Authorization lists (policy
                // assignments, custom role definitions).
                let is_validation = [
                    "Microsoft.Authorization/permissions",
                    "Microsoft.Authorization/roleAssignments",
                    "Microsoft.Authorization/roleDefinitions/",
                ]
                .iter()
                .any(|p| k.contains(p))
                    || **k == format!("GET /subscriptions/{sub}");
                is_validation == validation
            })
            .map(|(_, v)| *v)
            .sum()
    };
    let tokens: u64 = counters.token_requests_by_client.values().sum();
    eprintln!(
        "ARM requests: validation {}, demo scan {}; token requests: {tokens}",
        calls(true),
        calls(false)
    );
    // The demo subscription pages by 2, so a list of n items is ceil(n/2) calls.
    // Storage: 2 list pages + 2 file services; NSG: 3 + 1 + 2 list pages + 2 flow-log lists.
    // Network and edge (48, lists at 2 items a page, children only for in-scope parents that
    // can have them): appgw 2 + 2; frontdoor 2 + 2 pages + 4 child lists for each of the 2
    // Front Door profiles (none for the CDN profile); lb 2 + 2; bastion 2 + 1 + 3 diagnostic
    // settings; eventgrid 2 + 1; eventhub 2 + 3 rule sets; servicebus 2 + 2 (Premium only);
    // appconfig 2; aiml 2 + 2 + 2 diagnostic settings (OpenAI / AIServices only); media 2.
    // Compute (page size 2, japaneast items are listed too): VM 2 + 2 + 2 list pages + 3
    // extension lists = 9; VMSS 2; AKS 2; ACR 2; Container Apps 3 + 2 list pages + 3 auth-config
    // lists (apps with ingress) = 8; App Service 2 list pages + 3 x (config/web, authsettingsV2,
    // publishing policies) = 11; Automation 2 list pages + 3 account GETs + 3 variable lists = 8.
    // Data services (page size 2): SQL Server 2 + 4 children x 3 servers = 14; SQL Databases
    // 2 + 3 server auditing + 4 database-list pages + 3 children x 4 user databases = 21;
    // PostgreSQL 2 + 3 configuration pages x 3 + 2 firewall lists + 1 = 14; MySQL 2 + 2 x 3 + 2
    // + 1 = 11; Cosmos DB 2; Redis 2; Blob 2 + 3 blob services + 1 container list + 3
    // diagnostic-settings lists = 9.
    // Defender: 7 pricing pages (13 plans) + 2 setting pages; Security Center: 1 contact page +
    // 1 policy-assignment page + 2 assessment pages; Monitor: 1 activity-log setting page + 2
    // alert pages + 2 workspace pages + 2 storage pages (the log account's join); Entra ID: 1
    // custom-role page. Security Center's assessments cover every resource of the demo, which
    // the other services' resources make one page longer (+1).
    assert_eq!(
        calls(false),
        12 + 48 + 42 + 73 + 9 + 4 + 7 + 1 + 1,
        "{:#?}",
        counters.by_endpoint
    );
    // Subscription, permissions, role assignments, and the custom role's name.
    assert_eq!(calls(true), 4, "{:#?}", counters.by_endpoint);
    assert!(
        tokens <= 6,
        "one ARM and at most one Graph token per principal per process (scheduler + 2 workers): {tokens}"
    );

    fleet.shutdown().await.expect("cleanup");
}
