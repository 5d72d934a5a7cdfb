//! What the overflow policies do with a burst that outruns the handlers:
//! 4 producer threads log 50,000 events each into a handler of about 5 µs
//! on the default pool and queue, then `shutdown`. For each policy: the
//! callers' throughput, the latency of one `log!` (p50, p99, max), and what
//! was lost. The baseline is `DropNewest`, whose callers are never slowed:
//! the ratio says what keeping every event costs the callers.
//!
//! ```text
//! cargo run --release -p eventlib-bench -- burst
//! ```
//!
//! Each policy runs in a sub-process (the dispatcher is configured once
//! per process).

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlib::{event, log, Dispatcher, Overflow};
use serde::{Deserialize, Serialize};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50_000;
const POLICIES: [&str; 3] = ["drop-newest", "wait-1s", "block"];

static HANDLED: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Burst {
    n: u64,
}

#[event(name = "bench.Burst")]
impl Burst {
    #[handler]
    fn work(&self) {
        let until = Instant::now() + Duration::from_micros(5);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
}

/// `eventlib-bench burst [POLICY]`: the table, or one policy's row.
pub(crate) fn main(policy: Option<&str>) {
    match policy {
        Some(policy) => row(policy),
        None => table(),
    }
}

fn table() {
    println!("burst: {THREADS} threads x {PER_THREAD} events into a ~5 us handler, then shutdown");
    println!(
        "{:<12} {:>12} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "policy", "events/s", "ratio", "p50", "p99", "max", "dropped", "handled"
    );
    let mut baseline = None;
    for policy in POLICIES {
        let out = Command::new(std::env::current_exe().expect("this binary"))
            .args(["burst", policy])
            .output()
            .expect("run a burst sub-process");
        let line = String::from_utf8_lossy(&out.stdout);
        let fields: Vec<f64> = line
            .split_whitespace()
            .map(|f| f.parse().expect("a figure"))
            .collect();
        let [rate, p50, p99, max, dropped, handled] = fields[..] else {
            panic!(
                "burst {policy}: {line} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let base = *baseline.get_or_insert(rate);
        println!(
            "{policy:<12} {rate:>12.0} {:>7.2}x {:>10} {:>10} {:>10} {dropped:>9} {handled:>9}",
            rate / base,
            shown(p50),
            shown(p99),
            shown(max)
        );
    }
}

fn shown(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn row(policy: &str) {
    let overflow = match policy {
        "drop-newest" => Overflow::DropNewest,
        "wait-1s" => Overflow::DEFAULT,
        "block" => Overflow::Block,
        other => panic!("no policy {other}: {POLICIES:?}"),
    };
    Dispatcher::builder()
        .overflow(overflow)
        .error_hook(|_| {})
        .install()
        .expect("the first install");
    let start = Instant::now();
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(PER_THREAD as usize);
                for n in 0..PER_THREAD {
                    let call = Instant::now();
                    log!(Burst {
                        n: t * PER_THREAD + n
                    })
                    .expect("log!");
                    latencies.push(call.elapsed().as_nanos() as u64);
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<u64> = producers
        .into_iter()
        .flat_map(|p| p.join().expect("a producer"))
        .collect();
    let elapsed = start.elapsed();
    let report = eventlib::shutdown(Duration::from_secs(300));
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "{:.0} {} {} {} {} {}",
        (THREADS * PER_THREAD) as f64 / elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1],
        report.dropped,
        HANDLED.load(Ordering::Relaxed)
    );
}
