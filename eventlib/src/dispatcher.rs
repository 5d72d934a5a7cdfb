//! The dispatcher: where `log!` hands events over, its configuration, and
//! `flush` / `shutdown`.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::error::Error;
use crate::failure::{Failure, FailureKind};
use crate::hook::{self, Hook, Spawner};
use crate::id::EventId;
use crate::pool;
pub use crate::queue::Overflow;
use crate::queue::{Queue, Remaining};
use crate::record::Record;
use crate::registry::registry;
use crate::testing;
use crate::transport::{Admission, Outbox, Transport};

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

static GLOBAL: OnceLock<Installed> = OnceLock::new();

/// The global dispatcher, started with the defaults on first use.
#[inline]
fn global() -> Result<&'static Installed, Error> {
    match GLOBAL.get() {
        Some(shared) => Ok(shared),
        None => start_global(&mut None),
    }
}

/// Starts the global dispatcher from `config` (taken) or the defaults,
/// unless one runs already. A failed start leaves no dispatcher, so a
/// later call may try again.
#[cold]
fn start_global(config: &mut Option<Builder>) -> Result<&'static Installed, Error> {
    static STARTING: Mutex<()> = Mutex::new(());
    let _starting = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = GLOBAL.get() {
        return Ok(shared);
    }
    let config = config.take().unwrap_or_else(Dispatcher::builder);
    crate::ambient::note();
    let installed = Installed::start(config)?;
    Ok(GLOBAL.get_or_init(|| installed))
}

/// The installed dispatcher: its configuration and the queue it shares
/// with the pool or the transport.
struct Installed {
    queue: Arc<Queue>,
    overflow: Overflow,
    mode: Mode,
    surface_failures: bool,
    /// Set when a transport takes the queue instead of the pool.
    remote: bool,
    /// The transport's admission, called before an event is queued.
    admission: Option<Arc<dyn Admission>>,
    /// What `shutdown` lets the transport finish, once.
    on_shutdown: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Async mode, no transport, no spawner: async handlers run on the
    /// runtime their event was logged in.
    #[cfg(feature = "tokio")]
    local_async: bool,
}

impl Installed {
    fn start(mut config: Builder) -> Result<Installed, Error> {
        let queue = Arc::new(Queue::new(config.capacity, config.hook));
        let installed = Installed {
            queue: Arc::clone(&queue),
            overflow: config.overflow,
            mode: config.mode,
            surface_failures: config.surface_failures,
            remote: config.transport.is_some(),
            admission: config.transport.as_ref().and_then(|t| t.admission()),
            on_shutdown: std::sync::Mutex::new(
                config.transport.as_ref().and_then(|t| t.on_shutdown()),
            ),
            #[cfg(feature = "tokio")]
            local_async: config.transport.is_none()
                && config.mode == Mode::Async
                && config.spawner.is_none(),
        };
        if let Some(transport) = config.transport.take() {
            crate::transport::note_installed(transport.name());
            queue.hold_earlier(transport.earlier());
            let outbox = Outbox::new(queue);
            let thread = format!("eventlib-{}", transport.name());
            std::thread::Builder::new()
                .name(thread.clone())
                .spawn(move || transport.run(outbox))
                .map_err(|error| Error::Spawn { thread, error })?;
        } else if config.mode == Mode::Async {
            pool::start(&queue, config.threads, config.spawner.take())?;
        }
        Ok(installed)
    }

    /// Whether an event would be queued now without waiting (always, in
    /// inline mode: nothing is queued).
    fn has_room(&self) -> bool {
        (self.mode == Mode::Inline && !self.remote) || self.queue.has_room()
    }

