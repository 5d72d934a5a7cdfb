//! Test support: capture and inline scopes.
//!
//! - [`capture`] and [`inline`] act on the current thread, so tests running
//!   in parallel (as `cargo test` runs them) never see each other's events.
//! - [`Capture::instrument`] and [`inline_async`] follow a future instead,
//!   on whichever thread polls it (as `tracing::Instrument` does): for
//!   async tests, and for tasks the test spawns.
//! - [`capture_all`] takes what every thread of the process logs: for a
//!   test binary that owns its dispatcher and calls its app as a black box
//!   (a server on spawned tasks, say).
//!
//! None of them starts or configures the global dispatcher: a test binary
//! may open scopes, then install its own configuration.
//!
//! ```
//! use eventlib::{event, handler, log, testing};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct Signup { email: String }
//!
//! #[event(name = "docs.Signup")]
//! impl Signup {
//!     #[handler]
//!     fn welcome(&self) -> anyhow::Result<()> {
//!         anyhow::ensure!(self.email.contains('@'), "no @ in {}", self.email);
//!         Ok(())
//!     }
//! }
//!
//! // What was logged, handlers not run:
//! let cap = testing::capture();
//! log!(Signup { email: "a@b.c".into() }).unwrap();
//! assert_eq!(cap.events::<Signup>(), vec![Signup { email: "a@b.c".into() }]);
//! drop(cap);
//!
//! // Handlers run in the caller; their failures come back from log!:
//! let _inline = testing::inline();
//! assert!(log!(Signup { email: "nobody".into() }).is_err());
//! ```

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;

use crate::error::Error;
use crate::event::Event;
use crate::failure::Failure;
use crate::id::EventId;
use crate::pool;
use crate::record::Record;

type Records = Arc<Mutex<Vec<Record>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone)]
enum Scope {
    Capture(Records),
    Inline(Records),
    InlineAsync(Arc<Deferred>),
}

/// What an async inline scope still has to await: the async handlers of
/// the events logged in it, and the failures so far.
#[derive(Default)]
struct Deferred {
    logged: Records,
    tasks: Mutex<Vec<BoxFuture<'static, Option<Failure>>>>,
    failures: Mutex<Vec<Failure>>,
}

thread_local! {
    /// How many scopes are open on this thread: the one check on `log!`'s
    /// path when none is.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Set while a [`capture_all`] is open: the one check on `log!`'s path
/// when no scope of the thread took the event.
static CAPTURING_ALL: AtomicBool = AtomicBool::new(false);
static CAPTURE_ALL: RwLock<Vec<Records>> = RwLock::new(Vec::new());

/// Ok(result) when a scope took the record.
#[inline]
pub(crate) fn intercept(record: Record) -> Result<Result<EventId, Error>, Record> {
    let scope = if DEPTH.with(Cell::get) == 0 {
        None
    } else {
        SCOPES.with(|s| s.borrow().last().cloned())
    };
    let scope = match scope {
        Some(scope) => scope,
        None if CAPTURING_ALL.load(Ordering::Acquire) => {
            match CAPTURE_ALL.read().unwrap_or_else(|e| e.into_inner()).last() {
                Some(records) => Scope::Capture(Arc::clone(records)),
                None => return Err(record),
            }
        }
        None => return Err(record),
    };
    let id = record.id();
    Ok(match scope {
        // Captured events are not counted: they are not dispatched.
        Scope::Capture(records) => {
            lock(&records).push(record);
            Ok(id)
        }
        // Counted like any event, so that stats and a concurrent `flush`
        // see it; the global dispatcher is neither started nor used.
        Scope::Inline(logged) => {
            if let Err(err) = pool::check_inline_can_block(&record) {
                return Ok(Err(err));
            }
            lock(&logged).push(record.clone());
            crate::queue::count_emitted(&record);
            let failures = pool::run_inline(&record);
            if failures.is_empty() {
                Ok(id)
            } else {
                Err(Error::Handlers(failures))
            }
        }
        Scope::InlineAsync(deferred) => {
            lock(&deferred.logged).push(record.clone());
            crate::queue::count_emitted(&record);
            let (failures, tasks) = pool::run_inline_deferred(&record);
            lock(&deferred.failures).extend(failures);
            lock(&deferred.tasks).extend(tasks);
            Ok(id)
        }
    })
}

fn push(scope: Scope) {
    SCOPES.with(|s| s.borrow_mut().push(scope));
    DEPTH.with(|d| d.set(d.get() + 1));
}

fn pop() {
    SCOPES.with(|s| s.borrow_mut().pop());
    DEPTH.with(|d| d.set(d.get() - 1));
}

/// Pops the scope it pushed, even when the poll inside panics.
struct Pushed;

impl Pushed {
    fn new(scope: Scope) -> Self {
        push(scope);
        Pushed
    }
}

impl Drop for Pushed {
    fn drop(&mut self) {
        pop();
    }
}

/// A future that logs into a scope on whichever thread polls it; from
/// [`Capture::instrument`] and [`InlineAsync::instrument`].
#[must_use = "futures do nothing unless awaited"]
pub struct Scoped<F> {
    scope: Scope,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let _pushed = Pushed::new(self.scope.clone());
        self.future.as_mut().poll(cx)
    }
}

