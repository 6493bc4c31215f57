//! The time the control plane acts on, injectable so tests can let an exception's expiry pass
//! without waiting for it. Production uses the system clock; tests use an adjustable clock that
//! starts at the system time and can be moved forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// A clock: the system's, or the system's plus an offset tests may advance.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Option<Arc<AtomicI64>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.offset_ms {
            None => f.write_str("Clock(system)"),
            Some(o) => write!(f, "Clock(system + {} ms)", o.load(Ordering::Relaxed)),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that follows the system clock until [`Clock::advance`] moves it forward; clones
    /// share the offset.
    pub fn adjustable() -> Self {
        Self {
            offset_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Moves an adjustable clock forward (no effect on the system clock).
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(offset) = &self.offset_ms {
            offset.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.offset_ms {
            None => now,
            Some(o) => now + chrono::Duration::milliseconds(o.load(Ordering::SeqCst)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustable_clocks_move_forward_together() {
        let clock = Clock::adjustable();
        let shared = clock.clone();
        let before = clock.now();
        shared.advance(chrono::Duration::days(2));
        assert!(clock.now() - before >= chrono::Duration::days(2));
        let system = Clock::system();
        system.advance(chrono::Duration::days(2));
        assert!(system.now() - Utc::now() < chrono::Duration::days(1));
    }
}
