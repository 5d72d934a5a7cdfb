//! The consumer side: entries preloaded into a stream (by raw `XADD`s, so
//! that only the consumer is measured), then the time until `Worker`s have
//! handled (three trivial handlers) and acknowledged all of them, from a
//! fresh consumer group.
//!
//! The baseline is the least a consumer must do with the same entries: a
//! loop of `XREADGROUP ... COUNT n` and one `XACK` of the ids it read, on a
//! fresh group, `n` being the most a worker reads at once (its prefetch),
//! with as many loops (threads, each its own connection and consumer) as
//! there are workers. Workers neither delete nor trim per
//! entry (they trim once a second with `XTRIM MINID`; off here, as it
//! would eat the preloaded stream that every round reads again), so the
//! baseline does not `XDEL` either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::redis::Worker;
use redis::Value;

use super::server::{Persistence, Server};
use super::{
    command_calls, envelope, read_group_entries, reset_stats, text, wait_for_count, wait_until,
    xadd_all, xlen,
};
use crate::harness::Report;

/// Entries in the stream, all handled in every round.
const EVENTS: u64 = 20_000;
const KEY: &str = "bench:e2e";
/// The handler group of `Viewed`'s handlers, so the consumer group too.
const GROUP: &str = "default";
/// How the consuming is spread.
#[derive(Clone, Copy)]
pub(crate) enum Layout {
    /// `workers` `Worker`s on threads of this process, each with
    /// `concurrency` handler threads, a consumer name of its own and
    /// `prefetch` (`None`: the default); the baseline has `workers` loops.
    Workers {
        workers: usize,
        concurrency: usize,
        prefetch: Option<usize>,
    },
}

/// What a worker's `XREADGROUP` asks for at most: its prefetch, by
/// default twice the concurrency and at least 32 (`WorkerBuilder::prefetch`).
/// The baseline's `COUNT` is the same.
fn read_size(concurrency: usize, prefetch: Option<usize>) -> usize {
    prefetch
        .unwrap_or((2 * concurrency).max(32))
        .max(concurrency)
}

pub(crate) fn run(layout: Layout, persistence: Persistence, rounds: usize, report: &mut Report) {
    let Layout::Workers {
        workers,
        concurrency,
        prefetch,
    } = layout;
    let count = read_size(concurrency, prefetch);
    let server = Server::start(persistence);
    let url = server.url();
    let mut control = server.connect();
    let envelope_bytes = preload(&mut control, EVENTS);

    let mut shares = Vec::new();
    let mut worker_calls = Calls::default();
    let mut workers_round = || {
        worker_round(
            &url,
            &mut control,
            layout,
            EVENTS,
            None,
            &mut shares,
            &mut worker_calls,
        )
    };

    let mut loops: Vec<redis::Connection> = (0..workers).map(|_| server.connect()).collect();
    let mut raw_calls = Calls::default();
    let mut raw_round = || {
        destroy_group(&mut loops[0]);
        reset_stats(&mut loops[0]);
        let acked = AtomicU64::new(0);
        let t0 = Instant::now();
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(KEY)
            .arg(GROUP)
            .arg("0")
            .exec(&mut loops[0])
            .expect("XGROUP CREATE");
        std::thread::scope(|scope| {
            for (k, conn) in loops.iter_mut().enumerate() {
                let acked = &acked;
                scope.spawn(move || read_and_ack(conn, &format!("bench-raw-{k}"), count, acked));
            }
        });
        let rate = EVENTS as f64 / t0.elapsed().as_secs_f64();
        assert_eq!(acked.into_inner(), EVENTS);
        raw_calls = Calls::read(&mut loops[0], EVENTS);
        rate
    };

    let (worker_rate, raw_rate) =
        crate::harness::paired(rounds, &mut workers_round, &mut raw_round);
    report.row("e2e", worker_rate, raw_rate);
    report.note(format!(
        "{}: {EVENTS} entries ({} B envelopes) preloaded; {workers} Worker(s) with \
         concurrency {concurrency}, prefetch {} (trimming off) against {workers} loop(s) of \
         XREADGROUP COUNT {count} + XACK, each from a fresh group; entries acked per worker in \
         the last round: {shares:?}, Redis commands in the last round: the workers' {}, the \
         loops' {}",
        persistence.describe(),
        envelope_bytes,
        prefetch.map_or_else(|| format!("{count} (the default)"), |p| p.to_string()),
        worker_calls.describe(),
        raw_calls.describe(),
    ));
}

/// Preloads the stream with the envelopes of `events` events (raw
/// `XADD`s, untimed); returns the size of one envelope in bytes.
pub(super) fn preload(conn: &mut redis::Connection, events: u64) -> usize {
    let payloads: Vec<Vec<u8>> = (0..events).map(envelope).collect();
    xadd_all(conn, KEY, payloads.iter().map(Vec::as_slice));
    assert_eq!(xlen(conn, KEY), events);
    payloads[0].len()
}

