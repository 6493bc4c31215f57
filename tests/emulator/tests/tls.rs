//! The server certificate names `localhost`, `127.0.0.1` and any extra names it is given, so
//! clients reaching the emulator by another host name (a compose service) verify it.

use azure_emulator::{EmulatorOptions, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_names_are_in_the_server_certificate() {
    let emulator = azure_emulator::start(
        Scenario::from_json("{}").expect("empty scenario"),
        EmulatorOptions {
            tls_names: vec!["azure-emulator".into()],
            ..EmulatorOptions::default()
        },
    )
    .await
    .expect("emulator");
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).expect("ca");
    let client = |host: &str| {
        reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .resolve(host, emulator.local_addr())
            .build()
            .expect("client")
    };
    let port = emulator.local_addr().port();
    for host in ["azure-emulator", "localhost"] {
        let status = client(host)
            .get(format!("https://{host}:{port}/_emulator/requests"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e}"))
            .status();
        assert_eq!(status, 200, "{host}");
    }
    // A name the certificate does not carry fails verification.
    let err = client("other-host")
        .get(format!("https://other-host:{port}/_emulator/requests"))
        .send()
        .await;
    assert!(err.is_err());
    emulator.shutdown().await;
}
