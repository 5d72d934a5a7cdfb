//! The async runtime found around eventlib, with the `tokio` feature: a
//! service on tokio that gives the dispatcher no spawner still runs its
//! async handlers on its runtime, where tokio's timers and I/O work.
//!
//! The runtime is noted at the first `log!` (or install) made inside it;
//! pool threads, which are outside any runtime, spawn async handlers
//! there. Without the feature, nothing is noted and the built-in executor
//! runs async handlers.

#[cfg(feature = "tokio")]
mod imp {
    use std::sync::OnceLock;

    use futures::future::BoxFuture;

    static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

    /// Notes the tokio runtime of the calling thread, if any and if none
    /// was noted yet (one atomic load once noted).
    #[inline]
    pub(crate) fn note() {
        if RUNTIME.get().is_none() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let _ = RUNTIME.set(handle);
            }
        }
    }

    /// Spawns `task` on the noted runtime; gives it back when there is none.
    pub(crate) fn spawn(task: BoxFuture<'static, ()>) -> Result<(), BoxFuture<'static, ()>> {
        match RUNTIME.get() {
            Some(handle) => {
                drop(handle.spawn(task));
                Ok(())
            }
            None => Err(task),
        }
    }

    #[cfg(feature = "redis")]
    /// A spawner onto the tokio runtime of the calling thread, or the noted
    /// one: for a Redis worker built inside a runtime.
    pub(crate) fn spawner() -> Option<crate::hook::Spawner> {
        let handle = tokio::runtime::Handle::try_current()
            .ok()
            .or_else(|| RUNTIME.get().cloned())?;
        Some(std::sync::Arc::new(move |task| drop(handle.spawn(task))))
    }

    /// Whether the calling thread runs inside an async runtime, where
    /// blocking on a future can deadlock.
    pub(crate) fn in_runtime() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

#[cfg(not(feature = "tokio"))]
mod imp {
    use futures::future::BoxFuture;

    #[inline]
    pub(crate) fn note() {}

    pub(crate) fn spawn(task: BoxFuture<'static, ()>) -> Result<(), BoxFuture<'static, ()>> {
        Err(task)
    }

    pub(crate) fn in_runtime() -> bool {
        false
    }

    #[cfg(feature = "redis")]
    pub(crate) fn spawner() -> Option<crate::hook::Spawner> {
        None
    }
}

#[cfg(feature = "redis")]
pub(crate) use imp::spawner;
pub(crate) use imp::{in_runtime, note, spawn};
