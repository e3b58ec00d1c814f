//! Task identifiers.
//!
//! Ids are unique for the life of the process. Each thread takes them from a
//! private block of [`BLOCK`] ids so that spawning from many threads does not
//! contend on one counter; ids are therefore unique but not in spawn order
//! across threads.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;

/// How many ids a thread takes from the global counter at once.
const BLOCK: u64 = 1024;

/// The next unclaimed block start. A process-wide static, so it is the one
/// atomic that does not come through `crate::loom` (loom atomics cannot be
/// built in a `static`); ids play no part in any modelled protocol.
static NEXT_BLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    /// This thread's block: (next id, end of block).
    static LOCAL: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// An opaque, process-unique identifier of a task (`asyncio.Task.get_name()`'s
/// stable cousin): `Copy`, hashable, printable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    /// A fresh id.
    pub(crate) fn next() -> TaskId {
        let id = LOCAL.with(|local| {
            let (next, end) = local.get();
            if next < end {
                local.set((next + 1, end));
                next
            } else {
                let start = NEXT_BLOCK.fetch_add(BLOCK, std::sync::atomic::Ordering::Relaxed);
                local.set((start + 1, start + BLOCK));
                start
            }
        });
        TaskId(NonZeroU64::new(id).expect("task id space exhausted"))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..5000).map(|_| TaskId::next()).collect::<Vec<_>>()))
            .collect();
        let mut seen = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(seen.insert(id), "duplicate {id}");
            }
        }
        assert_eq!(seen.len(), 20_000);
    }
}
