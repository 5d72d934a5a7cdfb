//! The built-in pool: threads that take events off the queue, run each
//! handler as its own job with its failures contained, and execute async
//! handlers unless a spawner was installed.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
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
    /// Take a share of `record`'s synchronous handlers: start the next one
    /// not yet started, until none is left. Sent only to wake a thread
    /// that blocks on the queues; the others look at the offers.
    Share(Record),
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
    /// How many threads the pool has: at most one fewer than this may
    /// help the thread that took an event with its handlers.
    threads: usize,
    /// Per thread, the event whose synchronous handlers it is starting one
    /// after the other, for the other threads to take a share of (see
    /// [`Pool::deliver`]).
    offers: Box<[Mutex<Option<Record>>]>,
    /// How many threads block on the queues (after a long idle stretch),
    /// and so would not see an offer.
    blocked: AtomicUsize,
}

/// A pool thread with work of its own looks at the other threads' offers
/// before every this many events it takes (and always before it idles).
const HELP_EVERY: u32 = 8;

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
        threads,
        offers: (0..threads).map(|_| Mutex::new(None)).collect(),
        blocked: AtomicUsize::new(0),
    });
    for n in 0..threads {
        let pool = Arc::clone(&pool);
        let thread = format!("eventlib-pool-{n}");
        // A thread that does start runs until the dispatcher's queue is gone.
        let handle = std::thread::Builder::new()
            .name(thread.clone())
            .spawn(move || {
                run_as_background_work();
                crate::meters::on_own_thread();
                pool.work(n)
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
/// per second (row 11 of docs/performance.md measures the page with the
/// policy on). A refusal (a sandbox that forbids the call) leaves the
/// thread as it was: the policy is an optimisation, not a requirement.
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
    /// Pool thread `me`'s loop.
    fn work(self: &Arc<Self>, me: usize) {
        // Rounds without work so far, and how long this thread napped since.
        let mut idle = 0;
        let mut napped = Duration::ZERO;
        // Events taken since this thread last looked at the offers.
        let mut since_help = 0;
        loop {
            // Jobs first, then the other threads' offers now and then:
            // finishing started events before taking new ones keeps the job
            // queue short and bounds memory by the event queue.
            if since_help >= HELP_EVERY || idle > 0 {
                since_help = 0;
                if self.help(me) {
                    idle = 0;
                    napped = Duration::ZERO;
                    continue;
                }
            }
            let ready = self
                .jobs_rx
                .try_recv()
                .map_err(|_| TryRecvError::Empty)
                .or_else(|_| self.events.try_recv().map(Job::Event));
            match ready {
                Ok(job) => {
                    idle = 0;
                    napped = Duration::ZERO;
                    since_help += 1;
                    self.run_job(job, me);
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
            // Blocking: counted first, then the offers looked at once more,
            // so that an offer made meanwhile is either seen here or sent
            // as a job (see `deliver`).
            self.blocked.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            let job = if self.help(me) {
                None
            } else {
                Some(crossbeam_channel::select! {
                    recv(self.jobs_rx) -> job => job,
                    recv(self.events) -> record => record.map(Job::Event),
                })
            };
            self.blocked.fetch_sub(1, Ordering::SeqCst);
            idle = 0;
            napped = Duration::ZERO;
            match job {
                None => {}
                Some(Ok(job)) => self.run_job(job, me),
                Some(Err(_)) => return,
            }
        }
    }

    /// Takes a share of another thread's offer, if one still has handlers
    /// not started; returns whether it did.
    fn help(self: &Arc<Self>, me: usize) -> bool {
        let mut helped = false;
        for (n, offer) in self.offers.iter().enumerate() {
            if n == me {
                continue;
            }
            // A thread making or withdrawing its offer is busy with it.
            let Ok(offer) = offer.try_lock() else {
                continue;
            };
            let Some(record) = offer.as_ref().map(Record::clone) else {
                continue;
            };
            drop(offer);
            helped |= self.share(&record);
        }
        helped
    }

    /// Fans one event out on pool thread `me`: async handlers are spawned
    /// as tasks at once, in order; the synchronous ones are started in
    /// order by this thread, which offers the event to the others
    /// meanwhile: any other pool thread takes the next handler not yet
    /// started, before it idles and before every [`HELP_EVERY`] events of
    /// its own. A thread that blocks on the queues is sent the event as a
    /// [`Job::Share`] instead. Every handler still runs on its own, under
    /// its own `catch_unwind`; what is shared is the list, so a handler
    /// that blocks never holds its siblings back while another pool thread
    /// is free, and an event of 16 handlers costs one offer instead of
    /// fifteen jobs. Fast handlers are all started by their thread before
    /// any other looks: the event's record stays in one core's cache.
    fn deliver(self: &Arc<Self>, record: Record, me: usize) {
        #[cfg(feature = "metrics")]
        crate::meters::sample_queue_depth(|| self.events.len());
        let registry = registry();
        let event = &registry.events[record.index()];
        let handlers = &event.handlers;
        record.start_delivery(handlers.len());
        // The dispatcher queues only events that have handlers.
        if handlers.is_empty() {
            self.queue.completed(&record);
            return;
        }
        let mut sync = handlers.len();
        if event.has_async {
            for &handler in handlers {
                if registry.handlers[handler as usize].is_async() {
                    sync -= 1;
                    self.start_handler(&record, handler);
                }
            }
        }
        if sync < 2 || self.threads < 2 {
            self.share(&record);
            return;
        }
        *self.offer(me) = Some(record.clone());
        // Against the fence of a thread about to block: either it sees the
        // offer, or this sees it counted and sends it the event.
        fence(Ordering::SeqCst);
        if self.blocked.load(Ordering::SeqCst) > 0 {
            for _ in 1..sync.min(self.threads) {
                if let Err(err) = self.jobs_tx.send(Job::Share(record.clone())) {
                    // The pool owns the receiver, so this cannot happen.
                    self.run_job(err.into_inner(), me);
                }
            }
        }
        self.share(&record);
        let withdrawn = self.offer(me).take();
        drop(withdrawn);
    }

    /// Thread `me`'s offer (a handler's panic never poisons it: handlers
    /// run outside its lock).
    fn offer(&self, me: usize) -> std::sync::MutexGuard<'_, Option<Record>> {
        self.offers[me].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the synchronous handlers of `record` that no thread has
    /// started yet, one at a time, until none is left; returns whether it
    /// started any.
    fn share(self: &Arc<Self>, record: &Record) -> bool {
        let registry = registry();
        let handlers = &registry.events[record.index()].handlers;
        let mut started = false;
        while let Some(n) = record.take_handler(handlers.len()) {
            let handler = handlers[n];
            // Async handlers were spawned when the event was taken.
            if !registry.handlers[handler as usize].is_async() {
                started = true;
                self.start_handler(record, handler);
            }
        }
        started
    }

    fn run_job(self: &Arc<Self>, job: Job, me: usize) {
        match job {
            Job::Event(record) => self.deliver(record, me),
            Job::Share(record) => {
                self.share(&record);
            }
            Job::Poll(task) => task.poll(),
        }
    }

    fn start_handler(self: &Arc<Self>, record: &Record, handler: u32) {
        let entry = &registry().handlers[handler as usize];
        entry.counters.start();
        match entry.call {
            HandlerFn::Sync(call) => {
                let outcome = run_sync(entry, call, record);
                self.finish(record, entry, outcome);
            }
            HandlerFn::Async(call) => {
                let record = record.clone();
                let pool = Arc::clone(self);
                let task = {
                    let record = record.clone();
                    async move {
                        let outcome = run_async(entry, call, record.clone()).await;
                        pool.finish(&record, entry, outcome);
                    }
                };
                self.place(
                    HandlerTask {
                        future: Some(Box::pin(task)),
                        polled: false,
                        place: Place::Spawner,
                        pool: Arc::clone(self),
                        record,
                        handler,
                    },
                    true,
                );
            }
        }
    }

    /// Hands an async handler's task to the first place that takes it, from
    /// `task.place` on: the spawner if one was installed, else the runtime
    /// the event was logged in, else the noted runtime; the built-in
    /// executor last. A place that is shut down drops the task unpolled,
    /// and [`HandlerTask`]'s drop brings it back here for the next place.
    /// `on_pool_thread`: the built-in executor may poll it at once.
    fn place(self: &Arc<Self>, mut task: HandlerTask, on_pool_thread: bool) {
        loop {
            let place = task.place;
            match place {
                Place::Spawner => {
                    task.place = Place::LoggedIn;
                    if let Some(spawn) = &self.spawner {
                        task.place = Place::Builtin;
                        return spawn(Box::pin(task));
                    }
                }
                Place::LoggedIn => {
                    task.place = Place::Noted;
                    #[cfg(feature = "tokio")]
                    if let Some(runtime) = task.record.runtime().cloned() {
                        return drop(runtime.spawn(task));
                    }
                }
                Place::Noted => {
                    task.place = Place::Builtin;
                    #[cfg(feature = "tokio")]
                    if let Some(runtime) = ambient::noted() {
                        task.place = Place::AfterNoted;
                        return drop(runtime.spawn(task));
                    }
                }
                Place::AfterNoted | Place::Builtin => {
                    #[cfg(feature = "tokio")]
                    if place == Place::AfterNoted {
                        ambient::forget_noted();
                    }
                    let Some(future) = task.future.take() else {
                        return;
                    };
                    // Polled here from now on: the guard's work is done.
                    let guarded = HandlerTask {
                        future: Some(future),
                        polled: false,
                        place: Place::Builtin,
                        pool: Arc::clone(self),
                        record: task.record.clone(),
                        handler: task.handler,
                    };
                    return Task::spawn(Box::pin(guarded), self, on_pool_thread);
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

/// Where an async handler's task goes next; see [`Pool::place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Spawner,
    LoggedIn,
    Noted,
    /// The noted runtime refused the task: forget it, then the built-in executor.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // made by the tokio places only
    AfterNoted,
    Builtin,
}

/// An async handler's task, handed to a runtime or a spawner. Dropped
/// unpolled (its runtime is shut down), it goes to the next place; dropped
/// after it started and before it finished, its run is counted as failed
/// with [`FailureKind::Abandoned`] and its event no longer waits for it,
/// so that `flush` and `shutdown` never wait for a task that cannot end.
struct HandlerTask {
    future: Option<BoxFuture<'static, ()>>,
    polled: bool,
    place: Place,
    pool: Arc<Pool>,
    record: Record,
    handler: u32,
}

impl Future for HandlerTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(());
        };
        this.polled = true;
        let poll = future.as_mut().poll(cx);
        if poll.is_ready() {
            this.future = None;
        }
        poll
    }
}

impl Drop for HandlerTask {
    fn drop(&mut self) {
        let Some(future) = self.future.take() else {
            return;
        };
        if !self.polled {
            let next = HandlerTask {
                future: Some(future),
                polled: false,
                place: self.place,
                pool: Arc::clone(&self.pool),
                record: self.record.clone(),
                handler: self.handler,
            };
            return self.pool.place(next, false);
        }
        drop(future);
        let entry = &registry().handlers[self.handler as usize];
        let reason = "its task was dropped before it finished: the async runtime or executor \
                      running it shut down";
        self.pool.finish(
            &self.record,
            entry,
            Err(FailureKind::Abandoned(reason.to_owned())),
        );
    }
}

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
#[inline]
fn account(record: &Record, entry: &HandlerEntry, outcome: Outcome) -> Option<Failure> {
    match outcome {
        Ok(()) => {
            entry.counters.outcome(counters::Outcome::Handled);
            registry().events[record.index()]
                .counters
                .outcome(counters::Outcome::Handled);
            None
        }
        Err(kind) => Some(account_failure(record, entry, kind)),
    }
}

/// [`account`] of a failed run, out of the way of the successful ones.
#[cold]
#[inline(never)]
fn account_failure(record: &Record, entry: &HandlerEntry, kind: FailureKind) -> Failure {
    let counted = match kind {
        FailureKind::Panic(_) => counters::Outcome::Panicked,
        _ => counters::Outcome::Failed,
    };
    entry.counters.outcome(counted);
    registry().events[record.index()].counters.outcome(counted);
    Failure {
        event: record.name(),
        event_id: record.id(),
        handler: Some(entry.decl.name),
        kind,
    }
}

/// Refuses to run `record` inline when that would block an async runtime's
/// thread on an async handler (it would wait for the very thread it
/// blocks: a deadlock when the handler awaits the runtime's timers or I/O).
pub(crate) fn check_inline_can_block(record: &Record) -> Result<(), Error> {
    if registry().events[record.index()].has_async && ambient::in_runtime() {
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
        .filter(|&&h| registry.handlers[h as usize].is_async())
        .count();
    record.start_delivery(asyncs);
    for &handler in &event.handlers {
        let entry = &registry.handlers[handler as usize];
        entry.counters.start();
        match entry.call {
            HandlerFn::Sync(call) => {
                failures.extend(account(record, entry, run_sync(entry, call, record)));
            }
            HandlerFn::Async(call) => {
                let record = record.clone();
                tasks.push(Box::pin(async move {
                    let outcome = run_async(entry, call, record.clone()).await;
                    let failure = account(&record, entry, outcome);
                    if record.handler_finished() {
                        crate::queue::count_completed(&record);
                    }
                    failure
                }) as BoxFuture<'static, Option<Failure>>);
            }
        }
    }
    if asyncs == 0 {
        crate::queue::count_completed(record);
    }
    (failures, tasks)
}

/// Runs every handler of `record` in the caller, in order, and completes
/// the event; returns the failures for the caller to surface or report.
pub(crate) fn run_inline(record: &Record) -> Vec<Failure> {
    let registry = registry();
    let event = &registry.events[record.index()];
    let mut failures = Vec::new();
    // The event's own count of successful runs moves once, after the last.
    let mut handled = 0;
    for &handler in &event.handlers {
        let entry = &registry.handlers[handler as usize];
        entry.counters.start();
        let outcome = match entry.call {
            HandlerFn::Sync(call) => run_sync(entry, call, record),
            HandlerFn::Async(call) => crate::hook::block_on(run_async(entry, call, record.clone())),
        };
        match outcome {
            Ok(()) => {
                entry.counters.outcome(counters::Outcome::Handled);
                handled += 1;
            }
            Err(kind) => failures.push(account_failure(record, entry, kind)),
        }
    }
    event.counters.add_handled(handled);
    crate::queue::count_completed(record);
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
    /// Polls `future` now when `now`, else queues its first poll for a
    /// pool thread.
    fn spawn(future: BoxFuture<'static, ()>, pool: &Arc<Pool>, now: bool) {
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(false),
            pool: Arc::clone(pool),
        });
        if now {
            task.poll();
        } else {
            ArcWake::wake_by_ref(&task);
        }
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
    let outcome = match entry.call {
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
    let outcome = match entry.call {
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
