//! A relay in front of a Redis Cluster (`redis+cluster://`, a real cluster
//! of three primaries with a replica each, or `.ci/test`'s): its rows
//! reach the stream, and its stats reach `<stream>:relays` on the node
//! that serves that key, where the operator's tools read them.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use eventlib::redis::{Operator, RedisTransport};
use eventlib::Dispatcher;
use eventlib_redis_tests::cluster::RedisCluster;

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

    let relay = support::publishing_relay(pool, "cluster-relay", &url, &stream);
    let mut op = Operator::new(url.as_str()).unwrap().stream(stream.as_str());
    support::check_relay_seen_by(&mut op, &relay, 50).await;
    let _ = std::fs::remove_file(&path);
}
