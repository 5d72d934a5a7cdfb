//! What a relay in front of a real redis-server sends: each row's envelope
//! byte for byte as it was written, including what the relay's build does
//! not know (a data field a newer service added, a field of a later wire
//! revision, a trace context); a row that asks for replay targeting is
//! sent without it, as the relay builds it; a row whose data no longer
//! fits its type is marked and not sent.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::time::Duration;

use eventlib::redis::RedisTransport;
use eventlib::{Dispatcher, EventId};
use eventlib_redis_tests::RedisServer;
use eventlib_sql::{sqlite, RelayOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use support::order;

const STREAM: &str = "sqltest:verbatim";

/// The envelopes in the stream, in order.
fn entries(server: &RedisServer) -> Vec<String> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(STREAM)
        .arg("-")
        .arg("+")
        .query(&mut server.connection())
        .unwrap();
    entries
        .into_iter()
        .flat_map(|(_, fields)| fields)
        .filter(|(field, _)| field == "event")
        .map(|(_, envelope)| envelope)
        .collect()
}

async fn insert(pool: &SqlitePool, id: EventId, envelope: &str) {
    sqlx::query("INSERT INTO eventlib_outbox (event_id, name, envelope) VALUES (?, ?, ?)")
        .bind(id.to_string())
        .bind("sqltest.OrderPlaced")
        .bind(envelope)
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_sends_each_stored_envelope_as_it_was_written() {
    let server = RedisServer::start();
    Dispatcher::builder()
        .transport(RedisTransport::new(server.url()).unwrap().stream(STREAM))
        .install()
        .unwrap();
    let pool = support::migrated_sqlite(SqliteConnectOptions::new().in_memory(true), 1).await;

    // A row written by `log`, as the service writes it.
    let mut tx = pool.begin().await.unwrap();
    let logged = sqlite::log(&mut tx, order("verbatim-logged"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (stored,): (String,) = sqlx::query_as("SELECT envelope FROM eventlib_outbox")
        .fetch_one(&pool)
        .await
        .unwrap();

    // Rows of a newer service: a data field this build's type lacks, a
    // top-level field of a later revision, a trace context, metadata.
    let newer_id = EventId::new();
    let newer = format!(
        r#"{{"v":1,"id":"{newer_id}","name":"sqltest.OrderPlaced","emitted_at":1700000000123,"meta":{{"request_id":"r-7"}},"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","priority":"high","data":{{"order":"verbatim-newer","amount_cents":990,"coupon":"WINTER"}}}}"#
    );
    insert(&pool, newer_id, &newer).await;
    // A row that asks for replay targeting, which `log` never writes.
    let targeted_id = EventId::new();
    let targeted = format!(
        r#"{{"v":1,"id":"{targeted_id}","name":"sqltest.OrderPlaced","emitted_at":1700000000456,"group":"audit","handlers":["x"],"data":{{"order":"verbatim-targeted","amount_cents":5}}}}"#
    );
    insert(&pool, targeted_id, &targeted).await;
    // A row whose data breaks the type's `#[validate]`.
    let refused_id = EventId::new();
    let refused = format!(
        r#"{{"v":1,"id":"{refused_id}","name":"sqltest.OrderPlaced","emitted_at":1700000000789,"data":{{"order":"verbatim-refused","amount_cents":0}}}}"#
    );
    insert(&pool, refused_id, &refused).await;

    let relay = sqlite::relay(
        pool.clone(),
        RelayOptions {
            poll: Duration::from_millis(20),
            ..RelayOptions::default()
        },
    );
    assert_eq!(relay.drain().await.unwrap(), 3, "three moved, one marked");
    let sent = entries(&server);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(sent[0], stored, "the row `log` wrote");
    assert!(stored.contains(&logged.to_string()));
    assert_eq!(sent[1], newer, "the newer service's row");

    // The targeted row went out as this build encodes its event: same id,
    // time, and data, no targeting.
    let rebuilt: serde_json::Value = serde_json::from_str(&sent[2]).unwrap();
    assert_eq!(rebuilt["id"], targeted_id.to_string());
    assert_eq!(rebuilt["emitted_at"], 1700000000456u64);
    assert_eq!(rebuilt["data"]["order"], "verbatim-targeted");
    assert!(rebuilt.get("group").is_none() && rebuilt.get("handlers").is_none());

    // The refused row stays, marked with the reason.
    let (left, error): (String, Option<String>) =
        sqlx::query_as("SELECT event_id, error FROM eventlib_outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, refused_id.to_string());
    let error = error.expect("marked");
    assert!(error.contains("an order costs something"), "{error}");
    assert_eq!(relay.stats().unsendable, 1);
}
