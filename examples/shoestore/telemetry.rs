//! What the shoe store shows to a service's own tools, with the features
//! `tracing`, `metrics` (and `opentelemetry` across Redis): the trace of one
//! page view (the request span, then each handler's span, one trace id)
//! and a Prometheus scrape. An OpenTelemetry SDK with an in-memory
//! exporter stands in for a collector, Prometheus' text format for a
//! scraper.

#[cfg(all(feature = "tracing", feature = "metrics"))]
mod on {
    use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    pub struct Telemetry {
        provider: SdkTracerProvider,
        exporter: InMemorySpanExporter,
        prometheus: metrics_exporter_prometheus::PrometheusHandle,
        traced: std::sync::Mutex<Option<TraceId>>,
    }

    pub fn install() -> anyhow::Result<Telemetry> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("shoestore")));
        tracing::subscriber::set_global_default(subscriber)?;
        let prometheus =
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        Ok(Telemetry {
            provider,
            exporter,
            prometheus,
            traced: std::sync::Mutex::new(None),
        })
    }

    impl Telemetry {
        /// The span of one page view, as a web framework's tracing
        /// middleware would open it; its trace is remembered.
        pub fn page_span(&self, product_id: u64) -> tracing::Span {
            let span = tracing::info_span!("GET /products/{id}", product_id);
            let trace_id = span.context().span().span_context().trace_id();
            *self.traced.lock().unwrap() = Some(trace_id);
            span
        }

        /// The spans of the traced page view, as a tree, and the scrape.
        pub fn print(&self, scrape_lines: usize) {
            let _ = self.provider.force_flush();
            let spans = self.exporter.get_finished_spans().unwrap_or_default();
            let traced = *self.traced.lock().unwrap();
            match traced {
                Some(trace) => {
                    println!("\n== the trace of one page view ({trace})");
                    print_tree(&spans, trace, SpanId::INVALID, 0);
                }
                None => {
                    println!("\n== handler spans that joined a producer's trace");
                    for span in spans.iter().filter(|s| s.parent_span_id != SpanId::INVALID) {
                        println!(
                            "  trace {} parent {}: {} ({})",
                            span.span_context.trace_id(),
                            span.parent_span_id,
                            span.name,
                            describe(span)
                        );
                    }
                }
            }
            let scrape = self.prometheus.render();
            let lines: Vec<&str> = scrape
                .lines()
                .filter(|l| l.starts_with("eventlib_") && !l.contains("quantile"))
                .collect();
            println!(
                "\n== Prometheus scrape ({} eventlib series; the first {scrape_lines})",
                lines.len()
            );
            for line in lines.iter().take(scrape_lines) {
                println!("  {line}");
            }
        }
    }

    fn describe(span: &opentelemetry_sdk::trace::SpanData) -> String {
        let attr = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        match (attr("handler"), attr("outcome")) {
            (Some(handler), Some(outcome)) => format!("{handler}: {outcome}"),
            _ => "request".to_owned(),
        }
    }

    fn print_tree(
        spans: &[opentelemetry_sdk::trace::SpanData],
        trace: TraceId,
        parent: SpanId,
        depth: usize,
    ) {
        for span in spans
            .iter()
            .filter(|s| s.span_context.trace_id() == trace && s.parent_span_id == parent)
        {
            println!(
                "  {:indent$}{} [{}] {}",
                "",
                span.name,
                span.span_context.span_id(),
                describe(span),
                indent = depth * 2
            );
            print_tree(spans, trace, span.span_context.span_id(), depth + 1);
        }
    }
}

#[cfg(not(all(feature = "tracing", feature = "metrics")))]
mod on {
    pub struct Telemetry;

    pub fn install() -> anyhow::Result<Telemetry> {
        Ok(Telemetry)
    }

    impl Telemetry {
        pub fn page_span(&self, _product_id: u64) -> tracing::Span {
            tracing::Span::none()
        }

        pub fn print(&self, _scrape_lines: usize) {
            println!(
                "\n(built without the `tracing` and `metrics` features: add \
                 `--features tracing,metrics,opentelemetry` to see the trace of a page view \
                 and a Prometheus scrape)"
            );
        }
    }
}

use std::sync::OnceLock;

static TELEMETRY: OnceLock<on::Telemetry> = OnceLock::new();

/// Installs the subscriber and the recorder, once per process.
pub fn install() -> anyhow::Result<()> {
    let telemetry = on::install()?;
    let _ = TELEMETRY.set(telemetry);
    Ok(())
}

/// Serves one page view inside its request span (when installed): the
/// events it logs, and the handlers they run, join the page's trace.
pub async fn page_view<F: std::future::Future>(product_id: u64, view: F) -> F::Output {
    use tracing::Instrument as _;
    match TELEMETRY.get() {
        Some(telemetry) => view.instrument(telemetry.page_span(product_id)).await,
        None => view.await,
    }
}

/// Prints the traced page view and the first `scrape_lines` of the scrape.
pub fn print(scrape_lines: usize) {
    if let Some(telemetry) = TELEMETRY.get() {
        telemetry.print(scrape_lines);
    }
}
