//! The local cluster the cluster tests run on: three primaries with a
//! replica each, a primary killed and replaced by its replica, brought back
//! as a replica, and slots moved with their keys.

use eventlib_redis_tests::cluster::RedisCluster;

#[test]
fn a_local_cluster_fails_over_and_reshards() {
    let mut cluster = RedisCluster::start();
    let primaries = cluster.primaries();
    assert_eq!(primaries.len(), 3, "{primaries:?}");
    let served: u32 = primaries
        .iter()
        .flat_map(|n| n.slots.iter())
        .map(|&(a, b)| u32::from(b - a + 1))
        .sum();
    assert_eq!(served, 16384);
    let replicas = cluster.nodes().into_iter().filter(|n| !n.primary).count();
    assert_eq!(replicas, 3);

    // Keys written through the crate's cluster client land on the primary
    // that serves their slot.
    let mut conn = cluster.connection();
    for i in 0..30 {
        let key = format!("{{k{i}}}:x");
        redis::cmd("SET")
            .arg(&key)
            .arg(i)
            .exec(&mut conn)
            .expect("SET");
        let owner = cluster.owner(&key);
        let got: Option<i64> = redis::cmd("GET")
            .arg(&key)
            .query(&mut cluster.node_connection(owner))
            .expect("GET on the owner");
        assert_eq!(got, Some(i));
    }

    // Replicated before the kill: WAIT tells.
    let key = "{k0}:x";
    let old = cluster.owner(key);
    let mut owner_conn = cluster.node_connection(old);
    redis::cmd("SET")
        .arg(key)
        .arg("kept")
        .exec(&mut owner_conn)
        .expect("SET");
    let replicated: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut owner_conn)
        .expect("WAIT");
    assert_eq!(replicated, 1);
    let new = cluster.fail_over_by_kill(old);
    assert_ne!(new, old);
    assert_eq!(cluster.owner(key), new);
    let got: String = redis::cmd("GET")
        .arg(key)
        .query(&mut cluster.node_connection(new))
        .expect("GET on the new primary");
    assert_eq!(got, "kept");

    // The killed node comes back as a replica of its successor.
    cluster.restart(old);
    cluster.wait_settled();
    let back = cluster
        .nodes()
        .into_iter()
        .find(|n| n.port == old)
        .expect("the restarted node");
    assert!(!back.primary, "{back:?}");

    // A reshard moves the slot, and the key with it.
    let slot = cluster.slot(key);
    let target = cluster
        .primaries()
        .into_iter()
        .map(|n| n.port)
        .find(|&p| p != new)
        .expect("another primary");
    let count = cluster.slots_up_to(new, slot);
    cluster.reshard(new, target, count);
    assert_eq!(cluster.owner(key), target);
    let got: String = redis::cmd("GET")
        .arg(key)
        .query(&mut cluster.node_connection(target))
        .expect("GET after the reshard");
    assert_eq!(got, "kept");
}
