//! The Redis Cluster scenarios: a local cluster of 3 primaries with a
//! replica each (the test suite's, `eventlib_redis_tests::cluster`) next to
//! one `redis-server`, all on the machine that runs the bench.
//!
//! - [`producer`]: `log!` until `flush()` over 6 partitions on the cluster
//!   against one stream on one node; the producer's CPU per event on each;
//!   and `Confirm::replicas(1)` (`WAIT 1` after each batch) against no
//!   confirmation, for batches of 256 and of 16. The dispatcher is global,
//!   so each contender runs in a sub-process of its own ([`child`]), which
//!   reports its median.
//! - [`worker`]: entries preloaded over 6 partitions, handled and
//!   acknowledged by one `Worker` holding all of them, against one stream
//!   on one node and one `Worker`; timed from the first acknowledgement (a
//!   partitioned worker takes its partitions' leases in its first second).

use std::process::Command;
use std::time::{Duration, Instant};

use eventlib::redis::{partition_keys, producer_stats, Confirm, RedisTransport, Worker};
use eventlib::{Dispatcher, Overflow};
use eventlib_redis_tests::cluster::RedisCluster;

use super::server::{Persistence, Server};
use super::{envelope, rotated, wait_for_count, wait_until};
use crate::events::Viewed;
use crate::harness::{median, Report};

/// Events per producer round.
const EVENTS: u64 = 50_000;
/// Entries per worker round.
const ENTRIES: u64 = 60_000;
/// Partitions on the cluster: two per primary.
const PARTITIONS: usize = 6;
const STREAM: &str = "bench:cluster";

/// One producer contender, as its sub-process reports it.
struct Measured {
    events_per_s: f64,
    cpu_us_per_event: f64,
}

/// Runs `rounds` rounds of [`child`] in a sub-process.
fn contender(url: &str, partitions: usize, confirm: u32, batch: usize, rounds: usize) -> Measured {
    let exe = std::env::current_exe().expect("the path of this binary");
    let output = Command::new(exe)
        .args([
            "cluster-producer",
            url,
            &partitions.to_string(),
            &confirm.to_string(),
            &batch.to_string(),
            &rounds.to_string(),
        ])
        .output()
        .expect("run a producer sub-process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the producer sub-process failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| -> f64 {
        stdout
            .split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
    };
    Measured {
        events_per_s: field("RATE"),
        cpu_us_per_event: field("CPU_US"),
    }
}

pub(crate) fn producer(rounds: usize, report: &mut Report) {
    let cluster = RedisCluster::start();
    let single = Server::start(Persistence::None);
    let on_cluster = cluster.url();
    let one = contender(&single.url(), 1, 0, 256, rounds);
    let many = contender(&on_cluster, PARTITIONS, 0, 256, rounds);
    let waited = contender(&on_cluster, PARTITIONS, 1, 256, rounds);
    let small = contender(&on_cluster, PARTITIONS, 0, 16, rounds);
    let small_waited = contender(&on_cluster, PARTITIONS, 1, 16, rounds);
    let more = contender(&on_cluster, 2 * PARTITIONS, 0, 256, rounds);
    report.row("cluster-producer", many.events_per_s, one.events_per_s);
    report.row(
        "cluster-producer-cpu",
        many.cpu_us_per_event,
        one.cpu_us_per_event,
    );
    report.row(
        "cluster-producer-cpu-12",
        more.cpu_us_per_event,
        many.cpu_us_per_event,
    );
    report.row("cluster-wait-256", waited.events_per_s, many.events_per_s);
    report.row(
        "cluster-wait-16",
        small_waited.events_per_s,
        small.events_per_s,
    );
    report.note(format!(
        "{EVENTS} events per round, one producer thread; cluster: 3 primaries + 3 replicas, \
         {PARTITIONS} partitions (2 per primary), per shard {:.0} events/s; one node: {:.0} \
         events/s; producer CPU per event {:.2} µs (cluster) and {:.2} µs (one node); WAIT 1 \
         after each batch: {:.0} events/s for batches of 256, {:.0} for batches of 16 ({:.0} \
         without); all nine redis-server processes and the producer share the same cores",
        many.events_per_s / 3.0,
        one.events_per_s,
        many.cpu_us_per_event,
        one.cpu_us_per_event,
        waited.events_per_s,
        small_waited.events_per_s,
        small.events_per_s,
    ));
}

