//! The task cell: one heap allocation holding a [`Header`] and the stage (the
//! future while it runs, then its output in the same slot).
//!
//! Everything that needs the future's type goes through the [`Vtable`], so
//! queues, wakers and the owned-task list handle tasks as untyped
//! `NonNull<Header>` pointers.
//!
//! Each poll is counted in the state word, by the compare-exchange that
//! starts it (`state.rs`, "Polls"), and stamped by the thread that owns
//! `RUNNING` with the caller's coarse clock reading, in a store beside the
//! word (`Header::last_poll`, `scheduler/clock.rs`). A poll itself does
//! nothing for debug mode: the worker times the polls it runs (`debug.rs`,
//! "Timing a poll"), and only a task finishing in a timed poll asks, in
//! `finish`, whether that poll was slow, while it can still be named.
//!
//! # Completing a task
//!
//! The thread that owns the future (`RUNNING`) when it finishes:
//! 1. marks it `FINISHING` (from here on `cancel()` returns false) and learns
//!    whether a cancel came first;
//! 2. drops the future in place (inside a cancel scope if the cancellation
//!    was a cascading one, see `cascade.rs`) and writes the output into the
//!    stage; a panic (in the last poll or in the future's destructor) is
//!    first handed to the runtime's panic hook (`debug.rs`), so the hook
//!    has run before anyone can see the output;
//! 3. runs the done callbacks, taking them from the owned-task list until none
//!    are left, then unlinks the task from that list under the same lock (so
//!    a callback added later runs at once, on the adder's thread);
//! 4. sets `COMPLETE`: the output now belongs to the `Task` handle; if the
//!    handle is gone the completer drops the output, otherwise it wakes the
//!    awaiting task if one registered;
//! 5. releases its own reference and the owned list's.

use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::task::{Context, Poll, Waker};

use super::debug;
use super::error::TaskError;
use super::id::TaskId;
use super::owned::{Callback, SpawnSite, UNLINKED};
use super::state::{self, State, ToIdle, ToRunning};
use super::waker;
use crate::loom::{Arc, AtomicU32, Ordering, UnsafeCell};
use crate::runtime::INTROSPECTION;
use crate::scheduler::Shared;

/// The type-independent part of a task, at the start of every cell.
///
/// 64 bytes on 64-bit targets. The introspection fields (`poll_carries`,
/// `last_poll`, `poll_carries_hi`) took the place of the name, which a named
/// task keeps in front of its cell instead ([`NamedCell`]): names are rare, and every
/// byte here is paid by every task (8 more bytes cost `spawn_local` about
/// 2%, 24 more slowed `gather_many`, 100 000 short tasks, by a quarter).
/// What is written once and read only by introspection (spawn location
/// and time) lives in the task's owned-list slot (`owned.rs`). Each poll
/// writes only the first 16 bytes (see `last_poll`).
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count (see `state.rs`).
    pub(crate) state: State,
    /// Polls so far above the ones the state word counts, in units of
    /// 2^[`CARRY_BITS`](state::CARRY_BITS): one more each time the word's
    /// count carries (see `state.rs`, "Polls", and
    /// [`polls`](Header::polls)), the low 32 bits (the high ones are
    /// `poll_carries_hi`). Written only by the thread that owns `RUNNING`.
    pub(crate) poll_carries: AtomicU32,
    /// When the last poll started, from the coarse clock: nanoseconds since
    /// the runtime clock's origin shifted right by [`POLL_STAMP_SHIFT`]
    /// (units of about a millisecond), wrapping (see `info.rs`). Written
    /// only by the thread that owns `RUNNING`, on every poll; meaningless
    /// until the first.
    ///
    /// It sits beside `state`, in the same 16 bytes (cells are 16-byte
    /// aligned, see `Cell`), so on the cache line every poll writes
    /// anyway. Written anywhere else, it dirtied a line the next poll only
    /// reads, and a task polled on one worker and then stolen by another
    /// paid a cache-line transfer for it (`yield_many` on 2 workers: 13%
    /// slower with the count, then kept here, at offset 32).
    pub(crate) last_poll: AtomicU32,
    /// The functions that know the future's type.
    pub(crate) vtable: &'static Vtable,
    /// The task's id.
    pub(crate) id: TaskId,
    /// The task's slot in its owned-list shard, or `UNLINKED`. Read and
    /// written only under that shard's lock.
    pub(crate) owned_slot: UnsafeCell<u32>,
    /// The high 32 bits of `poll_carries`.
    pub(crate) poll_carries_hi: AtomicU32,
    /// The runtime the task belongs to.
    pub(crate) shared: Arc<Shared>,
    /// The waker of whoever awaits the `Task` handle; ownership is handed
    /// back and forth with the `JOIN_WAKER` flag.
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

