//! The event and the span recorder of the tracing test binaries: a real
//! `tracing-subscriber` layer that records every span and event, and the
//! check that one event's three handler spans are children of a span.

use std::collections::HashMap;
use std::sync::Mutex;

use eventlib::event;
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Traced {
    pub n: u32,
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
        super::common::yield_now().await;
    }
}

/// One span as the layer saw it.
#[derive(Debug, Clone, Default)]
pub struct SpanSeen {
    pub name: &'static str,
    pub parent: Option<u64>,
    pub fields: HashMap<String, String>,
}

#[derive(Default)]
pub struct Recorder {
    pub spans: Mutex<HashMap<u64, SpanSeen>>,
    /// Events: their message, and the span they were recorded in.
    pub events: Mutex<Vec<(String, Option<u64>)>>,
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

pub fn recorder() -> &'static Recorder {
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::default());
        let subscriber = tracing_subscriber::registry().with(RecordingLayer(recorder));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        recorder
    })
}

/// The handler spans of the event with id `id`, by handler name.
pub fn handler_spans(id: &str) -> HashMap<String, SpanSeen> {
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

pub fn check(n: u32, id: &str, parent: u64) {
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
