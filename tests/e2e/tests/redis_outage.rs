//! A Redis outage longer than a few delivery attempts loses nothing: the scheduler holds the
//! result it cannot ingest (retrying in place) instead of requeueing it until the broker
//! dead-letters it, and the scan completes once Redis is back. The test runs its own Redis
//! (with an append-only file, as production does) so stopping it disturbs no other test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e::{Fleet, FleetOptions, demo_with_unique_secret, wait_until};

/// A redis-server of this test, restartable on the same port and data folder.
struct OwnRedis {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let dir =
            std::env::temp_dir().join(format!("fleet-outage-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.up();
        redis
    }

    fn up(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        for _ in 0..200 {
            if self.cli(&["ping"]).contains("PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start");
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_redis_outage_dead_letters_nothing_and_the_scan_completes() {
    let mut redis = OwnRedis::start();
    let (scenario, secret) = demo_with_unique_secret();
    let mut raw = serde_json::to_value(&scenario).expect("json");
    // Slow ARM answers, so Redis can go down while the job is collecting.
    raw["arm_latency_ms"] = serde_json::json!(400);
    let scenario = azure_emulator::Scenario::from_json(&raw.to_string()).expect("scenario");
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 1,
            scan_on_create: false,
            redis: Some((redis.url(), false)),
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let scan = fleet.rescan(id, Some(&["storage"])).await.expect("rescan");
    let calls_before = fleet.emulator.counters().total;
    wait_until(
        "the job collects from ARM",
        Duration::from_secs(120),
        || async { fleet.emulator.counters().total > calls_before },
    )
    .await;

    // Down for longer than the result's delivery attempts would last if each were spent on a
    // requeue a second apart (the delivery limit is 5).
    redis.down();
    let results = fleet.topology.results().name;
    wait_until(
        "the result waits for Redis",
        Duration::from_secs(120),
        || async {
            fleet.ready_messages(&results).await.unwrap_or(0) > 0
                || fleet.emulator.counters().total > calls_before + 3
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    redis.up();

    // The test's own store connection reconnects too: an error is "not yet".
    wait_until(
        "the scan completes after the outage",
        Duration::from_secs(120),
        || async {
            matches!(
                fleet.store.scan_progress(id, scan).await,
                Ok(Some(progress)) if progress.completed_at.is_some()
            )
        },
    )
    .await;
    let dead = fleet.topology.results().dead_letter_queue();
    assert_eq!(
        fleet.ready_messages(&dead).await.expect("depth"),
        0,
        "nothing dead-lettered"
    );
    let latest = fleet.store.latest_results(id).await.expect("results");
    assert_eq!(
        latest.len(),
        shared::checks::service("storage")
            .expect("storage")
            .checks
            .len()
    );
    fleet.shutdown().await.expect("cleanup");
}
