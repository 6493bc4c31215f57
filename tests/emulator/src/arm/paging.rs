//! ARM list paging, and the ways real services get it wrong.
//!
//! A list answers `{"value":[...], "nextLink":"<absolute URL>"}`; the client follows `nextLink`
//! until it is absent. The link repeats the request path and api-version and adds an opaque
//! `$skipToken`, as ARM does, so clients that build on it (or merely follow it) are exercised.
//!
//! A subscription's `paging` setting reproduces quirks seen in the wild (research/arm.md §2): an
//! empty-string or null `nextLink` on the last page, empty pages with a `nextLink` in between,
//! and a `nextLink` that points to its own page forever. Clients must end on `""` and `null`,
//! keep going past empty pages, and stop with an error on a repeating link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::error::ArmError;
use crate::scenario::Paging;

/// What a list request needs to build its pages and links.
pub(crate) struct Listing<'a> {
    /// `host[:port]` the client addressed.
    pub(crate) authority: &'a str,
    /// The request path as received.
    pub(crate) path: &'a str,
    pub(crate) api_version: &'a str,
    pub(crate) skip_token: Option<&'a str>,
    pub(crate) paging: Paging,
    /// `$expand` of the request, repeated in every `nextLink` as ARM does.
    pub(crate) expand: Option<&'a str>,
}

/// Where a skip token points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The page of items starting at this offset.
    Items(usize),
    /// An empty page whose link leads to the items at this offset (`empty_pages`).
    EmptyBefore(usize),
}

const ITEMS_PREFIX: &str = "emulator-offset:";
const EMPTY_PREFIX: &str = "emulator-empty:";

/// One page of `items`, `page_size` long, starting where the skip token says.
pub(crate) fn page(
    items: &[&Value],
    page_size: usize,
    listing: &Listing<'_>,
) -> Result<Value, ArmError> {
    let position = match listing.skip_token {
        Some(token) => decode_skip_token(token).ok_or_else(ArmError::invalid_skip_token)?,
        None => Position::Items(0),
    };
    let start = match position {
        Position::EmptyBefore(offset) => {
            let link = next_link(listing, Position::Items(offset));
            return Ok(json!({ "value": [], "nextLink": link }));
        }
        Position::Items(start) => start,
    };
    let page_size = page_size.max(1);
    let end = start.saturating_add(page_size).min(items.len());
    let value: Vec<&Value> = items.get(start..end).unwrap_or_default().to_vec();
    let mut body = json!({ "value": value });
    let more = end < items.len();
    let link = |position| Value::String(next_link(listing, position));
    let next = match listing.paging {
        Paging::Standard => more.then(|| link(Position::Items(end))),
        Paging::EmptyStringNextLink => Some(if more {
            link(Position::Items(end))
        } else {
            Value::String(String::new())
        }),
        Paging::NullNextLink => Some(if more {
            link(Position::Items(end))
        } else {
            Value::Null
        }),
        Paging::EmptyPages => more.then(|| link(Position::EmptyBefore(end))),
        // The first page leads to the second, which leads to itself.
        Paging::RepeatingNextLink => Some(match listing.skip_token {
            None => link(Position::Items(page_size)),
            Some(_) => link(position),
        }),
    };
    if let Some(next) = next {
        body["nextLink"] = next;
    }
    Ok(body)
}

fn next_link(listing: &Listing<'_>, position: Position) -> String {
    let api_version: String =
        url::form_urlencoded::byte_serialize(listing.api_version.as_bytes()).collect();
    let expand: String = listing.expand.map_or_else(String::new, |expand| {
        let value: String = url::form_urlencoded::byte_serialize(expand.as_bytes()).collect();
        format!("&%24expand={value}")
    });
    format!(
        "https://{}{}?api-version={api_version}{expand}&%24skipToken={}",
        listing.authority,
        listing.path,
        encode_skip_token(position)
    )
}

fn encode_skip_token(position: Position) -> String {
    let text = match position {
        Position::Items(offset) => format!("{ITEMS_PREFIX}{offset}"),
        Position::EmptyBefore(offset) => format!("{EMPTY_PREFIX}{offset}"),
    };
    URL_SAFE_NO_PAD.encode(text)
}

