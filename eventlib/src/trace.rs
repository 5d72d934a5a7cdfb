//! The trace an event belongs to: what `log!` captures of the caller's
//! current `tracing` span (feature `tracing`), or what a transport read of
//! the producer's trace context (a W3C `traceparent`, feature
//! `opentelemetry`). Handler spans take their parent from it.
//!
//! Without the features this is a type of size zero and every function
//! does nothing.

/// The trace context of one event. Cheap to clone; empty (no allocation)
/// when there is no span to follow.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trace {
    #[cfg(feature = "tracing")]
    inner: Option<Box<Inner>>,
}

#[cfg(feature = "tracing")]
#[derive(Clone, Debug)]
struct Inner {
    /// The span current at `log!` (kept open until the handlers ran).
    span: tracing::Span,
    /// The producer's context, read back from a transport.
    #[cfg(feature = "opentelemetry")]
    remote: Option<Remote>,
}

/// A W3C trace context as it travels on the wire.
#[cfg(feature = "opentelemetry")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Remote {
    pub(crate) traceparent: String,
    pub(crate) tracestate: Option<String>,
}

impl Trace {
    /// What the caller's thread is in now: its current span, if any.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn here() -> Trace {
        // No subscriber was ever set: no span can be current.
        if !tracing::dispatcher::has_been_set() {
            return Trace::default();
        }
        let span = tracing::Span::current();
        if span.is_none() {
            return Trace::default();
        }
        Trace {
            inner: Some(Box::new(Inner {
                span,
                #[cfg(feature = "opentelemetry")]
                remote: None,
            })),
        }
    }

    /// The span current at `log!`, if it was captured.
    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> Option<&tracing::Span> {
        self.inner
            .as_ref()
            .map(|inner| &inner.span)
            .filter(|span| !span.is_none())
    }

    /// A trace context read back from a transport.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn remote(remote: Remote) -> Trace {
        Trace {
            inner: Some(Box::new(Inner {
                span: tracing::Span::none(),
                remote: Some(remote),
            })),
        }
    }

    /// The trace context read back from a transport, if any.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn remote_context(&self) -> Option<&Remote> {
        self.inner.as_ref().and_then(|inner| inner.remote.as_ref())
    }
}

#[cfg(feature = "opentelemetry")]
impl Trace {
    /// The W3C trace context to write on the wire: the producer's span's,
    /// or the one a record read from a transport came with.
    pub(crate) fn w3c(&self) -> Option<Remote> {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let inner = self.inner.as_ref()?;
        if let Some(remote) = &inner.remote {
            return Some(remote.clone());
        }
        let context = inner.span.context();
        let span = context.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let state = sc.trace_state().header();
        Some(Remote {
            traceparent: format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
            tracestate: (!state.is_empty()).then_some(state),
        })
    }
}

#[cfg(feature = "opentelemetry")]
impl Remote {
    /// The span context this W3C `traceparent` names, or `None` when it is
    /// malformed (then the handler span starts a trace of its own: a
    /// foreign producer's mistake does not stop its event).
    pub(crate) fn span_context(&self) -> Option<opentelemetry::trace::SpanContext> {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let mut parts = self.traceparent.trim().split('-');
        let (version, trace_id, span_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // Version 00 has exactly four fields; later versions may add some.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if !(hex(version, 2) && hex(trace_id, 32) && hex(span_id, 16) && hex(flags, 2)) {
            return None;
        }
        let trace_id = TraceId::from_hex(trace_id).ok()?;
        let span_id = SpanId::from_hex(span_id).ok()?;
        let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1);
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let sc = SpanContext::new(trace_id, span_id, flags, true, state);
        sc.is_valid().then_some(sc)
    }
}

#[cfg(all(test, feature = "opentelemetry"))]
mod tests {
    use super::Remote;

    fn parse(traceparent: &str) -> Option<opentelemetry::trace::SpanContext> {
        Remote {
            traceparent: traceparent.to_owned(),
            tracestate: Some("vendor=x".into()),
        }
        .span_context()
    }

    #[test]
    fn w3c_traceparent() {
        let sc = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
        assert_eq!(sc.trace_state().header(), "vendor=x");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
    }
}