/// One round of `workers` `Worker`s (with `once_per_event_id(window)` when
/// `once` is given) over the `events` preloaded entries, from a fresh
/// group: the entries acknowledged per second. Records each worker's share and the
/// Redis commands of the round.
pub(super) fn worker_round(
    url: &str,
    control: &mut redis::Connection,
    layout: Layout,
    events: u64,
    once: Option<Duration>,
    shares: &mut Vec<u64>,
    calls: &mut Calls,
) -> f64 {
    let Layout::Workers {
        workers,
        concurrency,
        prefetch,
    } = layout;
    destroy_group(control);
    // Workers create a missing group at the end of the stream: start it
    // before the preloaded entries.
    // Markers of the previous round would make every entry a duplicate.
    delete_markers(control);
    create_group_at_start(control);
    reset_stats(control);
    let built: Vec<Worker> = (0..workers)
        .map(|k| {
            let builder = Worker::builder(url)
                .stream(KEY)
                .group(GROUP)
                .consumer(format!("bench-worker-{k}"))
                .concurrency(concurrency)
                .prefetch(prefetch.unwrap_or(0))
                // Only how soon a shutdown is noticed between rounds.
                .block(Duration::from_millis(20))
                .trim_interval(None)
                .handle_signals(false);
            match once {
                Some(window) => builder.once_per_event_id(window),
                None => builder,
            }
            .build()
            .expect("a valid worker configuration")
        })
        .collect();
    let acked = || built.iter().map(|w| w.stats().acked).sum::<u64>();
    let t0 = Instant::now();
    let threads: Vec<_> = built
        .iter()
        .map(|w| {
            let w = w.clone();
            std::thread::spawn(move || w.run_blocking())
        })
        .collect();
    wait_for_count(
        "the workers to acknowledge every entry",
        Duration::from_secs(120),
        events,
        acked,
    );
    let rate = events as f64 / t0.elapsed().as_secs_f64();
    for w in &built {
        w.shutdown();
    }
    for thread in threads {
        thread
            .join()
            .expect("the worker thread")
            .expect("the worker ran");
    }
    let mut total = (0, 0, 0);
    shares.clear();
    for w in &built {
        let s = w.stats();
        assert_eq!(
            (s.dead_lettered, s.retried, s.in_flight, s.duplicates),
            (0, 0, 0, 0),
            "{s}"
        );
        total = (total.0 + s.received, total.1 + s.acked, total.2 + s.handled);
        shares.push(s.acked);
    }
    assert_eq!(
        total,
        (events, events, 3 * events),
        "received, acked, handled"
    );
    *calls = Calls::read(control, events);
    rate
}

/// The cost of the once-per-event-id marker: the same workers with
/// `once_per_event_id` (one `EXISTS` per entry, pipelined per read, a
/// marker written with each acknowledgement) against without, round for round.
pub(crate) fn marker_cost(
    layout: Layout,
    persistence: Persistence,
    rounds: usize,
    report: &mut Report,
) {
    let server = Server::start(persistence);
    let url = server.url();
    let mut control = server.connect();
    preload(&mut control, EVENTS);
    let (mut shares, mut calls) = (Vec::new(), Calls::default());
    let (mut plain_shares, mut plain_calls) = (Vec::new(), Calls::default());
    let window = Duration::from_secs(3600);
    let mut connection = server.connect();
    let (with_marker, without) = crate::harness::paired(
        rounds,
        || {
            worker_round(
                &url,
                &mut control,
                layout,
                EVENTS,
                Some(window),
                &mut shares,
                &mut calls,
            )
        },
        || {
            worker_round(
                &url,
                &mut connection,
                layout,
                EVENTS,
                None,
                &mut plain_shares,
                &mut plain_calls,
            )
        },
    );
    report.row("e2e-once", with_marker, without);
    let markers: u64 = redis::cmd("DBSIZE").query(&mut control).expect("DBSIZE");
    report.note(format!(
        "{}: {EVENTS} entries preloaded; the same Worker(s) with once_per_event_id({window:?}) \
         against without, each round from a fresh group (and no marker left); Redis commands \
         in the last round with the marker: {}, without: {}; keys after the last round: \
         {markers}",
        persistence.describe(),
        calls.describe(),
        plain_calls.describe(),
    ));
}

