//! A worker's controls: the stop flag and SIGTERM / SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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

pub(crate) struct Signals {
    #[cfg(unix)]
    ids: Vec<signal_hook::SigId>,
}

impl Signals {
    /// While the returned value lives, SIGTERM and SIGINT set `stop`
    /// (when `handle` is true).
    pub(crate) fn register(handle: bool, stop: &Stop) -> Signals {
        #[cfg(unix)]
        {
            let mut ids = Vec::new();
            if handle {
                for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                    match signal_hook::flag::register(signal, Arc::clone(&stop.flag)) {
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
            let _ = (handle, stop);
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
