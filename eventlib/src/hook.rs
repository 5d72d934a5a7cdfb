//! What the dispatcher and the Redis worker share about running user code
//! around them: the error hook, the spawner, blocking a thread on a
//! handler's future, and waiting for a blocking call on a helper thread.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures::future::BoxFuture;

use crate::error::Error;
use crate::failure::Failure;

/// The error hook: told of every handler failure.
pub(crate) type Hook = Arc<dyn Fn(&Failure) + Send + Sync>;

/// Runs a future to completion on the user's executor.
pub(crate) type Spawner = Arc<dyn Fn(BoxFuture<'static, ()>) + Send + Sync>;

/// Tells `hook` of `failure`; a panicking hook is contained like a handler
/// and logged.
pub(crate) fn call_hook(hook: &Hook, failure: &Failure) {
    let _user_code = crate::meters::UserCode::enter();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(failure))).is_err() {
        log::error!("eventlib: the error hook panicked while reporting: {failure}");
    }
}

/// Runs `future` to completion on the calling thread, parking it while
/// the future waits.
///
/// Unlike `futures::executor::block_on`, this marks nothing thread-local:
/// user code run inside (a handler, a span exporter called when a handler's
/// span closes, such as OpenTelemetry's simple span processor) may block
/// on futures of its own.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // A wake between the poll and here leaves the token set: no lost
        // wake-up. A spurious return just polls again.
        std::thread::park();
    }
}

/// Runs the blocking `work` on a new thread named `name` and waits for it
/// without blocking the executor, whichever executor polls this future.
///
/// # Panics
///
/// If `work` panics, the panic is resumed in the task that awaits it.
pub(crate) async fn off_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(result);
        })
        .map_err(|error| Error::Spawn {
            thread: name.to_owned(),
            error,
        })?;
    match rx.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // The thread sends before it ends, whether `work` returns or panics.
        Err(_) => unreachable!("the helper thread ended without an answer"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_nests_and_takes_wakes_from_other_threads() {
        let value = block_on(async {
            // Blocking on another future inside, as user code may.
            let inner = futures::executor::block_on(async { 2 });
            let (tx, rx) = futures::channel::oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                tx.send(inner * 21).unwrap();
            });
            rx.await.unwrap()
        });
        assert_eq!(value, 42);
    }

    #[test]
    fn a_panicking_hook_is_contained() {
        let hook: Hook = Arc::new(|_| panic!("hook bug"));
        let failure = Failure {
            event: "test.Event",
            event_id: crate::id::EventId::from_u128(1),
            handler: None,
            kind: crate::failure::FailureKind::Dropped,
        };
        call_hook(&hook, &failure);
    }

    #[test]
    fn off_thread_returns_the_work_result() {
        let value = futures::executor::block_on(off_thread("eventlib-test", || 6 * 7));
        assert_eq!(value.unwrap(), 42);
    }

    #[test]
    fn off_thread_resumes_a_panic() {
        let result = std::panic::catch_unwind(|| {
            futures::executor::block_on(off_thread("eventlib-test", || -> u32 { panic!("boom") }))
        });
        assert!(result.is_err());
    }
}
