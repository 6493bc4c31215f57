//! Connection writes that race: the one-connection-per-subscription rule holds when creates
//! arrive at the same moment, and an update that lands after a delete does not bring the
//! connection back.

use e2e::{Fleet, FleetOptions, demo_with_unique_secret};
use futures_util::future::join_all;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_subscription_store_one_connection() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let outcomes = join_all((0..6).map(|_| fleet.create_demo_connection(&secret))).await;
    let created: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "exactly one create wins: {outcomes:?}");
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        let text = refused.to_string();
        assert!(
            text.contains("422") && text.contains("subscription_id"),
            "a field error naming the subscription: {text}"
        );
    }
    let org = e2e::demo_scenario_json()["demo"]["organization_id"]
        .as_str()
        .expect("org")
        .to_string();
    let stored = fleet.store.connections_of(&org).await.expect("list");
    assert_eq!(stored.len(), 1);

    // Deleting it frees the subscription for a new connection.
    let (id, _) = created[0];
    let record = fleet
        .store
        .connection(*id)
        .await
        .expect("get")
        .expect("exists");
    let control = fleet.control().await.expect("control");
    control.delete(&record, "test").await.expect("delete");
    fleet
        .create_demo_connection(&secret)
        .await
        .expect("the subscription can be connected again");
    fleet.shutdown().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_update_after_a_delete_does_not_bring_the_connection_back() {
    let (scenario, secret) = demo_with_unique_secret();
    let fleet = Fleet::start(
        scenario,
        FleetOptions {
            workers: 0,
            scan_on_create: false,
            ..FleetOptions::default()
        },
    )
    .await
    .expect("fleet");
    let (id, _) = fleet.create_demo_connection(&secret).await.expect("create");
    let before = fleet
        .store
        .connection(id)
        .await
        .expect("get")
        .expect("exists");
    let control = fleet.control().await.expect("control");
    // An update read the record, then a delete won the race.
    control.delete(&before, "test").await.expect("delete");
    let mut after = before.clone();
    after.name = "renamed after the delete".into();
    let update = control.update(&before, after, None, "test").await;
    assert!(update.is_err(), "the update is refused");
    assert!(fleet.store.connection(id).await.expect("get").is_none());
    // Through the API it is a 404, as for any missing connection.
    let (status, _) = fleet
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/connections/{id}"),
            Some(serde_json::json!({ "name": "again" })),
        )
        .await
        .expect("call");
    assert_eq!(status, 404);
    fleet.shutdown().await.expect("cleanup");
}
