//! The events the scenarios log and their trivial handlers. The baselines
//! call the very same handler functions.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use eventlib::event;
use serde::{Deserialize, Serialize};

/// The typed event of scenarios 1–3: plain data, so that every byte and
/// nanosecond past the event itself is the dispatcher's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Viewed {
    pub(crate) user_id: u64,
    pub(crate) product_id: u64,
    pub(crate) price_cents: u64,
}

impl Viewed {
    pub(crate) fn new(i: u64) -> Self {
        Viewed {
            user_id: i,
            product_id: 42,
            price_cents: 1_999,
        }
    }
}

#[event(name = "bench.Viewed")]
impl Viewed {
    #[eventlib::handler]
    pub(crate) fn count(&self) {
        black_box(self.user_id);
    }

    #[eventlib::handler]
    pub(crate) fn audit(&self) {
        black_box(self.product_id);
    }

    #[eventlib::handler]
    pub(crate) fn notify(&self) {
        black_box(self.price_cents);
    }
}

/// The three handlers of [`Viewed`], for the hand-wired baselines.
pub(crate) const VIEWED_HANDLERS: [fn(&Viewed); 3] = [Viewed::count, Viewed::audit, Viewed::notify];

/// The by-name event of scenario 4: `{ "a": 1, "b": 2, "s": "x" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Named {
    pub(crate) a: u64,
    pub(crate) b: u64,
    pub(crate) s: String,
}

#[event(name = "bench.Name")]
impl Named {
    #[eventlib::handler]
    fn count(&self) {
        black_box(self.a);
    }

    #[eventlib::handler]
    fn audit(&self) {
        black_box(self.b);
    }

    #[eventlib::handler]
    fn notify(&self) {
        black_box(self.s.len());
    }
}

/// The event of scenario 6: the shape of [`Viewed`], with handlers that
/// wait at [`GATE`] so that what is logged stays queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Held {
    pub(crate) user_id: u64,
    pub(crate) product_id: u64,
    pub(crate) price_cents: u64,
}

impl Held {
    pub(crate) fn new(i: u64) -> Self {
        Held {
            user_id: i,
            product_id: 42,
            price_cents: 1_999,
        }
    }
}

#[event(name = "bench.Held")]
impl Held {
    #[eventlib::handler]
    fn first(&self) {
        GATE.pass();
    }

    #[eventlib::handler]
    fn second(&self) {
        GATE.pass();
    }

    #[eventlib::handler]
    fn third(&self) {
        GATE.pass();
    }
}

/// A closed gate that handlers of [`Held`] wait at.
pub(crate) struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
    waiting: AtomicUsize,
}

pub(crate) static GATE: Gate = Gate {
    open: Mutex::new(false),
    opened: Condvar::new(),
    waiting: AtomicUsize::new(0),
};

impl Gate {
    fn pass(&self) {
        let mut open = self.open.lock().unwrap();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Waits until `n` handlers are held at the gate.
    pub(crate) fn wait_for_holders(&self, n: usize) {
        while self.waiting.load(Ordering::SeqCst) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
