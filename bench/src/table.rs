//! The rows of the table, their targets, and how they are printed.

use std::fmt::Write as _;

use crate::harness::{Measured, Parsed};

#[derive(Clone, Copy)]
enum Unit {
    NsPerCall,
    EventsPerSec,
    Bytes,
    Seconds,
    Micros,
    RequestsPerSec,
}

#[derive(Clone, Copy)]
enum Target {
    /// eventlib / baseline must be at most this.
    AtMost(f64),
    /// eventlib / baseline must be at least this.
    AtLeast(f64),
    /// Reported, no target.
    Info,
}

struct Spec {
    process: &'static str,
    row: &'static str,
    label: &'static str,
    baseline: &'static str,
    unit: Unit,
    target: Target,
}

const fn spec(
    process: &'static str,
    row: &'static str,
    label: &'static str,
    baseline: &'static str,
    unit: Unit,
    target: Target,
) -> Spec {
    Spec {
        process,
        row,
        label,
        baseline,
        unit,
        target,
    }
}

use Target::{AtLeast, AtMost, Info};
use Unit::{Bytes, EventsPerSec, Micros, NsPerCall, RequestsPerSec, Seconds};

const CHANNEL: &str = "boxed event into bounded crossbeam channel";
const NO_FEATURES: &str = "the same program built without the features";
const BY_HAND: &str =
    "the build without the features, its handlers making the same spans and metrics by hand";
const LOGGING_OFF: &str = "the same server, event logging off";
const BARE_AXUM: &str = "a bare axum endpoint deserializing the same body";
const BACK_TO_BACK: &str = "the same log! back to back in the same process (pool busy)";
#[cfg(feature = "redis")]
const RAW_XADD: &str = "pipelined XADD (256) of the same envelope bytes";
#[cfg(feature = "redis")]
const RESP_XADD: &str = "pipelined XADD (256) of the same bytes, written as RESP by hand";
#[cfg(feature = "redis")]
const ENCODE_XADD: &str = "pipelined XADD (256), envelope encoded in the loop";
#[cfg(feature = "outbox")]
const DIRECT_PRODUCER: &str = "log! of the same events to Redis until flush()";
#[cfg(feature = "outbox")]
const LOG_AFTER_COMMIT: &str = "log! right after COMMIT";

