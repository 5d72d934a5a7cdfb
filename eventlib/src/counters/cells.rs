//! Statistics counted per thread: each thread that runs handlers counts
//! them in a block of cells of its own, with plain loads and stores (no
//! locked instruction), and a reader sums the blocks.
//!
//! A handler run updates several statistics (its handler started and
//! finished, its event's outcome). As shared atomics, each of those is a
//! read-modify-write, the largest part of what an inline `log!` costs
//! beyond calling the handlers. Here only the thread that holds a block
//! writes it, so an update is a relaxed load and a relaxed store.
//!
//! A block outlives its thread: when a thread ends, its block goes to a
//! free list and the next thread that needs one takes it over and counts
//! on from its values. Blocks are never freed, so there are as many as
//! threads have run handlers at once, and no count is ever lost or moved.
//! The free list's lock orders the last writes of the old owner before
//! the first of the new one.
//!
//! Code that runs while its thread's locals are torn down counts in a
//! shared block with atomic additions instead.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The cells of one thread (or, for the shared block, of any).
struct Block {
    cells: Box<[AtomicU64]>,
}

impl Block {
    /// A block of zeros with a cell for every slot handed out so far.
    fn new() -> &'static Block {
        let len = NEXT.load(Ordering::Acquire) as usize;
        let block: &'static Block = Box::leak(Box::new(Block {
            cells: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }));
        lock(&ALL).push(block);
        block
    }

    /// Whether the block has a cell for `slot`: not when the slot was
    /// handed out after the block was made.
    #[inline]
    fn has(&self, slot: u32) -> bool {
        (slot as usize) < self.cells.len()
    }
}

/// The next slot to hand out.
static NEXT: AtomicU32 = AtomicU32::new(0);
/// Every block ever made, for readers.
static ALL: Mutex<Vec<&'static Block>> = Mutex::new(Vec::new());
/// Blocks whose thread ended, for the next thread to take over.
static FREE: Mutex<Vec<&'static Block>> = Mutex::new(Vec::new());

fn lock<'a>(blocks: &'a Mutex<Vec<&'static Block>>) -> MutexGuard<'a, Vec<&'static Block>> {
    blocks.lock().unwrap_or_else(|e| e.into_inner())
}

/// The calling thread's block, taken on its first count and given back
/// to [`FREE`] when the thread ends.
struct Held(Cell<Option<&'static Block>>);

impl Held {
    /// The calling thread's cell of `slot`.
    #[inline]
    fn cell(&self, slot: u32) -> &'static AtomicU64 {
        let block = match self.0.get() {
            Some(block) if block.has(slot) => block,
            _ => self.take(slot),
        };
        &block.cells[slot as usize]
    }

    /// Takes a block with a cell for `slot`: one a thread gave back, or a
    /// new one. A block without that cell (every slot is handed out while
    /// the registry is built, so only one made before) is left as it is:
    /// readers still sum it, and nobody writes it any more.
    #[cold]
    fn take(&self, slot: u32) -> &'static Block {
        let reused = {
            let mut free = lock(&FREE);
            free.retain(|block| block.has(slot));
            free.pop()
        };
        let block = reused.unwrap_or_else(Block::new);
        self.0.set(Some(block));
        block
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(block) = self.0.take() {
            lock(&FREE).push(block);
        }
    }
}

thread_local! {
    static MINE: Held = const { Held(Cell::new(None)) };
}

/// The block of code that counts while its thread's locals are torn down.
fn shared(slot: u32) -> &'static AtomicU64 {
    static SHARED: Mutex<Option<&'static Block>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let block = match *shared {
        Some(block) if block.has(slot) => block,
        _ => *shared.insert(Block::new()),
    };
    &block.cells[slot as usize]
}

/// `n` consecutive slots, handed out once per counter owner while the
/// registry is built.
pub(super) fn reserve(n: u32) -> u32 {
    NEXT.fetch_add(n, Ordering::AcqRel)
}

/// Adds `n` to the statistic of `slot`.
#[inline]
pub(super) fn add(slot: u32, n: u64) {
    let counted = MINE.try_with(|held| {
        let cell = held.cell(slot);
        // Only this thread writes its block: no other write can come
        // between the load and the store.
        cell.store(cell.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    });
    if counted.is_err() {
        shared(slot).fetch_add(n, Ordering::Relaxed);
    }
}

/// The blocks made so far, to sum cells over: taken once for a whole
/// reading of the statistics rather than once per cell.
pub(crate) struct Blocks(Vec<&'static Block>);

/// The blocks made so far. A block made later holds only counts made
/// after this reading began.
pub(super) fn blocks() -> Blocks {
    Blocks(lock(&ALL).clone())
}

impl Blocks {
    /// The statistic of `slot`: the sum of every block's cell.
    pub(super) fn sum(&self, slot: u32) -> u64 {
        self.0
            .iter()
            .filter_map(|block| block.cells.get(slot as usize))
            .map(|cell| cell.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_of_ended_threads_stay() {
        let slot = reserve(1);
        for _ in 0..4 {
            std::thread::spawn(move || add(slot, 5))
                .join()
                .expect("a counting thread");
        }
        add(slot, 1);
        assert_eq!(blocks().sum(slot), 21);
    }

    #[test]
    fn threads_counting_at_once_lose_nothing() {
        let slot = reserve(1);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        add(slot, 1);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a counting thread");
        }
        assert_eq!(blocks().sum(slot), 40_000);
    }

    #[test]
    fn a_slot_handed_out_after_a_thread_began_counting_is_counted_too() {
        let first = reserve(1);
        add(first, 2);
        let later = reserve(1);
        add(later, 3);
        add(first, 1);
        let blocks = blocks();
        assert_eq!((blocks.sum(first), blocks.sum(later)), (3, 3));
    }
}
