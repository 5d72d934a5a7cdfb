//! A relay whose stats Redis accepts connections and stops answering
//! (`CLIENT PAUSE`): each write of its stats is waited for 3 s at most,
//! counted as failed past that, and its `stop` returns within seconds
//! rather than after the replies' timeouts.

mod support;

use std::time::{Duration, Instant};

use eventlib_redis_tests::RedisServer;
use support::until;

const STREAM: &str = "sqltest:hung";

fn relays(server: &RedisServer) -> Vec<String> {
    redis::cmd("HKEYS")
        .arg(format!("{STREAM}:relays"))
        .query(&mut server.connection())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_stats_redis_hangs_stops_within_seconds() {
    let server = RedisServer::start();
    let (pool, path, _) = support::sqlite_with_orders("hung", "hung", 0).await;
    let relay = support::publishing_relay(pool, "hung-relay", server.url(), STREAM);
    let task = relay.spawn();
    until("the relay's stats", Duration::from_secs(20), || {
        relays(&server) == ["hung-relay"]
    })
    .await;

    // Every client's commands wait 40 s; the next write of the stats
    // (5 s after the first) is one of them.
    redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(40_000)
        .arg("ALL")
        .exec(&mut server.connection())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5_700)).await;
    let asked = Instant::now();
    task.stop().await;
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "stop took {took:?} (its stats' writes waited 3 s at most each)"
    );
    // The write that hung, and the removal of the field at the stop.
    let stats = relay.stats();
    assert!(stats.publish_errors >= 1, "{stats}");
    let _ = std::fs::remove_file(&path);
}
