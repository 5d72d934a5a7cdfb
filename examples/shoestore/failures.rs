//! What the store does with handler failures: count them all, print a few.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use eventlib::{Dispatcher, Failure, FailureKind};

/// How many failures of each handler are printed as they happen.
const PRINTED_PER_HANDLER: u64 = 2;

#[derive(Default)]
pub struct Failures {
    errors: AtomicU64,
    panics: AtomicU64,
    dropped: AtomicU64,
    /// Failures printed so far, per handler.
    printed: Mutex<Vec<(&'static str, u64)>>,
}

static FAILURES: Failures = Failures {
    errors: AtomicU64::new(0),
    panics: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    printed: Mutex::new(Vec::new()),
};

/// Installs the dispatcher with the counting error hook, and quiets the
/// default panic message of handler panics (the hook reports them).
pub fn install() -> Result<&'static Failures, eventlib::Error> {
    install_with(Dispatcher::builder())
}

/// [`install`], with the rest of the dispatcher's configuration.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub fn install_with(dispatcher: eventlib::Builder) -> Result<&'static Failures, eventlib::Error> {
    quiet_handler_panics();
    dispatcher
        .error_hook(|failure| FAILURES.record(failure))
        .install()?;
    Ok(&FAILURES)
}

/// The same for a Redis worker: its own error hook, the same counts.
#[cfg(feature = "redis")]
pub fn install_on(
    worker: eventlib::redis::WorkerBuilder,
) -> (eventlib::redis::WorkerBuilder, &'static Failures) {
    quiet_handler_panics();
    let worker = worker.error_hook(|failure| FAILURES.record(failure));
    (worker, &FAILURES)
}

impl Failures {
    fn record(&self, failure: &Failure) {
        let counter = match failure.kind {
            FailureKind::Panic(_) => &self.panics,
            FailureKind::Dropped => &self.dropped,
            _ => &self.errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let handler = failure.handler.unwrap_or("-");
        let mut printed = self.printed.lock().unwrap_or_else(|e| e.into_inner());
        let index = match printed.iter().position(|(name, _)| *name == handler) {
            Some(index) => index,
            None => {
                printed.push((handler, 0));
                printed.len() - 1
            }
        };
        if printed[index].1 < PRINTED_PER_HANDLER {
            printed[index].1 += 1;
            println!("  ! {failure}");
        }
    }
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (errors, panics, dropped) = (
            self.errors.load(Ordering::Relaxed),
            self.panics.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        );
        write!(
            f,
            "{} failures reported ({errors} errors, {panics} panics, {dropped} dropped events), \
             {PRINTED_PER_HANDLER} printed per handler",
            errors + panics + dropped
        )
    }
}

/// eventlib catches a handler's panic and hands it to the error hook; the
/// default panic hook would also print each one, with a backtrace note, to
/// stderr. Keep the default for every other thread.
fn quiet_handler_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        if !thread
            .name()
            // The local pool's threads, and a Redis worker's handler threads.
            .is_some_and(|name| {
                name.starts_with("eventlib-pool") || name.starts_with("eventlib-worker-")
            })
        {
            default(info);
        }
    }));
}
