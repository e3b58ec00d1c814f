//! `Task<T>`: the handle to a spawned task (asyncio's `Task` object).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::error::TaskError;
use super::id::TaskId;
use super::raw::{self, Header, Notified};
use super::state::{self, CancelAction};
use super::{coop, owned::Callback};

/// A handle to a spawned task: await it for the task's result.
///
/// Like asyncio's `Task`: the task runs whether or not anyone awaits it;
/// dropping the handle (or calling [`detach`](Task::detach)) lets it run on
/// unobserved, as `asyncio.create_task` and `tokio::spawn` do.
/// [`cancel`](Task::cancel) asks for the future to be dropped at its next
/// scheduling point, and awaiting then gives [`TaskError::Cancelled`]. A panic
/// inside the task is caught and comes out as [`TaskError::Panicked`].
///
/// One exception to "dropping detaches": a `Task` dropped while a combinator
/// gives up on its children (a [`gather`](crate::gather()) that is dropped, a
/// [`try_gather`](crate::try_gather) after the first error, a cancelled
/// [`TaskGroup`](crate::TaskGroup) child's future) cancels its task, like
/// asyncio's cancellation reaching the task being awaited. Wrap it in
/// [`shield`](crate::shield), or [`detach`](Task::detach) it, to keep it
/// running.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let task = rt.spawn(async { 6 * 7 });
/// assert_eq!(rt.block_on(task).unwrap(), 42);
/// ```
pub struct Task<T> {
    raw: NonNull<Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output out (needs `T: Send`) and touches
// the cell through atomics and the state protocol.
unsafe impl<T: Send> Send for Task<T> {}
// SAFETY: `&Task` exposes cancel/is_finished/id/name, which only use atomics
// and immutable header fields, and `add_done_callback`, which requires
// `T: Sync` before it lends out `&T`.
unsafe impl<T: Send> Sync for Task<T> {}

impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    /// Wraps a new task's pointer (taking the handle's reference).
    ///
    /// # Safety
    ///
    /// `raw` comes from `raw::allocate` for a future with output `T`, and the
    /// caller gives up the handle's reference.
    pub(crate) unsafe fn from_raw(raw: NonNull<Header>) -> Task<T> {
        Task {
            raw,
            _output: PhantomData,
        }
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the handle's reference keeps the cell alive.
        unsafe { self.raw.as_ref() }
    }

    /// Asks the task to stop: its future is dropped at its next scheduling
    /// point (at once if it is idle, when it yields if it is running), and
    /// awaiting the handle gives `Err(TaskError::Cancelled)`.
    ///
    /// Returns true when the request took effect, i.e. the task had not
    /// finished; false when it already had (asyncio's `Task.cancel()`). A
    /// `spawn_blocking` job that is already running cannot be interrupted: it
    /// runs to its end and its value is discarded.
    pub fn cancel(&self) -> bool {
        cancel_raw(self.raw, false)
    }

    /// Cancels like [`cancel`](Task::cancel), and the task's future is then
    /// dropped with the `Task` handles inside it cancelling their tasks in
    /// turn (see `cascade.rs`).
    pub(crate) fn cancel_cascading(&self) -> bool {
        cancel_raw(self.raw, true)
    }

    /// A second reference to the task that can only cancel it (for
    /// `TaskGroup`, which hands the `Task` itself to the caller).
    pub(crate) fn cancel_ref(&self) -> CancelRef {
        self.header().state.ref_inc();
        CancelRef { raw: self.raw }
    }

    /// Lets the task run on without a handle, even inside a cancel scope
    /// (`shield`, `wait`, `as_completed`: they never cancel).
    pub(crate) fn detach_uncancelled(self) {
        let mut this = std::mem::ManuallyDrop::new(self);
        this.release();
    }

