//! Rounds, medians, bursts, and the one-line result a scenario's
//! sub-process prints for the parent to read.

use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// Rounds per measurement unless `--rounds` says otherwise (odd, so the
/// median is one of the rounds).
pub(crate) const DEFAULT_ROUNDS: usize = 15;

/// Calls per burst, summed over all producers: half the dispatcher's
/// default queue of 65,536, so `log!` always takes its fast path.
pub(crate) const BURST: usize = 32_768;

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "median of no values");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Runs both measurements once to warm up, then `rounds` times each,
/// alternating which goes first so that drift in machine load hits both
/// alike; returns the two medians.
pub(crate) fn paired(
    rounds: usize,
    mut eventlib: impl FnMut() -> f64,
    mut baseline: impl FnMut() -> f64,
) -> (f64, f64) {
    eventlib();
    baseline();
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for round in 0..rounds {
        if round % 2 == 0 {
            a.push(eventlib());
            b.push(baseline());
        } else {
            b.push(baseline());
            a.push(eventlib());
        }
    }
    (median(a), median(b))
}

/// Nanoseconds per call of `call` over `bursts` bursts of [`BURST`] calls
/// shared among `producers` threads, counting only the time from the first
/// producer's start to the last producer's end of each burst. `settle`
/// runs between bursts, outside the timed region (it waits until the
/// consumers have drained what the burst queued).
pub(crate) fn bursts_ns(
    producers: usize,
    bursts: usize,
    call: &(dyn Fn(u64) + Sync),
    settle: &dyn Fn(),
) -> f64 {
    timed_bursts(producers, bursts, call, settle, false).wall_ns
}

/// [`bursts_ns`], counting instead the CPU time of the producers' own
/// threads in their bursts: what the calls cost their callers, without
/// the time a caller waits for a core that other threads (the consumers)
/// hold.
pub(crate) fn bursts_cpu_ns(
    producers: usize,
    bursts: usize,
    call: &(dyn Fn(u64) + Sync),
    settle: &dyn Fn(),
) -> f64 {
    timed_bursts(producers, bursts, call, settle, true).cpu_ns
}

/// Per call: the bursts' wall time and (when read) their producers' CPU
/// time.
struct Timed {
    wall_ns: f64,
    cpu_ns: f64,
}

fn timed_bursts(
    producers: usize,
    bursts: usize,
    call: &(dyn Fn(u64) + Sync),
    settle: &dyn Fn(),
    read_cpu: bool,
) -> Timed {
    let per_producer = BURST / producers;
    let start = Barrier::new(producers + 1);
    let end = Barrier::new(producers + 1);
    let spans: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::with_capacity(producers));
    let cpu = Mutex::new(0u64);
    let mut total = Duration::ZERO;
    std::thread::scope(|scope| {
        for p in 0..producers {
            let (start, end, spans, cpu) = (&start, &end, &spans, &cpu);
            scope.spawn(move || {
                let base = (p * per_producer) as u64;
                for _ in 0..bursts {
                    start.wait();
                    // Read only when asked, so that the other rows time
                    // exactly what they did.
                    let c0 = if read_cpu { thread_cpu_ns() } else { 0 };
                    let t0 = Instant::now();
                    for i in 0..per_producer as u64 {
                        call(base + i);
                    }
                    let t1 = Instant::now();
                    let c1 = if read_cpu { thread_cpu_ns() } else { 0 };
                    spans.lock().unwrap().push((t0, t1));
                    *cpu.lock().unwrap() += c1.saturating_sub(c0);
                    end.wait();
                }
            });
        }
        for _ in 0..bursts {
            start.wait();
            end.wait();
            let mut spans = spans.lock().unwrap();
            let first = spans.iter().map(|s| s.0).min().expect("a producer ran");
            let last = spans.iter().map(|s| s.1).max().expect("a producer ran");
            total += last - first;
            spans.clear();
            drop(spans);
            settle();
        }
    });
    let calls = (bursts * per_producer * producers) as f64;
    Timed {
        wall_ns: total.as_nanos() as f64 / calls,
        cpu_ns: cpu.into_inner().unwrap() as f64 / calls,
    }
}

/// The calling thread's CPU time so far, in nanoseconds
/// (`CLOCK_THREAD_CPUTIME_ID`, which counts up to the moment of the call,
/// where `/proc`'s per-thread figures lag by up to a scheduler tick).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Nanoseconds per iteration of `body`, run `n` times on this thread.
pub(crate) fn loop_ns(n: u64, mut body: impl FnMut(u64)) -> f64 {
    let t0 = Instant::now();
    for i in 0..n {
        body(i);
    }
    t0.elapsed().as_nanos() as f64 / n as f64
}

/// What a scenario's sub-process reports: rows of (id, eventlib, baseline)
/// and notes, printed on one line.
#[derive(Default)]
pub(crate) struct Report {
    rows: Vec<(&'static str, f64, f64)>,
    notes: Vec<String>,
}

impl Report {
    pub(crate) fn row(&mut self, id: &'static str, eventlib: f64, baseline: f64) {
        self.rows.push((id, eventlib, baseline));
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// `RESULT id eventlib baseline; ...; note text; ...`
    pub(crate) fn print(&self) {
        let mut parts: Vec<String> = self
            .rows
            .iter()
            .map(|(id, e, b)| format!("{id} {e} {b}"))
            .collect();
        parts.extend(
            self.notes
                .iter()
                .map(|n| format!("note {}", n.replace([';', '\n'], ","))),
        );
        println!("RESULT {}", parts.join("; "));
    }
}

/// One parsed row of a sub-process's result.
pub(crate) struct Measured {
    pub(crate) id: String,
    pub(crate) eventlib: f64,
    pub(crate) baseline: f64,
}

/// What one sub-process reported.
pub(crate) struct Parsed {
    pub(crate) rows: Vec<Measured>,
    pub(crate) notes: Vec<String>,
}

/// Parses the `RESULT` line of a sub-process's output.
pub(crate) fn parse_result(stdout: &str) -> Option<Parsed> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "))?;
    let (mut rows, mut notes) = (Vec::new(), Vec::new());
    for part in line.split("; ") {
        if let Some(note) = part.strip_prefix("note ") {
            notes.push(note.to_owned());
            continue;
        }
        let mut fields = part.split_whitespace();
        let (id, e, b) = (fields.next()?, fields.next()?, fields.next()?);
        rows.push(Measured {
            id: id.to_owned(),
            eventlib: e.parse().ok()?,
            baseline: b.parse().ok()?,
        });
    }
    Some(Parsed { rows, notes })
}

/// The dispatcher's default pool size (one thread per core, at least two),
/// which the hand-wired baselines copy.
pub(crate) fn pool_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

/// A field of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
pub(crate) fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}
