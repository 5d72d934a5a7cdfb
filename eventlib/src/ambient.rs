//! The async runtime found around eventlib, with the `tokio` feature: a
//! service on tokio that gives the dispatcher no spawner still runs its
//! async handlers on its runtime, where tokio's timers and I/O work.
//!
//! An event logged inside a runtime carries that runtime's handle, and its
//! async handlers are spawned there. The runtime of a `log!` is also noted
//! for events logged outside any runtime (from a plain thread, or a
//! synchronous handler on a pool thread); a noted runtime found shut down
//! is forgotten, and the next `log!` inside a runtime notes its own.
//! Without the feature, nothing is noted and the built-in executor runs
//! async handlers.

#[cfg(feature = "tokio")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::RwLock;

    pub(crate) use tokio::runtime::Handle;

    static NOTED: RwLock<Option<Handle>> = RwLock::new(None);
    /// Whether `NOTED` holds a handle: the one load on `log!`'s path once
    /// a runtime is noted.
    static IS_NOTED: AtomicBool = AtomicBool::new(false);

    /// Notes the tokio runtime of the calling thread, if any and if none
    /// is noted.
    #[inline]
    pub(crate) fn note() {
        if !IS_NOTED.load(Ordering::Acquire) {
            note_slow();
        }
    }

    #[cold]
    fn note_slow() {
        if let Ok(handle) = Handle::try_current() {
            *NOTED.write().unwrap_or_else(|e| e.into_inner()) = Some(handle);
            IS_NOTED.store(true, Ordering::Release);
        }
    }

    /// The runtime of the calling thread.
    pub(crate) fn current() -> Option<Handle> {
        Handle::try_current().ok()
    }

    /// The noted runtime, which may have shut down since.
    pub(crate) fn noted() -> Option<Handle> {
        if !IS_NOTED.load(Ordering::Acquire) {
            return None;
        }
        NOTED.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The noted runtime refused a task: it is shut down, so forget it.
    /// (Should another runtime have been noted in between, it is noted
    /// again by the next `log!` made inside it.)
    pub(crate) fn forget_noted() {
        *NOTED.write().unwrap_or_else(|e| e.into_inner()) = None;
        IS_NOTED.store(false, Ordering::Release);
    }

    #[cfg(feature = "redis")]
    /// A spawner onto the tokio runtime of the calling thread, or the noted
    /// one: for a Redis worker built inside a runtime.
    pub(crate) fn spawner() -> Option<crate::hook::Spawner> {
        let handle = current().or_else(noted)?;
        Some(std::sync::Arc::new(move |task| drop(handle.spawn(task))))
    }

    std::thread_local! {
        /// Set while the thread runs [`may_block`]'s closure.
        static MAY_BLOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Whether the calling thread runs inside an async runtime, where
    /// blocking on a future can deadlock: not within [`may_block`].
    pub(crate) fn in_runtime() -> bool {
        !MAY_BLOCK.get() && Handle::try_current().is_ok()
    }

    /// Runs `f` on a thread its caller says may block although it is
    /// inside a runtime (one of tokio's blocking threads): there, running
    /// async handlers to completion deadlocks nothing.
    #[cfg(feature = "redis")]
    pub(crate) fn may_block<R>(f: impl FnOnce() -> R) -> R {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                MAY_BLOCK.set(self.0);
            }
        }
        let _reset = Reset(MAY_BLOCK.replace(true));
        f()
    }
}

#[cfg(not(feature = "tokio"))]
mod imp {
    #[inline]
    pub(crate) fn note() {}

    pub(crate) fn in_runtime() -> bool {
        false
    }

    #[cfg(feature = "redis")]
    pub(crate) fn may_block<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    #[cfg(feature = "redis")]
    pub(crate) fn spawner() -> Option<crate::hook::Spawner> {
        None
    }
}

#[cfg(feature = "tokio")]
pub(crate) use imp::{current, forget_noted, noted, Handle};
pub(crate) use imp::{in_runtime, note};
#[cfg(feature = "redis")]
pub(crate) use imp::{may_block, spawner};