    /// Queues `record` under the configured overflow policy, or, with
    /// [`Wait::Never`], under [`Overflow::Error`] whatever is configured.
    #[cfg_attr(not(feature = "tokio"), allow(unused_mut))] // the runtime is set with tokio only
    fn emit(&self, mut record: Record, wait: Wait) -> Result<EventId, Error> {
        let overflow = match wait {
            // Room was seen a moment ago: a producer that took it first
            // meets the configured policy (a brief wait at most).
            Wait::AsConfigured | Wait::GiveBack => self.overflow,
            Wait::Never => Overflow::Error,
        };
        if !self.queue.is_accepting() {
            return Err(Error::ShutDown);
        }
        if let Some(admission) = &self.admission {
            admission.admit(&record)?;
        }
        if self.mode == Mode::Inline && !self.remote {
            pool::check_inline_can_block(&record)?;
        }
        let id = record.id();
        // Counted before it is queued: the idle check relies on
        // `completed + dropped <= emitted` at every instant.
        let handlers = crate::queue::count_emitted(&record);
        if !handlers.any && !self.remote {
            crate::queue::count_completed(&record);
            return Ok(id);
        }
        if self.mode == Mode::Inline && !self.remote {
            let failures = pool::run_inline(&record);
            if self.surface_failures && !failures.is_empty() {
                return Err(Error::Handlers(failures));
            }
            for failure in &failures {
                self.queue.report(failure);
            }
            return Ok(id);
        }
        #[cfg(feature = "tokio")]
        if self.local_async && handlers.any_async {
            if let Some(runtime) = crate::ambient::current() {
                record.set_runtime(runtime);
            }
        }
        let refused = self.queue.offer(record, overflow).err();
        let Some(record) = refused else {
            return Ok(id);
        };
        self.queue.dropped(&record);
        if overflow == Overflow::Error {
            return Err(Error::QueueFull {
                event: record.name(),
            });
        }
        self.queue.report(&Failure {
            event: record.name(),
            event_id: id,
            handler: None,
            kind: FailureKind::Dropped,
        });
        Ok(id)
    }
}

/// Whether a `log!` may wait for room in a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// As the overflow policy says.
    AsConfigured,
    /// Never: a full queue is [`Error::QueueFull`] at once.
    Never,
    /// Not while the queue is full: the record is given back, nothing
    /// counted, for the caller to wait for room its own way.
    GiveBack,
}

/// What [`dispatch_or_give_back`] did with a record.
pub(crate) enum Offered {
    /// Logged (or refused for a reason other than a full queue).
    Done(Result<EventId, Error>),
    /// The queue is full: nothing was counted; here is the record back.
    Full(Record),
}

/// Where every `log!` ends: a testing scope of this thread, or the global
/// dispatcher (started with the defaults by the first `log!`).
#[inline(never)] // one copy for every event type: less code per `log!` call site
pub(crate) fn dispatch(record: Record, wait: Wait) -> Result<EventId, Error> {
    crate::ambient::note();
    match testing::intercept(record) {
        Ok(result) => result,
        Err(record) => global()?.emit(record, wait),
    }
}

/// [`dispatch`] that gives the record back, uncounted, while the queue is
/// full ([`Wait::GiveBack`]).
pub(crate) fn dispatch_or_give_back(record: Record) -> Offered {
    crate::ambient::note();
    let record = match testing::intercept(record) {
        Ok(result) => return Offered::Done(result),
        Err(record) => record,
    };
    let installed = match global() {
        Ok(installed) => installed,
        Err(err) => return Offered::Done(Err(err)),
    };
    if !installed.has_room() {
        return Offered::Full(record);
    }
    Offered::Done(installed.emit(record, Wait::GiveBack))
}

/// Waits until every event queued so far has been handled by every handler
/// (or delivered, with a transport), and reports what happened since the
/// process started.
///
/// With producers still logging, it waits until the queue is empty and no
/// handler is running. Never call it from inside a handler: it would wait
/// for itself.
///
/// In async code, await [`flush_async`] instead. Called on a thread of an
/// async runtime (a `#[tokio::test]`, say), `flush` does not wait, as that
/// could block the very threads the handlers need: it returns at once a
/// report whose [`not_waited`](Report::not_waited) is
/// [`NotWaited::InRuntime`], which is never [clean](Report::is_clean) and
/// whose message names `flush_async`, and it says so on standard error.
pub fn flush() -> Report {
    wait_for_handlers(None, "flush()")
}

/// Like [`flush`], but gives up after `timeout`; the report's
/// [`abandoned`](Report::abandoned) counts the events still in flight then.
/// Inside an async runtime it does not wait, as [`flush`].
pub fn flush_timeout(timeout: Duration) -> Report {
    wait_for_handlers(Some(timeout), "flush_timeout()")
}

