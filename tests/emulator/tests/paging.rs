//! Paging quirks per subscription: the last page's `nextLink` as `""` or `null`, empty pages in
//! between, and a `nextLink` that repeats forever.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn with_paging(paging: &'static str) -> azure_emulator::Scenario {
    unit_scenario_with(|scenario| scenario["subscriptions"][0]["paging"] = json!(paging))
}

fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|item| item["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Follows `nextLink` as a careful client does: ends on absent, null or empty links and stops
/// with an error when a link repeats. Returns the pages, and the last page's `nextLink`.
async fn follow(env: &Env, token: &str) -> Result<(Vec<Vec<String>>, Option<Value>), String> {
    let mut url = env.url(&storage_list_path(SUB));
    let mut seen = vec![url.clone()];
    let mut pages = Vec::new();
    loop {
        let response = env.get_url(Some(token), &url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let page: Value = response.json().await.expect("json");
        pages.push(names(&page));
        match page.get("nextLink") {
            Some(Value::String(next)) if !next.is_empty() => {
                if seen.contains(next) {
                    return Err(format!("nextLink repeats after {} pages", pages.len()));
                }
                seen.push(next.clone());
                url = next.clone();
            }
            last => return Ok((pages, last.cloned())),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_page_may_end_with_an_empty_or_null_link() {
    let expected = vec![vec!["sa1", "sa2"], vec!["sa3", "sa4"], vec!["sa5"]];
    for (paging, last_link) in [
        ("standard", None),
        ("empty_string_next_link", Some(json!(""))),
        ("null_next_link", Some(Value::Null)),
    ] {
        let env = Env::start_with(with_paging(paging)).await;
        let token = env.reader_token().await;
        let (pages, last) = follow(&env, &token).await.expect("paging ends");
        assert_eq!(pages, expected, "{paging}");
        assert_eq!(last, last_link, "{paging}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_pages_come_between_real_ones() {
    let env = Env::start_with(with_paging("empty_pages")).await;
    let token = env.reader_token().await;
    let (pages, last) = follow(&env, &token).await.expect("paging ends");
    let empty: Vec<&str> = Vec::new();
    assert_eq!(
        pages,
        vec![
            vec!["sa1", "sa2"],
            empty.clone(),
            vec!["sa3", "sa4"],
            empty,
            vec!["sa5"]
        ]
    );
    assert_eq!(last, None);
    // A list that fits on one page has no empty pages.
    let response = env
        .arm_get(
            Some(&token),
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts?api-version={API}",
                resource_group_path("rg3")
            ),
        )
        .await;
    assert_eq!(
        names(&response.json::<Value>().await.expect("json")),
        vec!["sa5"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeating_next_link_never_ends() {
    let env = Env::start_with(with_paging("repeating_next_link")).await;
    let token = env.reader_token().await;
    let error = follow(&env, &token).await.expect_err("paging never ends");
    assert_eq!(error, "nextLink repeats after 2 pages");

    // The second page links to itself, with the same items, every time.
    let first: Value = env
        .arm_get(Some(&token), &storage_list_path(SUB))
        .await
        .json()
        .await
        .expect("json");
    let second_url = first["nextLink"].as_str().expect("link").to_owned();
    for _ in 0..3 {
        let page: Value = env
            .get_url(Some(&token), &second_url)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(names(&page), vec!["sa3", "sa4"]);
        assert_eq!(page["nextLink"], second_url.as_str());
    }
}