/// `Header::last_poll` keeps nanoseconds in units of `1 << 20` (1.05 ms):
/// a shift, where milliseconds would cost a division on every poll.
pub(crate) const POLL_STAMP_SHIFT: u32 = 20;

/// The stamp a poll starting at `ns` (nanoseconds since the runtime
/// clock's origin) records, as [`Notified::run`] takes it: the reading in
/// `POLL_STAMP_SHIFT` units, in the low 32 bits (truncated: it wraps).
#[inline]
pub(crate) fn poll_stamp(ns: u64) -> u64 {
    (ns >> POLL_STAMP_SHIFT) & u64::from(u32::MAX)
}

impl Header {
    /// The name given at spawn, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        // SAFETY: `self` is a live header (we have a reference to it) and
        // the vtable is its cell's; the name lives as long as the cell, so
        // as long as the borrow of `self`.
        unsafe { (self.vtable.name)(NonNull::from(self)).map(|n| &*n.as_ptr()) }
    }

    /// The poll count's top bit in the state word flipped (see `state.rs`,
    /// "Polls"): one more in `poll_carries`. Only the thread that owns
    /// `RUNNING` calls this, right after the transition that flipped it.
    #[cold]
    fn carry_polls(&self) {
        let lo = self.poll_carries.load(Ordering::Relaxed).wrapping_add(1);
        self.poll_carries.store(lo, Ordering::Relaxed);
        if lo == 0 {
            let hi = self.poll_carries_hi.load(Ordering::Relaxed);
            self.poll_carries_hi
                .store(hi.wrapping_add(1), Ordering::Relaxed);
        }
    }

    /// Polls so far (wrapping at 2^64). Read from another thread it may be
    /// off for a moment: by 32 768 either way just as the state word's
    /// count carries (the carry follows the transition), and one high
    /// while a cancelled task is being dropped (`transition_to_running`
    /// counts that run, then takes it back).
    pub(crate) fn polls(&self) -> u64 {
        let low = state::polls(self.state.load());
        let hi = u64::from(self.poll_carries_hi.load(Ordering::Relaxed));
        let carries = (hi << 32) | u64::from(self.poll_carries.load(Ordering::Relaxed));
        (carries << state::CARRY_BITS) | low
    }
}

/// Size of a task's header: the per-task cost on top of its future.
pub const HEADER_SIZE: usize = std::mem::size_of::<Header>();

/// The typed operations of a task, one static table per future type.
pub(crate) struct Vtable {
    /// Runs the task once, stamped with the given coarse clock reading
    /// ([`poll_stamp`]); consumes the caller's `Notified` reference.
    pub(crate) poll: unsafe fn(NonNull<Header>, u64),
    /// Drops the future and completes as cancelled. The caller owns
    /// `RUNNING` (from `transition_to_shutdown`) and one reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
    /// Moves the output into `*mut Option<Result<T, TaskError>>`.
    pub(crate) take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// A pointer to the `Result<T, TaskError>` in the stage, or null once it
    /// was taken.
    pub(crate) output_ptr: unsafe fn(NonNull<Header>) -> *const (),
    /// Drops the output.
    pub(crate) drop_output: unsafe fn(NonNull<Header>),
    /// Frees the cell.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Queues the task (`is_yield`: it woke itself during its own poll).
    pub(crate) schedule: fn(Notified, bool),
    /// The name given at spawn, if any (see [`NamedCell`]). The caller
    /// holds a reference, and the name lives as long as the cell.
    pub(crate) name: unsafe fn(NonNull<Header>) -> Option<NonNull<str>>,
}

