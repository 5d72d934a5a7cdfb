//! A relay in front of a `redis-server` that takes only TLS, with the
//! operator's own CA and client certificates (`tls-auth-clients yes`): its
//! rows reach the stream through the transport, and its stats reach
//! `<stream>:relays` through the same `Server`, certificates and all.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::time::Duration;

use eventlib::redis::{Operator, RedisTransport};
use eventlib::Dispatcher;
use eventlib_redis_tests::pki::{Pki, TlsRedisServer};
use eventlib_sql::{sqlite, RelayOptions};
use support::until;

const STREAM: &str = "sqltest:tls";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_over_tls_with_a_private_ca_sends_its_rows_and_publishes_its_stats() {
    let pki = Pki::new("relay-tls");
    let redis = TlsRedisServer::start(&pki);
    let server = redis.server(&pki);
    Dispatcher::builder()
        .transport(RedisTransport::new(&server).unwrap().stream(STREAM))
        .install()
        .unwrap();
    let (pool, path, _) = support::sqlite_with_orders("tls", "tls", 30).await;
    let relay = sqlite::relay(
        pool,
        RelayOptions {
            poll: Duration::from_millis(50),
            ..RelayOptions::default()
        },
    )
    .named("tls-relay")
    .publish_stats(&server, STREAM);
    let task = relay.spawn();
    let mut op = Operator::new(&server).unwrap().stream(STREAM);
    until("the 30 entries", Duration::from_secs(30), || {
        op.status().is_ok_and(|s| s.length == 30)
    })
    .await;
    until("the relay's stats", Duration::from_secs(20), || {
        op.relays()
            .is_ok_and(|r| r.len() == 1 && r[0].name == "tls-relay" && r[0].moved == 30)
    })
    .await;
    task.stop().await;
    assert_eq!(op.relays().unwrap(), vec![]);
    let stats = relay.stats();
    assert_eq!((stats.moved, stats.publish_errors), (30, 0), "{stats}");
    let _ = std::fs::remove_file(&path);
}
