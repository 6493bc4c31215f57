//! ARM list paging.
//!
//! A list answers `{"value":[...], "nextLink":"<absolute URL>"}`; the client follows `nextLink`
//! until it is absent. The link repeats the request path and api-version and adds an opaque
//! `$skipToken`, as ARM does, so clients that build on it (or merely follow it) are exercised.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::error::ArmError;

/// What a list request needs to build its pages and links.
pub(crate) struct Listing<'a> {
    /// `host[:port]` the client addressed.
    pub(crate) authority: &'a str,
    /// The request path as received.
    pub(crate) path: &'a str,
    pub(crate) api_version: &'a str,
    pub(crate) skip_token: Option<&'a str>,
}

const TOKEN_PREFIX: &str = "emulator-offset:";

/// One page of `items`, `page_size` long, starting where the skip token says.
pub(crate) fn page(
    items: &[&Value],
    page_size: usize,
    listing: &Listing<'_>,
) -> Result<Value, ArmError> {
    let start = match listing.skip_token {
        Some(token) => decode_skip_token(token).ok_or_else(ArmError::invalid_skip_token)?,
        None => 0,
    };
    let page_size = page_size.max(1);
    let end = start.saturating_add(page_size).min(items.len());
    let value: Vec<&Value> = items.get(start..end).unwrap_or_default().to_vec();
    let mut body = json!({ "value": value });
    if end < items.len() {
        body["nextLink"] = Value::String(next_link(listing, end));
    }
    Ok(body)
}

fn next_link(listing: &Listing<'_>, offset: usize) -> String {
    let api_version: String =
        url::form_urlencoded::byte_serialize(listing.api_version.as_bytes()).collect();
    format!(
        "https://{}{}?api-version={api_version}&%24skipToken={}",
        listing.authority,
        listing.path,
        encode_skip_token(offset)
    )
}

fn encode_skip_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{offset}"))
}

fn decode_skip_token(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(TOKEN_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(skip_token: Option<&str>) -> Listing<'_> {
        Listing {
            authority: "localhost:1",
            path: "/subscriptions/s/providers/A.B/c",
            api_version: "2024-01-01",
            skip_token,
        }
    }

    #[test]
    fn pages_follow_links() {
        let items: Vec<Value> = (0..5).map(|i| json!({ "id": i })).collect();
        let refs: Vec<&Value> = items.iter().collect();
        let first = page(&refs, 2, &listing(None)).expect("page");
        assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
        let link = first["nextLink"].as_str().expect("link");
        assert!(link.starts_with("https://localhost:1/subscriptions/s/providers/A.B/c?api-version=2024-01-01&%24skipToken="));
        let token = link.rsplit('=').next().expect("token");
        let second = page(&refs, 2, &listing(Some(token))).expect("page");
        assert_eq!(second["value"][0]["id"], 2);
        let token = encode_skip_token(4);
        let last = page(&refs, 2, &listing(Some(&token))).expect("page");
        assert_eq!(last["value"].as_array().map(Vec::len), Some(1));
        assert!(last.get("nextLink").is_none());
    }

    #[test]
    fn empty_and_bad_tokens() {
        let empty = page(&[], 2, &listing(None)).expect("page");
        assert_eq!(empty, json!({ "value": [] }));
        assert!(page(&[], 2, &listing(Some("garbage!"))).is_err());
        let beyond = encode_skip_token(99);
        assert_eq!(
            page(&[], 2, &listing(Some(&beyond))).expect("page"),
            json!({ "value": [] })
        );
    }
}