/// How a kind of task is queued: on the workers, or on the blocking pool.
pub(crate) trait Schedule: 'static {
    /// Whether tasks of this kind run on the workers (their polls are timed
    /// for slow-poll warnings), not on the blocking pool.
    const ON_WORKERS: bool;

    /// Queues a task of this kind.
    fn schedule(task: Notified, is_yield: bool);
}

/// A reference to a task that is due to run; holding it is the right to run
/// the task. Dropping it releases the reference without running.
pub(crate) struct Notified(NonNull<Header>);

// SAFETY: a `Notified` is a counted reference to a cell whose shared parts are
// atomics or guarded by the state protocol; the future inside is `Send`
// (spawn requires it), so the right to poll it may move between threads.
unsafe impl Send for Notified {}

impl Notified {
    /// Wraps a pointer that carries one reference.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live task cell, and the caller must transfer one
    /// reference (and the `SCHEDULED` flag's right to run) to the result.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Notified {
        Notified(ptr)
    }

    /// The task's header.
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference we hold keeps the cell alive.
        unsafe { self.0.as_ref() }
    }

    /// Polls the task once (or drops it if it was cancelled). `now` stamps
    /// the poll (`Header::last_poll`): the caller's coarse clock reading as
    /// [`poll_stamp`] makes it.
    pub(crate) fn run(self, now: u64) {
        let ptr = ManuallyDrop::new(self).0;
        // SAFETY: we pass our reference and our right to run to `poll`.
        unsafe { (ptr.as_ref().vtable.poll)(ptr, now) }
    }
}

impl Drop for Notified {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { drop_reference(self.0) }
    }
}

impl std::fmt::Debug for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Notified({})", self.header().id)
    }
}

/// Releases one reference, freeing the cell if it was the last.
///
/// # Safety
///
/// The caller must own one reference to a live cell and not use `ptr` after.
pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: the reference we own keeps the cell alive until `ref_dec`.
    unsafe {
        if ptr.as_ref().state.ref_dec(1) {
            (ptr.as_ref().vtable.dealloc)(ptr);
        }
    }
}

/// The future, then its output, then nothing.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, TaskError>),
    Consumed,
}

/// A whole task: header first (`repr(C)`), so a cell pointer is a header
/// pointer.
///
/// Not `align(16)`, though `state` and `last_poll` rely on sharing a cache
/// line: the allocators in use (glibc's, jemalloc, mimalloc) return blocks
/// of 16 bytes or more 16-byte aligned anyway, and rounding the size up to
/// 16 would move many tasks to the next size class (glibc: a 104-byte task
/// from a 112-byte chunk to a 128-byte one). With an allocator that does
/// not, `last_poll` may land on the next line: slower, never wrong.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
    _kind: PhantomData<S>,
}

/// The allocation of a named task: its name in front of the cell. The
/// header pointer still points at the cell, so everything but freeing the
/// allocation and finding the name (the two entries of
/// [`Cell::NAMED_VTABLE`] that differ) treats it as any other task.
#[repr(C)]
struct NamedCell<F: Future, S> {
    name: Box<str>,
    cell: Cell<F, S>,
}

