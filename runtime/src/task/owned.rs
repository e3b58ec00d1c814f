//! The owned-task list: every live task of a runtime, so that shutdown can
//! drop every future and `all_tasks()` can list them.
//!
//! The list is sharded by task id; each shard is a slab of slots behind its
//! own lock, so spawning and completing on several workers rarely meet on one
//! lock. A slot also keeps the task's pending done callbacks, and beside it
//! is where and when it was spawned ([`SpawnSite`], for `all_tasks()`,
//! slow-poll warnings and the panic hook), which costs the task header
//! nothing: data written once, at spawn, under the lock `bind` takes
//! anyway, and read only by introspection, under the same lock.
//!
//! Each shard also counts every task it ever linked, under the lock it
//! takes anyway, for `Handle::metrics` (no shared counter on the spawn
//! path); the tasks linked now are its slots that are not free.
//!
//! The list holds one reference to each linked task. A task unlinks itself
//! when it completes (`take_callbacks_or_unlink`); shutdown `close`s the list,
//! which refuses new tasks and hands back every linked one.

use std::panic::Location;
use std::ptr::NonNull;

use crossbeam_utils::CachePadded;

use super::raw::Header;
use crate::loom::Mutex;

/// `Header::owned_slot` of a task that is not in the list.
pub(crate) const UNLINKED: u32 = u32::MAX;

/// A done callback, type-erased: it receives a pointer to the task's
/// `Result<T, TaskError>`.
pub(crate) type Callback = Box<dyn FnOnce(*const ()) + Send>;

/// Every live task of one runtime.
pub(crate) struct OwnedTasks {
    /// The shards; a task lives in `shards[id & mask]`.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// `shards.len() - 1` (the length is a power of two).
    mask: usize,
}

/// One shard: a slab of slots.
struct Shard {
    /// The slots; free ones have `task: None`.
    slots: Vec<Slot>,
    /// The spawn site of the task in the slot of the same index. Beside
    /// `slots`, not in them: a `Slot` stays 32 bytes, two to a cache line,
    /// and the line that completing a task writes holds nothing else (with
    /// 48-byte slots straddling lines, `spawn_local` ran 5% slower).
    sites: Vec<SpawnSite>,
    /// Indexes of free slots, most recently freed last.
    free: Vec<u32>,
    /// Closed for shutdown: new tasks are refused.
    closed: bool,
    /// Tasks ever linked.
    linked_total: u64,
}

/// One linked task and its pending done callbacks.
struct Slot {
    task: Option<NonNull<Header>>,
    callbacks: Vec<Callback>,
}

/// Where and when a task was spawned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpawnSite {
    /// Where `spawn` was called (through `#[track_caller]`).
    pub(crate) location: &'static Location<'static>,
    /// When: nanoseconds since the runtime clock's origin (coarse, see
    /// `scheduler/clock.rs`).
    pub(crate) spawned_at: u64,
}

impl SpawnSite {
    /// Stands in for a task that is not in the list, which the callers
    /// rule out (a task is linked from spawn until it completes).
    fn unknown() -> SpawnSite {
        SpawnSite {
            location: Location::caller(),
            spawned_at: 0,
        }
    }
}

// SAFETY: the raw task pointers are counted references to `Send` tasks, only
// dereferenced under the shard lock or while holding a reference.
unsafe impl Send for Shard {}

impl OwnedTasks {
    /// A list sized for `workers` worker threads.
    pub(crate) fn new(workers: usize) -> OwnedTasks {
        let n = (workers * 8).next_power_of_two().clamp(16, 1024);
        let shards = (0..n)
            .map(|_| {
                CachePadded::new(Mutex::new(Shard {
                    slots: Vec::new(),
                    sites: Vec::new(),
                    free: Vec::new(),
                    closed: false,
                    linked_total: 0,
                }))
            })
            .collect();
        OwnedTasks {
            shards,
            mask: n - 1,
        }
    }

    fn shard(&self, header: &Header) -> &Mutex<Shard> {
        self.shard_of(header.id)
    }

    /// The shard of the task with this id.
    fn shard_of(&self, id: super::TaskId) -> &Mutex<Shard> {
        &self.shards[id.as_u64() as usize & self.mask]
    }

    /// Calls `f`, under its shard's lock, with the linked task with this id
    /// and its spawn site, if there is one.
    fn with_linked<R>(
        &self,
        id: super::TaskId,
        f: impl FnOnce(NonNull<Header>, &Header, SpawnSite) -> R,
    ) -> Option<R> {
        let shard = self.shard_of(id).lock();
        let (ptr, site) = shard
            .slots
            .iter()
            .zip(&shard.sites)
            .find_map(|(slot, site)| {
                let ptr = slot.task?;
                // SAFETY: a linked task is alive: the list holds a reference,
                // released only after unlinking under this lock, which we hold.
                (unsafe { ptr.as_ref() }.id == id).then_some((ptr, *site))
            })?;
        // SAFETY: as above; the lock is held until `f` returns.
        Some(f(ptr, unsafe { ptr.as_ref() }, site))
    }

