//! What eventlib reports through the `metrics` facade (feature `metrics`):
//! every metric's name and labels, in one place. `docs/observability.md`
//! lists them for users.
//!
//! Labels come from the registry (event names, handler paths, groups) and
//! from small fixed sets (outcomes, refusal reasons), never from event ids
//! or data, so the number of series is bounded by the binary's
//! declarations. Without the feature every function does nothing.

/// What became of one handler run, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Handled,
    Failed,
    Panicked,
}

impl Outcome {
    #[cfg(any(feature = "tracing", feature = "metrics"))]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Failed => "failed",
            Outcome::Panicked => "panicked",
        }
    }
}

/// Why `log!` refused an event, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The event's `#[validate]` method refused it.
    Validation,
    /// By-name data did not fit the event's type.
    Data,
}

impl Refusal {
    #[cfg(feature = "metrics")]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refusal::Validation => "validation",
            Refusal::Data => "data",
        }
    }
}

#[cfg(feature = "metrics")]
mod imp {
    use std::cell::Cell;
    use std::time::SystemTime;

    use metrics::{gauge, IntoF64, Key, Label, Level, Metadata};

    use super::{Outcome, Refusal};

    /// What every eventlib metric says of where it comes from.
    static META: Metadata<'static> = Metadata::new("eventlib", Level::INFO, Some("eventlib"));

    const OUTCOMES: [Outcome; 3] = [Outcome::Handled, Outcome::Failed, Outcome::Panicked];

    fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|&(k, v)| Label::from_static_parts(k, v))
            .collect();
        Key::from_parts(name, labels)
    }

    /// The keys of one event's series, built once (when the registry is),
    /// so that counting builds no key: with no recorder installed a count
    /// costs a check of the recorder and no more.
    pub(crate) struct EventKeys {
        emitted: Key,
        completed: Key,
        dropped: Key,
        refused: [Key; 2],
    }

    impl EventKeys {
        pub(crate) fn new(event: &'static str) -> Self {
            let refused = |reason: Refusal| {
                key(
                    "eventlib_events_refused_total",
                    &[("event", event), ("reason", reason.as_str())],
                )
            };
            EventKeys {
                emitted: key("eventlib_events_emitted_total", &[("event", event)]),
                completed: key("eventlib_events_completed_total", &[("event", event)]),
                dropped: key("eventlib_events_dropped_total", &[("event", event)]),
                refused: [refused(Refusal::Validation), refused(Refusal::Data)],
            }
        }
    }

    /// The keys of one handler's series for one event.
    pub(crate) struct RunKeys {
        runs: [Key; 3],
        durations: [Key; 3],
        wait: Key,
    }

    impl RunKeys {
        pub(crate) fn new(event: &'static str, handler: &'static str, group: &'static str) -> Self {
            let with_outcome = |name: &'static str| {
                OUTCOMES.map(|outcome| {
                    key(
                        name,
                        &[
                            ("event", event),
                            ("handler", handler),
                            ("group", group),
                            ("outcome", outcome.as_str()),
                        ],
                    )
                })
            };
            RunKeys {
                runs: with_outcome("eventlib_handler_runs_total"),
                durations: with_outcome("eventlib_handler_duration_seconds"),
                wait: key(
                    "eventlib_queue_wait_seconds",
                    &[("event", event), ("handler", handler), ("group", group)],
                ),
            }
        }
    }

    fn count(key: &Key) {
        metrics::with_recorder(|r| r.register_counter(key, &META).increment(1));
    }

    pub(crate) fn emitted(keys: &EventKeys) {
        count(&keys.emitted);
    }

    pub(crate) fn completed(keys: &EventKeys) {
        count(&keys.completed);
    }

    pub(crate) fn dropped(keys: &EventKeys) {
        count(&keys.dropped);
    }

    pub(crate) fn refused(keys: &EventKeys, reason: Refusal) {
        count(&keys.refused[reason as usize]);
    }

    /// A histogram value computed only when a recorder asks for it: a
    /// histogram handle of no recorder drops its value unread, so with
    /// none installed no clock is read.
    struct Lazy<F: FnOnce() -> f64>(F);

    impl<F: FnOnce() -> f64> IntoF64 for Lazy<F> {
        fn into_f64(self) -> f64 {
            (self.0)()
        }
    }

    fn seconds(from: SystemTime, to: SystemTime) -> f64 {
        to.duration_since(from).unwrap_or_default().as_secs_f64()
    }

    /// A handler run starts: records its queue wait since `emitted_at`, and
    /// returns when it started, or `None` when no recorder took the wait
    /// (then the run's duration is not measured either).
    pub(crate) fn run_started(
        keys: &RunKeys,
        emitted_at: impl FnOnce() -> SystemTime,
    ) -> Option<SystemTime> {
        let started = Cell::new(None);
        metrics::with_recorder(|r| {
            r.register_histogram(&keys.wait, &META).record(Lazy(|| {
                let now = SystemTime::now();
                started.set(Some(now));
                seconds(emitted_at(), now)
            }))
        });
        started.get()
    }

    /// A handler run that began at `started` (from [`run_started`]) ended
    /// with `outcome`.
    pub(crate) fn handler_run(keys: &RunKeys, outcome: Outcome, started: Option<SystemTime>) {
        let n = outcome as usize;
        metrics::with_recorder(|r| {
            r.register_counter(&keys.runs[n], &META).increment(1);
            if let Some(since) = started {
                r.register_histogram(&keys.durations[n], &META)
                    .record(Lazy(|| seconds(since, SystemTime::now())));
            }
        });
    }

    /// Sets the queue depth gauge for one event in 64 the pool takes (a
    /// sample: the gauge needs no more, and the pool's time is the
    /// callers' on a busy machine).
    pub(crate) fn sample_queue_depth(depth: impl FnOnce() -> usize) {
        thread_local! {
            static TAKEN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
        }
        let taken = TAKEN.with(|t| {
            let n = t.get();
            t.set(n.wrapping_add(1));
            n
        });
        if taken.is_multiple_of(64) {
            gauge!("eventlib_queue_depth").set(depth() as f64);
        }
    }

    #[cfg(feature = "redis")]
    pub(crate) fn outbox_depth(stream: &str, depth: u64) {
        gauge!("eventlib_redis_outbox_depth", "stream" => stream.to_owned()).set(depth as f64);
    }

    /// What a worker samples of its group and stream.
    #[cfg(feature = "redis")]
    pub(crate) struct GroupSample<'a> {
        pub(crate) stream: &'a str,
        pub(crate) group: &'a str,
        pub(crate) in_flight: u64,
        pub(crate) pending: Option<u64>,
        pub(crate) lag: Option<u64>,
        pub(crate) dead_letters: Option<u64>,
    }

    #[cfg(feature = "redis")]
    pub(crate) fn group_sample(sample: &GroupSample<'_>) {
        let labels = [
            ("stream", sample.stream.to_owned()),
            ("group", sample.group.to_owned()),
        ];
        gauge!("eventlib_redis_worker_in_flight", &labels).set(sample.in_flight as f64);
        if let Some(pending) = sample.pending {
            gauge!("eventlib_redis_group_pending", &labels).set(pending as f64);
        }
        if let Some(lag) = sample.lag {
            gauge!("eventlib_redis_group_lag", &labels).set(lag as f64);
        }
        if let Some(dead) = sample.dead_letters {
            gauge!("eventlib_redis_dead_letters", "stream" => sample.stream.to_owned())
                .set(dead as f64);
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod imp {
    use super::Refusal;

    /// Nothing to key without the feature.
    pub(crate) struct EventKeys;

    impl EventKeys {
        pub(crate) fn new(_: &'static str) -> Self {
            EventKeys
        }
    }

    #[inline(always)]
    pub(crate) fn emitted(_: &EventKeys) {}
    #[inline(always)]
    pub(crate) fn completed(_: &EventKeys) {}
    #[inline(always)]
    pub(crate) fn dropped(_: &EventKeys) {}
    #[inline(always)]
    pub(crate) fn refused(_: &EventKeys, _: Refusal) {}
}

pub(crate) use imp::*;