impl<F: Future + 'static, S: Schedule> Cell<F, S> {
    const VTABLE: Vtable = Vtable {
        poll: poll::<F, S>,
        shutdown: shutdown::<F, S>,
        take_output: take_output::<F, S>,
        output_ptr: output_ptr::<F, S>,
        drop_output: drop_output::<F, S>,
        dealloc: dealloc::<F, S>,
        schedule: S::schedule,
        name: no_name,
    };

    /// The vtable of a cell inside a [`NamedCell`].
    const NAMED_VTABLE: Vtable = Vtable {
        dealloc: dealloc_named::<F, S>,
        name: name_of::<F, S>,
        ..Self::VTABLE
    };

    /// # Safety
    ///
    /// `ptr` must point to a live `Cell<F, S>`.
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
        // SAFETY: `Header` is the first field of the `repr(C)` cell and the
        // vtable that led here was built for exactly `Cell<F, S>`.
        unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
    }
}

/// Allocates a task. Returns the untyped pointer, carrying the three initial
/// references (handle, owned list, first `Notified`).
pub(crate) fn allocate<F, S>(
    future: F,
    id: TaskId,
    name: Option<String>,
    shared: Arc<Shared>,
) -> NonNull<Header>
where
    F: Future + 'static,
    S: Schedule,
{
    let cell = |vtable| Cell::<F, S> {
        header: Header {
            state: State::new(),
            poll_carries: AtomicU32::new(0),
            last_poll: AtomicU32::new(0),
            vtable,
            id,
            owned_slot: UnsafeCell::new(UNLINKED),
            poll_carries_hi: AtomicU32::new(0),
            shared,
            join_waker: UnsafeCell::new(None),
        },
        stage: UnsafeCell::new(Stage::Running(future)),
        _kind: PhantomData,
    };
    match name {
        None => NonNull::from(Box::leak(Box::new(cell(&Cell::<F, S>::VTABLE)))).cast(),
        Some(name) => {
            let named = Box::into_raw(Box::new(NamedCell {
                name: name.into_boxed_str(),
                cell: cell(&Cell::<F, S>::NAMED_VTABLE),
            }));
            // SAFETY: `named` is a live allocation. The cell's pointer is
            // derived from the raw pointer to the whole of it, not from a
            // reference to the field, so `named_cell` may step back from it
            // to the name and `dealloc_named` free the whole.
            unsafe { NonNull::new_unchecked(ptr::addr_of_mut!((*named).cell)) }.cast()
        }
    }
}

/// Completes a task that was never shared (spawned after shutdown) as
/// cancelled: drops the future, leaves only the handle's reference. `site`
/// is where it was spawned (it never reached the owned list that keeps it).
///
/// # Safety
///
/// `ptr` comes from `allocate::<F, S>` and nothing but the caller has seen it.
pub(crate) unsafe fn cancel_unshared<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    site: SpawnSite,
) {
    // SAFETY: the caller guarantees the type and exclusive access.
    let cell = unsafe { Cell::<F, S>::from_header(ptr) };
    let result = match drop_future(cell) {
        None => Err(TaskError::Cancelled),
        Some(p) => Err(TaskError::panicked(p)),
    };
    if let Err(TaskError::Panicked(p)) = &result {
        debug::report_panic(&cell.header, p, Some(site));
    }
    // SAFETY: exclusive access; the stage was just dropped in place.
    cell.stage
        .with_mut(|s| unsafe { ptr::write(s, Stage::Finished(result)) });
    cell.header.state.set_unshared(
        state::COMPLETE
            | state::FINISHING
            | state::CANCELLED
            | state::JOIN_INTEREST
            | state::REF_ONE,
    );
}

