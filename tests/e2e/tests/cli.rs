//! The command line as operators and customers use it, run as the real `scheduler` binary
//! against a running fleet: tables for people, `--json` for scripts, field errors for bad input,
//! and never the secret in its output.

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use e2e::{Fleet, FleetOptions, demo_scenario_json, demo_with_unique_secret};
use serde_json::Value;

/// The `scheduler` binary of this workspace, built if needed.
fn scheduler_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| e2e::workspace_binary("scheduler", "scheduler"))
        .clone()
}

struct Cli<'a> {
    fleet: &'a Fleet,
    token: String,
    secret: String,
}

impl Cli<'_> {
    fn run(&self, args: &[&str]) -> Output {
        let output = std::process::Command::new(scheduler_binary())
            .args(args)
            .env("FLEET_API_URL", format!("http://{}", self.fleet.api))
            .env("FLEET_API_TOKEN", &self.token)
            .env("FLEET_AMQP_URL", e2e::AMQP_URL)
            .env("FLEET_QUEUE_PREFIX", &self.fleet.prefix)
            .env("AZ_CLIENT_SECRET", &self.secret)
            .output()
            .expect("the CLI runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !text.contains(&self.secret),
            "the secret in the CLI's output: {args:?}"
        );
        output
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).expect("--json prints JSON")
    }
}

