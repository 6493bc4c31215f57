//! The `azure-emulator` binary: ready line, CA file, serving, and a clean stop on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn prints_its_address_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("azure-emulator-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_file = dir.join("ca.pem");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/unit.json");

    let mut child = Command::new(env!("CARGO_BIN_EXE_azure-emulator"))
        .args([
            "--scenario",
            scenario,
            "--listen",
            "127.0.0.1:0",
            "--ca-out",
        ])
        .arg(&ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("ready line");

    let ready: Value = serde_json::from_str(line.trim()).expect("one JSON line");
    let base_url = ready["base_url"].as_str().expect("base_url").to_owned();
    assert!(base_url.starts_with("https://localhost:"), "{base_url}");
    assert_eq!(ready["ca_file"], ca_file.display().to_string());

    let ca_pem = std::fs::read_to_string(&ca_file).expect("CA written");
    let http = client_for(&ca_pem);
    let response = http
        .post(format!("{base_url}/{TENANT}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", READER_CLIENT),
            ("client_secret", READER_SECRET),
            ("scope", ARM_SCOPE),
        ])
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the emulator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "clean exit, got {exit}");
    let _ = std::fs::remove_dir_all(&dir);
}