/// Runs a task once, stamped `now` (see `Vtable::poll`).
unsafe fn poll<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>, now: u64) {
    // SAFETY: our reference keeps the cell alive; the vtable fixes the type.
    let cell = unsafe { Cell::<F, S>::from_header(ptr) };
    let header = &cell.header;
    match header.state.transition_to_running() {
        ToRunning::Poll { carry } => {
            if carry {
                header.carry_polls();
            }
        }
        ToRunning::Cancel => {
            // SAFETY: we own RUNNING and the runner's reference.
            unsafe { cancel_and_complete::<F, S>(ptr) };
            return;
        }
        ToRunning::Skip => {
            // SAFETY: we own the `Notified`'s reference.
            unsafe { drop_reference(ptr) };
            return;
        }
    }

    // Stamp the poll with the caller's clock reading (the transition
    // counted it).
    if INTROSPECTION {
        header.last_poll.store(now as u32, Ordering::Relaxed);
    }

    // A waker borrowed from our reference: cloning it adds one.
    // SAFETY: the cell outlives the poll (we hold a reference).
    let waker = ManuallyDrop::new(unsafe { waker::borrowed(ptr) });
    let mut cx = Context::from_waker(&waker);
    let res = {
        let _task = crate::context::enter_task(ptr.as_ptr());
        panic::catch_unwind(AssertUnwindSafe(|| {
            cell.stage.with_mut(|stage| {
                // SAFETY: RUNNING gives us exclusive access to the stage, and
                // the future never moves: it is dropped in place.
                match unsafe { &mut *stage } {
                    // SAFETY: as above: the future stays where it is until it
                    // is dropped in place.
                    Stage::Running(f) => unsafe { Pin::new_unchecked(f) }.poll(&mut cx),
                    _ => unreachable!("a running task has no future"),
                }
            })
        }))
    };
    match res {
        Ok(Poll::Pending) => match header.state.transition_to_idle() {
            ToIdle::Idle => {}
            // SAFETY: the transition kept our reference for the new `Notified`.
            ToIdle::Notified => S::schedule(unsafe { Notified::from_raw(ptr) }, true),
            // SAFETY: we still own RUNNING and our reference.
            ToIdle::Cancel => unsafe { cancel_and_complete::<F, S>(ptr) },
        },
        // SAFETY: we own RUNNING and our reference.
        Ok(Poll::Ready(out)) => unsafe { finish::<F, S>(ptr, Ok(out)) },
        // SAFETY: as above.
        Err(payload) => unsafe { finish::<F, S>(ptr, Err(TaskError::panicked(payload))) },
    }
}

/// Drops the future in place, catching a panic from its destructor.
fn drop_future<F: Future, S>(cell: &Cell<F, S>) -> Option<Box<dyn std::any::Any + Send>> {
    cell.stage.with_mut(|stage| {
        panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller owns RUNNING (or exclusive access), and the
            // stage is rewritten with `ptr::write` right after, never dropped
            // twice.
            unsafe { ptr::drop_in_place(stage) }
        }))
        .err()
    })
}

/// The future returned, panicked or is being cancelled: drop it, store the
/// result and complete. `result` is `Err(Cancelled)` for a cancellation.
///
/// # Safety
///
/// The caller owns `RUNNING` and one reference.
unsafe fn finish<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    result: Result<F::Output, TaskError>,
) {
    // SAFETY: guaranteed by the caller.
    let cell = unsafe { Cell::<F, S>::from_header(ptr) };
    let cancelled = cell.header.state.transition_to_finishing();
    // A cascading cancel drops the future with the task handles inside it
    // cancelling their tasks (FINISHING is set: the flag can change no more).
    let drop_panic = if cancelled && cell.header.state.load() & state::CASCADE != 0 {
        crate::context::cancelling_drops(|| drop_future(cell))
    } else {
        drop_future(cell)
    };
    let result = match (result, drop_panic) {
        // A panic while dropping the future is the more useful report.
        (Ok(value), Some(p)) => {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
            Err(TaskError::panicked(p))
        }
        (Err(TaskError::Cancelled), Some(p)) => Err(TaskError::panicked(p)),
        // A cancel that `cancel()` reported as taking effect wins over a value.
        (Ok(value), None) if cancelled => {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
            Err(TaskError::Cancelled)
        }
        (result, _) => result,
    };
    if let Err(TaskError::Panicked(p)) = &result {
        // The panic hook, once per task, before the output is published.
        debug::report_panic(&cell.header, p, None);
    }
    // Debug mode: the worker times this poll, but after it the task may be
    // gone; while it is still linked, see whether the poll was slow.
    if INTROSPECTION && S::ON_WORKERS && debug::timing() {
        debug::poll_finishing(&cell.header);
    }
    // SAFETY: the stage was dropped in place above.
    cell.stage
        .with_mut(|s| unsafe { ptr::write(s, Stage::Finished(result)) });
    // SAFETY: we still own RUNNING and our reference.
    unsafe { complete::<F, S>(ptr) }
}

