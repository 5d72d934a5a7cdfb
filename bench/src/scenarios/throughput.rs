//! Scenario 2: events per second fully handled by three trivial handlers,
//! from one producer, until `flush()` returns. Baselines: a hand-wired
//! crossbeam pool and a hand-wired tokio fan-out, each with as many
//! threads as the dispatcher's pool.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crossbeam_channel::{select, Receiver, Sender};
use eventlib::{Dispatcher, Overflow};

use crate::events::{Viewed, VIEWED_HANDLERS};
use crate::harness::{paired, pool_threads, Report};

/// Events per round.
const EVENTS: u64 = 200_000;
/// The dispatcher's default queue capacity, used by every contender.
const CAPACITY: usize = 65_536;

pub(crate) enum Against {
    Crossbeam,
    Tokio,
}

pub(crate) fn run(against: Against, rounds: usize, report: &mut Report) {
    let threads = pool_threads();
    // A full queue waits rather than drops: every event must be handled.
    Dispatcher::builder()
        .threads(threads)
        .capacity(CAPACITY)
        .overflow(Overflow::Block)
        .install()
        .expect("the first dispatcher of this process");
    let log_round = || {
        let t0 = Instant::now();
        for i in 0..EVENTS {
            eventlib::log!(Viewed::new(i)).expect("logged");
        }
        eventlib::flush();
        EVENTS as f64 / t0.elapsed().as_secs_f64()
    };
    let latch = Arc::new(Latch::default());
    let (eventlib_rate, baseline_rate) = match against {
        Against::Crossbeam => {
            let floor = CrossbeamPool::start(threads, Arc::clone(&latch));
            paired(rounds, log_round, || floor.round(&latch))
        }
        Against::Tokio => {
            let fan_out = TokioFanOut::start(threads, Arc::clone(&latch));
            paired(rounds, log_round, || fan_out.round(&latch))
        }
    };
    let total = eventlib::stats().total();
    assert_eq!(total.dropped, 0);
    assert_eq!(total.completed, total.emitted, "flush returned early");
    report.row("e2e", eventlib_rate, baseline_rate);
    report.note(format!(
        "{EVENTS} events per round, one producer, {threads} threads each, queue {CAPACITY} (blocking when full)"
    ));
}

/// Counts finished events; wakes the waiter when a round's last one is in.
#[derive(Default)]
struct Latch {
    done: AtomicUsize,
    lock: Mutex<()>,
    all_done: Condvar,
}

impl Latch {
    fn event_done(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == EVENTS as usize {
            drop(self.lock.lock().unwrap());
            self.all_done.notify_all();
        }
    }

    fn wait(&self) {
        let mut guard = self.lock.lock().unwrap();
        while self.done.load(Ordering::Acquire) < EVENTS as usize {
            guard = self.all_done.wait(guard).unwrap();
        }
        self.done.store(0, Ordering::Release);
    }
}

/// One event shared by the jobs of its handlers; the last one to finish
/// counts the event as done.
struct Shared {
    event: Viewed,
    remaining: AtomicUsize,
}

impl Shared {
    fn new(event: Viewed) -> Arc<Self> {
        Arc::new(Shared {
            event,
            remaining: AtomicUsize::new(VIEWED_HANDLERS.len()),
        })
    }

    fn run(&self, handler: usize, latch: &Latch) {
        VIEWED_HANDLERS[handler](&self.event);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            latch.event_done();
        }
    }
}

/// The hand-wired floor: a bounded event channel and a pool of threads
/// that fan each event out as one job per handler, running the first job
/// in place and queueing the others (jobs taken before new events).
struct CrossbeamPool {
    events: Sender<Arc<Shared>>,
}

type Job = (Arc<Shared>, usize);

impl CrossbeamPool {
    fn start(threads: usize, latch: Arc<Latch>) -> Self {
        let (events, events_rx) = crossbeam_channel::bounded::<Arc<Shared>>(CAPACITY);
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
        for _ in 0..threads {
            let (events_rx, jobs_rx, jobs_tx) =
                (events_rx.clone(), jobs_rx.clone(), jobs_tx.clone());
            let latch = Arc::clone(&latch);
            std::thread::spawn(move || Self::work(&events_rx, &jobs_rx, &jobs_tx, &latch));
        }
        CrossbeamPool { events }
    }

