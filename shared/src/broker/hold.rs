//! Holding a delivery while the infrastructure behind it is down.
//!
//! A quorum queue counts every requeue as a delivery attempt and dead-letters a message at the
//! delivery limit, which is meant for poison messages. A result that cannot be ingested because
//! Redis is restarting is not poison: returning it to the queue every second would spend its
//! attempts in under a minute and dead-letter it with no reason of ours. So a consumer that hits
//! an infrastructure error keeps the delivery (unacked, so nothing is lost if the process dies)
//! and tries again in place with growing pauses; it gives the delivery back only after a long
//! hold (well under the broker's consumer timeout) or on shutdown.

use std::future::Future;
use std::time::Duration;

/// How long a consumer holds one delivery retrying in place before giving it back: far above
/// a Redis restart or failover, far below RabbitMQ's 30-minute consumer timeout.
pub const MAX_HOLD: Duration = Duration::from_secs(10 * 60);

/// The pause after the first failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const MAX_PAUSE: Duration = Duration::from_secs(15);

/// What became of a held attempt.
#[derive(Debug)]
pub enum Held<T, E> {
    /// It succeeded, or failed in a way that retrying cannot fix.
    Done(Result<T, E>),
    /// Still failing on infrastructure after `max_hold`: give the delivery back.
    GaveUp(E),
}

impl<T, E> Held<T, E> {
    /// The outcome, for callers that treat giving up like any other failure (the delivery goes
    /// back either way).
    pub fn into_result(self) -> Result<T, E> {
        match self {
            Held::Done(outcome) => outcome,
            Held::GaveUp(e) => Err(e),
        }
    }
}

/// Runs `attempt` until it returns `Ok`, or an error for which `transient` is false, or
/// `max_hold` has passed; pauses between tries double from 0.5 s to 15 s.
pub async fn retry_in_place<T, E, F, Fut>(
    what: &str,
    max_hold: Duration,
    transient: impl Fn(&E) -> bool,
    mut attempt: F,
) -> Held<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = tokio::time::Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        match attempt().await {
            Err(e) if transient(&e) => {
                if started.elapsed() + pause > max_hold {
                    return Held::GaveUp(e);
                }
                tracing::warn!(
                    error = %e,
                    what,
                    pause_ms = pause.as_millis() as u64,
                    "infrastructure unavailable; holding the delivery and retrying"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            done => return Held::Done(done),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_in_place_until_they_pass() {
        let calls = AtomicU32::new(0);
        let held = retry_in_place(
            "test",
            MAX_HOLD,
            |_: &String| true,
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 5 {
                    Err(format!("down {n}"))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert!(matches!(held, Held::Done(Ok(5))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_outage_gives_the_delivery_back_and_permanent_errors_end_at_once() {
        let held = retry_in_place(
            "test",
            Duration::from_secs(60),
            |_: &String| true,
            || async { Err::<(), _>("down".to_string()) },
        )
        .await;
        assert!(matches!(held, Held::GaveUp(_)));
        let calls = AtomicU32::new(0);
        let held = retry_in_place(
            "test",
            MAX_HOLD,
            |_: &String| false,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("refused".to_string())
            },
        )
        .await;
        assert!(matches!(held, Held::Done(Err(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
