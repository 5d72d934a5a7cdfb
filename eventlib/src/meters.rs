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
    use std::sync::atomic::{AtomicPtr, Ordering};

    use crate::context::now_nanos;

    use metrics::{gauge, Counter, Histogram, IntoF64, Key, Label, Level, Metadata, Recorder};

    use super::{Outcome, Refusal};

    thread_local! {
        /// Set on eventlib's own threads that count events and handler
        /// runs (the pool's, a Redis worker's handler threads, the Redis
        /// producer's), and cleared while user code runs there (a handler,
        /// a poll of an async one, the error hook): then the
        /// recorder `metrics` hands out is always the global one (or none),
        /// as a thread-local recorder is set by the code of a thread and
        /// eventlib sets none around its calls.
        static ON_OWN_THREAD: Cell<bool> = const { Cell::new(false) };
    }

    /// The calling thread is one of eventlib's own (see
    /// `ON_OWN_THREAD`): from now on the handles of its series are
    /// registered once and kept (see [`Registered`]).
    pub(crate) fn on_own_thread() {
        ON_OWN_THREAD.with(|on| on.set(true));
    }

    /// While alive, user code runs on this thread: it may put a
    /// thread-local recorder in place (and run handlers inline under it),
    /// whose handles must not be kept.
    pub(crate) struct UserCode(bool);

    impl UserCode {
        #[inline]
        pub(crate) fn enter() -> Self {
            UserCode(ON_OWN_THREAD.with(|on| on.replace(false)))
        }
    }

    impl Drop for UserCode {
        #[inline]
        fn drop(&mut self) {
            ON_OWN_THREAD.with(|on| on.set(self.0));
        }
    }

    /// Handles of some series, registered once with the global recorder
    /// and kept, so that a count looks none of its series up by key: with
    /// a Prometheus recorder, those lookups were most of what the metrics
    /// cost a handler run and a `log!`.
    ///
    /// Registered only on eventlib's own threads outside user code
    /// (anywhere else a thread-local recorder may be in place, and keeping
    /// its handles would count into it after it is gone), and only with a
    /// recorder that has state (not the no-op one in place before any is
    /// installed): the recorder kept is then the global one, which is never
    /// replaced nor freed. Any thread uses the kept handles when the
    /// recorder in place is that same recorder (a thread-local recorder
    /// alive at the same time is another object, at another address); a
    /// call that meets another recorder, or comes before one of those
    /// threads kept the handles, registers by key, as without the cache.
    pub(crate) struct Registered<H: 'static> {
        kept: AtomicPtr<(usize, H)>,
    }

    impl<H: 'static> Registered<H> {
        const fn new() -> Self {
            Registered {
                kept: AtomicPtr::new(std::ptr::null_mut()),
            }
        }

        /// The handles kept for `recorder`, if they are; `None` for
        /// another recorder, or before any were kept.
        #[inline]
        fn kept(&self, recorder: &dyn Recorder) -> Option<&'static H> {
            match self.lookup(recorder) {
                Kept::Here(handles) => Some(handles),
                Kept::Other | Kept::None(_) => None,
            }
        }

        /// The handles registered with `recorder`, registered with
        /// `register` the first time; `None` where they are not kept.
        #[inline]
        fn get(
            &self,
            recorder: &dyn Recorder,
            register: impl FnOnce(&dyn Recorder) -> H,
        ) -> Option<&'static H> {
            match self.lookup(recorder) {
                Kept::Here(handles) => Some(handles),
                Kept::Other => None,
                Kept::None(address) => {
                    if !ON_OWN_THREAD.with(Cell::get) {
                        return None;
                    }
                    self.keep(address, || register(recorder))
                }
            }
        }

        /// What is kept, seen from `recorder`.
        #[inline]
        fn lookup(&self, recorder: &dyn Recorder) -> Kept<H> {
            if std::mem::size_of_val(recorder) == 0 {
                return Kept::Other;
            }
            let address = recorder as *const dyn Recorder as *const () as usize;
            let kept = self.kept.load(Ordering::Acquire);
            // SAFETY: a pointer stored in `kept` comes from `Box::into_raw`
            // and is never freed: it lives as long as the process.
            match unsafe { kept.as_ref() } {
                Some((owner, handles)) if *owner == address => Kept::Here(handles),
                Some(_) => Kept::Other,
                None => Kept::None(address),
            }
        }

        /// Registers the handles of the recorder at `address` and keeps
        /// them, unless another thread kept its own first. Out of line:
        /// it runs once, and the checks before it run on every handler run.
        #[cold]
        #[inline(never)]
        fn keep(&self, address: usize, register: impl FnOnce() -> H) -> Option<&'static H> {
            let fresh = Box::into_raw(Box::new((address, register())));
            match self.kept.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: stored just now, and never freed from here on.
                Ok(_) => Some(unsafe { &(*fresh).1 }),
                Err(_) => {
                    // Another thread stored its own first; this one
                    // was never shared.
                    // SAFETY: `fresh` came from `Box::into_raw` above and
                    // was not stored.
                    drop(unsafe { Box::from_raw(fresh) });
                    None
                }
            }
        }
    }

    /// What [`Registered`] holds for a recorder.
    enum Kept<H: 'static> {
        /// The handles of this recorder.
        Here(&'static H),
        /// Those of another recorder, or none for this one (the no-op).
        Other,
        /// None yet; the recorder's address.
        None(usize),
    }

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
        /// The handles of `emitted` and `completed`, kept by eventlib's own
        /// threads (which complete most events) for every thread.
        registered: Registered<EventHandles>,
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
                registered: Registered::new(),
            }
        }
    }

    /// The handles of [`EventKeys`]' series counted for most events.
    struct EventHandles {
        emitted: Counter,
        completed: Counter,
    }

    impl EventKeys {
        #[inline]
        fn handles(&self, recorder: &dyn Recorder) -> Option<&'static EventHandles> {
            self.registered.get(recorder, |r| EventHandles {
                emitted: r.register_counter(&self.emitted, &META),
                completed: r.register_counter(&self.completed, &META),
            })
        }
    }

    /// The keys of one handler's series for one event.
    pub(crate) struct RunKeys {
        runs: [Key; 3],
        durations: [Key; 3],
        wait: Key,
        registered: Registered<RunHandles>,
    }

    /// The handles of [`RunKeys`]' series.
    struct RunHandles {
        runs: [Counter; 3],
        durations: [Histogram; 3],
        wait: Histogram,
    }

    impl RunKeys {
        #[inline]
        fn handles(&self, recorder: &dyn Recorder) -> Option<&'static RunHandles> {
            self.registered.get(recorder, |r| RunHandles {
                runs: self
                    .runs
                    .each_ref()
                    .map(|key| r.register_counter(key, &META)),
                durations: self
                    .durations
                    .each_ref()
                    .map(|key| r.register_histogram(key, &META)),
                wait: r.register_histogram(&self.wait, &META),
            })
        }
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
                registered: Registered::new(),
            }
        }
    }

    fn count(key: &Key) {
        metrics::with_recorder(|r| r.register_counter(key, &META).increment(1));
    }

    /// Counted by `log!`, in its caller's code: uses the handles one of
    /// eventlib's own threads kept, and never keeps any itself.
    pub(crate) fn emitted(keys: &EventKeys) {
        metrics::with_recorder(|r| match keys.registered.kept(r) {
            Some(handles) => handles.emitted.increment(1),
            None => r.register_counter(&keys.emitted, &META).increment(1),
        });
    }

    pub(crate) fn completed(keys: &EventKeys) {
        metrics::with_recorder(|r| match keys.handles(r) {
            Some(handles) => handles.completed.increment(1),
            None => r.register_counter(&keys.completed, &META).increment(1),
        });
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

    /// Seconds from `from` to `to`, both in nanoseconds since the epoch
    /// (0 if the clock went back).
    fn seconds(from: u64, to: u64) -> f64 {
        to.saturating_sub(from) as f64 / 1e9
    }

    /// A handler run starts: records its queue wait since `emitted_at`
    /// (nanoseconds since the epoch), and returns when it started, or
    /// `None` when no recorder took the wait (then the run's duration is
    /// not measured either).
    pub(crate) fn run_started(keys: &RunKeys, emitted_at: u64) -> Option<u64> {
        let started = Cell::new(None);
        let wait = Lazy(|| {
            let now = now_nanos();
            started.set(Some(now));
            seconds(emitted_at, now)
        });
        metrics::with_recorder(|r| match keys.handles(r) {
            Some(handles) => handles.wait.record(wait),
            None => r.register_histogram(&keys.wait, &META).record(wait),
        });
        started.get()
    }

    /// A handler run that began at `started` (from [`run_started`]) ended
    /// with `outcome`.
    pub(crate) fn handler_run(keys: &RunKeys, outcome: Outcome, started: Option<u64>) {
        let n = outcome as usize;
        let duration = started.map(|since| Lazy(move || seconds(since, now_nanos())));
        metrics::with_recorder(|r| match keys.handles(r) {
            Some(handles) => {
                handles.runs[n].increment(1);
                if let Some(duration) = duration {
                    handles.durations[n].record(duration);
                }
            }
            None => {
                r.register_counter(&keys.runs[n], &META).increment(1);
                if let Some(duration) = duration {
                    r.register_histogram(&keys.durations[n], &META)
                        .record(duration);
                }
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

    /// Whether an operator paused `handler` (`*`: the whole group) of
    /// `group`: 1 while paused, 0 once resumed.
    #[cfg(feature = "redis")]
    pub(crate) fn paused(stream: &str, group: &str, handler: &str, paused: bool) {
        gauge!(
            "eventlib_redis_paused",
            "stream" => stream.to_owned(),
            "group" => group.to_owned(),
            "handler" => handler.to_owned()
        )
        .set(if paused { 1.0 } else { 0.0 });
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
    #[inline(always)]
    pub(crate) fn on_own_thread() {}

    /// Nothing kept without the feature.
    pub(crate) struct UserCode;

    impl UserCode {
        #[inline(always)]
        pub(crate) fn enter() -> Self {
            UserCode
        }
    }
}

pub(crate) use imp::*;
