//! With the `tracing` feature: each handler run is an `eventlib.handler`
//! span whose parent is the span current at `log!` (on the pool, inline,
//! on tokio), with its outcome and error recorded; `log!` records an
//! event on the caller's span. Checked with a real `tracing-subscriber`
//! layer that records every span.

mod common;

use std::collections::HashMap;
use std::sync::Mutex;

use eventlib::{event, log, testing};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Traced {
    n: u32,
}

#[event(name = "tests.tracing.Traced")]
impl Traced {
    #[handler]
    fn works(&self) {
        tracing::info!(n = self.n, "inside the handler");
    }

    #[handler]
    fn fails(&self) -> anyhow::Result<()> {
        anyhow::bail!("no stock for {}", self.n)
    }

    #[handler]
    async fn later(&self) {
        common::yield_now().await;
    }
}

/// One span as the layer saw it.
#[derive(Debug, Clone, Default)]
struct SpanSeen {
    name: &'static str,
    parent: Option<u64>,
    fields: HashMap<String, String>,
}

#[derive(Default)]
struct Recorder {
    spans: Mutex<HashMap<u64, SpanSeen>>,
    /// Events: their message, and the span they were recorded in.
    events: Mutex<Vec<(String, Option<u64>)>>,
}

static RECORDER: std::sync::OnceLock<&'static Recorder> = std::sync::OnceLock::new();

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

struct RecordingLayer(&'static Recorder);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for RecordingLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = if attrs.is_root() {
            None
        } else if let Some(parent) = attrs.parent() {
            Some(parent.into_u64())
        } else {
            ctx.current_span().id().map(Id::into_u64)
        };
        let mut seen = SpanSeen {
            name: attrs.metadata().name(),
            parent,
            fields: HashMap::new(),
        };
        attrs.record(&mut Fields(&mut seen.fields));
        self.0.spans.lock().unwrap().insert(id.into_u64(), seen);
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, _: Context<'_, S>) {
        if let Some(seen) = self.0.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx.event_span(event).map(|s| s.id().into_u64());
        let message = fields.remove("message").unwrap_or_default();
        self.0.events.lock().unwrap().push((message, span));
    }
}

fn recorder() -> &'static Recorder {
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry().with(RecordingLayer(recorder));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        recorder
    })
}

/// The handler spans of the event with id `id`, by handler name.
fn handler_spans(id: &str) -> HashMap<String, SpanSeen> {
    let spans = recorder().spans.lock().unwrap();
    spans
        .values()
        .filter(|s| s.name == "eventlib.handler")
        .filter(|s| s.fields["event_id"] == id)
        .map(|s| {
            let handler = s.fields["handler"].rsplit("::").next().unwrap().to_owned();
            (handler, s.clone())
        })
        .collect()
}

fn check(n: u32, id: &str, parent: u64) {
    let spans = handler_spans(id);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    for (handler, span) in &spans {
        assert_eq!(span.parent, Some(parent), "{handler}: {span:?}");
        assert_eq!(span.fields["event"], "tests.tracing.Traced");
        assert_eq!(span.fields["group"], "default");
        assert_eq!(span.fields["attempt"], "1");
    }
    assert_eq!(spans["works"].fields["outcome"], "handled");
    assert_eq!(spans["later"].fields["outcome"], "handled");
    assert_eq!(spans["fails"].fields["outcome"], "failed");
    assert_eq!(spans["fails"].fields["error"], format!("no stock for {n}"));
    assert_eq!(spans["fails"].fields["otel.status_code"], "ERROR");
}

#[test]
fn handler_spans_are_children_of_the_span_at_log() {
    let recorder = recorder();
    common::quiet_panics("never");

    // On the pool (and the built-in executor for the async handler).
    let request = tracing::info_span!("request", path = "/products/1");
    let request_id = request.id().unwrap().into_u64();
    let id = request.in_scope(|| log!(Traced { n: 1 }).unwrap());
    drop(request);
    common::flush();
    check(1, &id.to_string(), request_id);
    // log! told the request span.
    let events = recorder.events.lock().unwrap().clone();
    assert!(
        events.contains(&("event logged".to_owned(), Some(request_id))),
        "{events:?}"
    );
    // The handler's own events are inside its span.
    let works = handler_spans(&id.to_string())["works"].clone();
    let inside = events
        .iter()
        .find(|(m, _)| m == "inside the handler")
        .unwrap();
    let works_id = recorder
        .spans
        .lock()
        .unwrap()
        .iter()
        .find(|(_, s)| s.fields.get("handler") == works.fields.get("handler"))
        .map(|(id, _)| *id);
    assert_eq!(inside.1, works_id);

    // Inline: in the caller.
    let inline = tracing::info_span!("inline test");
    let inline_id = inline.id().unwrap().into_u64();
    let id = {
        let _inline = testing::inline();
        inline.in_scope(|| match log!(Traced { n: 2 }) {
            Err(eventlib::Error::Handlers(failures)) => failures[0].event_id,
            other => panic!("{other:?}"),
        })
    };
    check(2, &id.to_string(), inline_id);

    // On tokio: the async handler runs on the runtime log! is called in.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let task = tracing::info_span!("tokio task");
    let task_id = task.id().unwrap().into_u64();
    let id = runtime.block_on(tracing::Instrument::instrument(
        async {
            let id = log!(Traced { n: 3 }).unwrap();
            tokio::time::timeout(common::DEADLINE, eventlib::flush_async())
                .await
                .unwrap();
            id
        },
        task,
    ));
    check(3, &id.to_string(), task_id);

    // The default error hook told the failure through tracing.
    let events = recorder.events.lock().unwrap().clone();
    assert!(
        events.iter().any(
            |(m, _)| m.contains("Traced::fails` of event `tests.tracing.Traced`")
                && m.contains("no stock for")
        ),
        "{events:?}"
    );

    // Without a span at log!, a handler span is a root.
    let id = log!(Traced { n: 4 }).unwrap();
    common::flush();
    let spans = handler_spans(&id.to_string());
    assert!(spans.values().all(|s| s.parent.is_none()), "{spans:#?}");
}
