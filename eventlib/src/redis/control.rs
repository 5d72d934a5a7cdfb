//! A worker's controls: the stop flag, the slots that bound what it holds,
//! and SIGTERM / SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::redis::worker::Inner;

/// The stop flag, with an interruptible sleep.
#[derive(Default)]
pub(crate) struct Stop {
    flag: Arc<AtomicBool>,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Stop {
    pub(crate) fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
        self.wake.notify_all();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` or until stopped; returns whether stopped.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_set() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // A signal handler sets the flag without notifying: look again
            // at least every 100 ms.
            let wait = (deadline - now).min(Duration::from_millis(100));
            guard = self
                .wake
                .wait_timeout(guard, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// How many more entries the worker may take.
pub(crate) struct Slots {
    free: Mutex<usize>,
    changed: Condvar,
    total: usize,
}

impl Slots {
    pub(crate) fn new(total: usize) -> Self {
        Slots {
            free: Mutex::new(total),
            changed: Condvar::new(),
            total,
        }
    }

    /// Takes up to `max` free slots, waiting at most `timeout` for one.
    pub(crate) fn take(&self, max: usize, timeout: Duration) -> usize {
        let guard = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let (mut free, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |free| *free == 0)
            .unwrap_or_else(|e| e.into_inner());
        let n = (*free).min(max);
        *free -= n;
        n
    }

    pub(crate) fn give(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        *free = (*free + n).min(self.total);
        self.changed.notify_all();
    }

    /// Waits until every slot is free again (nothing in flight).
    pub(crate) fn wait_all_free(&self, deadline: Instant) -> bool {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free < self.total {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            free = self
                .changed
                .wait_timeout(free, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

pub(crate) struct Signals {
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    pub(crate) fn register(inner: &Inner) -> Signals {
        #[cfg(unix)]
        {
            let mut ids = Vec::new();
            if inner.config.handle_signals {
                for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                    match signal_hook::flag::register(signal, Arc::clone(&inner.stop.flag)) {
                        Ok(id) => ids.push(id),
                        Err(err) => {
                            log::warn!("eventlib worker: cannot handle signal {signal}: {err}")
                        }
                    }
                }
            }
            Signals { ids }
        }
        #[cfg(not(unix))]
        {
            let _ = inner;
            Signals {}
        }
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        #[cfg(unix)]
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
