//! Waits between attempts: exponential backoff with jitter, for
//! reconnecting and for a handler's retries.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Exponential backoff with jitter.
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            next: base,
        }
    }

    /// The next wait: between half and all of the current step, which then
    /// doubles up to the maximum.
    pub(crate) fn next_wait(&mut self) -> Duration {
        let wait = jitter(self.next);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.base;
    }
}

/// The wait before attempt `attempt + 1` of a handler: `base * 2^(attempt-1)`,
/// capped at `max`, jittered.
pub(crate) fn retry_delay(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    jitter(base.saturating_mul(factor).min(max))
}

/// A uniformly random duration in `[d/2, d]`, so that many clients that
/// failed together do not retry together.
pub(crate) fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    let span = u64::try_from((d - half).as_micros()).unwrap_or(u64::MAX);
    if span == 0 {
        return d;
    }
    half + Duration::from_micros(random() % (span + 1))
}

fn random() -> u64 {
    std::thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new({
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(0x9e37_79b9_7f4a_7c15);
            hasher.finish() | 1
        });
    }
    // xorshift64*: plenty for jitter.
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn within(wait: Duration, step: Duration) -> bool {
        wait >= step / 2 && wait <= step
    }

    #[test]
    fn jitter_stays_between_half_and_all() {
        for d in [
            MS,
            3 * MS,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        ] {
            for _ in 0..1000 {
                let wait = jitter(d);
                assert!(within(wait, d), "{wait:?} out of [{:?}, {d:?}]", d / 2);
            }
        }
    }

    #[test]
    fn jitter_is_never_zero_for_a_positive_wait() {
        for d in [Duration::from_nanos(1), Duration::from_micros(1), MS] {
            for _ in 0..100 {
                assert!(jitter(d) > Duration::ZERO);
            }
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_its_waits() {
        let d = Duration::from_secs(1);
        let waits: std::collections::HashSet<Duration> = (0..100).map(|_| jitter(d)).collect();
        assert!(waits.len() > 50, "only {} distinct waits", waits.len());
    }

    #[test]
    fn backoff_starts_at_base_doubles_and_stops_at_max() {
        let (base, max) = (100 * MS, 1000 * MS);
        let mut backoff = Backoff::new(base, max);
        let steps = [100, 200, 400, 800, 1000, 1000, 1000].map(|n| n * MS);
        for step in steps {
            let wait = backoff.next_wait();
            assert!(
                within(wait, step),
                "{wait:?} out of [{:?}, {step:?}]",
                step / 2
            );
            assert!(wait > Duration::ZERO && wait <= max);
        }
    }

    #[test]
    fn backoff_reset_goes_back_to_base() {
        let (base, max) = (100 * MS, 1000 * MS);
        let mut backoff = Backoff::new(base, max);
        for _ in 0..10 {
            backoff.next_wait();
        }
        backoff.reset();
        assert!(within(backoff.next_wait(), base));
    }

    #[test]
    fn retry_delay_doubles_per_attempt_up_to_max() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for (attempt, step) in [(0, 1), (1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (8, 60)] {
            let step = Duration::from_secs(step);
            let wait = retry_delay(base, max, attempt);
            assert!(within(wait, step), "attempt {attempt}: {wait:?}");
        }
    }

    #[test]
    fn retry_delay_never_overflows_nor_passes_max() {
        let max = Duration::from_secs(60);
        for attempt in [21, 100, u32::MAX] {
            assert!(retry_delay(Duration::from_secs(u64::MAX / 2), max, attempt) <= max);
            assert!(retry_delay(MS, max, attempt) <= max);
            assert!(retry_delay(MS, max, attempt) > Duration::ZERO);
        }
    }
}
