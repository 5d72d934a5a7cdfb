//! The dispatcher: where `log!` hands events over, its configuration, and
//! `flush` / `shutdown`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures::future::BoxFuture;

use crate::error::Error;
use crate::event::EventId;
use crate::handler::{Failure, FailureKind};
use crate::hook::{self, Hook, Spawner};
use crate::pool;
use crate::record::Record;
use crate::registry::registry;
use crate::testing;
use crate::transport::{Admission, Outbox, Transport};

/// What `log!` does when the local queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room, at most this long per `log!`; then drop the event
    /// (`log!` still returns `Ok`; the drop is counted in
    /// [`stats`](crate::stats) and reported to the error hook).
    ///
    /// **The default, with one second**: a burst of events faster than
    /// the handlers slows the callers down to the handlers' pace instead
    /// of losing events, while handlers that are stuck (no room freed for a
    /// whole second) cannot hold a caller for long. `docs/asynchronous-processing.md`
    /// has the measurements behind it.
    Wait(Duration),
    /// Wait until there is room, however long. Nothing is lost, but
    /// handlers that are stuck hold the callers with them, and a handler
    /// that logs into a full queue with every pool thread busy waits
    /// forever.
    Block,
    /// Drop the new event at once; `log!` still returns `Ok`. The drop is
    /// counted in [`stats`](crate::stats) (`dropped`) and reported to the
    /// error hook. The caller is never slowed, at the price of losing a
    /// burst that outruns the handlers.
    DropNewest,
    /// Return [`Error::QueueFull`] from `log!` at once; the event is
    /// counted as dropped.
    Error,
}

impl Overflow {
    /// The default policy: [`Overflow::Wait`] up to one second.
    pub const DEFAULT: Overflow = Overflow::Wait(Duration::from_secs(1));
}

impl Default for Overflow {
    fn default() -> Self {
        Overflow::DEFAULT
    }
}

/// Where handlers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `log!` queues the event and returns; handlers run on the pool (the
    /// default).
    Async,
    /// `log!` runs every handler in the caller before it returns (for
    /// development and tests: the equivalent of Celery's eager mode).
    Inline,
}

/// Configures the global dispatcher before the first `log!`.
///
/// With no configuration, the first `log!` starts the embedded default:
/// async mode, a queue of 65,536 events, [`Overflow::DEFAULT`] (wait up to
/// one second for room, then drop), one pool thread per core (at least
/// two) and the default error hook: every kind of failure is written in
/// full the first time in a second and its repeats are summed up once a
/// second, through the `log` facade when a logger takes the line, and to
/// standard error when none does.
///
/// ```
/// use eventlib::{Dispatcher, Overflow};
/// Dispatcher::builder()
///     .capacity(10_000)
///     .overflow(Overflow::Block)
///     .error_hook(|failure| eprintln!("eventlib: {failure}"))
///     .install()
///     .expect("installed before the first log!");
/// ```
///
/// On tokio, hand async handlers to the runtime in one line:
///
/// ```no_run
/// # fn main() {
/// let runtime = tokio::runtime::Runtime::new().unwrap();
/// let handle = runtime.handle().clone();
/// eventlib::Dispatcher::builder().spawner(move |task| drop(handle.spawn(task))).install().unwrap();
/// # }
/// ```
///
/// On smol:
///
/// ```no_run
/// eventlib::Dispatcher::builder().spawner(|task| smol::spawn(task).detach()).install().unwrap();
/// ```
#[must_use = "call `.install()` to put the configuration in place"]
pub struct Builder {
    capacity: usize,
    overflow: Overflow,
    mode: Mode,
    surface_failures: bool,
    threads: usize,
    hook: Hook,
    spawner: Option<Spawner>,
    transport: Option<Box<dyn Transport>>,
}

/// The global dispatcher; see [`Dispatcher::builder`].
pub struct Dispatcher(());

impl Dispatcher {
    /// A builder for the global dispatcher's configuration.
    pub fn builder() -> Builder {
        Builder {
            capacity: 65_536,
            overflow: Overflow::DEFAULT,
            mode: Mode::Async,
            surface_failures: false,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            hook: Arc::new(crate::notice::default_hook),
            spawner: None,
            transport: None,
        }
    }
}