const SPECS: &[Spec] = &[
    spec(
        "caller-1",
        "caller",
        "1. log! caller cost, 1 producer",
        CHANNEL,
        NsPerCall,
        AtMost(2.0),
    ),
    spec(
        "caller-1",
        "caller-stamped",
        "1. log! caller cost, 1 producer",
        "the same, the box also holding an EventId and the emit time",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-2",
        "caller",
        "1. log! caller cost, 2 producers",
        CHANNEL,
        NsPerCall,
        Info,
    ),
    spec(
        "caller-4",
        "caller",
        "1. log! caller cost, 4 producers",
        CHANNEL,
        NsPerCall,
        Info,
    ),
    spec(
        "caller-8",
        "caller",
        "1. log! caller cost, 8 producers",
        CHANNEL,
        NsPerCall,
        AtMost(2.0),
    ),
    spec(
        "caller-2",
        "caller-cpu",
        "1. log! caller CPU (the producers' own threads), 2 producers",
        "the same, sending into the channel",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-4",
        "caller-cpu",
        "1. log! caller CPU (the producers' own threads), 4 producers",
        "the same, sending into the channel",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-8",
        "caller-cpu",
        "1. log! caller CPU (the producers' own threads), 8 producers",
        "the same, sending into the channel",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-2",
        "curve",
        "1. log! caller cost, 2 producers",
        "eventlib, 1 producer",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-4",
        "curve",
        "1. log! caller cost, 4 producers",
        "eventlib, 1 producer",
        NsPerCall,
        Info,
    ),
    spec(
        "caller-8",
        "curve",
        "1. log! caller cost, 8 producers",
        "eventlib, 1 producer",
        NsPerCall,
        AtMost(2.0),
    ),
    spec(
        "e2e-crossbeam",
        "e2e",
        "2. end-to-end, 3 handlers",
        "crossbeam channel + thread pool fan-out",
        EventsPerSec,
        AtLeast(0.6),
    ),
    spec(
        "e2e-tokio",
        "e2e",
        "2. end-to-end, 3 handlers",
        "tokio mpsc + tokio::spawn per handler",
        EventsPerSec,
        AtLeast(1.0),
    ),
    spec(
        "inline",
        "inline",
        "3. inline mode log!, 3 handlers",
        "3 calls under catch_unwind + EventId + emit time + metadata",
        NsPerCall,
        AtMost(1.5),
    ),
    spec(
        "inline",
        "inline-counted",
        "3. inline mode log!, 3 handlers",
        "the same + the 9 counter updates of stats() (2 atomic adds, 7 per-thread cells)",
        NsPerCall,
        Info,
    ),
    spec(
        "inline",
        "inline-bare",
        "3. inline mode log!, 3 handlers",
        "3 direct handler calls (no id, time, isolation)",
        NsPerCall,
        Info,
    ),
    spec(
        "by-name",
        "by-name",
        "4. log!(\"bench.Name\", {..})",
        "json! + serde_json::from_value + typed log!",
        NsPerCall,
        AtMost(1.2),
    ),
    spec(
        "by-name",
        "by-name-json",
        "4. log!(\"bench.Name\", {..})",
        "json! + serde_json::from_value (nothing logged)",
        NsPerCall,
        Info,
    ),
    spec(
        "registry-1h",
        "registry-1h",
        "5. caller cost, 1,000 event types, 1 handler",
        "same, 10 event types",
        NsPerCall,
        AtMost(1.1),
    ),
    spec(
        "registry-16h",
        "registry-16h",
        "5. caller cost, 1,000 event types, 16 handlers",
        "same, 10 event types",
        NsPerCall,
        AtMost(1.1),
    ),
    spec(
        "registry-16h-cpu",
        "registry-16h-cpu",
        "5. caller CPU (the producer's own thread), 1,000 event types, 16 handlers",
        "same, 10 event types",
        NsPerCall,
        Info,
    ),
    spec(
        "handlers",
        "handlers",
        "5. caller cost, 16 handlers (10 types)",
        "same, 1 handler",
        NsPerCall,
        Info,
    ),
    spec(
        "mem-heap",
        "mem-heap",
        "6. bytes per queued event (heap + slot)",
        "size_of the event",
        Bytes,
        Info,
    ),
    spec(
        "mem-heap",
        "mem-heap-floor",
        "6. bytes per queued event (heap + slot)",
        "boxed event in crossbeam channel",
        Bytes,
        AtMost(2.0),
    ),
    spec(
        "mem-rss",
        "mem-rss",
        "6. peak RSS per event, 1,000,000 queued",
        "size_of the event",
        Bytes,
        Info,
    ),
    spec(
        "mem-rss",
        "mem-rss-floor",
        "6. peak RSS per event, 1,000,000 queued",
        "boxed event in crossbeam channel",
        Bytes,
        Info,
    ),
    // The Redis transport (feature `redis`).
    #[cfg(feature = "redis")]
    spec(
        "redis-producer",
        "producer",
        "7. Redis producer: log! until flush (confirmed)",
        RAW_XADD,
        EventsPerSec,
        AtLeast(0.8),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer",
        "producer-resp",
        "7. Redis producer: log! until flush (confirmed)",
        RESP_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer",
        "producer-encode",
        "7. Redis producer: log! until flush (confirmed)",
        ENCODE_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer",
        "producer-flush",
        "7. Redis producer: log! until flush (confirmed)",
        "eventlib, polling producer_stats instead of flush()",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer",
        "producer-polled",
        "7. Redis producer: log!, polling producer_stats",
        RAW_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer-aof",
        "producer",
        "7. Redis producer, AOF everysec",
        RAW_XADD,
        EventsPerSec,
        AtLeast(0.8),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer-aof",
        "producer-resp",
        "7. Redis producer, AOF everysec",
        RESP_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer-aof",
        "producer-encode",
        "7. Redis producer, AOF everysec",
        ENCODE_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer-aof",
        "producer-flush",
        "7. Redis producer, AOF everysec",
        "eventlib, polling producer_stats instead of flush()",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-producer-aof",
        "producer-polled",
        "7. Redis producer, AOF everysec, polling producer_stats",
        RAW_XADD,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1",
        "e2e",
        "8. Redis end-to-end, 1 worker (concurrency 1), 3 handlers",
        "1 loop of XREADGROUP COUNT 32 + XACK",
        EventsPerSec,
        AtLeast(0.75),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-4",
        "e2e",
        "8. Redis end-to-end, 4 workers (concurrency 1 each), 3 handlers",
        "4 loops of XREADGROUP COUNT 32 + XACK",
        EventsPerSec,
        AtLeast(0.75),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1-p256",
        "e2e",
        "8. Redis end-to-end, 1 worker (concurrency 1, prefetch 256), 3 handlers",
        "1 loop of XREADGROUP COUNT 256 + XACK",
        EventsPerSec,
        AtLeast(0.75),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1x4",
        "e2e",
        "8. Redis end-to-end, 1 worker (concurrency 4), 3 handlers",
        "1 loop of XREADGROUP COUNT 32 + XACK",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1x4-aof",
        "e2e",
        "8. Redis end-to-end, 1 worker (concurrency 4), AOF everysec",
        "1 loop of XREADGROUP COUNT 32 + XACK",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1-once",
        "e2e-once",
        "8. Redis end-to-end, 1 worker (concurrency 1), once_per_event_id",
        "the same worker without it",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-e2e-1x4-once",
        "e2e-once",
        "8. Redis end-to-end, 1 worker (concurrency 4), once_per_event_id",
        "the same worker without it",
        EventsPerSec,
        Info,
    ),
    // The transactional outbox (feature `outbox`).
    #[cfg(feature = "outbox")]
    spec(
        "outbox-caller-pg",
        "tx",
        "13. PostgreSQL transaction: order INSERT + outbox log",
        "the same transaction, order INSERT alone",
        Micros,
        AtMost(1.3),
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-caller-pg",
        "tx-quiet",
        "13. PostgreSQL transaction: order INSERT + outbox log, trigger off (no NOTIFY)",
        "the same transaction, order INSERT alone",
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-caller-pg",
        "tx-round-trip",
        "13. PostgreSQL transaction: order INSERT + SELECT 1 (one more round trip, no outbox)",
        "the same transaction, order INSERT alone",
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-caller-sqlite",
        "tx",
        "13. SQLite transaction: order INSERT + outbox log",
        "the same transaction, order INSERT alone",
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-relay",
        "relay",
        "14. relay, PostgreSQL to Redis, committed rows until confirmed and deleted",
        DIRECT_PRODUCER,
        EventsPerSec,
        AtLeast(0.5),
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-relay",
        "relay-sqlite",
        "14. relay, SQLite to Redis, committed rows until confirmed and deleted",
        DIRECT_PRODUCER,
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-relay",
        "relay-cpu",
        "14. relay, PostgreSQL to Redis: CPU per event of the relay, PostgreSQL and Redis",
        "log!: CPU per event of the service and Redis",
        NsPerCall,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-relay",
        "relay-cpu-no-pg",
        "14. relay, PostgreSQL to Redis: CPU per event of the relay and Redis (PostgreSQL left out)",
        "log!: CPU per event of the service and Redis",
        NsPerCall,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-latency",
        "listen-p50",
        "15. COMMIT to first handler, relay on LISTEN/NOTIFY, p50",
        LOG_AFTER_COMMIT,
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-latency",
        "listen-p99",
        "15. COMMIT to first handler, relay on LISTEN/NOTIFY, p99",
        LOG_AFTER_COMMIT,
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-latency",
        "poll-p50",
        "15. COMMIT to first handler, relay polling every 100 ms, p50",
        LOG_AFTER_COMMIT,
        Micros,
        Info,
    ),
    #[cfg(feature = "outbox")]
    spec(
        "outbox-latency",
        "poll-p99",
        "15. COMMIT to first handler, relay polling every 100 ms, p99",
        LOG_AFTER_COMMIT,
        Micros,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-producer",
        "cluster-producer",
        "8b. Redis Cluster producer: 6 partitions on 3 primaries, log! until flush",
        "one node, one stream",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-producer",
        "cluster-producer-cpu",
        "8b. Redis Cluster producer: CPU per event, 6 partitions",
        "one node, one stream",
        Micros,
        AtMost(1.5),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-producer",
        "cluster-producer-cpu-12",
        "8b. Redis Cluster producer: CPU per event, 12 partitions",
        "6 partitions",
        Micros,
        AtMost(1.3),
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-producer",
        "cluster-wait-256",
        "8b. Redis Cluster producer: Confirm::replicas(1), batches of 256",
        "no confirmation, batches of 256",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-producer",
        "cluster-wait-16",
        "8b. Redis Cluster producer: Confirm::replicas(1), batches of 16",
        "no confirmation, batches of 16",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "redis-cluster-worker",
        "cluster-worker",
        "8b. Redis Cluster worker: one worker over 6 partitions on 3 primaries",
        "one worker, one node, one stream",
        EventsPerSec,
        Info,
    ),
    // The peers: apalis 1.0 with its Redis storage (feature `redis`).
    #[cfg(feature = "redis")]
    spec(
        "peer-apalis-producer",
        "peer-apalis",
        "8c. Peer: apalis-redis producer, log! until flush (confirmed)",
        "apalis-redis push(), one at a time, awaited (its defaults)",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "peer-apalis-producer",
        "peer-apalis-tuned",
        "8c. Peer: apalis-redis producer, log! until flush (confirmed)",
        "apalis-redis push_bulk() of 256, awaited",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "peer-apalis-consumer",
        "peer-apalis",
        "8c. Peer: apalis-redis consumer, 1 worker (concurrency 1), handled + acked",
        "apalis-redis worker, its defaults (fetch batch 10)",
        EventsPerSec,
        Info,
    ),
    #[cfg(feature = "redis")]
    spec(
        "peer-apalis-consumer",
        "peer-apalis-tuned",
        "8c. Peer: apalis-redis consumer, 1 worker (concurrency 1), handled + acked",
        "apalis-redis worker, fetch batch 256, no task locks, no pubsub events",
        EventsPerSec,
        Info,
    ),
    spec(
        "compile-cost",
        "check",
        "9. cargo check of 100 #[event]s after a touch, CPU",
        "the same crate written by hand",
        Seconds,
        AtMost(1.5),
    ),
    spec(
        "compile-cost",
        "check-wall",
        "9. cargo check of 100 #[event]s after a touch, wall",
        "the same crate written by hand",
        Seconds,
        Info,
    ),
    spec(
        "compile-cost",
        "build",
        "9. cargo build of 100 #[event]s after a touch, CPU",
        "the same crate written by hand",
        Seconds,
        Info,
    ),
    spec(
        "compile-cost",
        "build-wall",
        "9. cargo build of 100 #[event]s after a touch, wall",
        "the same crate written by hand",
        Seconds,
        Info,
    ),
    spec(
        "features-cost",
        "off",
        "10. log! caller CPU, features tracing + metrics, nothing installed",
        NO_FEATURES,
        NsPerCall,
        AtMost(1.05),
    ),
    spec(
        "features-cost",
        "off-wall",
        "10. log! wall time in bursts, pool sharing the cores, nothing installed",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "off-cpu",
        "10. process CPU per event (handler runs included), nothing installed",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "on",
        "10. log! caller CPU, features tracing + metrics, subscriber + recorder",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "on-wall",
        "10. log! wall time in bursts, pool sharing the cores, subscriber + recorder",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "on-cpu",
        "10. process CPU per event (handler runs included), subscriber + recorder",
        NO_FEATURES,
        NsPerCall,
        AtMost(2.0),
    ),
    spec(
        "features-cost",
        "subscriber-cpu",
        "10. process CPU per event, subscriber only (no recorder)",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "recorder-cpu",
        "10. process CPU per event, recorder only (no subscriber)",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "hand-cpu",
        "10. process CPU per event, spans and metrics made by hand, subscriber + recorder",
        NO_FEATURES,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "on-cpu-hand",
        "10. process CPU per event (handler runs included), subscriber + recorder",
        BY_HAND,
        NsPerCall,
        Info,
    ),
    spec(
        "features-cost",
        "on-hand",
        "10. log! caller CPU, features tracing + metrics, subscriber + recorder",
        BY_HAND,
        NsPerCall,
        Info,
    ),
    spec(
        "web-page",
        "p99",
        "11. page p99 at 1,000 req/s, 3 handlers (1 failing)",
        LOGGING_OFF,
        Micros,
        AtMost(1.05),
    ),
    spec(
        "web-page",
        "throughput",
        "11. page throughput at saturation, 3 handlers (1 failing)",
        LOGGING_OFF,
        RequestsPerSec,
        AtLeast(0.95),
    ),
    spec(
        "web-page",
        "throughput-unhandled",
        "11. page throughput at saturation, an event without handlers (log! alone)",
        LOGGING_OFF,
        RequestsPerSec,
        Info,
    ),
    spec(
        "web-page",
        "throughput-quiet",
        "11. page throughput at saturation, 3 handlers that do nothing",
        LOGGING_OFF,
        RequestsPerSec,
        Info,
    ),
    spec(
        "web-page",
        "log-p50",
        "11. the page's log! at 1,000 req/s (pool idle between views), p50",
        BACK_TO_BACK,
        NsPerCall,
        Info,
    ),
    spec(
        "web-page",
        "log-p99",
        "11. the page's log! at 1,000 req/s (pool idle between views), p99",
        BACK_TO_BACK,
        NsPerCall,
        Info,
    ),
    spec(
        "web-page-redis-down",
        "p99",
        "11. page p99 at 1,000 req/s, Redis unreachable",
        LOGGING_OFF,
        Micros,
        AtMost(1.05),
    ),
    spec(
        "web-page-redis-down",
        "throughput",
        "11. page throughput at saturation, Redis unreachable",
        LOGGING_OFF,
        RequestsPerSec,
        AtLeast(0.95),
    ),
    spec(
        "web-ingest",
        "events",
        "12. ingestion endpoint, events/s at saturation",
        BARE_AXUM,
        RequestsPerSec,
        Info,
    ),
    spec(
        "web-ingest",
        "p99",
        "12. ingestion endpoint, p99 at saturation",
        BARE_AXUM,
        Micros,
        Info,
    ),
];

