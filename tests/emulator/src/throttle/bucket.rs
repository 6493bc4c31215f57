//! One token bucket: Azure's throttling primitive. Time is passed in, so tests need no clock.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub(super) struct TokenBucket {
    capacity: f64,
    refill: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(super) fn full(capacity: f64, refill: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            refill,
            tokens: capacity,
            updated: now,
        }
    }

    pub(super) fn refresh(&mut self, now: Instant) {
        if now > self.updated {
            let elapsed = now.duration_since(self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.refill).min(self.capacity);
            self.updated = now;
        }
    }

    /// How long until one token is available (zero if one is).
    pub(super) fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64((1.0 - self.tokens) / self.refill).unwrap_or(Duration::MAX)
        }
    }

    pub(super) fn take(&mut self) {
        self.tokens -= 1.0;
    }

    /// Whole tokens left.
    pub(super) fn remaining(&self) -> u64 {
        self.tokens.max(0.0).floor() as u64
    }
}
