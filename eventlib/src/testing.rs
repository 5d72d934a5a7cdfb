//! Test support: thread-scoped capture and inline scopes.
//!
//! Both act on the current thread only, so tests running in parallel (as
//! `cargo test` runs them) never see each other's events. Events logged by
//! other threads, including tasks the test spawns, go to the global
//! dispatcher as usual. Neither starts nor configures the global
//! dispatcher: a test binary may open scopes, then install its own
//! configuration.
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
use std::marker::PhantomData;
use std::rc::Rc;

use crate::error::Error;
use crate::event::{Event, EventId};
use crate::pool;
use crate::record::Record;
use crate::registry::registry;

#[derive(Clone)]
enum Scope {
    Capture(Rc<RefCell<Vec<Record>>>),
    Inline,
}

thread_local! {
    /// How many scopes are open on this thread: the one check on `log!`'s
    /// path when none is.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    static SCOPES: RefCell<Vec<Scope>> = const { RefCell::new(Vec::new()) };
}

/// Ok(result) when a scope of this thread took the record.
#[inline]
pub(crate) fn intercept(record: Record) -> Result<Result<EventId, Error>, Record> {
    if DEPTH.with(Cell::get) == 0 {
        return Err(record);
    }
    let Some(scope) = SCOPES.with(|s| s.borrow().last().cloned()) else {
        return Err(record);
    };
    let id = record.id();
    Ok(match scope {
        // Captured events are not counted: they are not dispatched.
        Scope::Capture(records) => {
            records.borrow_mut().push(record);
            Ok(id)
        }
        // Counted like any event, so that stats and a concurrent `flush`
        // see it; the global dispatcher is neither started nor used.
        Scope::Inline => {
            registry().events[record.index()].counters.emit();
            let failures = pool::run_inline(&record);
            if failures.is_empty() {
                Ok(id)
            } else {
                Err(Error::Handlers(failures))
            }
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

/// Records what this thread logs, without running handlers, until the
/// returned guard is dropped. Validation still runs (`log!` of an invalid
/// event still fails).
pub fn capture() -> Capture {
    let records = Rc::new(RefCell::new(Vec::new()));
    push(Scope::Capture(Rc::clone(&records)));
    Capture {
        records,
        _not_send: PhantomData,
    }
}

/// A capture scope; see [`capture`].
#[must_use = "the capture ends when this guard is dropped"]
pub struct Capture {
    records: Rc<RefCell<Vec<Record>>>,
    _not_send: PhantomData<*const ()>,
}

impl Capture {
    /// Every event logged so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.records.borrow().clone()
    }

    /// The names of the events logged so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.records.borrow().iter().map(Record::name).collect()
    }

    /// The events of type `T` logged so far, in order.
    pub fn events<T: Event + Clone>(&self) -> Vec<T> {
        self.records
            .borrow()
            .iter()
            .filter_map(|r| r.downcast_ref::<T>().cloned())
            .collect()
    }

    /// How many events were logged.
    pub fn len(&self) -> usize {
        self.records.borrow().len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.records.borrow().is_empty()
    }

    /// Forgets what was captured so far.
    pub fn clear(&self) {
        self.records.borrow_mut().clear();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        pop();
    }
}

/// Runs handlers in the caller for what this thread logs, until the guard
/// is dropped: `log!` returns once every handler has run, and returns
/// [`Error::Handlers`] if any failed or panicked.
pub fn inline() -> Inline {
    push(Scope::Inline);
    Inline {
        _not_send: PhantomData,
    }
}

/// An inline scope; see [`inline`].
#[must_use = "the inline scope ends when this guard is dropped"]
pub struct Inline {
    _not_send: PhantomData<*const ()>,
}

impl Drop for Inline {
    fn drop(&mut self) {
        pop();
    }
}
