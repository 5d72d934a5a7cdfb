//! A relay under the producer user of `docs/security.md`, read from the
//! page and created on a real redis-server, as an operator pastes it: its
//! transport sends every committed row, its stats reach
//! `eventlib:events:relays` and leave it when it stops, and `ACL LOG`
//! stays empty.
//!
//! One test: the Redis transport is installed once per process.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use eventlib::redis::{RedisTransport, DEFAULT_STREAM};
use eventlib::{Dispatcher, EventId};
use eventlib_redis_tests::acl::{acl_log, create_documented_users, AclUser};
use eventlib_redis_tests::RedisServer;
use support::{stream_ids, until};

/// Where the documented producer user may write a relay's stats.
const RELAYS: &str = "eventlib:events:relays";

fn relays(server: &RedisServer) -> Vec<String> {
    redis::cmd("HKEYS")
        .arg(RELAYS)
        .query(&mut server.connection())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_under_the_documented_producer_user_sends_and_publishes_with_nothing_denied() {
    let server = RedisServer::start();
    let mut admin = server.connection();
    create_documented_users(&mut admin);
    let url = AclUser::named("eventlib-producer").url(server.port);
    Dispatcher::builder()
        .transport(RedisTransport::new(&url).unwrap())
        .install()
        .unwrap();

    let (pool, path, ids) = support::sqlite_with_orders("acl", "acl", 100).await;
    let ids: HashSet<EventId> = ids.into_iter().collect();

    let relay = support::publishing_relay(pool, "acl-relay", url, DEFAULT_STREAM);
    let task = relay.spawn();
    until("100 entries", Duration::from_secs(30), || {
        stream_ids(&server, DEFAULT_STREAM).len() == 100
    })
    .await;
    assert_eq!(
        stream_ids(&server, DEFAULT_STREAM)
            .keys()
            .copied()
            .collect::<HashSet<_>>(),
        ids
    );
    until(
        "the relay's stats in Redis",
        Duration::from_secs(20),
        || relays(&server) == ["acl-relay"],
    )
    .await;
    task.stop().await;
    assert!(
        relays(&server).is_empty(),
        "a stopped relay removes its field"
    );

    let stats = relay.stats();
    assert_eq!((stats.moved, stats.failed()), (100, 0), "{stats}");
    assert_eq!(stats.publish_errors, 0, "{stats}");
    assert_eq!(acl_log(&mut admin), Vec::<String>::new());
    let _ = std::fs::remove_file(&path);
}