impl Builder {
    /// How many events may wait in the local queue (at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// What `log!` does when the queue is full.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Async (default) or inline.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// In inline mode, return handler failures from `log!` as
    /// [`Error::Handlers`] instead of reporting them to the hook.
    pub fn surface_failures(mut self, surface: bool) -> Self {
        self.surface_failures = surface;
        self
    }

    /// How many pool threads take events off the queue and run handlers
    /// (at least 1).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Called for every handler error or panic and every dropped event, in
    /// place of the default hook (which aggregates repeats and writes to
    /// standard error when no logger is installed). It runs on the thread
    /// where the failure happened; keep it short.
    pub fn error_hook(mut self, hook: impl Fn(&Failure) + Send + Sync + 'static) -> Self {
        self.hook = Arc::new(hook);
        self
    }

    /// Runs async handlers on your executor instead of the built-in pool:
    /// the function receives each handler's task and spawns it.
    pub fn spawner(
        mut self,
        spawn: impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
    ) -> Self {
        self.spawner = Some(Arc::new(spawn));
        self
    }

    /// Sends events out of the process through `transport` (such as the
    /// Redis transport) instead of running handlers here. The queue, its
    /// capacity and overflow policy, `flush()` and `shutdown()` apply to the
    /// transport's outbox.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Box::new(transport));
        self
    }

    /// Makes this the global dispatcher. Fails with
    /// [`Error::AlreadyInstalled`] once a dispatcher is in place (installed,
    /// or started by a first `log!`), and with [`Error::Spawn`] when the
    /// pool's or the transport's thread cannot be started.
    pub fn install(self) -> Result<(), Error> {
        let mut fresh = Some(self);
        start_global(&mut fresh)?;
        match fresh {
            None => Ok(()),
            Some(_) => Err(Error::AlreadyInstalled),
        }
    }
}

static GLOBAL: OnceLock<Arc<Shared>> = OnceLock::new();

/// The global dispatcher, started with the defaults on first use.
#[inline]
fn global() -> Result<&'static Arc<Shared>, Error> {
    match GLOBAL.get() {
        Some(shared) => Ok(shared),
        None => start_global(&mut None),
    }
}

/// Starts the global dispatcher from `config` (taken) or the defaults,
/// unless one runs already. A failed start leaves no dispatcher, so a
/// later call may try again.
#[cold]
fn start_global(config: &mut Option<Builder>) -> Result<&'static Arc<Shared>, Error> {
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = GLOBAL.get() {
        return Ok(shared);
    }
    let config = config.take().unwrap_or_else(Dispatcher::builder);
    crate::ambient::note();
    let shared = Shared::start(config)?;
    Ok(GLOBAL.get_or_init(|| shared))
}

/// The state the dispatcher shares with the pool and the transport: the
/// queue, the hook, and the waiting of `flush`/`shutdown`.
pub(crate) struct Shared {
    overflow: Overflow,
    mode: Mode,
    surface_failures: bool,
    hook: Hook,
    events_tx: Sender<Record>,
    events_rx: Receiver<Record>,
    accepting: AtomicBool,
    /// Threads in `wait_idle`: settling an event wakes them only when set.
    waiters: AtomicUsize,
    /// Set when a transport takes the queue instead of the pool.
    remote: bool,
    /// The transport's admission, called before an event is queued.
    admission: Option<Arc<dyn Admission>>,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

impl Shared {
    fn start(mut config: Builder) -> Result<Arc<Shared>, Error> {
        let (events_tx, events_rx) = crossbeam_channel::bounded(config.capacity);
        let shared = Arc::new(Shared {
            overflow: config.overflow,
            mode: config.mode,
            surface_failures: config.surface_failures,
            hook: config.hook,
            events_tx,
            events_rx,
            accepting: AtomicBool::new(true),
            remote: config.transport.is_some(),
            admission: config.transport.as_ref().and_then(|t| t.admission()),
            waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle: Condvar::new(),
        });
        if let Some(transport) = config.transport.take() {
            let outbox = Outbox::new(Arc::clone(&shared));
            let thread = format!("eventlib-{}", transport.name());
            std::thread::Builder::new()
                .name(thread.clone())
                .spawn(move || transport.run(outbox))
                .map_err(|error| Error::Spawn { thread, error })?;
        } else if config.mode == Mode::Async {
            pool::start(&shared, config.threads, config.spawner.take())?;
        }
        Ok(shared)
    }