/// The operator gives Contoso a token named `portal` (the JSON printed once).
fn portal_token(operator: &Cli<'_>) -> Value {
    operator.json(&[
        "tokens",
        "create",
        "--organization",
        "contoso",
        "--name",
        "portal",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_and_customers_use_the_cli() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let operator = Cli {
        fleet: &fleet,
        token: fleet.operator_token.clone(),
        secret: secret.clone(),
    };

    // The operator gives Contoso its token.
    let created = portal_token(&operator);
    let token = created["token"].as_str().expect("token").to_string();
    assert!(
        operator
            .ok(&["tokens", "list", "--organization", "contoso"])
            .contains("portal")
    );
    let customer = Cli {
        fleet: &fleet,
        token,
        secret: secret.clone(),
    };

    // The customer fills the integration form on the command line and waits for the first scan.
    let demo = demo_scenario_json();
    let cloud = fleet.cloud_json().to_string();
    let tenant = demo["subscriptions"][0]["tenant_id"]
        .as_str()
        .expect("tenant")
        .to_string();
    let client = demo["tenants"][0]["applications"][0]["client_id"]
        .as_str()
        .expect("client")
        .to_string();
    let sub = demo["subscriptions"][0]["id"]
        .as_str()
        .expect("sub")
        .to_string();
    let add = |client_id: &str| {
        vec![
            "connections".to_string(),
            "add".into(),
            "--name".into(),
            "Contoso Production".into(),
            "--tenant-id".into(),
            tenant.clone(),
            "--client-id".into(),
            client_id.to_string(),
            "--subscription-id".into(),
            sub.clone(),
            "--client-secret-env".into(),
            "AZ_CLIENT_SECRET".into(),
            "--regions".into(),
            "eastus,westeurope".into(),
            "--cloud-json".into(),
            cloud.clone(),
        ]
    };
    // A malformed client id: the field and the problem, nothing stored.
    let bad: Vec<String> = add("not-a-guid");
    let output = customer.run(&bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("client_id: must be a GUID"), "{stderr}");

    let mut good = add(&client);
    good.extend(["--wait".to_string(), "--timeout".into(), "60".into()]);
    let out = customer.ok(&good.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.contains("storage.min_tls_12") && out.contains("stlegacylogs"),
        "{out}"
    );
    assert!(out.contains("Failed - Access Denied"), "{out}");
    let id = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("connection ")
                .and_then(|r| r.strip_suffix(" created"))
        })
        .expect("the connection id")
        .to_string();

    let list = customer.ok(&["connections", "list"]);
    assert!(
        list.contains("Contoso Production") && list.contains("active"),
        "{list}"
    );
    assert_eq!(
        customer
            .json(&["connections", "list"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let show = customer.ok(&["connections", "show", &id]);
    assert!(
        show.contains("state: active") && show.contains("Storage Accounts: readable"),
        "{show}"
    );
    assert!(customer.ok(&["next-scan", &id]).contains("weekly slot:"));

    let rescan = customer.ok(&[
        "rescan",
        &id,
        "--service",
        "nsg",
        "--wait",
        "--timeout",
        "60",
    ]);
    assert!(rescan.contains("nsg.rdp_internet"), "{rescan}");
    assert_eq!(
        customer.json(&["results", &id]).as_array().map(Vec::len),
        Some(
            shared::checks::catalogue()
                .iter()
                .map(|s| s.checks.len())
                .sum()
        ),
        "one result per check of the catalogue"
    );

    let updated = customer.ok(&[
        "connections",
        "update",
        &id,
        "--name",
        "Contoso Prod (EU)",
        "--client-secret-env",
        "AZ_CLIENT_SECRET",
    ]);
    assert!(updated.contains("updated"), "{updated}");
    let validated = customer.json(&["connections", "validate", &id]);
    assert_eq!(validated["name"], "Contoso Prod (EU)");
    assert!(
        customer
            .ok(&["audit", "--organization", "contoso"])
            .contains("connection.secret_rotated")
    );

    // Operators look at dead letters straight on the broker.
    let queue = format!("{}scan.jobs.ondemand", fleet.prefix);
    assert!(
        operator
            .ok(&["dead-letters", "list", "--queue", &queue])
            .contains("MESSAGE ID")
    );

    assert!(
        customer
            .ok(&["connections", "delete", &id])
            .contains("deleted")
    );
    assert_eq!(
        customer.json(&["connections", "list"]),
        serde_json::json!([])
    );
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_disable_checks_and_auditors_export_and_verify_the_trail_with_the_cli() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(scenario, FleetOptions::default())
        .await
        .expect("fleet");
    let operator = Cli {
        fleet: &fleet,
        token: fleet.operator_token.clone(),
        secret: secret.clone(),
    };
    let created = portal_token(&operator);
    let token_id = created["record"]["id"].as_str().expect("id").to_string();
    let customer = Cli {
        fleet: &fleet,
        token: created["token"].as_str().expect("token").to_string(),
        secret: secret.clone(),
    };
    let (conn, scan) = fleet.create_demo_connection(&secret).await.expect("create");
    fleet
        .wait_for_scan(
            conn,
            scan.expect("scan"),
            std::time::Duration::from_secs(120),
        )
        .await
        .expect("scan");
    let id = conn.to_string();

    let added = customer.ok(&[
        "exceptions",
        "add",
        "--organization",
        "contoso",
        "--connection",
        &id,
        "--check",
        "nsg.all_ports_internet",
        "--category",
        "governance_policy",
        "--justification",
        "Lab subscription, isolated by policy",
        "--as",
        "ana.lima@contoso.example",
        "--ticket",
        "CHG-7",
    ]);
    assert!(added.contains("created"), "{added}");
    let results = customer.ok(&["results", &id]);
    assert!(
        results
            .lines()
            .any(|l| l.contains("nsg.all_ports_internet") && l.contains("Disabled")),
        "{results}"
    );
    // Every disabled check in force today, with its justification and who approved it.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let in_force = customer.ok(&[
        "exceptions",
        "list",
        "--organization",
        "contoso",
        "--in-force-on",
        &today,
        "--format",
        "csv",
    ]);
    assert_eq!(in_force.lines().count(), 2, "{in_force}");
    assert!(
        in_force.contains("Lab subscription, isolated by policy")
            && in_force.contains("ana.lima@contoso.example")
            && in_force.contains(&token_id),
        "{in_force}"
    );
    let export = customer.ok(&[
        "audit",
        "export",
        "--organization",
        "contoso",
        "--action",
        "exception.",
    ]);
    assert_eq!(export.lines().count(), 2, "{export}");
    assert!(export.contains("exception.created") && export.contains(&token_id));
    assert!(
        customer
            .ok(&["audit", "verify", "--organization", "contoso"])
            .contains("is whole")
    );
    assert!(
        customer
            .ok(&["audit", "--organization", "contoso"])
            .contains("exception.created")
    );

    // An entry removed behind the product's back: verify fails.
    let key = fleet.store.keys().audit("contoso");
    let mut redis = fleet.store.redis();
    let first: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut redis)
        .await
        .expect("xrange");
    let _: i64 = redis::cmd("XDEL")
        .arg(&key)
        .arg(&first[0].0)
        .query_async(&mut redis)
        .await
        .expect("xdel");
    let output = customer.run(&["audit", "verify", "--organization", "contoso"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("NOT whole"));
    fleet.shutdown().await.expect("cleanup");
}

/// `scheduler catalogue --json` prints the whole catalogue offline: no API, broker or store is
/// reachable at the addresses given, and it still answers with every service and check, each
/// with its frameworks, permissions and collections, exactly as the catalogue holds them.
#[test]
fn the_catalogue_command_works_offline() {
    let output = std::process::Command::new(scheduler_binary())
        .args(["catalogue", "--json"])
        .env("FLEET_API_URL", "http://127.0.0.1:9")
        .env("FLEET_AMQP_URL", "amqp://127.0.0.1:9")
        .env("FLEET_REDIS_URL", "redis://127.0.0.1:9")
        .output()
        .expect("the CLI runs");
    assert!(output.status.success(), "{output:?}");
    let services: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let services = services.as_array().expect("a list of services");
    assert_eq!(services.len(), shared::checks::catalogue().len());
    let mut checks = 0;
    for service in services {
        let id = service["id"].as_str().expect("service id");
        let def = shared::checks::service(id).expect("a catalogue service");
        let listed = service["checks"].as_array().expect("checks");
        assert_eq!(listed.len(), def.checks.len(), "{id}");
        for check in listed {
            checks += 1;
            let check_id = check["id"].as_str().expect("check id");
            let expected = def.check(check_id).expect("a catalogue check");
            assert_eq!(check["title"], expected.meta.title);
            assert!(
                !check["permissions"]
                    .as_array()
                    .expect("permissions")
                    .is_empty()
            );
            let collections: Vec<&str> = check["collections"]
                .as_array()
                .expect("collections")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(collections, expected.reads(), "{check_id}");
        }
    }
    assert!(checks >= 17);
    let table = std::process::Command::new(scheduler_binary())
        .arg("catalogue")
        .output()
        .expect("the CLI runs");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("storage.min_tls_12") && text.contains("CIS Foundations 6.0.0 9.3.6"));
    assert!(text.contains(&format!("{checks} checks")), "{text}");
}