/// Deletes the once-per-event-id markers of the stream (`SCAN` + `DEL`).
fn delete_markers(conn: &mut redis::Connection) {
    let pattern = format!("{KEY}:done:*");
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
            .expect("SCAN");
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).exec(conn).expect("DEL");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// What one round asked of Redis (`INFO commandstats`).
#[derive(Default)]
pub(super) struct Calls {
    /// The entries of the round.
    events: u64,
    reads: u64,
    acks: u64,
    transactions: u64,
    others: Vec<(&'static str, u64)>,
}

impl Calls {
    fn read(conn: &mut redis::Connection, events: u64) -> Calls {
        let others = [
            "xautoclaim",
            "xpending",
            "xclaim",
            "hget",
            "hdel",
            "exists",
            "set",
        ]
        .into_iter()
        .map(|c| (c, command_calls(conn, c)))
        .filter(|(_, n)| *n > 0)
        .collect();
        Calls {
            events,
            reads: command_calls(conn, "xreadgroup"),
            acks: command_calls(conn, "xack"),
            transactions: command_calls(conn, "exec"),
            others,
        }
    }

    pub(super) fn describe(&self) -> String {
        let per = |n: u64| self.events as f64 / n.max(1) as f64;
        let mut text = format!(
            "{} XREADGROUP ({:.1} entries each), {} XACK ({:.1} ids each), {} EXEC",
            self.reads,
            per(self.reads),
            self.acks,
            per(self.acks),
            self.transactions
        );
        if self.transactions > 0 {
            text.push_str(&format!(
                " ({:.1} XACK each)",
                self.acks as f64 / self.transactions as f64
            ));
        }
        for (command, n) in &self.others {
            text.push_str(&format!(", {n} {}", command.to_uppercase()));
        }
        text
    }
}

/// `XGROUP DESTROY`, so that the next round starts from a fresh group.
fn destroy_group(conn: &mut redis::Connection) {
    redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(KEY)
        .arg(GROUP)
        .exec(conn)
        .expect("XGROUP DESTROY");
}

/// `XGROUP CREATE ... 0`: the group sees every entry the stream holds.
fn create_group_at_start(conn: &mut redis::Connection) {
    redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(KEY)
        .arg(GROUP)
        .arg("0")
        .exec(conn)
        .expect("XGROUP CREATE");
}

/// The baseline's loop: read up to `count` new entries, acknowledge them
/// in one `XACK`, until the group has nothing new.
fn read_and_ack(conn: &mut redis::Connection, consumer: &str, count: usize, acked: &AtomicU64) {
    loop {
        let reply: Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(KEY)
            .arg(">")
            .query(conn)
            .expect("XREADGROUP");
        let ids: Vec<&[u8]> = read_group_entries(&reply)
            .iter()
            .filter_map(|entry| text(super::items(entry).first()?))
            .collect();
        if ids.is_empty() {
            return;
        }
        let n: u64 = redis::cmd("XACK")
            .arg(KEY)
            .arg(GROUP)
            .arg(&ids)
            .query(conn)
            .expect("XACK");
        assert_eq!(n, ids.len() as u64, "acknowledged");
        acked.fetch_add(n, Ordering::Relaxed);
    }
}

/// For profilers: `iterations` preloaded entries consumed by one worker of
/// concurrency 1 (or, with `floor`, by the baseline's loop), as one round
/// (timed until the last acknowledgement, as the scenario is).
pub(crate) fn profile(iterations: u64, floor: bool) {
    let server = Server::start(Persistence::None);
    let mut conn = server.connect();
    let payloads: Vec<Vec<u8>> = (0..iterations).map(envelope).collect();
    xadd_all(&mut conn, KEY, payloads.iter().map(Vec::as_slice));
    let t0 = Instant::now();
    if floor {
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(KEY)
            .arg(GROUP)
            .arg("0")
            .exec(&mut conn)
            .expect("XGROUP CREATE");
        read_and_ack(
            &mut conn,
            "bench-raw",
            read_size(1, None),
            &AtomicU64::new(0),
        );
        eprintln!(
            "{:.0} events/s",
            iterations as f64 / t0.elapsed().as_secs_f64()
        );
        return;
    }
    create_group_at_start(&mut conn);
    let worker = Worker::builder(server.url())
        .stream(KEY)
        .group(GROUP)
        .concurrency(1)
        .block(Duration::from_millis(20))
        .trim_interval(None)
        .handle_signals(false)
        .build()
        .expect("a valid worker configuration");
    let thread = {
        let worker = worker.clone();
        std::thread::spawn(move || worker.run_blocking())
    };
    wait_until("the worker", Duration::from_secs(600), || {
        worker.stats().acked >= iterations
    });
    eprintln!(
        "{:.0} events/s",
        iterations as f64 / t0.elapsed().as_secs_f64()
    );
    worker.shutdown();
    thread
        .join()
        .expect("the worker thread")
        .expect("the worker ran");
}