/// Records what this thread logs, without running handlers, until the
/// returned guard is dropped. Validation still runs (`log!` of an invalid
/// event still fails).
pub fn capture() -> Capture {
    let records = Records::default();
    push(Scope::Capture(Arc::clone(&records)));
    Capture {
        logged: Logged(records),
        kind: CaptureKind::Thread(PhantomData),
    }
}

/// Records what **every thread** of the process logs (outside the scopes of
/// a thread or a future, which come first), without running handlers, until
/// the guard is dropped.
///
/// For black-box tests of a binary that owns its dispatcher: a server
/// running on spawned tasks of a multi-thread runtime logs on threads the
/// test never sees. Tests of one binary run in parallel by default; two of
/// them capturing all at once see each other's events (the newest capture
/// takes them), so keep such tests in a binary of their own or run them
/// with `--test-threads=1`.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)] struct Ping { n: u32 }
/// # #[eventlib::event(name = "docs.AllPing")] impl Ping {}
/// let cap = eventlib::testing::capture_all();
/// std::thread::spawn(|| eventlib::log!(Ping { n: 1 }).unwrap()).join().unwrap();
/// assert_eq!(cap.events::<Ping>(), vec![Ping { n: 1 }]);
/// ```
pub fn capture_all() -> Capture {
    let records = Records::default();
    let mut all = CAPTURE_ALL.write().unwrap_or_else(|e| e.into_inner());
    all.push(Arc::clone(&records));
    CAPTURING_ALL.store(true, Ordering::Release);
    Capture {
        logged: Logged(records),
        kind: CaptureKind::Process,
    }
}

enum CaptureKind {
    /// Pops this thread's scope when dropped (so it stays on its thread).
    Thread(PhantomData<*const ()>),
    /// Leaves the process-wide list when dropped.
    Process,
}

/// A capture; see [`capture`] and [`capture_all`]. What it recorded is
/// read through [`Logged`]'s methods (`cap.events::<T>()`, ...).
#[must_use = "the capture ends when this guard is dropped"]
pub struct Capture {
    logged: Logged,
    kind: CaptureKind,
}

/// The events logged in a test scope, in order: what a [`Capture`]
/// recorded, or what was logged in an [`Inline`] or [`InlineAsync`] scope
/// (whose handlers ran as well). Each scope derefs to it.
pub struct Logged(Records);

impl Logged {
    /// Every event logged so far, in order.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.0).clone()
    }

    /// The names of the events logged so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        lock(&self.0).iter().map(Record::name).collect()
    }

    /// The events of type `T` logged so far, in order.
    pub fn events<T: Event + Clone>(&self) -> Vec<T> {
        lock(&self.0)
            .iter()
            .filter_map(|r| r.downcast_ref::<T>().cloned())
            .collect()
    }

    /// How many events were logged.
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        lock(&self.0).is_empty()
    }

    /// Forgets what was logged so far.
    pub fn clear(&self) {
        lock(&self.0).clear();
    }
}

impl std::ops::Deref for Capture {
    type Target = Logged;

    fn deref(&self) -> &Logged {
        &self.logged
    }
}

impl Capture {
    /// `future`, logging into this capture on whichever thread polls it:
    /// hand it to `tokio::spawn` or any executor and the capture follows
    /// it. Tasks that `future` spawns in turn are not followed (wrap them
    /// too, or use [`capture_all`]).
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)] struct Ping { n: u32 }
    /// # #[eventlib::event(name = "docs.ScopedPing")] impl Ping {}
    /// let cap = eventlib::testing::capture();
    /// let task = cap.instrument(async { eventlib::log!(Ping { n: 7 }).unwrap() });
    /// std::thread::spawn(move || futures::executor::block_on(task)).join().unwrap();
    /// assert_eq!(cap.events::<Ping>(), vec![Ping { n: 7 }]);
    /// ```
    pub fn instrument<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            scope: Scope::Capture(Arc::clone(&self.logged.0)),
            future: Box::pin(future),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        match self.kind {
            CaptureKind::Thread(_) => pop(),
            CaptureKind::Process => {
                let mut all = CAPTURE_ALL.write().unwrap_or_else(|e| e.into_inner());
                all.retain(|records| !Arc::ptr_eq(records, &self.logged.0));
                CAPTURING_ALL.store(!all.is_empty(), Ordering::Release);
            }
        }
    }
}