    fn emit(&self, record: Record) -> Result<EventId, Error> {
        if !self.accepting.load(Ordering::Relaxed) {
            return Err(Error::ShutDown);
        }
        if let Some(admission) = &self.admission {
            admission.admit(&record)?;
        }
        if self.mode == Mode::Inline && !self.remote {
            pool::check_inline_can_block(&record)?;
        }
        let id = record.id();
        let counters = &registry().events[record.index()].counters;
        // Counted before it is queued: the idle check relies on
        // `completed + dropped <= emitted` at every instant.
        let has_handlers = counters.emit();
        if !has_handlers && !self.remote {
            counters.complete();
            return Ok(id);
        }
        if self.mode == Mode::Inline && !self.remote {
            let failures = pool::run_inline(&record);
            if self.surface_failures && !failures.is_empty() {
                return Err(Error::Handlers(failures));
            }
            for failure in &failures {
                self.report(failure);
            }
            return Ok(id);
        }
        let refused = match self.overflow {
            Overflow::Wait(max) => match self.events_tx.try_send(record) {
                Ok(()) => None,
                Err(TrySendError::Full(record)) => self
                    .events_tx
                    .send_timeout(record, max)
                    .err()
                    .map(|e| e.into_inner()),
                Err(TrySendError::Disconnected(record)) => Some(record),
            },
            Overflow::Block => self.events_tx.send(record).err().map(|e| e.into_inner()),
            Overflow::DropNewest | Overflow::Error => match self.events_tx.try_send(record) {
                Ok(()) => None,
                Err(TrySendError::Full(record) | TrySendError::Disconnected(record)) => {
                    Some(record)
                }
            },
        };
        let Some(record) = refused else {
            return Ok(id);
        };
        self.dropped(&record);
        if self.overflow == Overflow::Error {
            return Err(Error::QueueFull {
                event: record.name(),
            });
        }
        self.report(&Failure {
            event: record.name(),
            event_id: id,
            handler: None,
            kind: FailureKind::Dropped,
        });
        Ok(id)
    }

    /// The queue's receiving end: the pool's threads or the transport take
    /// events from it.
    pub(crate) fn queue(&self) -> &Receiver<Record> {
        &self.events_rx
    }

    /// Whether `log!` is still accepted (false once `shutdown` began).
    pub(crate) fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// Tells the hook; a panicking hook is contained like a handler.
    pub(crate) fn report(&self, failure: &Failure) {
        hook::call_hook(&self.hook, failure);
    }

    /// One handler of `record` finished; the last one completes the event.
    pub(crate) fn handler_done(&self, record: &Record) {
        if record.handler_finished() {
            self.completed(record);
        }
    }

    /// `record` is completed: every handler finished, or a transport
    /// delivered it.
    pub(crate) fn completed(&self, record: &Record) {
        registry().events[record.index()].counters.complete();
        self.settled();
    }

    /// `record`, emitted, is dropped: refused by the queue or given up by
    /// the transport.
    pub(crate) fn dropped(&self, record: &Record) {
        registry().events[record.index()].counters.drop_one();
        self.settled();
    }

    /// An event was completed or dropped: wake the threads in `wait_idle`,
    /// if any, once the queue is empty (before that, they have nothing to
    /// look at). There is no shared "outstanding" counter for callers and
    /// the pool to fight over; `wait_idle` sums the per-event counters.
    fn settled(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 && self.events_rx.is_empty() {
            self.idle.notify_all();
        }
    }

