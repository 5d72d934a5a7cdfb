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
    use std::time::Duration;

    use metrics::{counter, gauge, histogram};

    use super::{Outcome, Refusal};

    pub(crate) fn emitted(event: &'static str) {
        counter!("eventlib_events_emitted_total", "event" => event).increment(1);
    }

    pub(crate) fn completed(event: &'static str) {
        counter!("eventlib_events_completed_total", "event" => event).increment(1);
    }

    pub(crate) fn dropped(event: &'static str) {
        counter!("eventlib_events_dropped_total", "event" => event).increment(1);
    }

    pub(crate) fn refused(event: &'static str, reason: Refusal) {
        counter!("eventlib_events_refused_total", "event" => event, "reason" => reason.as_str())
            .increment(1);
    }

    pub(crate) fn handler_run(
        event: &'static str,
        handler: &'static str,
        group: &'static str,
        outcome: Outcome,
        duration: Duration,
    ) {
        let labels = [
            ("event", event),
            ("handler", handler),
            ("group", group),
            ("outcome", outcome.as_str()),
        ];
        counter!("eventlib_handler_runs_total", &labels).increment(1);
        histogram!("eventlib_handler_duration_seconds", &labels).record(duration.as_secs_f64());
    }

    pub(crate) fn queue_wait(
        event: &'static str,
        handler: &'static str,
        group: &'static str,
        wait: Duration,
    ) {
        histogram!(
            "eventlib_queue_wait_seconds",
            "event" => event,
            "handler" => handler,
            "group" => group
        )
        .record(wait.as_secs_f64());
    }

    pub(crate) fn queue_depth(depth: usize) {
        gauge!("eventlib_queue_depth").set(depth as f64);
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

    #[inline(always)]
    pub(crate) fn emitted(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn completed(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn dropped(_: &'static str) {}
    #[inline(always)]
    pub(crate) fn refused(_: &'static str, _: Refusal) {}
}

pub(crate) use imp::*;