/// Drops the future of a cancelled task and completes it.
///
/// # Safety
///
/// The caller owns `RUNNING` and one reference.
unsafe fn cancel_and_complete<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: guaranteed by the caller.
    unsafe { finish::<F, S>(ptr, Err(TaskError::Cancelled)) }
}

/// Steps 3 to 5 of completion (see the module docs).
///
/// # Safety
///
/// The caller owns `RUNNING` and one reference, and the stage is `Finished`.
unsafe fn complete<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: guaranteed by the caller.
    let cell = unsafe { Cell::<F, S>::from_header(ptr) };
    let header = &cell.header;

    // Run the done callbacks, then leave the owned list.
    // SAFETY: the stage is `Finished` and stays untouched until `COMPLETE`.
    let out = unsafe { output_ptr::<F, S>(ptr) };
    while let Some(callbacks) = header.shared.owned.take_callbacks_or_unlink(header) {
        for cb in callbacks {
            run_callback(cb, out);
        }
    }

    // Publish the output.
    let prev = header.state.transition_to_complete();
    if prev & state::JOIN_INTEREST == 0 {
        // Nobody will read it.
        // SAFETY: the handle is gone, so we are the output's only owner.
        unsafe { drop_output::<F, S>(ptr) };
    } else if prev & state::JOIN_WAKER != 0 {
        // SAFETY: with JOIN_WAKER set at COMPLETE the slot is ours to read
        // and the handle never writes it again.
        header.join_waker.with(|w| {
            // SAFETY: see above.
            if let Some(w) = unsafe { &*w } {
                w.wake_by_ref();
            }
        });
    }

    // Release the runner's reference and the owned list's.
    if header.state.ref_dec(2) {
        // SAFETY: those were the last references. (Through the vtable: a
        // named task's allocation is not a bare `Cell<F, S>`.)
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// Runs one done callback on the output, keeping a panic inside it from
/// unwinding into the scheduler (the panic hook has reported it already).
pub(crate) fn run_callback(cb: Callback, out: *const ()) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || cb(out)));
}

unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller owns RUNNING and a reference (see `Vtable::shutdown`).
    unsafe { cancel_and_complete::<F, S>(ptr) }
}

unsafe fn take_output<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: the handle calls this only after seeing COMPLETE, which makes it
    // the stage's sole owner; `dst` points to an `Option<Result<F::Output, _>>`.
    unsafe {
        let cell = Cell::<F, S>::from_header(ptr);
        let stage = cell.stage.with_mut(|s| ptr::replace(s, Stage::Consumed));
        match stage {
            Stage::Finished(out) => *(dst as *mut Option<Result<F::Output, TaskError>>) = Some(out),
            _ => panic!("a Task was polled again after it returned its result"),
        }
    }
}

unsafe fn output_ptr<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) -> *const () {
    // SAFETY: callers hold a reference and access the stage only when no one
    // can write it (see `complete` and `Task::add_done_callback`).
    unsafe {
        let cell = Cell::<F, S>::from_header(ptr);
        cell.stage.with(|s| match &*s {
            Stage::Finished(out) => out as *const Result<F::Output, TaskError> as *const (),
            _ => ptr::null(),
        })
    }
}

