//! How a throttled (or faulted) response says how long to wait. Azure services send
//! `Retry-After` in seconds or as an HTTP date, and some add `retry-after-ms` or
//! `x-ms-retry-after-ms`; the Azure SDKs read them in that order (research/arm.md §1.3).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RetryAfterStyle;

/// The whole seconds a client is told to wait: rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// The headers that tell a client to wait `wait`, in `style`.
pub(crate) fn retry_after_headers(
    style: RetryAfterStyle,
    wait: Duration,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let seconds = retry_after_seconds(wait);
    let millis = wait.as_millis().max(1).to_string();
    match style {
        RetryAfterStyle::Seconds => vec![("retry-after", seconds.to_string())],
        RetryAfterStyle::HttpDate => {
            // An HTTP date has whole seconds: round up so that waiting until it is long enough.
            let whole_now = now.timestamp() + i64::from(now.timestamp_subsec_nanos() > 0);
            let at = DateTime::<Utc>::from_timestamp(
                whole_now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX / 2)),
                0,
            )
            .unwrap_or(now);
            vec![(
                "retry-after",
                at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            )]
        }
        RetryAfterStyle::RetryAfterMs => vec![
            ("retry-after-ms", millis),
            ("retry-after", seconds.to_string()),
        ],
        RetryAfterStyle::XMsRetryAfterMs => vec![
            ("x-ms-retry-after-ms", millis),
            ("retry-after", seconds.to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(2000)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
        let now = DateTime::<Utc>::from_timestamp(784_887_151, 0).expect("time");
        let wait = Duration::from_millis(2500);
        assert_eq!(
            retry_after_headers(RetryAfterStyle::Seconds, wait, now),
            vec![("retry-after", "3".to_owned())]
        );
        assert_eq!(
            retry_after_headers(RetryAfterStyle::HttpDate, wait, now),
            vec![("retry-after", "Tue, 15 Nov 1994 08:12:34 GMT".to_owned())]
        );
        assert_eq!(
            retry_after_headers(RetryAfterStyle::RetryAfterMs, wait, now),
            vec![
                ("retry-after-ms", "2500".to_owned()),
                ("retry-after", "3".to_owned())
            ]
        );
        assert_eq!(
            retry_after_headers(RetryAfterStyle::XMsRetryAfterMs, wait, now),
            vec![
                ("x-ms-retry-after-ms", "2500".to_owned()),
                ("retry-after", "3".to_owned())
            ]
        );
    }
}