    fn work(
        events: &Receiver<Arc<Shared>>,
        jobs: &Receiver<Job>,
        jobs_tx: &Sender<Job>,
        latch: &Latch,
    ) {
        loop {
            if let Ok((event, handler)) = jobs.try_recv() {
                event.run(handler, latch);
                continue;
            }
            select! {
                recv(jobs) -> job => match job {
                    Ok((event, handler)) => event.run(handler, latch),
                    Err(_) => return,
                },
                recv(events) -> event => match event {
                    Ok(event) => {
                        for handler in 1..VIEWED_HANDLERS.len() {
                            jobs_tx.send((Arc::clone(&event), handler)).expect("workers hold the receiver");
                        }
                        event.run(0, latch);
                    }
                    Err(_) => return,
                },
            }
        }
    }

    fn round(&self, latch: &Latch) -> f64 {
        let t0 = Instant::now();
        for i in 0..EVENTS {
            self.events
                .send(Shared::new(Viewed::new(i)))
                .expect("workers live");
        }
        latch.wait();
        EVENTS as f64 / t0.elapsed().as_secs_f64()
    }
}

/// The tokio fan-out: a bounded `tokio::sync::mpsc` channel read by one
/// task that spawns one task per handler, on a multi-thread runtime.
struct TokioFanOut {
    events: tokio::sync::mpsc::Sender<Viewed>,
    _runtime: tokio::runtime::Runtime,
}

impl TokioFanOut {
    fn start(threads: usize, latch: Arc<Latch>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .build()
            .expect("a tokio runtime");
        let (events, mut rx) = tokio::sync::mpsc::channel::<Viewed>(CAPACITY);
        runtime.spawn(async move {
            while let Some(event) = rx.recv().await {
                let event = Shared::new(event);
                for handler in 0..VIEWED_HANDLERS.len() {
                    let (event, latch) = (Arc::clone(&event), Arc::clone(&latch));
                    tokio::spawn(async move { event.run(handler, &latch) });
                }
            }
        });
        TokioFanOut {
            events,
            _runtime: runtime,
        }
    }

    fn round(&self, latch: &Latch) -> f64 {
        let t0 = Instant::now();
        for i in 0..EVENTS {
            self.events
                .blocking_send(Viewed::new(i))
                .expect("the runtime lives");
        }
        latch.wait();
        EVENTS as f64 / t0.elapsed().as_secs_f64()
    }
}

/// For profilers: `iterations` events handled end to end, as one round.
pub(crate) fn profile(iterations: u64) {
    Dispatcher::builder()
        .threads(pool_threads())
        .capacity(CAPACITY)
        .overflow(Overflow::Block)
        .install()
        .expect("the first dispatcher of this process");
    for i in 0..iterations {
        eventlib::log!(Viewed::new(i)).expect("logged");
    }
    eventlib::flush();
}

/// For profilers: the crossbeam floor's `iterations` events, as one round.
pub(crate) fn profile_floor(iterations: u64) {
    let latch = Arc::new(Latch::default());
    let floor = CrossbeamPool::start(pool_threads(), Arc::clone(&latch));
    let t0 = Instant::now();
    for i in 0..iterations {
        floor
            .events
            .send(Shared::new(Viewed::new(i)))
            .expect("workers live");
    }
    while latch.done.load(Ordering::Acquire) < iterations as usize {
        std::thread::yield_now();
    }
    black_box(t0.elapsed());
}

/// For profilers: the tokio fan-out's `iterations` events, as one round.
pub(crate) fn profile_tokio(iterations: u64) {
    let latch = Arc::new(Latch::default());
    let fan_out = TokioFanOut::start(pool_threads(), Arc::clone(&latch));
    for i in 0..iterations {
        fan_out
            .events
            .blocking_send(Viewed::new(i))
            .expect("the runtime lives");
    }
    while latch.done.load(Ordering::Acquire) < iterations as usize {
        std::thread::yield_now();
    }
}
