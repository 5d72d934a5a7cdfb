//! With the `metrics` feature: a real Prometheus recorder shows what the
//! relay counted and its backlog.

#![cfg(feature = "metrics")]

mod support;

use std::time::Duration;

use eventlib_sql::{sqlite, RelayOptions};
use metrics_exporter_prometheus::PrometheusBuilder;
use sqlx::sqlite::SqlitePoolOptions;
use support::order;

/// The value of the sample `name` in a Prometheus rendering.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.split_whitespace().next() == Some(name))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_counts_what_it_moved_and_shows_its_backlog() {
    let handle = PrometheusBuilder::new().install_recorder().unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlite::migrate(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    for n in 0..7 {
        sqlite::log(&mut tx, order(format!("metrics-{n}")))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES ('x', 'y', '{}')")
        .execute(&pool)
        .await
        .unwrap();

    let relay = sqlite::relay(pool.clone(), RelayOptions::default());
    assert_eq!(relay.backlog().await.unwrap(), 8);
    assert_eq!(
        sample(&handle.render(), "eventlib_outbox_backlog"),
        Some(8.0)
    );
    let task = relay.spawn();
    support::wait_handled("metrics-", 7).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    task.stop().await;
    let text = handle.render();
    assert_eq!(
        sample(&text, "eventlib_outbox_moved_total"),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "eventlib_outbox_unsendable_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "eventlib_outbox_backlog"),
        Some(0.0),
        "{text}"
    );
}