/// What [`flush`] and [`flush_timeout`] share: wait, unless the caller is
/// on a runtime's thread.
fn wait_for_handlers(timeout: Option<Duration>, call: &str) -> Report {
    let Some(installed) = GLOBAL.get() else {
        crate::notice::flush();
        return Report::now(Remaining::default());
    };
    if crate::ambient::in_runtime() {
        let mut report = Report::now(Remaining {
            outstanding: registry().outstanding(),
            earlier: installed.queue.earlier(),
        });
        report.not_waited = Some(NotWaited::InRuntime);
        crate::notice::tell_unclean(
            &format!("{call} was called inside an async runtime and did not wait: {report}"),
            false,
        );
        return report;
    }
    let remaining = installed
        .queue
        .wait_idle(timeout.map(|timeout| Instant::now() + timeout));
    crate::notice::flush();
    Report::now(remaining)
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
#[non_exhaustive]
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
    /// Events of an earlier run that the transport still held when the
    /// wait ended: a spool's events recovered after a crash, not sent yet.
    /// They are not lost (the next start sends them), but not delivered
    /// either.
    pub earlier_backlog: u64,
    /// Set when a blocking [`flush`] or [`flush_timeout`] returned without
    /// waiting; `abandoned` then counts the events in flight.
    pub not_waited: Option<NotWaited>,
}

/// Why a blocking [`flush`] returned without waiting for the handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotWaited {
    /// It was called on a thread of an async runtime, where waiting could
    /// block the threads the handlers need (on a current-thread runtime,
    /// the only one): await [`flush_async`] there instead.
    InRuntime,
}

impl std::fmt::Display for NotWaited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotWaited::InRuntime => f.write_str(
                "a blocking flush inside an async runtime cannot wait for the handlers that \
                 runtime runs: use `eventlib::flush_async().await`",
            ),
        }
    }
}

impl Report {
    fn now(remaining: Remaining) -> Report {
        let total = crate::stats().total();
        Report {
            emitted: total.emitted,
            completed: total.completed,
            dropped: total.dropped,
            handled: total.handled,
            failed: total.failed,
            panicked: total.panicked,
            abandoned: remaining.outstanding,
            earlier_backlog: remaining.earlier,
            not_waited: None,
        }
    }

    /// Whether nothing was lost: no event dropped or abandoned, no
    /// handler run failed or panicked, and the wait took place (see
    /// [`not_waited`](Self::not_waited)).
    pub fn is_clean(&self) -> bool {
        self.dropped == 0
            && self.failed == 0
            && self.panicked == 0
            && self.abandoned == 0
            && self.earlier_backlog == 0
            && self.not_waited.is_none()
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
        )?;
        if self.earlier_backlog > 0 {
            write!(
                f,
                "; {} event(s) of an earlier run still in the spool (sent at the next start)",
                self.earlier_backlog
            )?;
        }
        match self.not_waited {
            Some(why) => write!(f, " (not waited: {why})"),
            None => Ok(()),
        }
    }
}

/// Stops accepting events (`log!` then returns [`Error::ShutDown`]), waits
/// until everything queued has been handled, gives up after `timeout`, and
/// reports what happened since the process started (events still
/// unfinished then are [`abandoned`](Report::abandoned)).
pub fn shutdown(timeout: Duration) -> Report {
    let remaining = match GLOBAL.get() {
        Some(installed) => {
            installed.queue.stop_accepting();
            let remaining = installed.queue.wait_idle(Some(Instant::now() + timeout));
            let finish = installed
                .on_shutdown
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(finish) = finish {
                finish_transport(finish);
            }
            remaining
        }
        None => Remaining::default(),
    };
    crate::notice::flush();
    let report = Report::now(remaining);
    if !report.is_clean() {
        let lost = report.abandoned > 0 || report.dropped > 0;
        crate::notice::tell_unclean(
            &format!("shutdown after at most {timeout:?} was not clean: {report}"),
            lost,
        );
    }
    report
}

/// Lets the transport finish its bookkeeping, on a thread of its own, and
/// waits a second at most: a transport that cannot reach its server does
/// not hold the shutdown.
fn finish_transport(finish: Box<dyn FnOnce() + Send>) {
    let (done, finished) = std::sync::mpsc::channel();
    let started = std::thread::Builder::new()
        .name("eventlib-finish".to_owned())
        .spawn(move || {
            finish();
            let _ = done.send(());
        });
    if started.is_ok() {
        let _ = finished.recv_timeout(Duration::from_secs(1));
    }
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
