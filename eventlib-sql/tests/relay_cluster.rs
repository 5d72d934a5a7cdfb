//! A relay in front of a Redis Cluster (`redis+cluster://`, a real cluster
//! of three primaries with a replica each, or `.ci/test`'s): its rows
//! reach the stream, and its stats reach `<stream>:relays` on the node
//! that serves that key, where the operator's tools read them.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::time::Duration;

use eventlib::redis::{Operator, RedisTransport};
use eventlib::Dispatcher;
use eventlib_redis_tests::cluster::RedisCluster;
use eventlib_sql::{sqlite, RelayOptions};
use support::until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_on_a_cluster_sends_its_rows_and_publishes_its_stats() {
    let cluster = RedisCluster::shared_or_start();
    let url = cluster.url();
    // Without a hash tag, and named so that the stats hash is on another
    // primary than the stream.
    let stream = (0..)
        .map(|n| format!("relay-cluster-{}-{n}", std::process::id()))
        .find(|s| cluster.owner(s) != cluster.owner(&format!("{s}:relays")))
        .unwrap();
    Dispatcher::builder()
        .transport(RedisTransport::new(&url).unwrap().stream(&stream))
        .install()
        .unwrap();

    let (pool, path, _) = support::sqlite_with_orders("cluster", "cluster", 50).await;

    let relay = sqlite::relay(
        pool,
        RelayOptions {
            poll: Duration::from_millis(50),
            ..RelayOptions::default()
        },
    )
    .named("cluster-relay")
    .publish_stats(&url, &stream);
    let task = relay.spawn();
    let mut op = Operator::new(url.as_str()).unwrap().stream(stream.as_str());
    until("the 50 entries", Duration::from_secs(30), || {
        op.status().is_ok_and(|s| s.length == 50)
    })
    .await;
    until("the relay's stats", Duration::from_secs(20), || {
        op.relays()
            .is_ok_and(|r| r.len() == 1 && r[0].name == "cluster-relay" && r[0].moved == 50)
    })
    .await;
    task.stop().await;
    assert_eq!(
        op.relays().unwrap(),
        vec![],
        "a stopped relay removes its field"
    );
    let stats = relay.stats();
    assert_eq!((stats.moved, stats.publish_errors), (50, 0), "{stats}");
    let _ = std::fs::remove_file(&path);
}