/// The scenario sub-processes, in the order they run.
pub(crate) fn processes() -> Vec<&'static str> {
    let mut processes: Vec<&'static str> = Vec::new();
    for spec in SPECS {
        if !processes.contains(&spec.process) {
            processes.push(spec.process);
        }
    }
    processes
}

/// What the table's heading says about the run.
pub(crate) struct Context {
    pub(crate) rounds: usize,
    /// How many times each sub-process ran.
    pub(crate) repeat: usize,
    pub(crate) machine: String,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) seconds: f64,
}

fn format_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::NsPerCall => format!("{value:.1} ns/call"),
        Unit::EventsPerSec => format!("{:.3} M ev/s", value / 1e6),
        Unit::Bytes => format!("{value:.1} B"),
        Unit::Seconds => format!("{value:.2} s"),
        Unit::Micros => format!("{value:.0} µs"),
        Unit::RequestsPerSec => format!("{value:.0} req/s"),
    }
}

/// The Markdown table, then the notes of each scenario. With several runs
/// of a sub-process, a row shows the run whose ratio is the median of the
/// runs, and the spread column the lowest and highest ratio.
pub(crate) fn render(results: &[(&str, Parsed)], context: &Context) -> String {
    let mut out = String::new();
    let runs = if context.repeat > 1 {
        format!(
            "; {} runs of each scenario, the median run shown",
            context.repeat
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "eventlib-bench: {}; medians of {} rounds{runs}; ratio = eventlib / baseline; scenarios run with {}=0 (no error backtraces); load average {} before, {} after; {:.0} s\n",
        context.machine, context.rounds, crate::BACKTRACE_VAR, context.load_before, context.load_after, context.seconds
    );
    let _ = writeln!(
        out,
        "| scenario | eventlib median | baseline | baseline median | ratio | spread | target | result |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|---:|---:|---|");
    for spec in SPECS {
        let mut measured: Vec<(f64, &Measured)> = results
            .iter()
            .filter(|(process, _)| *process == spec.process)
            .filter_map(|(_, parsed)| parsed.rows.iter().find(|m| m.id == spec.row))
            .map(|m| (m.eventlib / m.baseline, m))
            .collect();
        if measured.is_empty() {
            continue;
        }
        measured.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (ratio, median_run) = measured[(measured.len() - 1) / 2];
        let spread = if measured.len() > 1 {
            format!(
                "{:.2}–{:.2}×",
                measured[0].0,
                measured[measured.len() - 1].0
            )
        } else {
            "—".to_owned()
        };
        let (target, result) = match spec.target {
            Target::AtMost(t) => (
                format!("≤ {t:.2}×"),
                if ratio <= t { "pass" } else { "MISS" },
            ),
            Target::AtLeast(t) => (
                format!("≥ {t:.2}×"),
                if ratio >= t { "pass" } else { "MISS" },
            ),
            Target::Info => ("—".to_owned(), "info"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio:.2}× | {spread} | {target} | {result} |",
            spec.label,
            format_value(spec.unit, median_run.eventlib),
            spec.baseline,
            format_value(spec.unit, median_run.baseline),
        );
    }
    let _ = writeln!(out, "\nNotes (first run of each scenario):");
    let mut noted: Vec<&str> = Vec::new();
    for (process, parsed) in results {
        if noted.contains(process) {
            continue;
        }
        noted.push(process);
        for note in &parsed.notes {
            let _ = writeln!(out, "- {process}: {note}");
        }
    }
    out
}