    /// Waits for the task to finish without taking its result: `Ready` once
    /// it has (then [`failed`](Task::failed) can look at the outcome).
    pub(crate) fn poll_finished(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let snapshot = self.header().state.load();
        if snapshot & state::COMPLETE != 0 || self.register_waker(snapshot, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Whether the task finished with an error (cancelled or panicked):
    /// `None` while it runs, or once its result was taken.
    pub(crate) fn failed(&self) -> Option<bool> {
        let header = self.header();
        if header.state.load() & state::COMPLETE == 0 {
            return None;
        }
        // SAFETY: COMPLETE is set (seen with Acquire) and only this handle may
        // take the output, which `&self` excludes; the pointer has the type
        // `Result<T, TaskError>` (this task's output) or is null once taken.
        unsafe {
            let out = (header.vtable.output_ptr)(self.raw) as *const Result<T, TaskError>;
            out.as_ref().map(Result::is_err)
        }
    }

    /// Gives up the handle: drops the output if the task completed, then the
    /// handle's reference. Called once, by `drop` or `detach_uncancelled`.
    fn release(&mut self) {
        let prev = self.header().state.unset_join_interest();
        if prev & state::COMPLETE != 0 {
            // SAFETY: COMPLETE without the handle: we own the output.
            unsafe { (self.header().vtable.drop_output)(self.raw) };
        }
        // SAFETY: the handle's reference, not used after this (the callers
        // never touch the handle again).
        unsafe { raw::drop_reference(self.raw) };
    }

    /// Whether the task has finished (with a value, an error, a panic or a
    /// cancellation); asyncio's `done()`.
    pub fn is_finished(&self) -> bool {
        self.header().state.load() & state::COMPLETE != 0
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    /// The name given with [`task::Builder::name`](crate::task::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.header().name()
    }

    /// Lets the task run on without a handle: the same as dropping it,
    /// except that it never cancels the task, not even where a dropped
    /// handle would (see the type's docs).
    pub fn detach(self) {
        self.detach_uncancelled();
    }

    /// Calls `callback` once with the task's result when it finishes, or at
    /// once (on this thread) if it already has; asyncio's
    /// `add_done_callback`. Callbacks added before the end run on the thread
    /// that finishes the task, in the order they were added, before awaiting
    /// the handle returns. A panic in a callback is caught (the panic hook
    /// reports it) and does not affect the task.
    ///
    /// # Panics
    ///
    /// If this handle was already awaited to completion, so that the result
    /// was moved out of it.
    pub fn add_done_callback<C>(&self, callback: C)
    where
        C: FnOnce(&Result<T, TaskError>) + Send + 'static,
        T: Sync,
    {
        let cb: Callback = Box::new(move |out: *const ()| {
            // SAFETY: the pointer comes from `output_ptr` of this very task,
            // whose output type is `T`, and is valid for the call.
            callback(unsafe { &*(out as *const Result<T, TaskError>) })
        });
        let header = self.header();
        if let Err(cb) = header.shared.owned.add_callback(header, cb) {
            // The task has left the owned list: its output is written and no
            // one but this handle will take it.
            // SAFETY: we hold a reference; `&self` excludes a concurrent take.
            let out = unsafe { (header.vtable.output_ptr)(self.raw) };
            assert!(
                !out.is_null(),
                "add_done_callback called on a Task whose result was already taken by awaiting it"
            );
            raw::run_callback(cb, out);
        }
    }

    /// Registers `waker` for completion. Returns true if the task completed
    /// meanwhile (then the output can be taken).
    fn register_waker(&self, snapshot: u64, waker: &Waker) -> bool {
        let header = self.header();
        if snapshot & state::JOIN_WAKER != 0 {
            // The runtime side owns the slot; keep it if it already holds an
            // equivalent waker.
            // SAFETY: while JOIN_WAKER is set the slot is only read.
            let same = header.join_waker.with(|w| match unsafe { &*w } {
                Some(w) => w.will_wake(waker),
                None => false,
            });
            if same {
                return false;
            }
            if header.state.unset_join_waker().is_err() {
                return true;
            }
        }
        // SAFETY: JOIN_WAKER is clear, so the slot is ours to write.
        header
            .join_waker
            .with_mut(|w| unsafe { *w = Some(waker.clone()) });
        header.state.set_join_waker().is_err()
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let header = self.header();
        let snapshot = header.state.load();
        if snapshot & state::COMPLETE == 0 && !self.register_waker(snapshot, cx.waker()) {
            return Poll::Pending;
        }
        // A ready handle counts against the awaiting task's budget, so that a
        // loop over finished tasks still yields now and then.
        if coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut out: Option<Result<T, TaskError>> = None;
        // SAFETY: COMPLETE is set (seen above with Acquire), so the output is
        // ours; `out` has the type `take_output` writes.
        unsafe { (header.vtable.take_output)(self.raw, &mut out as *mut _ as *mut ()) };
        Poll::Ready(out.expect("take_output wrote the result"))
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        // A combinator giving up on its children cancels instead of detaching.
        if crate::context::drops_cancel() {
            self.cancel_cascading();
        }
        self.release();
    }
}

/// Cancels the task at `raw` (the body of `Task::cancel`).
fn cancel_raw(raw: NonNull<Header>, cascade: bool) -> bool {
    // SAFETY: callers hold a reference to the task.
    let header = unsafe { raw.as_ref() };
    match header.state.cancel(cascade) {
        CancelAction::TooLate => false,
        CancelAction::Requested => true,
        CancelAction::Submit => {
            // SAFETY: `cancel` added a reference and set SCHEDULED for it.
            let notified = unsafe { Notified::from_raw(raw) };
            (header.vtable.schedule)(notified, false);
            true
        }
    }
}

/// A reference to a task that can cancel it and nothing else: no output, no
/// join interest. `TaskGroup` keeps one per child.
pub(crate) struct CancelRef {
    /// The task; this value owns one reference to it.
    raw: NonNull<Header>,
}

// SAFETY: cancelling only touches the atomic state word and queues the task
// through its vtable, which any thread may do; the reference count is atomic.
unsafe impl Send for CancelRef {}
// SAFETY: as above; `&CancelRef` allows nothing more than `CancelRef`.
unsafe impl Sync for CancelRef {}

impl CancelRef {
    /// Wraps a reference the caller has taken for it.
    ///
    /// # Safety
    ///
    /// `raw` is a live task and the caller hands one of its references over.
    pub(crate) unsafe fn from_counted(raw: NonNull<Header>) -> CancelRef {
        CancelRef { raw }
    }

    /// Cancels the task (cascading or not); false if it had finished.
    pub(crate) fn cancel(&self, cascade: bool) -> bool {
        cancel_raw(self.raw, cascade)
    }
}

impl Drop for CancelRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference, not used after this.
        unsafe { raw::drop_reference(self.raw) };
    }
}

impl fmt::Debug for CancelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: our reference keeps the cell alive.
        let id = unsafe { self.raw.as_ref() }.id;
        f.debug_tuple("CancelRef").field(&id).finish()
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}
