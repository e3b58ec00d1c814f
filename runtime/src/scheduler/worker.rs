//! A worker thread: runs tasks from its LIFO slot and local queue, steals
//! when those are empty, and parks when there is nothing anywhere.
//!
//! # Finding the next task
//!
//! 1. Every [`GLOBAL_INTERVAL`] ticks, the injector first, so that tasks
//!    from outside are not starved by a worker busy with its own.
//! 2. The LIFO slot: the task most recently woken or spawned by the task
//!    that just ran (message-passing locality). At most [`MAX_LIFO_STREAK`]
//!    times in a row; then the slot's task goes to the back of the queue, so
//!    two tasks waking each other cannot monopolise the worker.
//! 3. The local queue (FIFO).
//! 4. Search, if fewer than half the workers are searching: steal half of a
//!    random sibling's queue.
//! 5. A batch from the injector.
//! 6. Park (see `idle.rs` for the sleep protocol).
//!
//! # Shutdown
//!
//! 1. `Shared::begin_shutdown` sets the flag and unparks every worker.
//! 2. Each worker finishes the poll it is in, sees the flag, drops the task
//!    references in its LIFO slot and local queue, and exits.
//! 3. The runtime joins the workers, then drains the injector and cancels
//!    every task still in the owned list (dropping their futures).

use std::cell::{Cell, RefCell};
use std::sync::Arc as StdArc;

use aiolos_io::TimerEntry;

use crossbeam_deque::{Steal, Worker as Deque};

use super::Shared;
use crate::loom::Arc;
use crate::task::raw::Notified;

/// How often the injector is checked first.
const GLOBAL_INTERVAL: u32 = 61;

/// How many LIFO-slot tasks may run back to back.
const MAX_LIFO_STREAK: u32 = 3;

/// One worker's private state; lives on its thread's stack for the thread's
/// whole life and is reachable through `context::with_worker`.
pub(crate) struct Local {
    /// This worker's position in `Shared::stealers` and `Shared::parkers`.
    index: usize,
    /// The runtime (this `Arc` keeps it alive while the worker runs).
    shared: Arc<Shared>,
    /// The local run queue; siblings steal from its other end.
    queue: Deque<Notified>,
    /// The task to run next.
    lifo: Cell<Option<Notified>>,
    /// LIFO-slot tasks run back to back.
    lifo_streak: Cell<u32>,
    /// Tasks run so far (wrapping).
    tick: Cell<u32>,
    /// Whether this worker is counted as searching in `Idle`.
    searching: Cell<bool>,
    /// xorshift state for picking a steal victim.
    rng: Cell<u32>,
    /// Timers registered during the current poll, handed to the reactor
    /// when it returns. Most short-lived timers (a `timeout` around work that
    /// finishes, a sleep raced and dropped) are cancelled before then and
    /// never leave this thread.
    timers: RefCell<Vec<StdArc<TimerEntry>>>,
}

impl Local {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, queue: Deque<Notified>) -> Local {
        Local {
            index,
            shared,
            queue,
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            searching: Cell::new(false),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            timers: RefCell::new(Vec::new()),
        }
    }

    /// The runtime this worker belongs to, as a pointer for identity checks.
    pub(crate) fn shared(&self) -> *const Shared {
        Arc::as_ptr(&self.shared)
    }

    /// The runtime this worker belongs to.
    pub(crate) fn shared_ref(&self) -> &Shared {
        &self.shared
    }

    /// Queues a task woken or spawned on this worker.
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool) {
        if is_yield {
            // It woke itself: it goes behind everything else.
            self.queue.push(task);
            self.shared.notify_parked();
            return;
        }
        if let Some(prev) = self.lifo.replace(Some(task)) {
            self.queue.push(prev);
            self.shared.notify_parked();
        }
    }

    /// The worker's main loop.
    pub(crate) fn run(&self) {
        let _worker = crate::context::set_worker(self);
        let _enter = crate::context::enter(&self.shared, true);
        while !self.shared.is_shutdown() {
            if let Some(task) = self.next_task().or_else(|| self.steal()) {
                self.run_task(task);
                continue;
            }
            self.park();
        }
        // Shutdown step 2: let go of queued tasks; the owned list cancels
        // them once every worker has stopped.
        self.timers.borrow_mut().clear();
        drop(self.lifo.take());
        while self.queue.pop().is_some() {}
    }

    fn run_task(&self, task: Notified) {
        if self.searching.replace(false) && self.shared.idle.transition_from_searching() {
            // We were the last searcher and found work: there may be more, so
            // get someone else looking.
            self.shared.notify_parked();
        }
        task.run();
        self.flush_timers();
    }

    /// Defers registering `entry` with the reactor until the current poll
    /// returns. Only the polling task can observe the timer before then.
    pub(crate) fn defer_timer(&self, entry: &StdArc<TimerEntry>) {
        self.timers.borrow_mut().push(entry.clone());
    }

    /// Hands the timers registered during the last poll to the reactor,
    /// dropping those already cancelled.
    fn flush_timers(&self) {
        let mut timers = self.timers.borrow_mut();
        if timers.is_empty() {
            return;
        }
        for entry in timers.drain(..) {
            if !entry.is_cancelled() {
                self.shared.driver.add_timer(&entry);
            }
        }
    }

    /// Steps 1 to 3 of the module docs.
    fn next_task(&self) -> Option<Notified> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(GLOBAL_INTERVAL) {
            if let Some(task) = steal_one(&self.shared.injector) {
                return Some(task);
            }
        }
        if let Some(task) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(task);
            }
            // Long enough: the slot's task waits its turn in the queue.
            self.queue.push(task);
        }
        self.lifo_streak.set(0);
        self.queue.pop()
    }

    /// Steps 4 and 5 of the module docs.
    fn steal(&self) -> Option<Notified> {
        let n = self.shared.stealers.len();
        if n > 1 && (self.searching.get() || self.shared.idle.transition_to_searching()) {
            self.searching.set(true);
            let start = self.next_rand() as usize % n;
            for i in 0..n {
                let victim = (start + i) % n;
                if victim == self.index {
                    continue;
                }
                let stealer = &self.shared.stealers[victim];
                loop {
                    match stealer.steal_batch_and_pop(&self.queue) {
                        Steal::Success(task) => return Some(task),
                        Steal::Empty => break,
                        Steal::Retry => {}
                    }
                }
            }
        }
        loop {
            match self.shared.injector.steal_batch_and_pop(&self.queue) {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    /// Step 6: sleep until a producer picks this worker or shutdown starts.
    fn park(&self) {
        let shared = &self.shared;
        let was_searching = self.searching.replace(false);
        if shared.idle.transition_to_parked(self.index, was_searching) {
            shared.notify_if_work_pending();
        }
        loop {
            if shared.is_shutdown() {
                return;
            }
            shared.parkers[self.index].park();
            if !shared.idle.is_sleeping(self.index) {
                // A producer picked us and counted us as searching.
                self.searching.set(true);
                return;
            }
            // A stale or spurious wake-up (or shutdown): look again.
        }
    }

    fn next_rand(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.set(x);
        x
    }
}

/// One task from the injector, retrying on contention.
fn steal_one(injector: &crossbeam_deque::Injector<Notified>) -> Option<Notified> {
    loop {
        match injector.steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}