    /// Links a new task (taking over its owned-list reference), spawned at
    /// `site`. Returns false after `close`: the caller must then complete
    /// the task as cancelled.
    pub(crate) fn bind(&self, ptr: NonNull<Header>, site: SpawnSite) -> bool {
        // SAFETY: the caller holds references to the new task.
        let header = unsafe { ptr.as_ref() };
        let mut shard = self.shard(header).lock();
        if shard.closed {
            return false;
        }
        let index = match shard.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(shard.slots.len())
                    .ok()
                    .filter(|&i| i != UNLINKED)
                    .expect("more than 4 billion live tasks in one shard");
                shard.slots.push(Slot {
                    task: None,
                    callbacks: Vec::new(),
                });
                shard.sites.push(site);
                i
            }
        };
        shard.slots[index as usize].task = Some(ptr);
        if crate::runtime::INTROSPECTION {
            shard.sites[index as usize] = site;
            shard.linked_total += 1;
        }
        // SAFETY: `owned_slot` is guarded by this shard's lock, which we hold.
        header.owned_slot.with_mut(|s| unsafe { *s = index });
        true
    }

    /// Stores a done callback for a task that has not completed; gives it back
    /// when the task has left the list (then its output is ready to read).
    pub(crate) fn add_callback(&self, header: &Header, cb: Callback) -> Result<(), Callback> {
        let mut shard = self.shard(header).lock();
        // SAFETY: guarded by the shard lock, which we hold.
        let index = header.owned_slot.with(|s| unsafe { *s });
        if index == UNLINKED {
            return Err(cb);
        }
        shard.slots[index as usize].callbacks.push(cb);
        Ok(())
    }

    /// For the completing thread: the callbacks still to run, or `None` once
    /// there are none, in which case the task has been unlinked (atomically
    /// with seeing the empty list). The list's reference passes to the caller.
    pub(crate) fn take_callbacks_or_unlink(&self, header: &Header) -> Option<Vec<Callback>> {
        let mut shard = self.shard(header).lock();
        // SAFETY: guarded by the shard lock, which we hold.
        let index = header.owned_slot.with(|s| unsafe { *s });
        if index == UNLINKED {
            return None;
        }
        let slot = &mut shard.slots[index as usize];
        if !slot.callbacks.is_empty() {
            return Some(std::mem::take(&mut slot.callbacks));
        }
        slot.task = None;
        shard.free.push(index);
        // SAFETY: guarded by the shard lock, which we hold.
        header.owned_slot.with_mut(|s| unsafe { *s = UNLINKED });
        None
    }

    /// Calls `f` on every linked task and its spawn site, one shard at a
    /// time under its lock, and collects the results (for `all_tasks`).
    pub(crate) fn snapshot<R>(&self, mut f: impl FnMut(&Header, SpawnSite) -> R) -> Vec<R> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (slot, site) in shard.slots.iter().zip(&shard.sites) {
                if let Some(ptr) = slot.task {
                    // SAFETY: a linked task is alive: the list holds a
                    // reference, released only after unlinking under this lock.
                    all.push(f(unsafe { ptr.as_ref() }, *site));
                }
            }
        }
        all
    }

    /// Where and when a linked task was spawned. The callers ask about
    /// tasks they know to be linked (running, or completing before they
    /// unlink); for any other the answer is a placeholder.
    pub(crate) fn site(&self, header: &Header) -> SpawnSite {
        let shard = self.shard(header).lock();
        // SAFETY: guarded by the shard lock, which we hold.
        let index = header.owned_slot.with(|s| unsafe { *s });
        match shard.sites.get(index as usize) {
            Some(site) if index != UNLINKED => *site,
            _ => SpawnSite::unknown(),
        }
    }

    /// The name and spawn site of the linked task with this id, if any
    /// (copied: the caller may log them after the lock is released; for
    /// slow-poll warnings, which are rare).
    pub(crate) fn name_and_site(&self, id: super::TaskId) -> Option<(Option<String>, SpawnSite)> {
        self.with_linked(id, |_, header, site| {
            (header.name().map(str::to_owned), site)
        })
    }

    /// Tasks linked now and tasks ever linked (for `Handle::metrics`).
    pub(crate) fn counts(&self) -> (usize, u64) {
        self.shards.iter().fold((0, 0), |(len, total), shard| {
            let shard = shard.lock();
            // Every slot is linked or free.
            let linked = shard.slots.len() - shard.free.len();
            (len + linked, total + shard.linked_total)
        })
    }

    /// A cancel-only reference to the live task with this id, if any (for
    /// [`task::cancel`](crate::task::cancel)).
    pub(crate) fn cancel_ref(&self, id: super::TaskId) -> Option<super::CancelRef> {
        self.with_linked(id, |ptr, header, _| {
            header.state.ref_inc();
            // SAFETY: we just took the reference the `CancelRef` owns.
            unsafe { super::CancelRef::from_counted(ptr) }
        })
    }

    /// Refuses new tasks from now on and returns every linked task, each with
    /// one extra reference for the caller. The tasks stay linked: each leaves
    /// the list when it completes.
    pub(crate) fn close(&self) -> Vec<NonNull<Header>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.closed = true;
            for slot in &shard.slots {
                if let Some(ptr) = slot.task {
                    // SAFETY: a linked task is alive: the list holds a
                    // reference, released only after unlinking under this lock.
                    unsafe { ptr.as_ref() }.state.ref_inc();
                    all.push(ptr);
                }
            }
        }
        all
    }
}

impl std::fmt::Debug for OwnedTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedTasks")
            .field("shards", &self.shards.len())
            .finish()
    }
}