    /// Waits until no event is outstanding, or until `deadline`; returns
    /// how many were still outstanding.
    fn wait_idle(&self, deadline: Option<Instant>) -> u64 {
        // A wake-up can slip between the check and the wait (the notifier
        // takes no lock, so as not to slow the threads that settle events);
        // the bounded wait makes that cost at most one slice.
        const SLICE: Duration = Duration::from_millis(10);
        let registry = registry();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let outstanding = loop {
            let outstanding = registry.outstanding();
            if outstanding == 0 {
                break 0;
            }
            let mut wait = SLICE;
            if let Some(deadline) = deadline {
                let now = Instant::now();
                if now >= deadline {
                    break outstanding;
                }
                wait = wait.min(deadline - now);
            }
            let guard = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
            drop(self.idle.wait_timeout(guard, wait));
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        outstanding
    }
}

/// Where every `log!` ends: a testing scope of this thread, or the global
/// dispatcher (started with the defaults by the first `log!`).
#[inline(never)] // one copy for every event type: less code per `log!` call site
pub(crate) fn dispatch(record: Record) -> Result<EventId, Error> {
    crate::ambient::note();
    match testing::intercept(record) {
        Ok(result) => result,
        Err(record) => global()?.emit(record),
    }
}

/// Waits until every event queued so far has been handled by every handler
/// (or delivered, with a transport), and reports what happened since the
/// process started.
///
/// With producers still logging, it waits until the queue is empty and no
/// handler is running. Never call it from inside a handler: it would wait
/// for itself.
pub fn flush() -> Report {
    let abandoned = GLOBAL.get().map_or(0, |shared| shared.wait_idle(None));
    crate::notice::flush();
    Report::now(abandoned)
}

/// Like [`flush`], but gives up after `timeout`; the report's
/// [`abandoned`](Report::abandoned) counts the events still in flight then.
pub fn flush_timeout(timeout: Duration) -> Report {
    let abandoned = GLOBAL
        .get()
        .map_or(0, |shared| shared.wait_idle(Some(Instant::now() + timeout)));
    crate::notice::flush();
    Report::now(abandoned)
}

/// [`flush`] for async code: waits on a helper thread, so it blocks no
/// executor thread and works on any executor (if no thread can be started,
/// it waits on the caller's thread).
///
/// # Panics
///
/// Only if the helper thread panics while waiting (a logger that panics):
/// the panic is resumed here.
pub async fn flush_async() -> Report {
    match hook::off_thread("eventlib-wait", flush).await {
        Ok(report) => report,
        Err(_) => flush(),
    }
}

/// What happened to the events of this process since it started, from
/// [`flush`] and [`shutdown`]. Anything lost or failed shows here: check
/// [`is_clean`](Self::is_clean), not `abandoned` alone.
///
/// ```
/// let report = eventlib::flush();
/// assert!(report.is_clean(), "{report}");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// Events accepted by `log!`.
    pub emitted: u64,
    /// Events every handler finished with (or that a transport delivered).
    pub completed: u64,
    /// Events dropped: refused by a full queue, or given up by a transport.
    pub dropped: u64,
    /// Handler runs that succeeded.
    pub handled: u64,
    /// Handler runs that returned `Err`.
    pub failed: u64,
    /// Handler runs that panicked.
    pub panicked: u64,
    /// Events not finished when the wait ended: stuck or slow handlers (for
    /// [`shutdown`], they are abandoned; for [`flush_timeout`], still in
    /// flight).
    pub abandoned: u64,
}

impl Report {
    fn now(abandoned: u64) -> Report {
        let total = crate::stats().total();
        Report {
            emitted: total.emitted,
            completed: total.completed,
            dropped: total.dropped,
            handled: total.handled,
            failed: total.failed,
            panicked: total.panicked,
            abandoned,
        }
    }

    /// Whether nothing was lost: no event dropped or abandoned, and no
    /// handler run failed or panicked.
    pub fn is_clean(&self) -> bool {
        self.dropped == 0 && self.failed == 0 && self.panicked == 0 && self.abandoned == 0
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} event(s) emitted: {} completed, {} dropped, {} abandoned; handler runs: {} \
             handled, {} failed, {} panicked",
            self.emitted,
            self.completed,
            self.dropped,
            self.abandoned,
            self.handled,
            self.failed,
            self.panicked
        )
    }
}

/// Stops accepting events (`log!` then returns [`Error::ShutDown`]), waits
/// until everything queued has been handled, gives up after `timeout`, and
/// reports what happened since the process started (events still
/// unfinished then are [`abandoned`](Report::abandoned)).
pub fn shutdown(timeout: Duration) -> Report {
    let abandoned = match GLOBAL.get() {
        Some(shared) => {
            shared.accepting.store(false, Ordering::SeqCst);
            shared.wait_idle(Some(Instant::now() + timeout))
        }
        None => 0,
    };
    crate::notice::flush();
    let report = Report::now(abandoned);
    if !report.is_clean() {
        crate::notice::tell_unclean(&report, timeout);
    }
    report
}

/// [`shutdown`] for async code (waits on a helper thread, as
/// [`flush_async`] does).
///
/// # Panics
///
/// As [`flush_async`].
pub async fn shutdown_async(timeout: Duration) -> Report {
    match hook::off_thread("eventlib-wait", move || shutdown(timeout)).await {
        Ok(report) => report,
        Err(_) => shutdown(timeout),
    }
}
