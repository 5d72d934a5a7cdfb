//! The built-in pool: threads that take events off the queue, run each
//! handler as its own job with its failures contained, and execute async
//! handlers unless a spawner was installed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::task::{waker_ref, ArcWake};
use futures::FutureExt;

use crate::decl::HandlerFn;
use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::ambient;
use crate::counters;
use crate::error::Error;
use crate::failure::{panic_message, Failure, FailureKind};
use crate::hook::Spawner;
use crate::observe::Run;
use crate::queue::Queue;
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

/// The pool: its threads share its job queue and take new events from the
/// dispatcher's queue.
pub(crate) struct Pool {
    jobs_tx: Sender<Job>,
    jobs_rx: Receiver<Job>,
    events: Receiver<Record>,
    spawner: Option<Spawner>,
    queue: Arc<Queue>,
}

/// Starts `threads` pool threads on the dispatcher's queue.
pub(crate) fn start(
    queue: &Arc<Queue>,
    threads: usize,
    spawner: Option<Spawner>,
) -> Result<(), Error> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let pool = Arc::new(Pool {
        jobs_tx,
        jobs_rx,
        events: queue.receiver().clone(),
        spawner,
        queue: Arc::clone(queue),
    });
    for n in 0..threads {
        let pool = Arc::clone(&pool);
        let thread = format!("eventlib-pool-{n}");
        // A thread that does start runs until the dispatcher's queue is gone.
        let handle = std::thread::Builder::new()
            .name(thread.clone())
            .spawn(move || {
                run_as_background_work();
                pool.work()
            })
            .map_err(|error| Error::Spawn { thread, error })?;
        queue.add_napper(handle.thread().clone());
    }
    Ok(())
}

/// Tells the scheduler that this thread does background work: on Linux,
/// `SCHED_BATCH`, so that a pool thread waking up never preempts the
/// service's request threads (it still gets its fair share of the CPU, at
/// the same nice level). On a busy 2-core machine the preemptions of pool
/// threads waking for each event cost an axum page 12-23% of its requests
/// per second; docs/performance.md has the measurement. A refusal
/// (a sandbox that forbids the call) leaves the thread as it was: the
/// policy is an optimisation, not a requirement.
fn run_as_background_work() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid sched_param for the call to read; pid 0
        // is the calling thread.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// Rounds of spinning before a pool thread naps.
const SPIN_ROUNDS: u32 = 6;

/// How a pool thread waits for work once spinning found none: it naps,
/// first for [`NAP_MIN`], then up to [`NAP_MAX`], and checks the queue
/// between naps; only after [`DEEP_AFTER`] without work does it block on
/// the queue, where the next `log!` must wake it. Waking a blocked thread
/// is a system call on the caller's path (about 9 µs on a 2-core VM where a
/// `log!` otherwise takes under 200 ns), so a service that logs a few
/// events a second or more never pays it. The price is that a handler may
/// start up to [`NAP_MAX`] after its `log!` (`flush` and `shutdown` wake
/// the napping threads, so they never wait out a nap), and a few timer
/// wake-ups of the pool while it is idle. The naps are long enough for
/// events to gather: under a steady stream each wake-up takes a batch, and
/// on a busy 2-core machine a 50 µs nap cost the pool about 1.5 µs of CPU
/// more per event than a 1 ms one (docs/performance.md, row 11). A pool
/// thread does not yield between spinning and napping: on a busy machine
/// every yield is a switch to another thread and back.
const NAP_MIN: Duration = Duration::from_micros(500);
const NAP_MAX: Duration = Duration::from_millis(1);
const DEEP_AFTER: Duration = Duration::from_millis(200);

impl Pool {
    fn work(self: &Arc<Self>) {
        // Rounds without work so far, and how long this thread napped since.
        let mut idle = 0;
        let mut napped = Duration::ZERO;
        loop {
            // Jobs first: finishing started events before taking new ones keeps
            // the job queue short and bounds memory by the event queue.
            let ready = self
                .jobs_rx
                .try_recv()
                .map_err(|_| TryRecvError::Empty)
                .or_else(|_| self.events.try_recv().map(Job::Event));
            match ready {
                Ok(job) => {
                    idle = 0;
                    napped = Duration::ZERO;
                    self.run_job(job);
                    continue;
                }
                // The dispatcher's queue is gone; the jobs channel is this
                // pool's own, so nothing else will come.
                Err(TryRecvError::Disconnected) if self.jobs_rx.is_empty() => return,
                Err(_) => {}
            }
            if idle < SPIN_ROUNDS {
                for _ in 0..(1 << idle) {
                    std::hint::spin_loop();
                }
                idle += 1;
                continue;
            }
            if napped < DEEP_AFTER {
                let nap = napped.max(NAP_MIN).min(NAP_MAX);
                std::thread::park_timeout(nap);
                napped += nap;
                continue;
            }
            let job = crossbeam_channel::select! {
                recv(self.jobs_rx) -> job => job,
                recv(self.events) -> record => record.map(Job::Event),
            };
            idle = 0;
            napped = Duration::ZERO;
            match job {
                Ok(job) => self.run_job(job),
                Err(_) => return,
            }
        }
    }

