//! [`Shared`]: the one allocation of a record, shared by reference count.
//!
//! It is `Arc` without weak references, which a record never has: one word
//! less in every queued event, and one locked instruction less when the
//! last reference goes (an `Arc` also releases its weak count then). Made
//! from a `Box`, so that an event of any type is erased to `dyn` by the
//! `Box`'s own unsizing.

use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// What [`Shared`] points to: the count of references, then the value.
/// In C's layout, so that its count (and the start of a value laid out
/// in C's order too) is where it is whatever comes after it: see
/// [`Shared::from_raw`].
#[repr(C)]
pub(crate) struct Counted<T: ?Sized> {
    references: AtomicUsize,
    value: T,
}

impl<T> Counted<T> {
    /// `value`, with one reference: the [`Shared`] made from its box.
    pub(crate) fn new(value: T) -> Self {
        Counted {
            references: AtomicUsize::new(1),
            value,
        }
    }
}

impl<T: ?Sized> Counted<T> {
    /// Where the value of the `Counted` at `counted` is, written or not.
    ///
    /// # Safety
    ///
    /// `counted` points into an allocation that holds a whole `Counted<T>`.
    pub(crate) unsafe fn value_place(counted: *mut Counted<T>) -> *mut T {
        // SAFETY: the caller's promise; no reference to the value is made.
        unsafe { std::ptr::addr_of_mut!((*counted).value) }
    }
}

/// A shared reference to a [`Counted`] value; the value is dropped with
/// the last reference.
pub(crate) struct Shared<T: ?Sized> {
    counted: NonNull<Counted<T>>,
    /// Owns a `Counted<T>`: dropping a `Shared` may drop a `T`.
    owns: PhantomData<Counted<T>>,
}

// SAFETY: as for `Arc`: a `Shared` hands out `&T` to any thread holding a
// clone (so `T: Sync`) and the last one, on any thread, drops the `T` (so
// `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for Shared<T> {}

// A pointer: moving it never moves the value, pinned or not (as `Arc`).
impl<T: ?Sized> Unpin for Shared<T> {}

/// Past this many references a clone aborts, as `Arc`'s does: the count
/// must never wrap (which would free a value still in use).
const MAX_REFERENCES: usize = isize::MAX as usize;

impl<T: ?Sized> Shared<T> {
    /// Shares the value of `counted`, which holds its one reference.
    pub(crate) fn from_box(counted: Box<Counted<T>>) -> Self {
        debug_assert_eq!(counted.references.load(Ordering::Relaxed), 1);
        Shared {
            counted: NonNull::from(Box::leak(counted)),
            owns: PhantomData,
        }
    }

    /// Shares the value of a `Counted<T>` written in place.
    ///
    /// # Safety
    ///
    /// `counted` points to a whole, initialized `Counted<T>` with one
    /// reference, allocated by the global allocator with
    /// `Layout::for_value` of it (as `Box` allocates), and owned by no one
    /// else: the returned `Shared` frees it as a `Box` would.
    pub(crate) unsafe fn from_raw(counted: NonNull<Counted<T>>) -> Self {
        // SAFETY: the caller's promise.
        debug_assert_eq!(
            unsafe { counted.as_ref() }
                .references
                .load(Ordering::Relaxed),
            1
        );
        Shared {
            counted,
            owns: PhantomData,
        }
    }

    fn counted(&self) -> &Counted<T> {
        // SAFETY: the allocation lives while any reference does, and this
        // is one.
        unsafe { self.counted.as_ref() }
    }

    /// The value, mutably, when this is its only reference.
    #[cfg(any(feature = "tokio", feature = "redis", test))]
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        // Acquire: the drops of other references happen before the access.
        if self.counted().references.load(Ordering::Acquire) != 1 {
            return None;
        }
        // SAFETY: this is the only reference, borrowed mutably, and no
        // other can be made from it while the borrow lasts.
        Some(unsafe { &mut self.counted.as_mut().value })
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.counted().value
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed, as for `Arc`: a new reference is made from an existing
        // one, which keeps the value alive meanwhile.
        let before = self.counted().references.fetch_add(1, Ordering::Relaxed);
        if before > MAX_REFERENCES {
            std::process::abort();
        }
        Shared {
            counted: self.counted,
            owns: PhantomData,
        }
    }
}

impl<T: ?Sized> Drop for Shared<T> {
    #[inline]
    fn drop(&mut self) {
        // Release: this reference's uses happen before the value is
        // dropped, by whichever thread drops the last one.
        if self.counted().references.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: this was the last reference, and the allocation came
        // from `Box::leak` in `from_box`.
        drop(unsafe { Box::from_raw(self.counted.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    trait Named: Send + Sync {
        fn name(&self) -> &'static str;
    }

    impl Named for Tracked {
        fn name(&self) -> &'static str {
            "tracked"
        }
    }

    #[test]
    fn the_value_is_dropped_once_with_the_last_reference_on_any_thread() {
        let drops = Arc::new(AtomicUsize::new(0));
        let boxed: Box<Counted<dyn Named>> = Box::new(Counted::new(Tracked(Arc::clone(&drops))));
        let first = Shared::from_box(boxed);
        assert_eq!(first.name(), "tracked");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let mine = first.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        drop(mine.clone());
                    }
                    drop(mine);
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a thread sharing the value");
        }
        assert_eq!(drops.load(Ordering::SeqCst), 0, "one reference is left");
        drop(first);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_the_only_reference_gets_the_value_mutably() {
        let mut first = Shared::from_box(Box::new(Counted::new(1_u32)));
        *first.get_mut().expect("the only reference") += 1;
        let second = first.clone();
        assert!(first.get_mut().is_none(), "shared: not mutable");
        drop(second);
        assert_eq!(first.get_mut().copied(), Some(2));
    }
}
