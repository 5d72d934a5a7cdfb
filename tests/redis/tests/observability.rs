//! Across machines: a producer process logs inside a `request` span and a
//! metadata scope; a worker process (each with a real OpenTelemetry SDK,
//! against a real redis-server) runs the handlers in spans of the same
//! trace, children of the producer's span on the first attempt and linked
//! to it on a retry, with the request metadata in their context. An entry
//! written by hand with a `traceparent` joins that trace.

use std::time::Duration;

use eventlib_redis_tests::{xadd_envelope, Process, RedisServer, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_eventlib-redis-traced");
const STREAM: &str = "traced:events";
const FOREIGN_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const FOREIGN_SPAN: &str = "00f067aa0ba902b7";

#[derive(Debug)]
struct SpanLine {
    handler: String,
    event_id: String,
    attempt: u32,
    trace: String,
    parent: String,
    links: String,
    outcome: String,
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|part| {
            part.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
        })
        .unwrap_or_else(|| panic!("no `{key}` in `{line}`"))
}

fn spans(output: &str) -> Vec<SpanLine> {
    output
        .lines()
        .filter(|l| l.starts_with("SPAN "))
        .map(|l| SpanLine {
            handler: field(l, "handler").to_owned(),
            event_id: field(l, "event_id").trim_matches('"').to_owned(),
            attempt: field(l, "attempt").parse().unwrap(),
            trace: field(l, "trace").to_owned(),
            parent: field(l, "parent").to_owned(),
            links: field(l, "links").to_owned(),
            outcome: field(l, "outcome").to_owned(),
        })
        .collect()
}

#[test]
fn a_worker_process_joins_the_producer_trace() {
    let redis = RedisServer::start();
    let url = redis.url();
    let dir = TempDir::new("traced");
    let args = |role: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            role.to_owned(),
            format!("url={url}"),
            format!("stream={STREAM}"),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let mut producer = Process::node(
        BIN,
        "producer",
        &dir.0,
        &args("producer", &["count=3", "request_id=req-42"]),
    );
    assert!(
        producer.wait(Duration::from_secs(60)),
        "{}",
        producer.output()
    );
    let trace = producer.reported("TRACE").unwrap();
    let span = producer.reported("SPAN").unwrap();
    assert_ne!(
        trace,
        "00000000000000000000000000000000",
        "{}",
        producer.output()
    );

    // An entry from another language, with a trace of its own.
    let mut conn = redis.connection();
    let envelope = format!(
        r#"{{"v":1,"name":"ot.Traced","data":{{"seq":100}},
            "traceparent":"00-{FOREIGN_TRACE}-{FOREIGN_SPAN}-01"}}"#
    );
    xadd_envelope(&mut conn, STREAM, envelope.as_bytes());

    let mut worker = Process::node(BIN, "worker", &dir.0, &args("worker", &[]));
    assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    let output = worker.output();
    let spans = spans(&output);

    // Events 0..3: `record` once each, `flaky` once (twice for seq 0).
    let produced: Vec<&SpanLine> = spans.iter().filter(|s| s.trace == trace).collect();
    let first_attempts: Vec<&&SpanLine> = produced.iter().filter(|s| s.attempt == 1).collect();
    assert_eq!(first_attempts.len(), 6, "{output}");
    for s in &first_attempts {
        assert_eq!(
            s.parent, span,
            "a first attempt is a child of the request span: {s:?}"
        );
    }
    assert_eq!(
        first_attempts
            .iter()
            .filter(|s| s.outcome == "failed")
            .count(),
        1,
        "{output}"
    );
    // The retry: a trace of its own, linked to the request span.
    let retries: Vec<&SpanLine> = spans.iter().filter(|s| s.attempt == 2).collect();
    assert_eq!(retries.len(), 1, "{output}");
    let retry = retries[0];
    assert_eq!(retry.handler, "flaky");
    assert_eq!(retry.outcome, "handled");
    assert_ne!(
        retry.trace, trace,
        "a retry does not stretch the original trace"
    );
    assert_eq!(retry.parent, "0000000000000000", "{retry:?}");
    assert_eq!(retry.links, format!("{trace}:{span}"), "{retry:?}");
    let failed = first_attempts
        .iter()
        .find(|s| s.outcome == "failed")
        .unwrap();
    assert_eq!(failed.event_id, retry.event_id);

    // The foreign entry joined its own trace.
    let foreign: Vec<&SpanLine> = spans.iter().filter(|s| s.trace == FOREIGN_TRACE).collect();
    assert_eq!(foreign.len(), 2, "{output}");
    assert!(
        foreign.iter().all(|s| s.parent == FOREIGN_SPAN),
        "{foreign:?}"
    );

    // The request metadata came along over the wire.
    for seq in 0..3 {
        assert!(
            output.contains(&format!(
                "SEEN seq={seq} request_id=req-42 client_ip=192.0.2.44"
            )),
            "{output}"
        );
    }
    assert!(
        output.contains("SEEN seq=100 request_id=- client_ip=-"),
        "{output}"
    );
}
