//! Loom models of the task state word (`--cfg loom`): real task cells
//! (`raw::allocate` on a real `Shared`), real wakers, handles, cancellation
//! and shutdown, raced by model threads that also run the tasks they queue,
//! the way workers do.
//!
//! The scheduler is the only stand-in: [`Model`] pushes to one loom-mutex
//! queue and refuses a task that is already queued, and [`run_queued`] is a
//! worker's loop over it. Each model checks, in every interleaving:
//! - one thread polls a task at a time (the future asserts it, and loom
//!   checks the stage's `UnsafeCell`);
//! - a wake-up after the future's condition was set leads to a poll that
//!   sees it (the condition is a relaxed loom atomic: the state word must
//!   order it), and to no more polls than wake-ups;
//! - a cancel that `cancel()` reports as taking effect gives
//!   `Err(Cancelled)`, one reported as too late gives the value;
//! - the future is dropped once, every output it produced is dropped once
//!   (by the handle, the completer, or the cancelling finisher);
//! - the cell is freed once: it holds the runtime's last other `Arc`, which
//!   loom counts (freeing twice releases it twice, which loom reports), and
//!   loom reports any `Arc` a leaked cell would keep.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p aiolos --lib --release task::loom_tests`.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool as Flag, AtomicUsize as Counter, Ordering::SeqCst};
use std::sync::OnceLock;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use loom::thread;

use super::owned::SpawnSite;
use super::raw::{self, Header, Notified, Schedule};
use super::{waker, Task, TaskError, TaskId};
use crate::loom::model::block_on;
use crate::loom::{Arc, AtomicUsize, Mutex, Ordering};
use crate::runtime::Config;
use crate::scheduler::Shared;

loom::lazy_static! {
    /// The run queue of the model's scheduler.
    static ref QUEUE: Mutex<VecDeque<Notified>> = Mutex::new(VecDeque::new());
}

/// The model's kind of task: queued on [`QUEUE`].
struct Model;

impl Schedule for Model {
    const ON_WORKERS: bool = false;

    fn schedule(task: Notified, _is_yield: bool) {
        let mut queue = QUEUE.lock();
        assert!(
            !queue.iter().any(|t| ptr::eq(t.header(), task.header())),
            "a task was queued while already queued"
        );
        queue.push_back(task);
    }
}

/// Runs queued tasks until the queue is empty (a worker's loop).
fn run_queued() {
    loop {
        let next = QUEUE.lock().pop_front();
        match next {
            Some(task) => task.run(0),
            None => return,
        }
    }
}

/// Checks that every queued task was run: each model thread that queues a
/// task runs the queue afterwards.
fn assert_queue_empty() {
    assert!(QUEUE.lock().is_empty(), "a queued task was left behind");
}

/// Explores `f` in every interleaving, or with at most `bound` preemptions
/// per execution (`LOOM_MAX_PREEMPTIONS`, when set, overrides both).
fn model_bounded(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = bound;
    }
    builder.check(move || {
        // Loom's threads share this OS thread's thread-locals, so a budget
        // left by one execution's interleaved polls could reach the next:
        // start each with none.
        crate::context::budget_unconstrained();
        f();
    });
}

/// Explores `f` in every interleaving (see [`model_bounded`]).
fn model(f: impl Fn() + Sync + Send + 'static) {
    model_bounded(None, f);
}

/// A runtime with no threads, for the tasks' headers and owned list.
fn runtime() -> Arc<Shared> {
    let config = Config {
        worker_threads: 0,
        max_blocking_threads: 1,
        blocking_keep_alive: Duration::ZERO,
        thread_name: "loom".into(),
        on_thread_start: None,
        on_thread_stop: None,
        slow_poll_threshold: None,
        on_task_panic: None,
    };
    let driver = aiolos_io::Driver::unstarted(0).expect("a poller for the driver");
    Arc::new(Shared::new(Vec::new(), config, std::sync::Arc::new(driver)))
}

