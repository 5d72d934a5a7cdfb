//! The built-in pool: threads that take events off the queue, run each
//! handler as its own job with its failures contained, and execute async
//! handlers unless a spawner was installed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use futures::task::{waker_ref, ArcWake};
use futures::FutureExt;

use crate::decl::HandlerFn;
use crate::dispatcher::Shared;
use crate::error::Error;
use crate::event::EventId;
use crate::handler::{panic_message, Failure, FailureKind};
use crate::record::Record;
use crate::registry::{registry, HandlerEntry};

/// Work for a pool thread besides taking new events.
pub(crate) enum Job {
    /// A new event off the queue (never queued as a job itself).
    Event(Record),
    /// Run handler `handler` (a registry index) of `record`.
    Handler { record: Record, handler: u32 },
    /// Poll an async handler's task of the built-in executor.
    Poll(Arc<Task>),
}

pub(crate) fn start(shared: &Arc<Shared>, threads: usize) {
    for n in 0..threads {
        let shared = Arc::clone(shared);
        std::thread::Builder::new()
            .name(format!("eventlib-pool-{n}"))
            .spawn(move || work(&shared))
            .expect("eventlib: cannot start the pool threads");
    }
}

/// Rounds of spinning, then yielding, before a pool thread parks: waking a
/// parked thread is a system call on the caller's path, so a thread that
/// just ran out of work waits a few microseconds for more first.
const SPIN_ROUNDS: u32 = 6;
const YIELD_ROUNDS: u32 = 16;

fn work(shared: &Arc<Shared>) {
    // Rounds without work so far.
    let mut idle = 0;
    loop {
        // Jobs first: finishing started events before taking new ones keeps
        // the job queue short and bounds memory by the event queue.
        let ready = shared
            .jobs_rx
            .try_recv()
            .or_else(|_| shared.events_rx.try_recv().map(Job::Event));
        if let Ok(job) = ready {
            idle = 0;
            run_job(shared, job);
            continue;
        }
        if idle < SPIN_ROUNDS {
            for _ in 0..(1 << idle) {
                std::hint::spin_loop();
            }
            idle += 1;
            continue;
        }
        if idle < SPIN_ROUNDS + YIELD_ROUNDS {
            std::thread::yield_now();
            idle += 1;
            continue;
        }
        let job = crossbeam_channel::select! {
            recv(shared.jobs_rx) -> job => job,
            recv(shared.events_rx) -> record => record.map(Job::Event),
        };
        idle = 0;
        match job {
            Ok(job) => run_job(shared, job),
            Err(_) => return,
        }
    }
}

/// Fans one event out: each synchronous handler but the first becomes a
/// job of its own, which any pool thread may take (this one included, once
/// the first is done); the first runs here; async handlers are spawned as
/// tasks. So a handler that blocks never holds its siblings back while
/// another pool thread is free.
fn deliver(shared: &Arc<Shared>, record: Record) {
    let registry = registry();
    let handlers = &registry.events[record.index()].handlers;
    record
        .0
        .remaining
        .store(handlers.len() as u32, Ordering::Release);
    let (&first, rest) = handlers
        .split_first()
        .expect("deliver is only called for events with handlers");
    for &handler in rest {
        if let HandlerFn::Async(_) = registry.handlers[handler as usize].decl.call {
            start_handler(shared, record.clone(), handler);
            continue;
        }
        let job = Job::Handler {
            record: record.clone(),
            handler,
        };
        if let Err(err) = shared.jobs_tx.send(job) {
            // The pool owns the receiver, so this cannot happen; run it here.
            run_job(shared, err.into_inner());
        }
    }
    start_handler(shared, record, first);
}

fn run_job(shared: &Arc<Shared>, job: Job) {
    match job {
        Job::Event(record) => deliver(shared, record),
        Job::Handler { record, handler } => start_handler(shared, record, handler),
        Job::Poll(task) => task.poll(),
    }
}

fn start_handler(shared: &Arc<Shared>, record: Record, handler: u32) {
    let entry = &registry().handlers[handler as usize];
    entry.counters.started.fetch_add(1, Ordering::Relaxed);
    match entry.decl.call {
        HandlerFn::Sync(call) => {
            let outcome = run_sync(call, &record);
            finish(shared, &record, entry, outcome);
        }
        HandlerFn::Async(call) => {
            let shared2 = Arc::clone(shared);
            let task = async move {
                let outcome = run_async(call, record.clone()).await;
                finish(&shared2, &record, entry, outcome);
            };
            match &shared.spawner {
                Some(spawn) => spawn(Box::pin(task)),
                None => Task::spawn(Box::pin(task), shared),
            }
        }
    }
}

type Outcome = Result<(), FailureKind>;