unsafe fn drop_output<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller is the output's sole owner (handle after COMPLETE, or
    // the completer when the handle is gone).
    unsafe {
        let cell = Cell::<F, S>::from_header(ptr);
        let stage = cell.stage.with_mut(|s| ptr::replace(s, Stage::Consumed));
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(stage)));
    }
}

unsafe fn dealloc<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the reference count reached zero, so nothing else points here;
    // the cell was allocated as a `Box<Cell<F, S>>` in `allocate`.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

/// The `NamedCell` around the cell whose header is at `ptr`.
///
/// # Safety
///
/// `ptr` must be the header of the cell of a `NamedCell<F, S>` (its vtable
/// is `Cell::<F, S>::NAMED_VTABLE`).
unsafe fn named_cell<F: Future, S>(ptr: NonNull<Header>) -> NonNull<NamedCell<F, S>> {
    let offset = std::mem::offset_of!(NamedCell<F, S>, cell);
    // SAFETY: the cell sits `offset` bytes into its `NamedCell`, which is
    // one allocation, so stepping back stays inside it.
    unsafe { ptr.cast::<u8>().sub(offset).cast() }
}

unsafe fn dealloc_named<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: as in `dealloc`; the cell was allocated inside a
    // `Box<NamedCell<F, S>>` in `allocate` (the vtable that led here says so).
    let named = unsafe { Box::from_raw(named_cell::<F, S>(ptr).as_ptr()) };
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(named)));
}

unsafe fn no_name(_: NonNull<Header>) -> Option<NonNull<str>> {
    None
}

unsafe fn name_of<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) -> Option<NonNull<str>> {
    // SAFETY: the caller holds a reference, so the `NamedCell` (which the
    // vtable that led here says this is) is alive; its name is never
    // written after `allocate`, and we borrow only that field.
    let name: &str = unsafe { &*ptr::addr_of!((*named_cell::<F, S>(ptr).as_ptr()).name) };
    Some(NonNull::from(name))
}

#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod tests {
    #[test]
    fn the_header_is_64_bytes_on_64_bit_targets() {
        // A change here is a change of every task's memory cost, which
        // benchmarks with many short tasks feel (see `Header`).
        assert_eq!(super::HEADER_SIZE, 64);
    }

    #[test]
    fn the_poll_count_carries_from_the_state_word_into_the_header() {
        use crate::loom::Ordering::Relaxed;
        use crate::task::state::{ToRunning, CARRY_BITS, RUNNING};

        let rt = crate::Runtime::builder().worker_threads(1).build().unwrap();
        let task = rt.spawn(std::future::pending::<()>());
        let header = task.header();
        // Wait for its one poll to end, after which nothing runs it.
        while header.polls() == 0 || header.state.load() & RUNNING != 0 {
            std::thread::yield_now();
        }
        assert_eq!(header.polls(), 1);
        // Count polls through the transitions a poll makes, as if it ran
        // (the task is idle, and nothing wakes it), through two carries
        // (the word's top bit flips up, then down as the 16 bits wrap),
        // carrying as `poll` does.
        let carry_every = 1u64 << CARRY_BITS;
        for n in 2..=2 * carry_every + 2 {
            assert!(header.state.wake_by_ref(), "idle: a Notified to push");
            let ToRunning::Poll { carry } = header.state.transition_to_running() else {
                panic!("an idle task runs");
            };
            assert_eq!(carry, n % carry_every == 0, "poll {n}");
            if carry {
                header.carry_polls();
            }
            header.state.transition_to_idle();
            assert_eq!(header.polls(), n);
        }
        // And the carry's own high half.
        header.poll_carries.store(u32::MAX, Relaxed);
        header.carry_polls();
        assert_eq!(header.polls(), (1 << (32 + CARRY_BITS)) | 2);
        task.cancel();
    }

    #[test]
    fn the_poll_stamp_shares_the_16_bytes_of_the_state_word() {
        // See `Header::last_poll`: every poll writes it and the state word.
        assert_eq!(std::mem::offset_of!(super::Header, last_poll), 12);
    }
}
