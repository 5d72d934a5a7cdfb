//! eventlib's benchmark: every scenario next to a baseline measured in the
//! same process and run, as medians and ratios — the caller's cost of
//! `log!`, end-to-end throughput, inline mode, by-name logging, registry
//! size, memory per queued event, the Redis transport (feature `redis`),
//! what the macros cost to compile and what the observability features
//! cost the caller.
//!
//! ```text
//! cargo run --release -p eventlib-bench                 # the whole table
//! cargo run --release -p eventlib-bench -- --rounds 15  # more rounds
//! cargo run --release -p eventlib-bench -- --only caller-1,inline
//! cargo run --release -p eventlib-bench -- --only inline --repeat 3  # spread over 3 runs
//! eventlib-bench scenario caller-1                      # one sub-process
//! eventlib-bench profile caller 2000000                 # for perf / callgrind
//! eventlib-bench profile caller-floor 2000000           # (and e2e, e2e-floor, e2e-tokio, inline,
//!                                                       #  by-name, by-name-floor,
//!                                                       #  registry-10, registry-1000)
//!
//! # the Redis scenarios (feature `redis`, a redis-server on the PATH; ~50 s);
//! # without --only, --features redis runs the whole table with them:
//! cargo run --release -p eventlib-bench --features redis -- --only redis-producer,redis-producer-aof,redis-e2e-1,redis-e2e-4,redis-e2e-1-p256,redis-e2e-1x4,redis-e2e-1x4-aof
//!
//! # the once-per-event-id marker on the Redis end-to-end rows (feature `redis`):
//! cargo run --release -p eventlib-bench --features redis -- --only redis-e2e-1-once,redis-e2e-1x4-once
//!
//! # the transactional outbox (feature `outbox`: PostgreSQL's server
//! # binaries and a redis-server; ~3 min):
//! cargo run --release -p eventlib-bench --features outbox -- --only outbox-caller-pg,outbox-caller-sqlite,outbox-relay,outbox-latency
//! # the Redis Cluster rows (a local cluster of 6 redis-server; ~40 s):
//! cargo run --release -p eventlib-bench --features redis -- --only redis-cluster-producer,redis-cluster-worker
//! # the peer rows, eventlib against apalis 1.0 with its Redis storage, its
//! # defaults and tuned (feature `redis`; ~3 min):
//! cargo run --release -p eventlib-bench --features redis -- --only peer-apalis-producer,peer-apalis-consumer
//! eventlib-bench profile redis-producer 300000          # (and redis-producer-floor,
//!                                                       #  redis-worker, redis-worker-floor)
//! eventlib-bench profile outbox-relay 200000            # (feature outbox: fills, prints
//!                                                       #  `draining`, waits 2 s, drains)
//!
//! # what the macros cost to compile (cargo check / build of 100 events,
//! # with the macros and by hand; ~2 min the first time, which builds the
//! # dependencies in the system's temporary directory):
//! cargo run --release -p eventlib-bench -- --only compile-cost
//!
//! # what the features tracing + metrics cost a typed log! (a generated
//! # program built in release mode without and with them, in the system's
//! # temporary directory; ~2 min the first time):
//! cargo run --release -p eventlib-bench -- --only features-cost
//! ```
//!
//! The global dispatcher is configured once per process, so the parent
//! runs each scenario as a sub-process of this same binary and reads back
//! its one-line result; a scenario's baseline runs in its sub-process,
//! round for round with it.

mod alloc;
mod compile_cost;
mod events;
mod features_cost;
mod harness;
mod registry;
mod scenarios;
mod table;

use std::process::{Command, ExitCode};
use std::time::Instant;

use harness::{Report, DEFAULT_ROUNDS};
#[cfg(feature = "redis")]
use scenarios::on_redis::{self, consumer, consumer::Layout, server::Persistence};
use scenarios::{by_name, caller, inline, memory, throughput};

