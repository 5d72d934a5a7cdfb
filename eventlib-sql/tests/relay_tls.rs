//! A relay in front of a `redis-server` that takes only TLS, with the
//! operator's own CA and client certificates (`tls-auth-clients yes`): its
//! rows reach the stream through the transport, and its stats reach
//! `<stream>:relays` through the same `Server`, certificates and all.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use eventlib::redis::{Operator, RedisTransport};
use eventlib::Dispatcher;
use eventlib_redis_tests::pki::{Pki, TlsRedisServer};

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
    let relay = support::publishing_relay(pool, "tls-relay", &server, STREAM);
    let mut op = Operator::new(&server).unwrap().stream(STREAM);
    support::check_relay_seen_by(&mut op, &relay, 30).await;
    let _ = std::fs::remove_file(&path);
}