/// Spawns `future` the way `Shared::spawn` does, as a [`Model`] task.
/// Returns the handle and the cell (for wakers).
fn spawn<F>(shared: &Arc<Shared>, future: F) -> (Task<F::Output>, NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ptr = raw::allocate::<F, Model>(future, model_id(), None, shared.clone());
    // SAFETY: `allocate` gave the handle's reference, which we pass on.
    let task = unsafe { Task::from_raw(ptr) };
    let site = SpawnSite {
        location: std::panic::Location::caller(),
        spawned_at: 0,
    };
    assert!(shared.owned.bind(ptr, site));
    // SAFETY: the first `Notified`'s reference and SCHEDULED flag.
    Model::schedule(unsafe { Notified::from_raw(ptr) }, false);
    (task, ptr)
}

/// The one id of every model task: the owned list's shard follows the id,
/// and loom needs every execution to take the same locks.
fn model_id() -> TaskId {
    static ID: OnceLock<TaskId> = OnceLock::new();
    *ID.get_or_init(TaskId::next)
}

/// A waker of the task at `ptr`, holding its own reference.
fn waker_of(ptr: NonNull<Header>) -> Waker {
    // SAFETY: the caller's handle keeps the cell alive for the call; the
    // clone takes a reference of its own.
    let borrowed = ManuallyDrop::new(unsafe { waker::borrowed(ptr) });
    Waker::clone(&borrowed)
}

/// Checks that the task's cell was freed: it held the only other reference
/// to the runtime.
fn assert_freed(shared: Arc<Shared>) {
    assert!(
        Arc::try_unwrap(shared).is_ok(),
        "the task's cell was never freed"
    );
}

/// Polls a handle once with a waker that does nothing.
fn poll_handle<T>(task: &mut Task<T>) -> Poll<Result<T, TaskError>> {
    Pin::new(task).poll(&mut Context::from_waker(Waker::noop()))
}

/// What happened to a model task. Plain atomics: instrumentation, which
/// loom neither schedules around nor reorders.
#[derive(Debug, Default)]
struct Probe {
    /// Polls so far.
    polls: Counter,
    /// A poll is running.
    polling: Flag,
    /// Futures dropped.
    futures_dropped: Counter,
    /// Outputs produced.
    outputs_made: Counter,
    /// Outputs dropped.
    outputs_dropped: Counter,
}

impl Probe {
    fn polls(&self) -> usize {
        self.polls.load(SeqCst)
    }

    /// The future was dropped once, and every output it made once.
    fn assert_dropped_once(&self) {
        assert_eq!(
            self.futures_dropped.load(SeqCst),
            1,
            "the future was not dropped exactly once"
        );
        assert_eq!(
            self.outputs_dropped.load(SeqCst),
            self.outputs_made.load(SeqCst),
            "an output was not dropped exactly once"
        );
    }
}

/// A task's future: ready once `signals` reaches `needed`; with
/// `yield_first`, its first poll wakes the task itself and returns `Pending`
/// (a yield).
struct Job {
    probe: Arc<Probe>,
    /// Raised by other threads before they wake the task, read relaxed.
    signals: Arc<AtomicUsize>,
    needed: usize,
    yield_first: bool,
}

/// A task's output; counts its drop.
struct Out(Arc<Probe>);

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Out")
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.0.outputs_dropped.fetch_add(1, SeqCst);
    }
}

impl Future for Job {
    type Output = Out;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Out> {
        let probe = &self.probe;
        assert!(
            !probe.polling.swap(true, SeqCst),
            "two threads poll the task at once"
        );
        let first = probe.polls.fetch_add(1, SeqCst) == 0;
        let ready = if self.yield_first && first {
            cx.waker().wake_by_ref();
            false
        } else {
            self.signals.load(Ordering::Relaxed) >= self.needed
        };
        probe.polling.store(false, SeqCst);
        if !ready {
            return Poll::Pending;
        }
        probe.outputs_made.fetch_add(1, SeqCst);
        Poll::Ready(Out(probe.clone()))
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.probe.futures_dropped.fetch_add(1, SeqCst);
    }
}

/// A task's probe and its condition.
struct World {
    probe: Arc<Probe>,
    signals: Arc<AtomicUsize>,
}