#[cfg(feature = "redis")]
fn workers(workers: usize, concurrency: usize, prefetch: Option<usize>) -> Layout {
    Layout::Workers {
        workers,
        concurrency,
        prefetch,
    }
}

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = flag(&args, "--rounds")
        .map(|r| r.parse().expect("--rounds takes a number"))
        .unwrap_or(DEFAULT_ROUNDS);
    match args.first().map(String::as_str) {
        Some("scenario") => {
            let name = args.get(1).expect("scenario NAME");
            let mut report = Report::default();
            run_scenario(name, rounds, &mut report);
            report.print();
            ExitCode::SUCCESS
        }
        #[cfg(feature = "redis")]
        Some("cluster-producer") => {
            on_redis::cluster::child(&args[1..]);
            ExitCode::SUCCESS
        }
        Some("burst") => {
            scenarios::burst::main(args.get(1).map(String::as_str));
            ExitCode::SUCCESS
        }
        Some("profile") => {
            let name = args.get(1).expect("profile NAME [ITERATIONS]");
            let iterations = args
                .get(2)
                .map_or(1_000_000, |n| n.parse().expect("a number"));
            match name.as_str() {
                "caller" => caller::profile(iterations),
                "caller-floor" => caller::profile_floor(iterations),
                "e2e" => throughput::profile(iterations),
                "e2e-floor" => throughput::profile_floor(iterations),
                "e2e-tokio" => throughput::profile_tokio(iterations),
                "registry-10" => registry::profile(10, iterations),
                "registry-1000" => registry::profile(1_000, iterations),
                "by-name" => by_name::profile(iterations),
                "inline" => inline::profile(iterations),
                "by-name-floor" => by_name::profile_floor(iterations),
                #[cfg(feature = "redis")]
                "redis-producer" => on_redis::producer::profile(iterations, false),
                #[cfg(feature = "redis")]
                "redis-producer-floor" => on_redis::producer::profile(iterations, true),
                #[cfg(feature = "redis")]
                "redis-worker" => on_redis::consumer::profile(iterations, false),
                #[cfg(feature = "redis")]
                "redis-worker-floor" => on_redis::consumer::profile(iterations, true),
                #[cfg(feature = "outbox")]
                "outbox-relay" => scenarios::outbox::relay::profile(iterations),
                other => panic!(
                    "no profile named {other}: caller, caller-floor, e2e, e2e-floor, e2e-tokio, inline, by-name, by-name-floor, registry-10, registry-1000{}",
                    if cfg!(feature = "redis") {
                        ", redis-producer, redis-producer-floor, redis-worker, redis-worker-floor, outbox-relay (feature outbox)"
                    } else {
                        ""
                    }
                ),
            }
            ExitCode::SUCCESS
        }
        _ => {
            let only = flag(&args, "--only");
            let repeat = flag(&args, "--repeat")
                .map(|r| r.parse().expect("--repeat takes a number"))
                .unwrap_or(1);
            run_all(rounds, repeat, only.as_deref())
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let at = args.iter().position(|a| a == name)?;
    Some(
        args.get(at + 1)
            .unwrap_or_else(|| panic!("{name} takes a value"))
            .clone(),
    )
}

fn run_scenario(name: &str, rounds: usize, report: &mut Report) {
    match name {
        "caller-1" => caller::run(1, rounds, report),
        "caller-2" => caller::run(2, rounds, report),
        "caller-4" => caller::run(4, rounds, report),
        "caller-8" => caller::run(8, rounds, report),
        "e2e-crossbeam" => throughput::run(throughput::Against::Crossbeam, rounds, report),
        "e2e-tokio" => throughput::run(throughput::Against::Tokio, rounds, report),
        "inline" => inline::run(rounds, report),
        "by-name" => by_name::run(rounds, report),
        "registry-1h" => registry::run(registry::Compare::Events1, rounds, report),
        "registry-16h" => registry::run(registry::Compare::Events16, rounds, report),
        "registry-16h-cpu" => registry::run(registry::Compare::Events16Cpu, rounds, report),
        "handlers" => registry::run(registry::Compare::Handlers, rounds, report),
        "mem-heap" => memory::heap(report),
        "mem-rss" => memory::rss(report),
        // Each round is two cargo runs: a third of the rounds, at least 3.
        "compile-cost" => compile_cost::run((rounds / 3).max(3), report),
        // Each round is three runs of generated binaries.
        "features-cost" => features_cost::run(rounds, report),
        "web-page" => scenarios::web::page_cost(false, rounds, report),
        "web-page-redis-down" => scenarios::web::page_cost(true, rounds, report),
        "web-ingest" => scenarios::web::ingestion(rounds, report),
        #[cfg(feature = "redis")]
        "redis-producer" => on_redis::producer::run(Persistence::None, rounds, report),
        #[cfg(feature = "redis")]
        "redis-producer-aof" => on_redis::producer::run(Persistence::AofEverySec, rounds, report),
        #[cfg(feature = "redis")]
        "redis-e2e-1" => consumer::run(workers(1, 1, None), Persistence::None, rounds, report),
        #[cfg(feature = "redis")]
        "redis-e2e-4" => consumer::run(workers(4, 1, None), Persistence::None, rounds, report),
        #[cfg(feature = "redis")]
        "redis-e2e-1-p256" => {
            consumer::run(workers(1, 1, Some(256)), Persistence::None, rounds, report)
        }
        #[cfg(feature = "redis")]
        "redis-e2e-1x4" => consumer::run(workers(1, 4, None), Persistence::None, rounds, report),
        #[cfg(feature = "redis")]
        "redis-e2e-1-once" => {
            consumer::marker_cost(workers(1, 1, None), Persistence::None, rounds, report)
        }
        #[cfg(feature = "redis")]
        "redis-e2e-1x4-once" => {
            consumer::marker_cost(workers(1, 4, None), Persistence::None, rounds, report)
        }
        #[cfg(feature = "outbox")]
        "outbox-caller-pg" => scenarios::outbox::caller::run_postgres(rounds, report),
        #[cfg(feature = "outbox")]
        "outbox-caller-sqlite" => scenarios::outbox::caller::run_sqlite(rounds, report),
        #[cfg(feature = "outbox")]
        "outbox-relay" => scenarios::outbox::relay::run(rounds, report),
        #[cfg(feature = "outbox")]
        "outbox-latency" => scenarios::outbox::latency::run(report),
        #[cfg(feature = "redis")]
        "redis-e2e-1x4-aof" => consumer::run(
            workers(1, 4, None),
            Persistence::AofEverySec,
            rounds,
            report,
        ),
        #[cfg(feature = "redis")]
        "redis-cluster-producer" => on_redis::cluster::producer(rounds, report),
        #[cfg(feature = "redis")]
        "redis-cluster-worker" => on_redis::cluster::worker(rounds, report),
        #[cfg(feature = "redis")]
        "peer-apalis-producer" => on_redis::peers::producer(rounds, report),
        #[cfg(feature = "redis")]
        "peer-apalis-consumer" => on_redis::peers::consumer(rounds, report),
        other => panic!("no scenario named {other}"),
    }
}

/// What the scenarios run with set to `0`: no backtraces for errors, panics
/// keep theirs.
pub(crate) const BACKTRACE_VAR: &str = "RUST_LIB_BACKTRACE";

/// Runs the table's sub-processes (those in `only`, if given), the whole
/// list `repeat` times over, and prints the table.
fn run_all(rounds: usize, repeat: usize, only: Option<&str>) -> ExitCode {
    let started = Instant::now();
    let exe = std::env::current_exe().expect("the path of this binary");
    let load_before = load_average();
    let mut results = Vec::new();
    let mut failed = false;
    let processes = table::processes();
    for process in (0..repeat.max(1)).flat_map(|_| processes.iter().copied()) {
        if only.is_some_and(|only| !only.split(',').any(|o| o == process)) {
            continue;
        }
        eprint!("eventlib-bench: {process} ... ");
        let t0 = Instant::now();
        let output = Command::new(&exe)
            .args(["scenario", process, "--rounds", &rounds.to_string()])
            // With `RUST_BACKTRACE` set, every `anyhow` error of a failing
            // handler would capture a backtrace (microseconds each, the
            // handler's cost rather than eventlib's): the rows measure
            // without, whatever the shell has set.
            .env(BACKTRACE_VAR, "0")
            .output()
            .expect("cannot start a scenario sub-process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        match harness::parse_result(&stdout) {
            Some(result) if output.status.success() => {
                eprintln!("{:.1} s", t0.elapsed().as_secs_f64());
                results.push((process, result));
            }
            _ => {
                failed = true;
                eprintln!(
                    "FAILED ({})\n{stdout}{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
    }
    let context = table::Context {
        rounds,
        repeat: repeat.max(1),
        machine: machine(),
        load_before,
        load_after: load_average(),
        seconds: started.elapsed().as_secs_f64(),
    };
    print!("{}", table::render(&results, &context));
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Cores, CPU model and compiler, for the table's heading.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}, {}", env!("BENCH_RUSTC_VERSION"))
}

/// The first three fields of /proc/loadavg.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