    /// Fans one event out: each synchronous handler but the first becomes a
    /// job of its own, which any pool thread may take (this one included, once
    /// the first is done); the first runs here; async handlers are spawned as
    /// tasks. So a handler that blocks never holds its siblings back while
    /// another pool thread is free.
    fn deliver(self: &Arc<Self>, record: Record) {
        #[cfg(feature = "metrics")]
        crate::meters::sample_queue_depth(|| self.events.len());
        let registry = registry();
        let handlers = &registry.events[record.index()].handlers;
        record.start_delivery(handlers.len());
        // The dispatcher queues only events that have handlers.
        let Some((&first, rest)) = handlers.split_first() else {
            self.queue.completed(&record);
            return;
        };
        for &handler in rest {
            if registry.handlers[handler as usize].decl.is_async() {
                self.start_handler(record.clone(), handler);
                continue;
            }
            let job = Job::Handler {
                record: record.clone(),
                handler,
            };
            if let Err(err) = self.jobs_tx.send(job) {
                // The pool owns the receiver, so this cannot happen; run it here.
                self.run_job(err.into_inner());
            }
        }
        self.start_handler(record, first);
    }

    fn run_job(self: &Arc<Self>, job: Job) {
        match job {
            Job::Event(record) => self.deliver(record),
            Job::Handler { record, handler } => self.start_handler(record, handler),
            Job::Poll(task) => task.poll(),
        }
    }

    fn start_handler(self: &Arc<Self>, record: Record, handler: u32) {
        let entry = &registry().handlers[handler as usize];
        entry.counters.start();
        match entry.decl.call {
            HandlerFn::Sync(call) => {
                let outcome = run_sync(entry, call, &record);
                self.finish(&record, entry, outcome);
            }
            HandlerFn::Async(call) => {
                let pool = Arc::clone(self);
                let task = async move {
                    let outcome = run_async(entry, call, record.clone()).await;
                    pool.finish(&record, entry, outcome);
                };
                match &self.spawner {
                    Some(spawn) => spawn(Box::pin(task)),
                    None => {
                        if let Err(task) = ambient::spawn(Box::pin(task)) {
                            Task::spawn(task, self);
                        }
                    }
                }
            }
        }
    }

    fn finish(&self, record: &Record, entry: &HandlerEntry, outcome: Outcome) {
        if let Some(failure) = account(record, entry, outcome) {
            self.queue.report(&failure);
        }
        self.queue.handler_done(record);
    }
}

type Outcome = Result<(), FailureKind>;

fn run_sync(
    entry: &'static HandlerEntry,
    call: fn(&Record) -> Result<(), anyhow::Error>,
    record: &Record,
) -> Outcome {
    let run = Run::start(record, entry);
    let outcome = run.in_scope(|| match catch_unwind(AssertUnwindSafe(|| call(record))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(FailureKind::Error(err)),
        Err(payload) => Err(FailureKind::Panic(panic_message(&*payload))),
    });
    run.finish(&outcome);
    outcome
}

async fn run_async(
    entry: &'static HandlerEntry,
    call: fn(Record) -> BoxFuture<'static, Result<(), anyhow::Error>>,
    record: Record,
) -> Outcome {
    let run = Run::start(&record, entry);
    let outcome = run
        .instrument(async move {
            let future = match catch_unwind(AssertUnwindSafe(|| call(record))) {
                Ok(future) => future,
                Err(payload) => return Err(FailureKind::Panic(panic_message(&*payload))),
            };
            match AssertUnwindSafe(future).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(FailureKind::Error(err)),
                Err(payload) => Err(FailureKind::Panic(explain_runtime_panic(panic_message(
                    &*payload,
                )))),
            }
        })
        .await;
    run.finish(&outcome);
    outcome
}

/// A handler that needs tokio, run outside a tokio runtime, panics with
/// tokio's message; the fix is on eventlib's side, so say it.
fn explain_runtime_panic(message: String) -> String {
    let tokio = message.contains("no reactor running")
        || message.contains("must be called from the context of a Tokio");
    if !tokio {
        return message;
    }
    format!(
        "{message} (this async handler needs a tokio runtime: in a service, enable eventlib's \
         `tokio` feature, which runs async handlers on the runtime `log!` is called in, or hand \
         the runtime to eventlib with `Dispatcher::builder().spawner(...)`; in an async test, use \
         `eventlib::testing::inline_async()` rather than a blocking inline scope)"
    )
}

/// Counts the outcome; a failure becomes a [`Failure`] for the hook.
fn account(record: &Record, entry: &HandlerEntry, outcome: Outcome) -> Option<Failure> {
    let per_event = &registry().events[record.index()].counters;
    let (counted, failure) = match outcome {
        Ok(()) => (counters::Outcome::Handled, None),
        Err(kind @ FailureKind::Panic(_)) => (counters::Outcome::Panicked, Some(kind)),
        Err(kind) => (counters::Outcome::Failed, Some(kind)),
    };
    entry.counters.outcome(counted);
    per_event.outcome(counted);
    failure.map(|kind| Failure {
        event: record.name(),
        event_id: record.id(),
        handler: Some(entry.decl.name),
        kind,
    })
}