fn run_sync(call: fn(&Record) -> Result<(), anyhow::Error>, record: &Record) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| call(record))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(FailureKind::Error(err)),
        Err(payload) => Err(FailureKind::Panic(panic_message(&*payload))),
    }
}

async fn run_async(
    call: fn(Record) -> BoxFuture<'static, Result<(), anyhow::Error>>,
    record: Record,
) -> Outcome {
    let future = match catch_unwind(AssertUnwindSafe(|| call(record))) {
        Ok(future) => future,
        Err(payload) => return Err(FailureKind::Panic(panic_message(&*payload))),
    };
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(FailureKind::Error(err)),
        Err(payload) => Err(FailureKind::Panic(panic_message(&*payload))),
    }
}

/// Counts the outcome; a failure becomes a [`Failure`] for the hook.
fn account(record: &Record, entry: &HandlerEntry, outcome: Outcome) -> Option<Failure> {
    let counters = &entry.counters;
    let per_event = &registry().events[record.index()].counters.pool;
    let kind = match outcome {
        Ok(()) => {
            counters.handled.fetch_add(1, Ordering::Relaxed);
            per_event.handled.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Err(kind) => kind,
    };
    if let FailureKind::Panic(_) = kind {
        counters.panicked.fetch_add(1, Ordering::Relaxed);
        per_event.panicked.fetch_add(1, Ordering::Relaxed);
    } else {
        counters.failed.fetch_add(1, Ordering::Relaxed);
        per_event.failed.fetch_add(1, Ordering::Relaxed);
    }
    Some(Failure {
        event: record.name(),
        event_id: record.id(),
        handler: Some(entry.decl.name),
        kind,
    })
}

fn finish(shared: &Shared, record: &Record, entry: &HandlerEntry, outcome: Outcome) {
    if let Some(failure) = account(record, entry, outcome) {
        shared.report(&failure);
    }
    shared.handler_done(record);
}

/// Runs every handler of `record` in the caller, in order.
pub(crate) fn run_inline(shared: &Shared, record: Record, surface: bool) -> Result<EventId, Error> {
    let event = &registry().events[record.index()];
    let mut failures = Vec::new();
    for &handler in &event.handlers {
        let entry = &registry().handlers[handler as usize];
        entry.counters.started.fetch_add(1, Ordering::Relaxed);
        let outcome = match entry.decl.call {
            HandlerFn::Sync(call) => run_sync(call, &record),
            HandlerFn::Async(call) => futures::executor::block_on(run_async(call, record.clone())),
        };
        failures.extend(account(&record, entry, outcome));
    }
    event
        .counters
        .pool
        .completed
        .fetch_add(1, Ordering::Relaxed);
    if surface && !failures.is_empty() {
        return Err(Error::Handlers(failures));
    }
    for failure in &failures {
        shared.report(failure);
    }
    Ok(record.id())
}

/// An async handler's task on the built-in executor: polled by whichever
/// pool thread takes its `Job::Poll` after a wake-up.
pub(crate) struct Task {
    future: Mutex<Option<BoxFuture<'static, ()>>>,
    /// Set while a `Job::Poll` for this task is queued, so that many wakes
    /// queue one poll.
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Task {
    fn spawn(future: BoxFuture<'static, ()>, shared: &Arc<Shared>) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(false),
            shared: Arc::clone(shared),
        });
        task.poll();
    }

    fn poll(self: Arc<Self>) {
        self.queued.store(false, Ordering::Release);
        let mut slot = self.future.lock().unwrap_or_else(|e| e.into_inner());
        let Some(future) = slot.as_mut() else {
            return;
        };
        let waker = waker_ref(&self);
        let mut cx = TaskContext::from_waker(&waker);
        // The handler future is already wrapped in catch_unwind.
        if let Poll::Ready(()) = Pin::as_mut(future).poll(&mut cx) {
            *slot = None;
        }
    }
}

impl ArcWake for Task {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if !arc_self.queued.swap(true, Ordering::AcqRel) {
            let _ = arc_self
                .shared
                .jobs_tx
                .send(Job::Poll(Arc::clone(arc_self)));
        }
    }
}

/// Runs one handler of `record` to completion on the current thread
/// (awaiting an async one), with its failure contained and counted; the
/// failure is returned for the caller (a transport's worker) to decide on
/// retries and reporting.
#[cfg_attr(not(feature = "redis"), allow(dead_code))] // used by the Redis worker
pub(crate) async fn run_one(record: &Record, handler: u32) -> Option<Failure> {
    let entry = &registry().handlers[handler as usize];
    entry.counters.started.fetch_add(1, Ordering::Relaxed);
    let outcome = match entry.decl.call {
        HandlerFn::Sync(call) => run_sync(call, record),
        HandlerFn::Async(call) => run_async(call, record.clone()).await,
    };
    account(record, entry, outcome)
}
