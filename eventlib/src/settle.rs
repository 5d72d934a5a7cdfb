//! Knowing when a group of events has settled: each event of the group
//! points to its [`Tally`], which counts it when the dispatcher counts it
//! emitted, completed or dropped, and wakes the one waiting for the group.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The future of [`Batch::settled`](crate::outbox::Batch::settled).
#[derive(Debug)]
#[must_use = "a future does nothing unless awaited"]
pub struct Settling {
    tally: Arc<Tally>,
}

/// How a [`Batch`](crate::outbox::Batch) settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settled {
    /// Events the batch handed over that the dispatcher counted as
    /// emitted.
    pub handed: u64,
    /// Of those, how many were dropped: refused by a full queue, or given
    /// up by the transport.
    pub dropped: u64,
}

impl Settling {
    /// Closes `tally` (no event is added any more) and waits for it.
    pub(crate) fn of(tally: Arc<Tally>) -> Self {
        tally.closed.store(true, Ordering::SeqCst);
        Settling { tally }
    }
}

impl Future for Settling {
    type Output = Settled;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Settled> {
        let tally = &self.tally;
        if let Some(settled) = tally.done() {
            return Poll::Ready(settled);
        }
        *tally.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        // Looked at again: the last event may have settled before the
        // waker was in place.
        match tally.done() {
            Some(settled) => Poll::Ready(settled),
            None => Poll::Pending,
        }
    }
}

/// A batch's counts, which each of its records points to.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    emitted: AtomicU64,
    settled: AtomicU64,
    dropped: AtomicU64,
    /// No event is added any more: the counts can be compared.
    closed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Tally {
    /// An event of the batch was counted emitted.
    pub(crate) fn emitted(&self) {
        self.emitted.fetch_add(1, Ordering::SeqCst);
    }

    /// An event of the batch was counted completed, or `dropped`. Its
    /// drop is counted before it is settled, so that whoever sees the
    /// batch settled sees its drops.
    pub(crate) fn settled(&self, dropped: bool) {
        if dropped {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
        let settled = self.settled.fetch_add(1, Ordering::SeqCst) + 1;
        if self.closed.load(Ordering::SeqCst) && settled == self.emitted.load(Ordering::SeqCst) {
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// The batch's outcome once it is closed and every event settled.
    fn done(&self) -> Option<Settled> {
        if !self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let settled = self.settled.load(Ordering::SeqCst);
        let handed = self.emitted.load(Ordering::SeqCst);
        (settled >= handed).then(|| Settled {
            handed,
            dropped: self.dropped.load(Ordering::SeqCst),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_tally_settles_once_its_last_event_does_and_wakes_its_waiter() {
        let tally = Arc::new(Tally::default());
        tally.emitted();
        tally.emitted();
        tally.settled(false);
        let mut settling = Settling::of(Arc::clone(&tally));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut settling).poll(&mut cx).is_pending());
        tally.settled(true);
        assert!(flag.0.load(Ordering::SeqCst), "the last settle wakes");
        assert_eq!(
            Pin::new(&mut settling).poll(&mut cx),
            Poll::Ready(Settled {
                handed: 2,
                dropped: 1
            })
        );
    }

    #[test]
    fn an_open_tally_is_not_settled_and_an_empty_one_is_at_once() {
        let tally = Arc::new(Tally::default());
        assert!(tally.done().is_none(), "events may still be added");
        let mut settling = Settling::of(tally);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            Pin::new(&mut settling).poll(&mut cx),
            Poll::Ready(Settled {
                handed: 0,
                dropped: 0
            })
        );
    }
}