/// Runs handlers in the caller for what this thread logs, until the guard
/// is dropped: `log!` returns once every handler has run, and returns
/// [`Error::Handlers`] if any failed or panicked.
///
/// Async handlers are driven to completion on the caller's thread, which
/// deadlocks inside an async runtime whose timers or I/O they await: in
/// async tests use [`inline_async`]. With eventlib's `tokio` feature, such
/// a `log!` inside a tokio runtime fails at once with
/// [`Error::InlineInAsync`] instead.
pub fn inline() -> Inline {
    let records = Records::default();
    push(Scope::Inline(Arc::clone(&records)));
    Inline {
        logged: Logged(records),
        _not_send: PhantomData,
    }
}

/// An inline scope; see [`inline`]. It derefs to [`Logged`]: what was
/// logged in it.
#[must_use = "the inline scope ends when this guard is dropped"]
pub struct Inline {
    logged: Logged,
    _not_send: PhantomData<*const ()>,
}

impl std::ops::Deref for Inline {
    type Target = Logged;

    fn deref(&self) -> &Logged {
        &self.logged
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        pop();
    }
}

/// An inline scope for async tests, on any executor: events logged inside
/// [`instrument`](InlineAsync::instrument)ed futures run their synchronous
/// handlers at once, in the caller, and their async handlers when the test
/// awaits [`finish`](InlineAsync::finish) — on the test's own executor, so
/// they can await its timers and I/O. `finish` returns
/// [`Error::Handlers`] if any handler failed or panicked.
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Debug, Clone, Serialize, Deserialize)] struct Signup { email: String }
/// #[eventlib::event(name = "docs.AsyncSignup")]
/// impl Signup {
///     #[handler]
///     async fn welcome(&self) -> anyhow::Result<()> {
///         anyhow::ensure!(self.email.contains('@'), "no @ in {}", self.email);
///         Ok(())
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let scope = eventlib::testing::inline_async();
/// scope.instrument(async {
///     eventlib::log!(Signup { email: "nobody".into() }).unwrap();
/// }).await;
/// assert_eq!(scope.names(), ["docs.AsyncSignup"]); // what was logged
/// let err = scope.finish().await.unwrap_err(); // what its handlers did
/// assert!(err.to_string().contains("no @ in nobody"));
/// # });
/// ```
pub fn inline_async() -> InlineAsync {
    let deferred = Arc::new(Deferred::default());
    InlineAsync {
        logged: Logged(Arc::clone(&deferred.logged)),
        deferred,
    }
}

/// An async inline scope; see [`inline_async`]. It derefs to [`Logged`]:
/// what was logged in it, so a test asserts both that an event was logged
/// and, after [`finish`](Self::finish), what its handlers did.
#[must_use = "await `finish()` to run the async handlers and see their failures"]
pub struct InlineAsync {
    logged: Logged,
    deferred: Arc<Deferred>,
}

impl std::ops::Deref for InlineAsync {
    type Target = Logged;

    fn deref(&self) -> &Logged {
        &self.logged
    }
}

impl InlineAsync {
    /// `future`, logging into this scope on whichever thread polls it.
    pub fn instrument<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            scope: Scope::InlineAsync(Arc::clone(&self.deferred)),
            future: Box::pin(future),
        }
    }

    /// Runs `future` in this scope, then [`finish`](Self::finish)es.
    pub async fn run<F: Future>(self, future: F) -> Result<F::Output, Error> {
        let output = self.instrument(future).await;
        self.finish().await.map(|()| output)
    }

    /// Awaits every async handler of what was logged in the scope so far
    /// (and of what they log in turn), and returns every failure.
    pub async fn finish(&self) -> Result<(), Error> {
        loop {
            let tasks = std::mem::take(&mut *lock(&self.deferred.tasks));
            if tasks.is_empty() {
                break;
            }
            // In the scope, so that events the handlers log are deferred too.
            let failures = self.instrument(futures::future::join_all(tasks)).await;
            lock(&self.deferred.failures).extend(failures.into_iter().flatten());
        }
        let failures = std::mem::take(&mut *lock(&self.deferred.failures));
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Handlers(failures))
        }
    }
}
