//! [`TaskGroup`]: tasks that live and fail together, with errors as values
//! (asyncio's `TaskGroup`).
//!
//! # Failure protocol
//!
//! 1. `spawn` enters the child in the group's table under a fresh key before
//!    spawning it, and adds the child's cancel reference once `spawn`
//!    returns. The child runs inside a `GroupChild` wrapper whose last field,
//!    the `Guard`, leaves the table when the wrapper is dropped: after the
//!    child's own future, however the task ends.
//! 2. The first child whose future returns `Err` or panics records the
//!    failure and, under the same lock, sets `stopping` and cancels every
//!    other child in the table (cascading, so the tasks they await go too).
//!    A child whose cancel reference is not in the table yet sees
//!    `stopping` when `spawn` adds it, and is cancelled there.
//! 3. A child polled once `stopping` is set does not poll its future again;
//!    its cancellation is on its way (step 2).
//! 4. `join` returns when the table is empty, i.e. every child's future has
//!    been dropped, with the recorded failure if there was one.
//!
//! Dropping the group before `join` finishes does step 2 without recording a
//! failure.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::loom::{AtomicBool, Mutex, Ordering};
use crate::task::{CancelRef, PanicPayload, Task};

/// A group of tasks that fail together (asyncio's `TaskGroup`, with errors as
/// values): the first child to return `Err` or to panic cancels all the
/// others, and [`join`](TaskGroup::join) reports that first failure once
/// every child is gone.
///
/// - No child outlives the group: `join` waits until every child's future
///   has been dropped, the cancelled ones included, and dropping a group
///   that was not joined cancels its children.
/// - Cancellation cascades: a cancelled child's future is dropped with the
///   [`Task`]s it owns cancelled too (use [`shield`](crate::shield) to keep
///   one running).
/// - A child cancelled on its own (through the `Task` that `spawn` returns)
///   is not a failure.
/// - Spawning into a group that has already failed still returns a `Task`,
///   but the child is cancelled at once and its future never runs.
///
/// ```
/// use aiolos::{GroupError, TaskGroup};
///
/// let rt = aiolos::Runtime::new().unwrap();
/// let res = rt.block_on(async {
///     let group = TaskGroup::new();
///     group.spawn(async { Ok(()) });
///     group.spawn(async { Err("no luck") });
///     group.spawn(std::future::pending()); // cancelled by the failure
///     group.join().await
/// });
/// assert!(matches!(res, Err(GroupError::Failed("no luck"))));
/// ```
pub struct TaskGroup<E> {
    /// What the group shares with its children.
    shared: Arc<Shared<E>>,
}

/// Why a [`TaskGroup`] failed: its first failing child's error or panic.
#[derive(Debug)]
pub enum GroupError<E> {
    /// A child's future returned this error.
    Failed(E),
    /// A child panicked.
    Panicked(PanicPayload),
}

/// The future of [`TaskGroup::join`].
#[must_use = "futures do nothing unless awaited"]
pub struct GroupJoin<E> {
    /// The group being joined (dropping the join drops it, which cancels the
    /// children).
    group: TaskGroup<E>,
}

/// What a group and its children share.
struct Shared<E> {
    /// Set on the first failure, or when the group is dropped: every child is
    /// being cancelled, and none polls its future again.
    stopping: AtomicBool,
    /// The table of children and the outcome.
    state: Mutex<State<E>>,
}

/// The part of [`Shared`] behind the lock.
struct State<E> {
    /// Live children by key; the cancel reference arrives after spawning.
    children: HashMap<u64, Option<CancelRef>>,
    /// The next child's key.
    next_key: u64,
    /// The first failure.
    error: Option<GroupError<E>>,
    /// The waker of `join`.
    joiner: Option<Waker>,
}

impl<E> TaskGroup<E> {
    /// An empty group.
    pub fn new() -> TaskGroup<E> {
        TaskGroup {
            shared: Arc::new(Shared {
                stopping: AtomicBool::new(false),
                state: Mutex::new(State {
                    children: HashMap::new(),
                    next_key: 0,
                    error: None,
                    joiner: None,
                }),
            }),
        }
    }

    /// Waits until every child has finished, and gives the group's first
    /// failure if there was one (asyncio's `async with TaskGroup()` exit).
    /// Dropping the returned future before it finishes cancels the children.
    pub fn join(self) -> GroupJoin<E> {
        GroupJoin { group: self }
    }

    /// How many children have not finished yet.
    pub fn len(&self) -> usize {
        self.shared.state.lock().children.len()
    }

