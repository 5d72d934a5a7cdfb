//! Scenario 1: what `log!` costs its caller (async mode, default
//! dispatcher, three trivial handlers on the built-in pool), against
//! sending the same boxed event into a bounded crossbeam channel drained by
//! one thread. Measured in bursts of 32,768 calls with the queue drained
//! between bursts outside the timed region, so the queue never fills.
//! With several producers, the cost per call is wall time over all calls,
//! and eventlib's own curve (P producers against one) is reported too.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventlib::EventId;

use crate::events::Viewed;
use crate::harness::{bursts_cpu_ns, bursts_ns, paired, Report};

/// Bursts per round.
const BURSTS: usize = 8;

/// A bounded channel of the dispatcher's default capacity, drained (and
/// what it carries freed) by a thread of its own: the floor's queue.
struct Floor<T> {
    tx: crossbeam_channel::Sender<Box<T>>,
    drained: Arc<AtomicU64>,
    sent: AtomicU64,
}

impl<T: Send + 'static> Floor<T> {
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::bounded::<Box<T>>(65_536);
        let drained = Arc::new(AtomicU64::new(0));
        {
            let drained = Arc::clone(&drained);
            std::thread::spawn(move || {
                for event in rx {
                    drop(black_box(event));
                    drained.fetch_add(1, Ordering::Release);
                }
            });
        }
        Floor {
            tx,
            drained,
            sent: AtomicU64::new(0),
        }
    }

    fn send(&self, value: T) {
        self.tx
            .send(Box::new(value))
            .expect("the drain thread lives");
    }

    /// Waits until the drain thread has taken the burst just sent.
    fn settle(&self) {
        self.sent
            .fetch_add(crate::harness::BURST as u64, Ordering::Relaxed);
        while self.drained.load(Ordering::Acquire) < self.sent.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

pub(crate) fn run(producers: usize, rounds: usize, report: &mut Report) {
    // The floor: the same event, boxed, into a channel of the dispatcher's
    // default capacity, drained (and freed) by a thread.
    let floor = Floor::<Viewed>::new();
    let floor_send = |i: u64| floor.send(Viewed::new(i));
    let floor_settle = || floor.settle();

    let log = |i: u64| {
        let _ = black_box(eventlib::log!(Viewed::new(i)));
    };
    let (eventlib_ns, floor_ns) = paired(
        rounds,
        || {
            bursts_ns(producers, BURSTS, &log, &|| {
                eventlib::flush();
            })
        },
        || bursts_ns(producers, BURSTS, &floor_send, &floor_settle),
    );
    if producers > 1 {
        // The curve: the same calls from one producer, in this process.
        let (many_ns, one_ns) = paired(
            rounds,
            || {
                bursts_ns(producers, BURSTS, &log, &|| {
                    eventlib::flush();
                })
            },
            || {
                bursts_ns(1, BURSTS, &log, &|| {
                    eventlib::flush();
                })
            },
        );
        report.row("curve", many_ns, one_ns);
        // The same calls, counting the producers' own CPU time: what a
        // call costs its caller, apart from the time it waits for a core
        // that the consumers (the pool's handler runs, the channel's drain)
        // hold.
        let (eventlib_cpu, floor_cpu) = paired(
            rounds,
            || {
                bursts_cpu_ns(producers, BURSTS, &log, &|| {
                    eventlib::flush();
                })
            },
            || bursts_cpu_ns(producers, BURSTS, &floor_send, &floor_settle),
        );
        report.row("caller-cpu", eventlib_cpu, floor_cpu);
    }
    if producers == 1 {
        // What a queued event must carry besides the event: the floor with
        // an id and the emit time, made as eventlib makes them.
        let stamped = Floor::<(Viewed, EventId, u64)>::new();
        let stamped_send = |i: u64| {
            let emitted_at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            stamped.send((Viewed::new(i), EventId::new(), emitted_at));
        };
        let (eventlib_ns, stamped_ns) = paired(
            rounds,
            || {
                bursts_ns(1, BURSTS, &log, &|| {
                    eventlib::flush();
                })
            },
            || bursts_ns(1, BURSTS, &stamped_send, &|| stamped.settle()),
        );
        report.row("caller-stamped", eventlib_ns, stamped_ns);
    }
    let dropped = eventlib::stats().total().dropped;
    assert_eq!(
        dropped, 0,
        "the queue filled: the fast path was not measured"
    );
    report.row("caller", eventlib_ns, floor_ns);
    report.note(format!(
        "{producers} producer(s): bursts of {} calls, queue drained between bursts; {dropped} dropped",
        crate::harness::BURST
    ));
}

/// For profilers: `iterations` typed `log!` calls in bursts, nothing else.
pub(crate) fn profile(iterations: u64) {
    eventlib::log!(Viewed::new(0)).expect("warm-up");
    eventlib::flush();
    let mut done = 0;
    while done < iterations {
        let n = (iterations - done).min(crate::harness::BURST as u64);
        log_burst(done, n);
        eventlib::flush();
        done += n;
    }
}

/// For profilers: the floor's `iterations` sends in bursts, nothing else.
pub(crate) fn profile_floor(iterations: u64) {
    let (tx, rx) = crossbeam_channel::bounded::<Box<Viewed>>(65_536);
    let drainer = std::thread::spawn(move || rx.into_iter().map(black_box).count());
    let mut done = 0;
    while done < iterations {
        let n = (iterations - done).min(crate::harness::BURST as u64);
        send_burst(&tx, done, n);
        while !tx.is_empty() {
            std::thread::sleep(Duration::from_micros(50));
        }
        done += n;
    }
    drop(tx);
    drainer.join().expect("the drain thread");
}

#[inline(never)]
fn send_burst(tx: &crossbeam_channel::Sender<Box<Viewed>>, base: u64, n: u64) {
    for i in base..base + n {
        tx.send(Box::new(Viewed::new(i)))
            .expect("the drain thread lives");
    }
}

#[inline(never)]
fn log_burst(base: u64, n: u64) {
    for i in base..base + n {
        let _ = black_box(eventlib::log!(Viewed::new(i)));
    }
}