impl World {
    fn new() -> World {
        World {
            probe: Arc::new(Probe::default()),
            signals: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A future ready after `needed` signals.
    fn job(&self, needed: usize) -> Job {
        Job {
            probe: self.probe.clone(),
            signals: self.signals.clone(),
            needed,
            yield_first: false,
        }
    }

    /// A future that yields once, then is ready.
    fn yielding_job(&self) -> Job {
        let mut job = self.job(0);
        job.yield_first = true;
        job
    }

    /// Sets one condition and wakes the task with `wake`.
    fn signaller(&self, wake: impl FnOnce() + Send + 'static) -> impl FnOnce() + Send + 'static {
        let signals = self.signals.clone();
        move || {
            signals.fetch_add(1, Ordering::Relaxed);
            wake();
        }
    }
}

/// Takes the output of a finished task: `Ok` unless cancelled.
fn take_output(task: &mut Task<Out>) -> Result<Out, TaskError> {
    assert!(task.is_finished(), "the task never finished");
    match poll_handle(task) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("a finished task's handle is pending"),
    }
}

/// A join waker's target that counts its wake-ups (instrumentation).
#[derive(Default)]
struct WakeCount(Counter);

impl Wake for WakeCount {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_wake_during_a_poll_gets_exactly_one_more_poll() {
    model(|| {
        let shared = runtime();
        let world = World::new();
        let (mut task, ptr) = spawn(&shared, world.job(1));
        let waker = waker_of(ptr);

        let wake = world.signaller(move || waker.wake());
        let waking = thread::spawn(move || {
            wake();
            run_queued();
        });
        run_queued();
        waking.join().unwrap();
        assert_queue_empty();

        let polls = world.probe.polls();
        assert!(
            task.is_finished(),
            "lost wake-up: woken after its condition was set, the task was not polled to see it \
             ({polls} polls)"
        );
        assert!(polls <= 2, "one wake-up, {polls} polls");
        drop(take_output(&mut task).expect("the task's value"));
        drop(task);
        world.probe.assert_dropped_once();
        assert_freed(shared);
    });
}

#[test]
fn two_wakes_queue_the_task_once_each_at_most() {
    // Three threads running tasks: three preemptions take seconds, all of
    // them over an hour.
    model_bounded(Some(3), || {
        let shared = runtime();
        let world = World::new();
        let (mut task, ptr) = spawn(&shared, world.job(2));
        let (by_val, by_ref) = (waker_of(ptr), waker_of(ptr));

        let wake_by_val = world.signaller(move || by_val.wake());
        let wake_by_ref = world.signaller(move || by_ref.wake_by_ref());
        let first = thread::spawn(move || {
            wake_by_val();
            run_queued();
        });
        let second = thread::spawn(move || {
            wake_by_ref();
            run_queued();
        });
        run_queued();
        first.join().unwrap();
        second.join().unwrap();
        assert_queue_empty();

        let polls = world.probe.polls();
        assert!(task.is_finished(), "lost wake-up ({polls} polls)");
        assert!(polls <= 3, "two wake-ups, {polls} polls");
        drop(take_output(&mut task).expect("the task's value"));
        drop(task);
        world.probe.assert_dropped_once();
        assert_freed(shared);
    });
}

/// Checks a raced cancel's outcome against what `cancel()` reported.
fn assert_cancel_outcome(task: &mut Task<Out>, cancelled: bool) {
    match take_output(task) {
        Err(TaskError::Cancelled) => assert!(
            cancelled,
            "cancel() reported it was too late, yet the task was cancelled"
        ),
        Ok(out) => {
            assert!(
                !cancelled,
                "cancel() reported it took effect, yet the task's value came through"
            );
            drop(out);
        }
        Err(e) => panic!("the task failed: {e:?}"),
    }
}

#[test]
fn a_cancel_during_a_poll_drops_the_future_once() {
    model(|| {
        let shared = runtime();
        let world = World::new();
        // Pending until a signal that never comes: only the cancel ends it,
        // whether it comes before, during or after the poll.
        let (task, _) = spawn(&shared, world.job(1));

        let cancelling = thread::spawn(move || {
            let cancelled = task.cancel();
            run_queued();
            (task, cancelled)
        });
        run_queued();
        let (mut task, cancelled) = cancelling.join().unwrap();
        assert_queue_empty();

        assert!(
            cancelled,
            "cancel() of an unfinished task reported it too late"
        );
        assert!(world.probe.polls() <= 1);
        assert_cancel_outcome(&mut task, cancelled);
        drop(task);
        world.probe.assert_dropped_once();
        assert_freed(shared);
    });
}

#[test]
fn a_cancel_and_a_wake_of_an_idle_task_queue_it_once() {
    model(|| {
        let shared = runtime();
        let world = World::new();
        let (task, ptr) = spawn(&shared, world.job(1));
        // First poll: pending, idle.
        run_queued();
        let waker = waker_of(ptr);

        // A wake-up and a cancel both want to queue it; each thread then
        // runs what it queued.
        let wake = world.signaller(move || waker.wake());
        let waking = thread::spawn(move || {
            wake();
            run_queued();
        });
        let cancelling = thread::spawn(move || {
            let cancelled = task.cancel();
            run_queued();
            (task, cancelled)
        });
        waking.join().unwrap();
        let (mut task, cancelled) = cancelling.join().unwrap();
        assert_queue_empty();

        assert!(world.probe.polls() <= 2);
        assert_cancel_outcome(&mut task, cancelled);
        drop(task);
        world.probe.assert_dropped_once();
        assert_freed(shared);
    });
}

#[test]
fn a_handle_dropped_as_the_task_completes_drops_the_output_once() {
    model(|| {
        let shared = runtime();
        let world = World::new();
        let (mut task, _) = spawn(&shared, world.job(0));
        // Awaited once (its waker stored), then dropped as the task runs.
        let joiner = std::sync::Arc::new(WakeCount::default());
        let cx_waker = Waker::from(joiner.clone());
        let polled = Pin::new(&mut task).poll(&mut Context::from_waker(&cx_waker));
        assert!(polled.is_pending());
        drop(cx_waker);

        let dropping = thread::spawn(move || drop(task));
        run_queued();
        dropping.join().unwrap();
        assert_queue_empty();

        world.probe.assert_dropped_once();
        assert_eq!(world.probe.outputs_made.load(SeqCst), 1);
        assert!(joiner.0.load(SeqCst) <= 1);
        assert_freed(shared);
        assert_eq!(
            std::sync::Arc::strong_count(&joiner),
            1,
            "the join waker outlived the task"
        );
    });
}

#[test]
fn an_awaiting_handle_takes_the_output_once() {
    model(|| {
        let shared = runtime();
        let world = World::new();
        let (mut task, _) = spawn(&shared, world.job(0));
        // Polled once with another waker first, so the awaiting thread
        // swaps its own in while the task may be completing.
        assert!(poll_handle(&mut task).is_pending());

        let awaiting = thread::spawn(move || {
            let out = block_on(task).expect("the task's value");
            drop(out);
        });
        run_queued();
        awaiting.join().unwrap();
        assert_queue_empty();

        world.probe.assert_dropped_once();
        assert_eq!(world.probe.outputs_made.load(SeqCst), 1);
        assert_freed(shared);
    });
}

#[test]
fn shutdown_racing_a_poll_cancels_the_task_once() {
    // Shutdown locks every shard of the owned list: five preemptions take
    // about a second, all of them about six minutes.
    model_bounded(Some(5), || {
        let shared = runtime();
        let world = World::new();
        // Yields once, then is ready.
        let (mut task, _) = spawn(&shared, world.yielding_job());

        let stopping = {
            let shared = shared.clone();
            thread::spawn(move || {
                shared.cancel_all_tasks();
                run_queued();
            })
        };
        run_queued();
        stopping.join().unwrap();
        assert_queue_empty();

        assert!(world.probe.polls() <= 2);
        match take_output(&mut task) {
            Ok(out) => drop(out),
            Err(TaskError::Cancelled) => {}
            Err(e) => panic!("the task failed: {e:?}"),
        }
        drop(task);
        world.probe.assert_dropped_once();
        assert_freed(shared);
    });
}
