//! The ACL users of `docs/security.md`, read from the page, on a real
//! Redis Cluster of three primaries with a replica each: created on every
//! node (a cluster does not share its users), they run a producer over
//! six partitions, a worker, the operator and the viewer, and `ACL LOG`
//! stays empty on every node.
//!
//! On `.ci/test`'s cluster (`$REDIS_CLUSTER_URL`) when there is one: the
//! users are added to its nodes, and the stream key is this run's own
//! (the lines rewritten for it as the page says).

use std::time::Duration;

use eventlib::redis::Operator;
use eventlib_redis_tests::acl::{acl_log, create_documented_users_for, AclUser};
use eventlib_redis_tests::cluster::RedisCluster;
use eventlib_redis_tests::{args, Handled, Process, TempDir};

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");

/// The cluster's URL as `user` of the page: `redis+cluster://` with its
/// name and password, and every node as a seed.
fn url(cluster: &RedisCluster, user: &AclUser) -> String {
    let hosts: Vec<String> = cluster
        .ports()
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    format!(
        "redis+cluster://{}:{}@{}/",
        user.name,
        user.password,
        hosts.join(",")
    )
}

#[test]
fn the_documented_users_run_a_partitioned_stream_on_a_cluster_with_nothing_denied() {
    let cluster = RedisCluster::shared_or_start();
    let stream = format!("acl-{}", std::process::id());
    let mut users = Vec::new();
    for port in cluster.ports() {
        users = create_documented_users_for(&mut cluster.node_connection(port), &stream);
    }
    let user = |name: &str| users.iter().find(|u| u.name == name).unwrap();
    let dir = TempDir::new("cluster-acl");
    let common = [("stream", stream.clone()), ("partitions", "6".to_owned())];

    let mut pairs = common.to_vec();
    pairs.extend([("count", "120".into()), ("keys", "12".into())]);
    let mut producer = Process::node(
        NODE,
        "producer",
        &dir.0,
        &args(
            "producer",
            &url(&cluster, user("eventlib-producer")),
            &pairs,
        ),
    );
    assert!(
        producer.wait(Duration::from_secs(60)),
        "{}",
        producer.output()
    );
    let stats = producer.reported("STATS").expect("the producer's stats");
    assert!(
        stats.contains("delivered=120") && stats.contains("undelivered=0"),
        "{}",
        producer.output()
    );

    let mut pairs = common.to_vec();
    pairs.extend([
        ("consumer", "w1".to_owned()),
        ("idle_ms", "3000".into()),
        ("once_ms", "600000".into()),
    ]);
    let mut worker = Process::node(
        NODE,
        "w1",
        &dir.0,
        &args("worker", &url(&cluster, user("eventlib-worker")), &pairs),
    );
    assert!(worker.wait(Duration::from_secs(90)), "{}", worker.output());
    assert_eq!(
        Handled::read(&dir.0).loss_and_duplicates("record", 0..120),
        (0, 0)
    );

    for name in ["eventlib-operator", "eventlib-viewer"] {
        let mut op = Operator::new(url(&cluster, user(name)).as_str())
            .unwrap()
            .stream(stream.as_str());
        let status = op
            .status()
            .unwrap_or_else(|err| panic!("{name}'s status: {err}"));
        assert_eq!(status.partitions.len(), 6, "{name}: {status:?}");
        assert_eq!(status.length, 120, "{name}");
    }
    let mut op = Operator::new(url(&cluster, user("eventlib-operator")).as_str())
        .unwrap()
        .stream(stream.as_str());
    assert!(op.pause("default", None, "cluster acl test").unwrap());
    assert!(op.resume("default", None).unwrap());

    for port in cluster.ports() {
        assert_eq!(
            acl_log(&mut cluster.node_connection(port)),
            Vec::<String>::new(),
            "ACL LOG of the node on {port}"
        );
    }
}
