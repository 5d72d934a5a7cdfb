//! With the `metrics` feature: after a known workload, a real Prometheus
//! exporter (`metrics-exporter-prometheus`, on a loopback port), scraped
//! over HTTP, shows exactly what `eventlib::stats()` counts.

mod common;

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};

use eventlib::{event, log, ValidationError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    qty: u32,
}

#[event(name = "tests.metrics.Order")]
impl Order {
    #[validate]
    fn check(&self) -> Result<(), ValidationError> {
        if self.qty == 0 {
            return Err(ValidationError::new("qty must be at least 1"));
        }
        Ok(())
    }

    #[handler]
    fn save(&self) {}

    #[handler(group = "billing")]
    fn charge(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.qty.is_multiple_of(5), "card refused");
        Ok(())
    }

    #[handler]
    async fn notify(&self) {
        assert!(!self.qty.is_multiple_of(7), "never: mailer down");
    }
}

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// `GET /metrics` over a real socket; the body.
fn scrape(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(common::DEADLINE)).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
}

/// The samples of a scrape: `name{labels}` to value.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn a_scrape_matches_stats_exactly() {
    common::quiet_panics("never: mailer down");
    let addr = free_port();
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .unwrap();

    // 202 orders: 21 refused by #[validate] (qty 0), 4 with data that does
    // not fit (by name), the rest accepted.
    for i in 0..202u32 {
        let qty = if i.is_multiple_of(10) { 0 } else { i };
        let _ = log!(Order { qty });
    }
    for _ in 0..4 {
        assert!(log!("tests.metrics.Order", { "qty": "many" }).is_err());
    }
    common::flush();
    let stats = eventlib::stats();
    let order = stats.event("tests.metrics.Order").unwrap();
    assert_eq!(order.emitted, 181);
    assert_eq!(order.refused_invalid, 21);
    assert_eq!(order.refused_data, 4);

    let scraped = samples(&scrape(addr));
    let get = |key: &str| -> u64 {
        let value = scraped
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in the scrape: {scraped:#?}"));
        *value as u64
    };
    let ev = r#"event="tests.metrics.Order""#;
    assert_eq!(
        get(&format!("eventlib_events_emitted_total{{{ev}}}")),
        order.emitted
    );
    assert_eq!(
        get(&format!("eventlib_events_completed_total{{{ev}}}")),
        order.completed
    );
    assert_eq!(
        get(&format!(
            r#"eventlib_events_refused_total{{{ev},reason="validation"}}"#
        )),
        order.refused_invalid
    );
    assert_eq!(
        get(&format!(
            r#"eventlib_events_refused_total{{{ev},reason="data"}}"#
        )),
        order.refused_data
    );
    assert!(!scraped.contains_key(&format!("eventlib_events_dropped_total{{{ev}}}")));
    assert_eq!(order.dropped, 0);

    let mut handled_sum = 0;
    let mut failed_sum = 0;
    let mut panicked_sum = 0;
    for handler in &stats.handlers {
        if !handler.name.contains("Order::") {
            continue;
        }
        let labels = |outcome: &str| {
            format!(
                r#"{ev},handler="{}",group="{}",outcome="{outcome}""#,
                handler.name, handler.group
            )
        };
        let runs = |outcome: &str| {
            scraped
                .get(&format!(
                    "eventlib_handler_runs_total{{{}}}",
                    labels(outcome)
                ))
                .map_or(0, |v| *v as u64)
        };
        assert_eq!(runs("handled"), handler.handled, "{}", handler.name);
        assert_eq!(runs("failed"), handler.failed, "{}", handler.name);
        assert_eq!(runs("panicked"), handler.panicked, "{}", handler.name);
        let total = handler.handled + handler.failed + handler.panicked;
        let durations: u64 = ["handled", "failed", "panicked"]
            .iter()
            .filter_map(|o| {
                scraped.get(&format!(
                    "eventlib_handler_duration_seconds_count{{{}}}",
                    labels(o)
                ))
            })
            .map(|v| *v as u64)
            .sum();
        assert_eq!(durations, total, "{}", handler.name);
        let waits = get(&format!(
            r#"eventlib_queue_wait_seconds_count{{{ev},handler="{}",group="{}"}}"#,
            handler.name, handler.group
        ));
        assert_eq!(waits, total, "{}", handler.name);
        handled_sum += handler.handled;
        failed_sum += handler.failed;
        panicked_sum += handler.panicked;
    }
    assert_eq!(handled_sum, order.handled);
    assert_eq!(failed_sum, order.failed);
    assert_eq!(panicked_sum, order.panicked);
    // 181 accepted: charge refuses qty 5, 15, 25, ... (20 of them), notify
    // panics for multiples of 7 that are not multiples of 10 (26 of them).
    assert_eq!(order.failed, 20);
    assert_eq!(order.panicked, 26);
    assert!(scraped.contains_key("eventlib_queue_depth"), "{scraped:#?}");
}