/// Refuses to run `record` inline when that would block an async runtime's
/// thread on an async handler (it would wait for the very thread it
/// blocks: a deadlock when the handler awaits the runtime's timers or I/O).
pub(crate) fn check_inline_can_block(record: &Record) -> Result<(), Error> {
    let registry = registry();
    let has_async = registry.events[record.index()]
        .handlers
        .iter()
        .any(|&h| registry.handlers[h as usize].decl.is_async());
    if has_async && ambient::in_runtime() {
        return Err(Error::InlineInAsync {
            event: record.name(),
        });
    }
    Ok(())
}

/// Runs the synchronous handlers of `record` now and returns its async
/// handlers as futures for the caller to await (an async inline scope);
/// the event completes when the last of them does.
pub(crate) fn run_inline_deferred(
    record: &Record,
) -> (Vec<Failure>, Vec<BoxFuture<'static, Option<Failure>>>) {
    let registry = registry();
    let event = &registry.events[record.index()];
    let (mut failures, mut tasks) = (Vec::new(), Vec::new());
    let asyncs = event
        .handlers
        .iter()
        .filter(|&&h| registry.handlers[h as usize].decl.is_async())
        .count();
    record.start_delivery(asyncs);
    for &handler in &event.handlers {
        let entry = &registry.handlers[handler as usize];
        entry.counters.start();
        match entry.decl.call {
            HandlerFn::Sync(call) => {
                failures.extend(account(record, entry, run_sync(entry, call, record)));
            }
            HandlerFn::Async(call) => {
                let record = record.clone();
                tasks.push(Box::pin(async move {
                    let outcome = run_async(entry, call, record.clone()).await;
                    let failure = account(&record, entry, outcome);
                    if record.handler_finished() {
                        registry.events[record.index()].counters.complete();
                    }
                    failure
                }) as BoxFuture<'static, Option<Failure>>);
            }
        }
    }
    if asyncs == 0 {
        event.counters.complete();
    }
    (failures, tasks)
}

/// Runs every handler of `record` in the caller, in order, and completes
/// the event; returns the failures for the caller to surface or report.
pub(crate) fn run_inline(record: &Record) -> Vec<Failure> {
    let event = &registry().events[record.index()];
    let mut failures = Vec::new();
    for &handler in &event.handlers {
        let entry = &registry().handlers[handler as usize];
        entry.counters.start();
        let outcome = match entry.decl.call {
            HandlerFn::Sync(call) => run_sync(entry, call, record),
            HandlerFn::Async(call) => crate::hook::block_on(run_async(entry, call, record.clone())),
        };
        failures.extend(account(record, entry, outcome));
    }
    event.counters.complete();
    failures
}

/// An async handler's task on the built-in executor: polled by whichever
/// pool thread takes its `Job::Poll` after a wake-up.
pub(crate) struct Task {
    future: Mutex<Option<BoxFuture<'static, ()>>>,
    /// Set while a `Job::Poll` for this task is queued, so that many wakes
    /// queue one poll.
    queued: AtomicBool,
    pool: Arc<Pool>,
}

impl Task {
    fn spawn(future: BoxFuture<'static, ()>, pool: &Arc<Pool>) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(false),
            pool: Arc::clone(pool),
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
            let _ = arc_self.pool.jobs_tx.send(Job::Poll(Arc::clone(arc_self)));
        }
    }
}

/// Runs one handler of `record` to completion on the current thread (an
/// async one blocked on), with its failure contained and counted; the
/// failure is returned for the caller (a transport's worker) to decide on
/// retries and reporting.
#[cfg(feature = "redis")]
pub(crate) fn run_one_here(record: &Record, handler: u32) -> Option<Failure> {
    let entry = &registry().handlers[handler as usize];
    entry.counters.start();
    let outcome = match entry.decl.call {
        HandlerFn::Sync(call) => run_sync(entry, call, record),
        HandlerFn::Async(call) => crate::hook::block_on(run_async(entry, call, record.clone())),
    };
    account(record, entry, outcome)
}

/// [`run_one_here`] as a future, for a spawner's executor.
#[cfg(feature = "redis")]
pub(crate) async fn run_one(record: &Record, handler: u32) -> Option<Failure> {
    let entry = &registry().handlers[handler as usize];
    entry.counters.start();
    let outcome = match entry.decl.call {
        HandlerFn::Sync(call) => run_sync(entry, call, record),
        HandlerFn::Async(call) => run_async(entry, call, record.clone()).await,
    };
    account(record, entry, outcome)
}

#[cfg(test)]
mod tests {
    use super::explain_runtime_panic;

    #[test]
    fn a_missing_tokio_runtime_is_explained() {
        let message =
            "there is no reactor running, must be called from the context of a Tokio 1.x runtime";
        let explained = explain_runtime_panic(message.to_owned());
        assert!(explained.starts_with(message), "{explained}");
        assert!(explained.contains("`tokio` feature"), "{explained}");
        assert!(explained.contains("spawner"), "{explained}");
        assert_eq!(explain_runtime_panic("boom".into()), "boom");
    }
}
