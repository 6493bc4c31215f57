//! The store works on Redis Cluster too (DESIGN.md "Redis"): a three-node cluster, started by
//! this test, under the whole fleet: connection created and validated, scanned, results and
//! history ingested atomically, the planner's claim, rescans, the shared read budget, deletion.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{
    Fleet, FleetOptions, compare_with_expectations, demo_scenario_json, demo_with_unique_secret,
};

/// Three redis-server processes in cluster mode; killed when dropped.
struct Cluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster-bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn start_cluster() -> Cluster {
    let dir = std::env::temp_dir().join(format!("fleet-cluster-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut cluster = Cluster {
        nodes: Vec::new(),
        ports: Vec::new(),
        dir: dir.clone(),
    };
    for _ in 0..3 {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
            ])
            .args([
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        cluster.nodes.push(child);
        cluster.ports.push(port);
    }
    for port in &cluster.ports {
        wait_for(|| redis_cli(*port, &["ping"]).contains("PONG"), "node up");
    }
    let addresses: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let status = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli runs");
    assert!(status.success(), "cluster created");
    for port in &cluster.ports {
        wait_for(
            || redis_cli(*port, &["cluster", "info"]).contains("cluster_state:ok"),
            "cluster ok",
        );
    }
    cluster
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait_for(check: impl Fn() -> bool, what: &str) {
    for _ in 0..200 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_whole_fleet_runs_on_redis_cluster() {
    let cluster = start_cluster();
    let nodes: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            redis: Some((nodes.join(","), true)),
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet on the cluster");
    assert!(fleet.store.is_cluster());

    let created = fleet.create_demo_connection(&secret).await;
    if created.is_err() {
        for line in e2e::captured_logs().lines().filter(|l| l.contains("ERROR")) {
            eprintln!("{line}");
        }
    }
    let (id, scan) = created.expect("create and validate");
    fleet
        .wait_for_scan(id, scan.expect("first scan"), Duration::from_secs(120))
        .await
        .expect("scan");
    let latest = fleet.store.latest_results(id).await.expect("results");
    let mismatches = compare_with_expectations(&latest, &demo_scenario_json()["expectations"]);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(
        fleet
            .store
            .history_len(id, "storage.min_tls_12")
            .await
            .expect("history"),
        1
    );

    // The planner's claim (a script over the schedule's two keys) and a scheduled scan.
    fleet
        .store
        .schedule_at(id, chrono::Utc::now() - chrono::Duration::seconds(1))
        .await
        .expect("due");
    e2e::wait_until("the scheduled scan", Duration::from_secs(120), || async {
        fleet.store.scan_summaries_len(id).await.expect("summaries") >= 4
    })
    .await;
    // Rescans, through the API and the rescan consumer.
    let rescan = fleet.rescan(id, Some(&["nsg"])).await.expect("rescan");
    fleet
        .wait_for_scan(id, rescan, Duration::from_secs(120))
        .await
        .expect("rescan completes");
    let (code, body) = fleet
        .call(
            reqwest::Method::GET,
            "/v1/connections?organization_id=contoso",
            None,
        )
        .await
        .expect("list");
    assert_eq!(code, 200);
    assert_eq!(body[0]["status"]["state"], "active");

    // The shared read budget lives in the cluster too.
    let budget_keys: usize = cluster
        .ports
        .iter()
        .map(|p| {
            redis_cli(
                *p,
                &["--scan", "--pattern", &format!("{}limit:*", fleet.prefix)],
            )
            .lines()
            .count()
        })
        .sum();
    assert!(budget_keys >= 1, "limiter buckets in the cluster");

    // Deleting removes everything of the connection (no SCAN needed).
    let (code, _) = fleet
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/connections/{id}"),
            None,
        )
        .await
        .expect("delete");
    assert_eq!(code, 204);
    let left: Vec<String> = cluster
        .ports
        .iter()
        .flat_map(|p| {
            redis_cli(
                *p,
                &[
                    "--scan",
                    "--pattern",
                    &format!("{}{{conn:{id}}}*", fleet.prefix),
                ],
            )
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        left.is_empty(),
        "keys of the deleted connection remain: {left:?}"
    );
    fleet.shutdown().await.expect("cleanup");
    drop(cluster);
}