/// A producer contender's sub-process: installs a transport to `url` with
/// `partitions`, `confirm` replicas and batches of `batch`, runs a warm-up
/// round and `rounds` rounds, and prints the median rate and the median
/// CPU time per event.
pub(crate) fn child(args: &[String]) {
    let url = &args[0];
    let number = |i: usize| -> usize { args[i].parse().expect("a number") };
    let (partitions, confirm, batch, rounds) = (number(1), number(2), number(3), number(4));
    let mut transport = RedisTransport::new(url.as_str())
        .expect("a valid URL")
        .stream(if partitions > 1 {
            STREAM
        } else {
            "{bench}:one"
        })
        .partitions(partitions)
        .expect("a partition count")
        .batch_size(batch)
        .groups(Vec::<String>::new())
        .expect("no groups");
    if confirm > 0 {
        transport = transport.confirm(Confirm::replicas(confirm as u32));
    }
    Dispatcher::builder()
        .capacity(65_536)
        .overflow(Overflow::Block)
        .transport(transport)
        .install()
        .expect("the first dispatcher of this process");
    let mut rates = Vec::new();
    let mut cpu = Vec::new();
    for round in 0..=rounds {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        for i in 0..EVENTS {
            eventlib::log!(Viewed::new(i)).expect("logged");
        }
        eventlib::flush();
        let (elapsed, used) = (t0.elapsed(), cpu_seconds() - c0);
        if round > 0 {
            rates.push(EVENTS as f64 / elapsed.as_secs_f64());
            cpu.push(used * 1e6 / EVENTS as f64);
        }
    }
    let stats = producer_stats().expect("the transport runs");
    assert_eq!(stats.undelivered, 0, "{stats}");
    println!("RATE={} CPU_US={}", median(rates), median(cpu));
}

/// The CPU time of every thread of this process, in seconds (Linux: the
/// first field of each `/proc/self/task/*/schedstat`, in nanoseconds).
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}

/// `XADD`s `entries` envelopes, spread over `keys` in turn, each key's
/// share in pipelined batches on a connection to the node `connect` gives.
fn preload(keys: &[String], entries: u64, connect: impl Fn(&str) -> redis::Connection) {
    for (k, key) in keys.iter().enumerate() {
        let mut conn = connect(key);
        redis::cmd("DEL").arg(key).exec(&mut conn).expect("DEL");
        let mut pipe = redis::pipe();
        for i in (k as u64..entries).step_by(keys.len()) {
            pipe.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg(super::FIELD)
                .arg(envelope(i))
                .ignore();
            if pipe.len() == 256 {
                pipe.exec(&mut conn).expect("XADD");
                pipe.clear();
            }
        }
        pipe.exec(&mut conn).expect("XADD");
    }
}

/// One round: a fresh group, one worker over `partitions` of `stream` on
/// `url`, timed from its first acknowledgement to its last.
fn worker_round(
    url: &str,
    stream: &str,
    partitions: usize,
    keys: &[String],
    connect: &dyn Fn(&str) -> redis::Connection,
) -> f64 {
    for key in keys {
        let mut conn = connect(key);
        let _: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("DESTROY")
            .arg(key)
            .arg("default")
            .query(&mut conn);
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(key)
            .arg("default")
            .arg(0)
            .exec(&mut conn)
            .expect("XGROUP CREATE");
    }
    let worker = Worker::builder(url)
        .stream(stream)
        .partitions(partitions)
        .concurrency(1)
        .prefetch(256)
        .trim_interval(None)
        .handle_signals(false)
        .build()
        .expect("a worker");
    let running = worker.clone();
    let thread = std::thread::spawn(move || running.run_blocking());
    wait_until("the first acknowledgement", Duration::from_secs(60), || {
        worker.stats().acked > 0
    });
    let (t0, first) = (Instant::now(), worker.stats().acked);
    wait_for_count("every entry", Duration::from_secs(300), ENTRIES, || {
        worker.stats().acked
    });
    let rate = (ENTRIES - first) as f64 / t0.elapsed().as_secs_f64();
    worker.shutdown();
    thread
        .join()
        .expect("the worker thread")
        .expect("the worker ran");
    rate
}

pub(crate) fn worker(rounds: usize, report: &mut Report) {
    let cluster = RedisCluster::start();
    let single = Server::start(Persistence::None);
    let keys = partition_keys(STREAM, PARTITIONS).expect("partition keys");
    let to_cluster = |key: &str| cluster.node_connection(cluster.owner(key));
    preload(&keys, ENTRIES, to_cluster);
    let one_key = vec!["{bench}:one".to_owned()];
    let to_single = |_: &str| single.connect();
    preload(&one_key, ENTRIES, to_single);
    let (on_cluster, on_single) = (cluster.url(), single.url());
    let mut partitioned = || worker_round(&on_cluster, STREAM, PARTITIONS, &keys, &to_cluster);
    let mut one = || worker_round(&on_single, "{bench}:one", 1, &one_key, &to_single);
    let [many, single_rate] = rotated(rounds.min(5), [&mut partitioned, &mut one]);
    report.row("cluster-worker", many, single_rate);
    report.note(format!(
        "{ENTRIES} preloaded entries per round, one worker (concurrency 1 and prefetch 256 per \
         partition), 3 trivial handlers; cluster: {PARTITIONS} partitions on 3 primaries, per \
         shard {:.0} entries/s; timed from the first acknowledgement (a partitioned worker \
         takes its leases in its first second)",
        many / 3.0
    ));
}