    /// Whether every child has finished.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E: Send + 'static> TaskGroup<E> {
    /// Spawns a child on the current runtime (asyncio's
    /// `TaskGroup.create_task`). An `Err` it returns fails the group and goes
    /// to [`join`](TaskGroup::join); its `Task` then gives `Ok(())`. If it
    /// panics, the payload goes to `join` and the `Task` gives
    /// `TaskError::Panicked` with the same message.
    ///
    /// # Panics
    ///
    /// Outside a runtime, like [`spawn`](crate::spawn).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.spawn_inner(None, future)
    }

    /// Like [`spawn`](TaskGroup::spawn), with a name for the task.
    #[track_caller]
    pub fn spawn_named<F>(&self, name: impl Into<String>, future: F) -> Task<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.spawn_inner(Some(name.into()), future)
    }

    #[track_caller]
    fn spawn_inner<F>(&self, name: Option<String>, future: F) -> Task<()>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        // 1. Enter the child in the table, then spawn it.
        let key = {
            let mut state = self.shared.state.lock();
            let key = state.next_key;
            state.next_key += 1;
            state.children.insert(key, None);
            key
        };
        let child = GroupChild {
            future,
            guard: Guard {
                shared: self.shared.clone(),
                key,
            },
        };
        let task = match name {
            Some(name) => crate::task::Builder::new().name(name).spawn(child),
            None => crate::spawn(child),
        };
        // Add its cancel reference, unless it has finished already.
        let cancel = task.cancel_ref();
        let unused = {
            let mut state = self.shared.state.lock();
            match state.children.get_mut(&key) {
                Some(slot) => {
                    if self.shared.stopping.load(Ordering::Acquire) {
                        cancel.cancel(true);
                    }
                    *slot = Some(cancel);
                    None
                }
                None => Some(cancel),
            }
        };
        drop(unused);
        task
    }
}

impl<E> Shared<E> {
    /// Step 2: records `error` if it is the first, and cancels every child
    /// but the failing one (`key`).
    fn fail(&self, error: GroupError<E>, key: u64) {
        let mut state = self.state.lock();
        let later = match state.error {
            None => {
                state.error = Some(error);
                None
            }
            Some(_) => Some(error),
        };
        self.stop(&state, Some(key));
        drop(state);
        // Drop a later failure outside the lock: it may run user code.
        drop(later);
    }

    /// Sets `stopping` and cancels every child in the table but `except`
    /// (if not already stopping). Called with the lock held.
    fn stop(&self, state: &State<E>, except: Option<u64>) {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        for (key, cancel) in &state.children {
            if Some(*key) != except {
                if let Some(cancel) = cancel {
                    cancel.cancel(true);
                }
            }
        }
    }
}

/// A child's future inside the group: runs it, reports its failure.
struct GroupChild<F, E> {
    /// The child's own future (pinned with the wrapper). Declared first, so
    /// it is dropped before `guard`.
    future: F,
    /// Leaves the group's table when dropped.
    guard: Guard<E>,
}

impl<F, E> Future for GroupChild<F, E>
where
    F: Future<Output = Result<(), E>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is structurally pinned (never moved out, dropped
        // with the wrapper); `guard` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let shared = &this.guard.shared;
        // 3. The group is stopping: this child's cancellation is on its way.
        if shared.stopping.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => Poll::Ready(()),
            Ok(Poll::Ready(Err(e))) => {
                shared.fail(GroupError::Failed(e), this.guard.key);
                Poll::Ready(())
            }
            Err(payload) => {
                let payload = PanicPayload::new(payload);
                let message = payload
                    .message()
                    .unwrap_or("a TaskGroup child panicked; the payload went to TaskGroup::join")
                    .to_owned();
                shared.fail(GroupError::Panicked(payload), this.guard.key);
                // The task itself ends as panicked too, with the message.
                panic::resume_unwind(Box::new(message))
            }
        }
    }
}

/// A child's entry in the group's table.
struct Guard<E> {
    /// The group.
    shared: Arc<Shared<E>>,
    /// The child's key in the table.
    key: u64,
}

impl<E> Drop for Guard<E> {
    fn drop(&mut self) {
        let (entry, joiner) = {
            let mut state = self.shared.state.lock();
            let entry = state.children.remove(&self.key);
            let joiner = if state.children.is_empty() {
                state.joiner.take()
            } else {
                None
            };
            (entry, joiner)
        };
        drop(entry);
        if let Some(joiner) = joiner {
            joiner.wake();
        }
    }
}

impl<E> Future for GroupJoin<E> {
    type Output = Result<(), GroupError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.group.shared.state.lock();
        if state.children.is_empty() {
            return Poll::Ready(match state.error.take() {
                Some(error) => Err(error),
                None => Ok(()),
            });
        }
        match &state.joiner {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.joiner = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<E> Drop for TaskGroup<E> {
    fn drop(&mut self) {
        let state = self.shared.state.lock();
        self.shared.stop(&state, None);
    }
}

impl<E> Default for TaskGroup<E> {
    fn default() -> TaskGroup<E> {
        TaskGroup::new()
    }
}

impl<E> fmt::Debug for TaskGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("children", &self.len())
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .finish()
    }
}

impl<E> fmt::Debug for GroupJoin<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupJoin")
            .field("group", &self.group)
            .finish()
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => write!(f, "a task of the group failed: {e}"),
            GroupError::Panicked(p) => match p.message() {
                Some(m) => write!(f, "a task of the group panicked: {m}"),
                None => f.write_str("a task of the group panicked"),
            },
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for GroupError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GroupError::Failed(e) => Some(e),
            GroupError::Panicked(_) => None,
        }
    }
}
