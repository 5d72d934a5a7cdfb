//! What one handler run shows to the tools a service already runs: an
//! `eventlib.handler` span (feature `tracing`) whose parent is the span
//! current at `log!`, or the producer's trace read from a transport
//! (feature `opentelemetry`); and its duration, outcome and queue wait as
//! metrics (feature `metrics`). Every way of running a handler (the pool,
//! inline scopes, Redis workers) goes through [`Run`].

use std::future::Future;

use crate::failure::FailureKind;
use crate::meters;
use crate::record::Record;
use crate::registry::HandlerEntry;

/// One handler run being observed. Of size zero without the features.
pub(crate) struct Run {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// When the run started, read once for both the queue wait and the
    /// duration, and only when a recorder took the queue wait.
    #[cfg(feature = "metrics")]
    started: Option<u64>,
    /// The run's metric keys (none for a handler the event does not list,
    /// which the registry never hands out).
    #[cfg(feature = "metrics")]
    keys: Option<&'static meters::RunKeys>,
}

impl Run {
    /// A run of `entry` for `record` starts.
    #[cfg_attr(not(any(feature = "tracing", feature = "metrics")), inline(always))]
    pub(crate) fn start(record: &Record, entry: &'static HandlerEntry) -> Run {
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = (record, entry);
        #[cfg(feature = "metrics")]
        let keys = run_keys(record, entry);
        #[cfg(feature = "metrics")]
        let started =
            keys.and_then(|keys| meters::run_started(keys, record.context().emitted_nanos()));
        Run {
            #[cfg(feature = "tracing")]
            span: handler_span(record, entry),
            #[cfg(feature = "metrics")]
            started,
            #[cfg(feature = "metrics")]
            keys,
        }
    }

    /// Runs `f`, the handler's own code, inside the handler's span.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _user_code = meters::UserCode::enter();
        #[cfg(feature = "tracing")]
        return self.span.in_scope(f);
        #[cfg(not(feature = "tracing"))]
        f()
    }

    /// `future`, the handler's own code, polled inside the handler's span
    /// (and, with `metrics`, as user code: see [`meters::UserCode`]).
    pub(crate) fn instrument<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        #[cfg(feature = "tracing")]
        let future = tracing::Instrument::instrument(future, self.span.clone());
        #[cfg(feature = "metrics")]
        let future = async move {
            let mut future = std::pin::pin!(future);
            std::future::poll_fn(|cx| {
                let _user_code = meters::UserCode::enter();
                future.as_mut().poll(cx)
            })
            .await
        };
        future
    }

    /// The run ended with `outcome`.
    pub(crate) fn finish(self, outcome: &Result<(), FailureKind>) {
        let counted = match outcome {
            Ok(()) => meters::Outcome::Handled,
            Err(FailureKind::Panic(_)) => meters::Outcome::Panicked,
            Err(_) => meters::Outcome::Failed,
        };
        // A disabled span still looks its fields up by name to record them.
        #[cfg(feature = "tracing")]
        if !self.span.is_disabled() {
            self.span.record("outcome", counted.as_str());
            if let Err(kind) = outcome {
                self.span.record("error", tracing::field::display(kind));
                self.span.record("otel.status_code", "ERROR");
            }
        }
        #[cfg(feature = "metrics")]
        if let Some(keys) = self.keys {
            meters::handler_run(keys, counted, self.started);
        }
        #[cfg(not(any(feature = "tracing", feature = "metrics")))]
        let _ = counted;
    }
}

/// The metric keys of `entry` running for `record`'s event.
#[cfg(feature = "metrics")]
fn run_keys(record: &Record, entry: &HandlerEntry) -> Option<&'static meters::RunKeys> {
    let registry = crate::registry::registry();
    let event = &registry.events[record.index()];
    event
        .handlers
        .iter()
        .position(|&h| std::ptr::eq(&registry.handlers[h as usize], entry))
        .map(|n| &event.run_keys[n])
}

/// Whether an `INFO` span can reach anyone: a subscriber that takes
/// `INFO`, or a `log` logger that takes it through `tracing`'s `log`
/// feature. When neither can, the handler's span is `Span::none()`: a span
/// that is merely disabled still calls into that `log` bridge on every
/// enter, exit and record (the feature is on in many services, turned on
/// by a dependency such as sqlx).
#[cfg(feature = "tracing")]
#[inline]
fn will_be_seen() -> bool {
    tracing::level_enabled!(tracing::Level::INFO) || ::log::max_level() >= ::log::LevelFilter::Info
}

/// The `eventlib.handler` span of one run: a child of the span current at
/// `log!` when there was one, else of the producer's trace read from a
/// transport (a child on the first attempt, a link on retries, so that a
/// retry hours later does not stretch the original trace).
#[cfg(feature = "tracing")]
fn handler_span(record: &Record, entry: &HandlerEntry) -> tracing::Span {
    use tracing::field::Empty;
    if !will_be_seen() {
        return tracing::Span::none();
    }
    let context = record.context();
    macro_rules! span {
        ($($parent:tt)*) => {
            tracing::info_span!(
                target: "eventlib",
                $($parent)*
                "eventlib.handler",
                event = context.name(),
                event_id = %context.id(),
                handler = entry.decl.name,
                group = entry.decl.group(),
                attempt = context.attempt(),
                outcome = Empty,
                error = Empty,
                otel.status_code = Empty,
            )
        };
    }
    let trace = context.trace();
    if let Some(parent) = trace.span() {
        return span!(parent: parent,);
    }
    #[cfg(feature = "opentelemetry")]
    if let Some(remote) = trace.remote_context().and_then(|r| r.span_context()) {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let span = span!(parent: None,);
        if context.attempt() <= 1 {
            let parent = opentelemetry::Context::new().with_remote_span_context(remote);
            let _ = span.set_parent(parent);
        } else {
            span.add_link(remote);
        }
        return span;
    }
    span!()
}