fn decode_skip_token(token: &str) -> Option<Position> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    if let Some(offset) = text.strip_prefix(ITEMS_PREFIX) {
        return offset.parse().ok().map(Position::Items);
    }
    text.strip_prefix(EMPTY_PREFIX)?
        .parse()
        .ok()
        .map(Position::EmptyBefore)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(skip_token: Option<&str>, paging: Paging) -> Listing<'_> {
        Listing {
            authority: "localhost:1",
            path: "/subscriptions/s/providers/A.B/c",
            api_version: "2024-01-01",
            skip_token,
            paging,
            expand: None,
        }
    }

    fn token_of(page: &Value) -> String {
        let link = page["nextLink"].as_str().expect("link");
        link.rsplit('=').next().expect("token").to_owned()
    }

    #[test]
    fn pages_follow_links() {
        let items: Vec<Value> = (0..5).map(|i| json!({ "id": i })).collect();
        let refs: Vec<&Value> = items.iter().collect();
        let first = page(&refs, 2, &listing(None, Paging::Standard)).expect("page");
        assert_eq!(first["value"].as_array().map(Vec::len), Some(2));
        let link = first["nextLink"].as_str().expect("link");
        assert!(link.starts_with("https://localhost:1/subscriptions/s/providers/A.B/c?api-version=2024-01-01&%24skipToken="));
        let token = token_of(&first);
        let second = page(&refs, 2, &listing(Some(&token), Paging::Standard)).expect("page");
        assert_eq!(second["value"][0]["id"], 2);
        let token = encode_skip_token(Position::Items(4));
        let last = page(&refs, 2, &listing(Some(&token), Paging::Standard)).expect("page");
        assert_eq!(last["value"].as_array().map(Vec::len), Some(1));
        assert!(last.get("nextLink").is_none());
    }

    #[test]
    fn empty_and_bad_tokens() {
        let standard = |token| listing(token, Paging::Standard);
        let empty = page(&[], 2, &standard(None)).expect("page");
        assert_eq!(empty, json!({ "value": [] }));
        assert!(page(&[], 2, &standard(Some("garbage!"))).is_err());
        let beyond = encode_skip_token(Position::Items(99));
        assert_eq!(
            page(&[], 2, &standard(Some(&beyond))).expect("page"),
            json!({ "value": [] })
        );
    }

    #[test]
    fn last_pages_with_empty_or_null_links() {
        let items = [json!(1), json!(2)];
        let refs: Vec<&Value> = items.iter().collect();
        let first = page(&refs, 1, &listing(None, Paging::EmptyStringNextLink)).expect("page");
        let token = token_of(&first);
        let last = page(
            &refs,
            1,
            &listing(Some(&token), Paging::EmptyStringNextLink),
        )
        .expect("page");
        assert_eq!(last, json!({ "value": [2], "nextLink": "" }));
        let only = page(&refs, 5, &listing(None, Paging::NullNextLink)).expect("page");
        assert_eq!(only, json!({ "value": [1, 2], "nextLink": null }));
    }

    #[test]
    fn empty_pages_come_between_real_ones() {
        let items: Vec<Value> = (0..3).map(|i| json!(i)).collect();
        let refs: Vec<&Value> = items.iter().collect();
        let mut values = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let body =
                page(&refs, 2, &listing(token.as_deref(), Paging::EmptyPages)).expect("page");
            values.push(body["value"].clone());
            match body.get("nextLink") {
                Some(_) => token = Some(token_of(&body)),
                None => break,
            }
        }
        assert_eq!(values, vec![json!([0, 1]), json!([]), json!([2])]);
    }

    #[test]
    fn the_second_page_repeats_forever() {
        let items = [json!(1)];
        let refs: Vec<&Value> = items.iter().collect();
        let first = page(&refs, 5, &listing(None, Paging::RepeatingNextLink)).expect("page");
        assert_eq!(first["value"], json!([1]));
        let second_link = first["nextLink"].as_str().expect("link").to_owned();
        let token = token_of(&first);
        for _ in 0..3 {
            let again =
                page(&refs, 5, &listing(Some(&token), Paging::RepeatingNextLink)).expect("page");
            assert_eq!(again["nextLink"], second_link.as_str());
        }
    }
}
