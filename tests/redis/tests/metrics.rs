//! With the `metrics` feature, a producer logging to Redis and a worker
//! running the handlers, in one process under a real Prometheus recorder:
//! what the recorder shows is exactly what the producer's and the
//! worker's statistics count, once the Redis producer's thread and the
//! worker's handler threads count through the handles they keep.

#![cfg(feature = "observed")]

use std::collections::HashMap;
use std::time::Duration;

use eventlib::redis::{producer_stats, RedisTransport, Worker};
use eventlib::{event, log, Dispatcher};
use eventlib_redis_tests::RedisServer;
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::{Deserialize, Serialize};

const STREAM: &str = "metrics:events";
const ORDERS: u64 = 200;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Order {
    qty: u64,
}

#[event(name = "redismetrics.Order")]
impl Order {
    #[handler]
    fn save(&self) {}

    #[handler]
    fn charge(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.qty.is_multiple_of(5), "card refused");
        Ok(())
    }
}

/// The samples of a render: `name{labels}` to value.
fn samples(body: &str) -> HashMap<String, u64> {
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse::<f64>().ok()? as u64))
        })
        .collect()
}

#[test]
fn the_recorder_counts_what_the_producer_and_the_worker_count() {
    let redis = RedisServer::start();
    let prometheus = PrometheusBuilder::new().install_recorder().unwrap();
    Dispatcher::builder()
        .transport(RedisTransport::new(redis.url()).unwrap().stream(STREAM))
        .install()
        .unwrap();
    for qty in 1..=ORDERS {
        log!(Order { qty }).unwrap();
    }
    assert!(eventlib::flush().is_clean());
    assert_eq!(producer_stats().unwrap().delivered, ORDERS);

    let worker = Worker::builder(redis.url())
        .stream(STREAM)
        .max_attempts(1)
        .concurrency(2)
        .handle_signals(false)
        .stop_when_idle(Duration::from_millis(500))
        .build()
        .unwrap();
    worker.run_blocking().unwrap();
    let handled = worker.stats();
    assert_eq!(handled.acked, ORDERS, "{handled}");
    assert_eq!(handled.dead_lettered, ORDERS / 5, "{handled}");

    let scraped = samples(&prometheus.render());
    let get = |key: &str| {
        *scraped
            .get(key)
            .unwrap_or_else(|| panic!("no `{key}` in {scraped:#?}"))
    };
    let ev = r#"event="redismetrics.Order""#;
    let stats = eventlib::stats();
    let order = stats.event("redismetrics.Order").unwrap();
    assert_eq!(order.emitted, ORDERS);
    // Delivered to Redis by the producer: completed on this side.
    assert_eq!(order.completed, ORDERS, "{stats}");
    assert_eq!(
        get(&format!("eventlib_events_emitted_total{{{ev}}}")),
        ORDERS
    );
    assert_eq!(
        get(&format!("eventlib_events_completed_total{{{ev}}}")),
        order.completed
    );
    let mut runs_seen = 0;
    for handler in stats.handlers.iter().filter(|h| h.name.contains("Order::")) {
        // A handler's series by outcome (0 when the series is not there).
        let series = |name: &str, outcome: &str| {
            scraped
                .get(&format!(
                    r#"{name}{{{ev},handler="{}",group="{}",outcome="{outcome}"}}"#,
                    handler.name, handler.group
                ))
                .copied()
                .unwrap_or(0)
        };
        for name in [
            "eventlib_handler_runs_total",
            "eventlib_handler_duration_seconds_count",
        ] {
            assert_eq!(
                series(name, "handled"),
                handler.handled,
                "{name} {}",
                handler.name
            );
            assert_eq!(
                series(name, "failed"),
                handler.failed,
                "{name} {}",
                handler.name
            );
        }
        let waits = get(&format!(
            r#"eventlib_queue_wait_seconds_count{{{ev},handler="{}",group="{}"}}"#,
            handler.name, handler.group
        ));
        assert_eq!(waits, handler.handled + handler.failed, "{}", handler.name);
        runs_seen += series("eventlib_handler_runs_total", "handled")
            + series("eventlib_handler_runs_total", "failed");
    }
    // Each order ran both handlers once on the worker; charge refused one
    // in five.
    assert_eq!(runs_seen, 2 * ORDERS);
    assert_eq!(order.failed, ORDERS / 5);
}
