//! eventlib on a real Redis Cluster of three primaries with a replica each
//! (started per test, or `$REDIS_CLUSTER_URL` from `.ci/test` for the
//! tests that change nothing in the cluster itself).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use eventlib::redis::{create_group, declare_groups, GroupStart, Operator, Server};
use eventlib_redis_tests::cluster::{NodeInfo, RedisCluster};
use eventlib_redis_tests::{args, produced, wait_for, xlen, Handled, Process, TempDir};

/// The groups of `stream` as the primary that serves it says.
fn groups_on(cluster: &RedisCluster, port: u16, stream: &str) -> Vec<String> {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(stream)
        .query(&mut cluster.node_connection(port))
        .expect("XINFO GROUPS on the stream's primary");
    groups
        .iter()
        .filter_map(|g| match g.get("name") {
            Some(redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn seeds_lead_to_the_primary_of_a_stream_through_a_reshard_and_a_failover() {
    let mut cluster = RedisCluster::start();
    let stream = "{shop}:events";
    // Only one seed, and not the stream's primary: the rest is discovered.
    let owner = cluster.owner(stream);
    let seed = cluster
        .ports()
        .into_iter()
        .find(|&p| p != owner)
        .expect("another node");
    let one_seed = format!("redis+cluster://127.0.0.1:{seed}/");
    declare_groups(one_seed.as_str(), stream, &["default"]).expect("declare on the cluster");
    assert_eq!(groups_on(&cluster, owner, stream), ["default"]);

    // The slot moves to another primary: clients follow.
    let target = cluster
        .primaries()
        .into_iter()
        .map(|n| n.port)
        .find(|&p| p != owner)
        .expect("another primary");
    let count = cluster.slots_up_to(owner, cluster.slot(stream));
    cluster.reshard(owner, target, count);
    assert_eq!(cluster.owner(stream), target);
    let seeds = Server::cluster(cluster.seed_urls());
    assert!(create_group(&seeds, stream, "audit", &GroupStart::Oldest).expect("create"));
    let mut on_target = groups_on(&cluster, target, stream);
    on_target.sort();
    assert_eq!(on_target, ["audit", "default"]);

    // Its primary is killed: its replica serves it, found through the
    // seeds that still answer.
    let new = cluster.fail_over_by_kill(target);
    assert!(
        !create_group(cluster.url().as_str(), stream, "audit", &GroupStart::Oldest)
            .expect("the group exists already on the new primary")
    );
    assert!(
        create_group(cluster.url().as_str(), stream, "late", &GroupStart::Now).expect("create")
    );
    assert_eq!(groups_on(&cluster, new, stream).len(), 3);
}

#[test]
fn a_cluster_url_without_seeds_is_a_configuration_error() {
    for url in [
        "redis+cluster:///",
        "redis+cluster://,/",
        "redis+cluster://:pw@/",
    ] {
        match declare_groups(url, "{s}:events", &["default"]) {
            Err(eventlib::Error::Config { option, reason }) => {
                assert_eq!(option, "url", "{url}");
                assert!(!reason.contains("pw"), "{reason}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

const NODE: &str = env!("CARGO_BIN_EXE_eventlib-redis-node");

/// The stream keys of every partition of `stream` split in 6, by the
/// primary that holds them.
fn partitions_of(cluster: &RedisCluster, stream: &str) -> BTreeMap<u16, Vec<String>> {
    let mut found = BTreeMap::new();
    for primary in cluster.primaries() {
        let mut conn = cluster.node_connection(primary.port);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{{{stream}:*-of-6:*}}"))
            .query(&mut conn)
            .expect("KEYS");
        let mut streams: Vec<String> = keys.into_iter().filter(|k| k.ends_with('}')).collect();
        streams.sort();
        found.insert(primary.port, streams);
    }
    found
}

/// [`partitions_of`] the default stream.
fn partitions_by_primary(cluster: &RedisCluster) -> BTreeMap<u16, Vec<String>> {
    partitions_of(cluster, "eventlib:events")
}

/// The seqs `handler` ran for, in the order each `*.handled` file of `dir`
/// says (one file per worker process).
fn handled_in_order(dir: &Path, handler: &str) -> Vec<Vec<u64>> {
    let mut files = Vec::new();
    for file in std::fs::read_dir(dir)
        .expect("read the test directory")
        .flatten()
    {
        let path = file.path();
        if path.extension().is_some_and(|e| e == "handled") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            files.push(
                text.lines()
                    .filter_map(|line| {
                        let mut parts = line.split(' ');
                        (parts.next() == Some(handler))
                            .then(|| parts.next()?.parse().ok())
                            .flatten()
                    })
                    .collect(),
            );
        }
    }
    files
}

#[test]
fn six_partitions_on_three_shards_are_handled_once_each_and_in_key_order() {
    // Changes nothing in the cluster: `.ci/test`'s, when there is one,
    // with a stream of this run's own.
    let cluster = RedisCluster::shared_or_start();
    let dir = TempDir::new("cluster-once");
    let url = cluster.url();
    let stream = format!(
        "once-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let count = 3000u64;
    let keys = 12u64;
    let mut producer = producer_node(
        &dir.0,
        &url,
        &[
            ("count", count.to_string()),
            ("stream", stream.clone()),
            ("partitions", "6".into()),
            ("keys", keys.to_string()),
            ("declare", "default".into()),
        ],
    );
    assert!(
        producer.wait(Duration::from_secs(120)),
        "{}",
        producer.output()
    );
    // Two partitions on each of the three shards.
    let placed = partitions_of(&cluster, &stream);
    assert_eq!(placed.len(), 3, "{placed:?}");
    for streams in placed.values() {
        assert_eq!(streams.len(), 2, "{placed:?}");
    }
    // The operator's status adds the partitions up, and shows each.
    let mut op = Operator::new(url.as_str())
        .expect("an operator handle")
        .stream(stream.as_str());
    let status = op.status().expect("the status across partitions");
    assert_eq!(status.partitions.len(), 6);
    assert_eq!(status.length, count);
    assert_eq!(
        status.partitions.iter().map(|p| p.length).sum::<u64>(),
        count
    );
    assert!(status.partitions.iter().all(|p| p.length > 0));
    let default = &status.groups[0];
    assert_eq!(
        (default.name.as_str(), default.lag),
        ("default", Some(count))
    );
    let mut worker = worker_node(
        &dir.0,
        &url,
        "w1",
        &[
            ("stream", stream.clone()),
            ("partitions", "6".into()),
            ("concurrency", "1".into()),
            ("idle_ms", "1500".into()),
        ],
    );
    assert!(worker.wait(Duration::from_secs(120)), "{}", worker.output());
    let seqs = produced(&dir.0, "producer");
    assert_eq!(seqs.len() as u64, count);
    let handled = Handled::read(&dir.0);
    for handler in ["record", "flaky"] {
        assert_eq!(
            handled.loss_and_duplicates(handler, seqs.iter().copied()),
            (0, 0),
            "{handler}"
        );
    }
    // Per key, in the order logged.
    for file in handled_in_order(&dir.0, "record") {
        let mut last: BTreeMap<u64, u64> = BTreeMap::new();
        for seq in file {
            let key = seq % keys;
            if let Some(&before) = last.get(&key) {
                assert!(before < seq, "key k{key}: {seq} handled after {before}");
            }
            last.insert(key, seq);
        }
    }
    assert_eq!(worker.stat("acked"), Some(count));
    let status = op.status().expect("the status across partitions");
    let default = &status.groups[0];
    assert_eq!((default.pending, default.lag), (0, Some(0)));
    // What `eventlib status` reads besides, on keys of other slots.
    op.live_processes()
        .expect("the live processes on a cluster");
    op.pauses().expect("the pauses on a cluster");
    assert_eq!(default.consumers.len(), 1, "{:?}", default.consumers);
    assert_eq!(default.consumers[0].name, "w1");
    operators_span_the_shards(&cluster, &mut op, &stream);
}

/// What the `eventlib` command and the dashboard do through an
/// [`Operator`], on partitions spread over three primaries: a pause is
/// written next to every partition, on its own shard, and read back once;
/// dead letters of partitions on different shards are counted, listed,
/// found by reference, replayed to their own partition and removed.
fn operators_span_the_shards(cluster: &RedisCluster, op: &mut Operator, stream: &str) {
    let placed = partitions_of(cluster, stream);
    assert!(op
        .pause("default", Some("record"), "the cluster test")
        .expect("a pause across shards"));
    for (port, keys) in &placed {
        let mut conn = cluster.node_connection(*port);
        for key in keys {
            let held: bool = redis::cmd("HEXISTS")
                .arg(format!("{key}:paused"))
                .arg("default|record")
                .query(&mut conn)
                .expect("HEXISTS on the partition's primary");
            assert!(held, "no pause next to {key} on the primary at {port}");
        }
    }
    let pauses = op.pauses().expect("the pauses across shards");
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    assert_eq!(pauses[0].handler.as_deref(), Some("record"));
    assert!(op
        .resume("default", Some("record"))
        .expect("a resume across shards"));
    assert!(op.pauses().expect("the pauses").is_empty());

    // One dead letter in the first partition of each shard (its entries
    // are trimmed by now: the worker handled them all), carrying an
    // envelope to replay.
    let envelope = r#"{"v":1,"name":"cluster.Replayed","data":{"n":1}}"#;
    let mut written = Vec::new();
    for (port, keys) in &placed {
        let key = &keys[0];
        let mut conn = cluster.node_connection(*port);
        let id: String = redis::cmd("XADD")
            .arg(format!("{key}:dead"))
            .arg("*")
            .arg("group")
            .arg("default")
            .arg("reason")
            .arg("written by the test")
            .arg("event")
            .arg(envelope)
            .query(&mut conn)
            .expect("XADD of a dead letter");
        written.push((key.clone(), id));
    }
    let mut dead = op.dead_letters();
    assert_eq!(dead.len().expect("the dead letters across shards"), 3);
    let letters = dead.list(10).expect("the dead letters listed");
    assert_eq!(letters.len(), 3);
    let mut seen: Vec<(String, String)> = letters
        .iter()
        .map(|l| (l.stream.clone(), l.id.clone()))
        .collect();
    seen.sort();
    written.sort();
    assert_eq!(seen, written);
    assert!(letters.iter().all(|l| l.partition.is_some()));
    let found = dead
        .get(&letters[0].reference())
        .expect("a dead letter by reference")
        .expect("found");
    assert_eq!(
        (&found.stream, &found.id),
        (&letters[0].stream, &letters[0].id)
    );
    let length = |op: &mut Operator, key: &str| {
        op.status()
            .expect("the status across partitions")
            .partitions
            .iter()
            .find(|p| p.stream == key)
            .expect("a partition of the status")
            .length
    };
    let before = length(op, &letters[0].stream);
    let mut dead = op.dead_letters();
    dead.replay(&letters[0]).expect("a replay to its partition");
    dead.remove(&letters[1]).expect("a removal");
    assert_eq!(dead.len().expect("the dead letters"), 1);
    assert_eq!(length(op, &letters[0].stream), before + 1);
    let status = op.status().expect("the status across partitions");
    assert_eq!(status.dead_letters, 1);
    let partition = |key: &str| {
        status
            .partitions
            .iter()
            .find(|p| p.stream == key)
            .expect("a partition of the status")
    };
    assert_eq!(partition(&letters[0].stream).dead_letters, 0);
    assert_eq!(partition(&letters[1].stream).dead_letters, 0);
    assert_eq!(partition(&letters[2].stream).dead_letters, 1);
}

/// What one run through a failover gave.
struct Failover {
    lost: u64,
    duplicates: u64,
    produced: u64,
    producer: String,
    worker: String,
}

/// A producer logs events over 6 partitions at a pace while a worker
/// handles them; a primary is killed with `kill -9` mid-way and its replica
/// takes over. Neither process is restarted.
fn through_a_failover(confirm: bool) -> Failover {
    let mut cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-failover");
    let url = cluster.url();
    let confirmed = if confirm { "1" } else { "0" };
    let mut worker = worker_node(
        &dir.0,
        &url,
        "w1",
        &[
            ("partitions", "6".into()),
            ("concurrency", "2".into()),
            ("visibility_ms", "3000".into()),
            ("confirm", confirmed.into()),
        ],
    );
    let mut pairs = vec![
        ("count", "6000".to_string()),
        ("pace_us", "500".into()),
        ("partitions", "6".into()),
        ("declare", "default".into()),
    ];
    if confirm {
        pairs.push(("confirm", "1".into()));
        pairs.push(("wait_ms", "500".into()));
    }
    let mut producer = Process::node(NODE, "producer", &dir.0, &args("producer", &url, &pairs));
    std::thread::sleep(Duration::from_millis(1500));
    let victim = cluster.primaries()[0].port;
    let started = Instant::now();
    let successor = cluster.fail_over_by_kill(victim);
    println!(
        "killed the primary on {victim}; its replica on {successor} took over in {:?}",
        started.elapsed()
    );
    // The killed node comes back as its successor's replica, as an
    // operator brings it back: until then, `WAIT 1` on that shard cannot be
    // satisfied and a producer with `Confirm::replicas(1)` waits.
    cluster.restart(victim);
    assert!(
        producer.wait(Duration::from_secs(120)),
        "the producer did not deliver everything: {}",
        producer.output()
    );
    println!(
        "the producer finished {:?} after the kill",
        started.elapsed()
    );
    let seqs = produced(&dir.0, "producer");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !Handled::read(&dir.0).all("record", seqs.iter().copied()) {
        std::thread::sleep(Duration::from_millis(200));
    }
    // The entries of the old primary that its replica never got, if any,
    // are not coming: a few seconds past the visibility timeout is enough.
    std::thread::sleep(Duration::from_secs(4));
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    let (lost, duplicates) =
        Handled::read(&dir.0).loss_and_duplicates("record", seqs.iter().copied());
    Failover {
        lost,
        duplicates,
        produced: seqs.len() as u64,
        producer: producer.reported("STATS").unwrap_or_default(),
        worker: worker.reported("STATS").unwrap_or_default(),
    }
}

#[test]
fn no_event_confirmed_by_a_replica_is_lost_when_its_primary_is_killed() {
    let run = through_a_failover(true);
    println!(
        "with WAIT 1: {} produced, {} lost, {} handled twice or more; producer: {}; worker: {}",
        run.produced, run.lost, run.duplicates, run.producer, run.worker
    );
    assert_eq!(run.produced, 6000);
    assert_eq!(run.lost, 0, "an event confirmed by a replica was lost");
    // Bounded by what was in flight on the killed primary: its two
    // partitions' unconfirmed batches and unacknowledged entries.
    assert!(run.duplicates <= 1500, "{} duplicates", run.duplicates);
}

/// Kills (`kill -9`) the replica of the cluster's first primary: returns
/// that primary and the replica's port.
fn without_its_replica(cluster: &mut RedisCluster) -> (NodeInfo, u16) {
    let stalled = cluster.primaries()[0].clone();
    let replica = cluster
        .nodes()
        .into_iter()
        .find(|n| n.primary_id.as_deref() == Some(stalled.id.as_str()))
        .expect("a replica of the first primary")
        .port;
    cluster.kill9(replica);
    (stalled, replica)
}

/// The entries of the default stream's partitions on the primary at
/// `port`, and on the others.
fn entries_by_shard(cluster: &RedisCluster, port: u16) -> (u64, u64) {
    let (mut on, mut others) = (0, 0);
    for (primary, keys) in partitions_by_primary(cluster) {
        let mut conn = cluster.node_connection(primary);
        for key in keys {
            let n = xlen(&mut conn, &key) as u64;
            if primary == port {
                on += n;
            } else {
                others += n;
            }
        }
    }
    (on, others)
}

/// With `Confirm::replicas(1)`, a shard whose replica is down holds only
/// its own partitions' events: the producer goes on with the other
/// shards, and delivers the held events, once each, when the replica is
/// back.
#[test]
fn a_shard_without_its_replica_holds_only_its_own_partitions() {
    let mut cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-held");
    let url = cluster.url();
    let (stalled, replica) = without_its_replica(&mut cluster);
    let count = 3000u64;
    let mut producer = producer_node(
        &dir.0,
        &url,
        &[
            ("count", count.to_string()),
            ("partitions", "6".into()),
            ("confirm", "1".into()),
            ("wait_ms", "200".into()),
            ("flush_secs", "120".into()),
        ],
    );
    // Spread events: the other shards take all but what went to the
    // stalled shard before its replicas fell short (a batch of up to 256
    // per partition there).
    wait_for(
        "the other shards to take the events while one waits for its replica",
        Duration::from_secs(60),
        || entries_by_shard(&cluster, stalled.port).1 >= count - 2 * 256,
    );
    let (held, others) = entries_by_shard(&cluster, stalled.port);
    println!("while the replica was down: {held} on the stalled shard, {others} on the others");
    assert!(held <= 2 * 256, "{held} events reached the stalled shard");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        producer.reported("FLUSHED"),
        None,
        "the producer flushed events no replica had: {}",
        producer.output()
    );
    cluster.restart(replica);
    assert!(
        producer.wait(Duration::from_secs(120)),
        "the held events were not confirmed once the replica came back: {}",
        producer.output()
    );
    let (held, others) = entries_by_shard(&cluster, stalled.port);
    assert_eq!(
        held + others,
        count,
        "every event once: {}",
        producer.output()
    );
    assert_eq!(produced(&dir.0, "producer").len() as u64, count);
}

/// The same with the spool: a producer killed (`kill -9`) while a shard's
/// events wait for its replica leaves them in its spool, so that when that
/// shard's primary then loses them (restarted without persistence), the
/// next run sends them again; nothing is lost.
#[test]
fn events_held_for_a_replica_stay_in_the_spool_through_a_kill() {
    let mut cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-held-spool");
    let url = cluster.url();
    let (stalled, replica) = without_its_replica(&mut cluster);
    let count = 2000u64;
    let spool = dir.0.join("spool").display().to_string();
    let run = |name: &str, start: u64, count: u64| {
        Process::node(
            NODE,
            name,
            &dir.0,
            &args(
                "spool_producer",
                &url,
                &[
                    ("name", "spooled".into()),
                    ("dir", spool.clone()),
                    ("start", start.to_string()),
                    ("count", count.to_string()),
                    ("partitions", "6".into()),
                    ("confirm", "1".into()),
                    ("wait_ms", "200".into()),
                    ("drain_secs", "120".into()),
                ],
            ),
        )
    };
    let mut first = run("first", 0, count);
    wait_for(
        "the other shards to take the events while one waits for its replica",
        Duration::from_secs(60),
        || entries_by_shard(&cluster, stalled.port).1 >= count - 2 * 256,
    );
    assert_eq!(first.reported("DONE"), None, "{}", first.output());
    first.kill9();
    // The stalled shard's primary restarts empty (no persistence): what
    // it held unreplicated is gone from Redis, and only the spool has it.
    cluster.restart(stalled.port);
    cluster.restart(replica);
    cluster.wait_available();
    let mut second = run("second", count, 0);
    assert!(
        second.wait(Duration::from_secs(120)),
        "the second run did not send what the first left: {}",
        second.output()
    );
    assert_eq!(second.reported("BACKLOG").as_deref(), Some("0"));
    let mut worker = worker_node(
        &dir.0,
        &url,
        "w1",
        &[("partitions", "6".into()), ("idle_ms", "3000".into())],
    );
    assert!(worker.wait(Duration::from_secs(120)), "{}", worker.output());
    let handled = Handled::read(&dir.0);
    let (lost, duplicates) = handled.loss_and_duplicates("record", 0..count);
    println!("held through a kill: lost {lost}, handled twice {duplicates}");
    assert_eq!(lost, 0);
}

#[test]
fn a_failover_without_wait_is_survived_and_its_losses_counted() {
    let run = through_a_failover(false);
    // Not asserted to be zero: without WAIT a primary killed before its
    // replica copied an entry loses it.
    println!(
        "without WAIT: {} produced, {} lost, {} handled twice or more; producer: {}; worker: {}",
        run.produced, run.lost, run.duplicates, run.producer, run.worker
    );
    assert_eq!(run.produced, 6000);
    assert!(run.lost < run.produced / 2, "the clients did not recover");
    // What was lost, if anything, was counted: the producer's figure is an
    // upper bound of it.
    let counted: u64 = run
        .producer
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("unreplicated_at_failover="))
        .and_then(|n| n.parse().ok())
        .expect("the producer's count of unreplicated events");
    assert!(counted >= run.lost, "{} lost, {counted} counted", run.lost);
}

/// A paced producer over 6 partitions, as the tests below run it.
fn paced_producer(dir: &TempDir, url: &str, count: u64) -> Process {
    producer_node(
        &dir.0,
        url,
        &[
            ("count", count.to_string()),
            ("pace_us", "500".into()),
            ("partitions", "6".into()),
            ("declare", "default".into()),
        ],
    )
}

/// The producer (named `producer`) with `settings`.
fn producer_node(dir: &Path, url: &str, settings: &[(&str, String)]) -> Process {
    Process::node(NODE, "producer", dir, &args("producer", url, settings))
}

/// A worker named `name` (also its consumer name) with `settings`.
fn worker_node(dir: &Path, url: &str, name: &str, settings: &[(&str, String)]) -> Process {
    let mut pairs = vec![("consumer", name.to_owned())];
    pairs.extend_from_slice(settings);
    Process::node(NODE, name, dir, &args("worker", url, &pairs))
}

/// A worker of the 6 partitions.
fn partition_worker(dir: &TempDir, url: &str, name: &str) -> Process {
    worker_node(
        &dir.0,
        url,
        name,
        &[
            ("partitions", "6".into()),
            ("concurrency", "2".into()),
            ("visibility_ms", "3000".into()),
        ],
    )
}

/// Waits until `record` ran for every seq the producer logged (at most a
/// minute); returns (lost, duplicates).
fn settle(dir: &TempDir) -> (u64, u64) {
    let seqs = produced(&dir.0, "producer");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !Handled::read(&dir.0).all("record", seqs.iter().copied()) {
        std::thread::sleep(Duration::from_millis(200));
    }
    Handled::read(&dir.0).loss_and_duplicates("record", seqs.iter().copied())
}

#[test]
fn a_reshard_while_producing_and_consuming_loses_nothing() {
    let cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-reshard");
    let url = cluster.url();
    let mut worker = partition_worker(&dir, &url, "w1");
    let mut producer = paced_producer(&dir, &url, 6000);
    std::thread::sleep(Duration::from_millis(1000));
    // Move two partitions' slots (with their keys) to another primary.
    let placed = partitions_by_primary(&cluster);
    let (&from, streams) = placed.iter().next().expect("a primary with partitions");
    let to = *placed.keys().nth(1).expect("another primary");
    let last = streams
        .iter()
        .map(|s| cluster.slot(s))
        .max()
        .expect("a partition");
    let count = cluster.slots_up_to(from, last);
    let started = Instant::now();
    cluster.reshard(from, to, count);
    println!(
        "moved {count} slots with {streams:?} from {from} to {to} in {:?}",
        started.elapsed()
    );
    for stream in streams {
        assert_eq!(cluster.owner(stream), to);
    }
    assert!(
        producer.wait(Duration::from_secs(120)),
        "{}",
        producer.output()
    );
    let (lost, duplicates) = settle(&dir);
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    println!(
        "reshard: lost {lost}, handled twice {duplicates}; producer: {}",
        producer.reported("STATS").unwrap_or_default()
    );
    assert_eq!(produced(&dir.0, "producer").len(), 6000);
    assert_eq!(lost, 0);
    assert!(duplicates <= 500, "{duplicates} duplicates");
}

#[test]
fn workers_joining_and_leaving_share_every_partition_and_lose_nothing() {
    let cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-members");
    let url = cluster.url();
    let mut w1 = partition_worker(&dir, &url, "w1");
    let mut producer = paced_producer(&dir, &url, 8000);
    std::thread::sleep(Duration::from_millis(1000));
    let mut w2 = partition_worker(&dir, &url, "w2");
    std::thread::sleep(Duration::from_millis(1500));
    let mut w3 = partition_worker(&dir, &url, "w3");
    std::thread::sleep(Duration::from_millis(1500));
    // Three workers: two partitions each.
    let leases = |cluster: &RedisCluster| -> BTreeMap<String, String> {
        let mut held = BTreeMap::new();
        for streams in partitions_by_primary(cluster).into_values() {
            for stream in streams {
                let lease = format!("{stream}:lease:default");
                let holder: Option<String> = redis::cmd("GET")
                    .arg(&lease)
                    .query(&mut cluster.node_connection(cluster.owner(&lease)))
                    .expect("GET the lease");
                held.insert(stream, holder.unwrap_or_default());
            }
        }
        held
    };
    let shares = |cluster: &RedisCluster| {
        let mut shares = BTreeMap::new();
        for holder in leases(cluster).values() {
            *shares.entry(holder.clone()).or_insert(0) += 1;
        }
        shares
    };
    let even = BTreeMap::from([("w1".to_string(), 2), ("w2".into(), 2), ("w3".into(), 2)]);
    let took = wait_for(
        "the three workers to hold two partitions each",
        Duration::from_secs(20),
        || shares(&cluster) == even,
    );
    println!("two partitions each, {took:?} after the checks began");
    // The first leaves (SIGTERM: it finishes what it holds).
    w1.terminate();
    assert!(w1.wait(Duration::from_secs(60)), "{}", w1.output());
    assert!(
        producer.wait(Duration::from_secs(120)),
        "{}",
        producer.output()
    );
    let (lost, duplicates) = settle(&dir);
    wait_for(
        "w2 and w3 to hold every partition",
        Duration::from_secs(20),
        || shares(&cluster) == BTreeMap::from([("w2".to_string(), 3), ("w3".into(), 3)]),
    );
    for worker in [&mut w2, &mut w3] {
        worker.terminate();
        assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    }
    let by_node = Handled::read(&dir.0).by_node;
    println!("joining and leaving: lost {lost}, handled twice {duplicates}, by worker {by_node:?}");
    assert_eq!(lost, 0);
    assert!(duplicates <= 500, "{duplicates} duplicates");
    for name in ["w1", "w2", "w3"] {
        assert!(
            by_node.get(name).copied().unwrap_or(0) > 0,
            "{name} handled nothing"
        );
    }
}

/// With `once_per_event_id` on partitions spread over three primaries:
/// a partition's markers live on its own shard (the partition's key is a
/// hash tag as a whole, and a marker's key begins with it), each read
/// looks its markers up with one `EXISTS` there, and the acknowledgements
/// write them. Every event is handled once, every marker is written, and
/// there are far fewer `EXISTS` than events.
#[test]
fn once_per_event_id_works_on_partitions_over_three_shards() {
    let cluster = RedisCluster::start();
    let dir = TempDir::new("cluster-markers");
    let url = cluster.url();
    let count = 2000u64;
    let mut producer = producer_node(
        &dir.0,
        &url,
        &[
            ("count", count.to_string()),
            ("partitions", "6".into()),
            ("keys", "12".into()),
            ("declare", "default".into()),
        ],
    );
    assert!(
        producer.wait(Duration::from_secs(120)),
        "{}",
        producer.output()
    );
    let mut worker = worker_node(
        &dir.0,
        &url,
        "w1",
        &[
            ("partitions", "6".into()),
            ("concurrency", "1".into()),
            ("idle_ms", "1500".into()),
            ("once_ms", "600000".into()),
        ],
    );
    assert!(worker.wait(Duration::from_secs(120)), "{}", worker.output());
    let seqs = produced(&dir.0, "producer");
    assert_eq!(seqs.len() as u64, count);
    assert_eq!(
        Handled::read(&dir.0).loss_and_duplicates("record", seqs.iter().copied()),
        (0, 0)
    );
    for (stat, expected) in [
        ("acked", count),
        ("duplicates", 0),
        ("markers_unwritten", 0),
    ] {
        assert_eq!(worker.stat(stat), Some(expected), "{}", worker.output());
    }
    let (mut markers, mut lookups) = (0, 0);
    for primary in cluster.primaries() {
        let mut conn = cluster.node_connection(primary.port);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*:done:default:*")
            .query(&mut conn)
            .expect("KEYS on a primary");
        assert!(
            !keys.is_empty(),
            "no marker on the primary {}",
            primary.port
        );
        markers += keys.len() as u64;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut conn)
            .expect("INFO commandstats");
        lookups += info
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_exists:calls="))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |calls| calls.parse::<u64>().expect("a count of calls"));
    }
    assert_eq!(markers, count);
    assert!(
        lookups < count / 4,
        "{lookups} EXISTS for {count} events: a lookup per entry, not per read"
    );
}

#[test]
fn partitions_on_one_server_are_handled_once_each() {
    let server = eventlib_redis_tests::RedisServer::start();
    let dir = TempDir::new("one-server-partitions");
    let url = server.url();
    let mut producer = producer_node(
        &dir.0,
        &url,
        &[
            ("count", "800".into()),
            ("partitions", "4".into()),
            ("keys", "8".into()),
            ("declare", "default".into()),
        ],
    );
    assert!(
        producer.wait(Duration::from_secs(60)),
        "{}",
        producer.output()
    );
    let mut workers: Vec<Process> = ["w1", "w2"]
        .iter()
        .map(|name| {
            worker_node(
                &dir.0,
                &url,
                name,
                &[("partitions", "4".into()), ("idle_ms", "2000".into())],
            )
        })
        .collect();
    for worker in &mut workers {
        assert!(worker.wait(Duration::from_secs(60)), "{}", worker.output());
    }
    let seqs = produced(&dir.0, "producer");
    assert_eq!(seqs.len(), 800);
    let handled = Handled::read(&dir.0);
    assert_eq!(
        handled.loss_and_duplicates("record", seqs.iter().copied()),
        (0, 0)
    );
    let status = Operator::new(url.as_str())
        .expect("an operator handle")
        .status()
        .expect("the status");
    assert_eq!(status.partitions.len(), 4);
    assert_eq!(status.groups[0].pending, 0);
}
