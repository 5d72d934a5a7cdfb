//! A producer or worker process for the observability tests, each with a
//! real OpenTelemetry SDK (in-memory span exporter) behind
//! `tracing-opentelemetry`:
//!
//! `eventlib-redis-traced producer url=... stream=... count=N request_id=ID`
//! logs `N` events inside a `request` span and a metadata scope, flushes,
//! and prints `TRACE=<trace id>` and `SPAN=<span id>` of that span.
//!
//! `eventlib-redis-traced worker url=... stream=...` handles until the
//! stream is drained, then prints one `SPAN handler=.. seq=.. attempt=..
//! trace=.. parent=.. links=..` line per exported handler span and one
//! `SEEN seq=.. request_id=.. client_ip=..` line per handler run.

use std::time::Duration;

use eventlib::redis::{RedisTransport, Worker};
use eventlib::{log, metadata, Dispatcher};
use eventlib_redis_tests::traced::{self, Traced};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

fn install_tracing() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("eventlib-redis-traced");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    tracing::subscriber::set_global_default(subscriber).expect("install the subscriber");
    (provider, exporter)
}

fn main() {
    let (role, args) = eventlib_redis_tests::node_args();
    let url = args["url"].clone();
    let stream = args["stream"].clone();
    let (provider, exporter) = install_tracing();
    match role.as_str() {
        "producer" => {
            Dispatcher::builder()
                .transport(RedisTransport::new(&url).unwrap().stream(&stream))
                .install()
                .unwrap();
            let count: u64 = args["count"].parse().unwrap();
            let request = tracing::info_span!("request");
            let sc = request.context().span().span_context().clone();
            request.in_scope(|| {
                metadata::scope(
                    [
                        ("request_id", args["request_id"].as_str()),
                        ("client_ip", "192.0.2.44"),
                    ],
                    || {
                        for seq in 0..count {
                            log!(Traced {
                                seq,
                                flaky: seq == 0
                            })
                            .unwrap();
                        }
                    },
                )
                .unwrap();
            });
            drop(request);
            assert_eq!(
                eventlib::flush_timeout(Duration::from_secs(30)).abandoned,
                0
            );
            println!("TRACE={}", sc.trace_id());
            println!("SPAN={}", sc.span_id());
        }
        "worker" => {
            let worker = Worker::builder(&url)
                .stream(&stream)
                .consumer("traced-worker")
                .backoff(Duration::from_millis(20), Duration::from_millis(50))
                .stop_when_idle(Duration::from_millis(500))
                .build()
                .unwrap();
            worker.run_blocking().unwrap();
            let _ = provider.force_flush();
            for span in exporter.get_finished_spans().unwrap() {
                if span.name != "eventlib.handler" {
                    continue;
                }
                let attr = |key: &str| {
                    span.attributes
                        .iter()
                        .find(|kv| kv.key.as_str() == key)
                        .map(|kv| kv.value.to_string())
                        .unwrap_or_default()
                };
                let links: Vec<String> = span
                    .links
                    .iter()
                    .map(|l| format!("{}:{}", l.span_context.trace_id(), l.span_context.span_id()))
                    .collect();
                println!(
                    "SPAN handler={} event_id={} attempt={} trace={} parent={} links={} outcome={}",
                    attr("handler").rsplit("::").next().unwrap_or(""),
                    attr("event_id"),
                    attr("attempt"),
                    span.span_context.trace_id(),
                    span.parent_span_id,
                    links.join(","),
                    attr("outcome"),
                );
            }
            for line in traced::seen() {
                println!("{line}");
            }
        }
        other => panic!("unknown role `{other}`"),
    }
}
