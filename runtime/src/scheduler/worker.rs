//! A worker thread: runs tasks from its LIFO slot and local queue, steals
//! when those are empty, and parks when there is nothing anywhere.
//!
//! # Timers
//!
//! Each worker has a timer wheel (kept in the driver, `aiolos_io::Driver`,
//! behind a lock that in the normal course only this worker takes): a timer
//! first polled on a worker is filed in that worker's wheel, with no message
//! to another thread, and the worker fires it itself. Before each task, if
//! its earliest deadline has passed (one clock read, only while the wheel is
//! not empty), it fires the due entries; the tasks they wake go to its *due
//! queue*, which comes first (step 1 below): a woken timer is already late,
//! while a freshly spawned task has no deadline. A parked worker sleeps
//! until its earliest deadline. A timer cancelled on another thread frees
//! its slot under the wheel's lock. If a worker is stuck in a long poll, the
//! reactor fires its due timers a few milliseconds late (the rescue in
//! `driver.rs`, `RESCUE_AFTER`) and their tasks go to the due injector, which workers look
//! at before the injector (step 2). Timers registered elsewhere (outside the workers,
//! loop callbacks) go to the reactor's wheel.
//!
//! Why not only the reactor's wheel, as DESIGN.md first had it: on a loaded
//! machine the reactor is a third thread competing with the workers for the
//! cores; it fired timers a millisecond or more late, and the tasks it woke
//! then queued in the injector behind the workers' own work. With 50,000
//! sleeping tasks on 2 cores the mean lateness was 6–14 ms; here it is about
//! 1 ms (`benches/README.md`).
//!
//! # Finding the next task
//!
//! 1. The due queue (timer-woken tasks), at most [`MAX_DUE_STREAK`] in a row
//!    so they cannot starve the rest; when it is empty and a sibling
//!    advertises a backlog of due tasks (`Shared::due_backlog`), half of that
//!    sibling's. A worker that fired a
//!    burst of timers thus shares it with siblings busy with their own
//!    queues, not only with idle ones.
//! 2. Every [`GLOBAL_INTERVAL`] ticks: take pending I/O readiness (the
//!    tasks it wakes join the back of the local queue), then look at the due
//!    injector (timer wake-ups the reactor fired), then the injector, first,
//!    so that tasks from outside are not starved by a worker busy with its
//!    own.
//! 3. The LIFO slot: the task most recently woken or spawned by the task
//!    that just ran (message-passing locality). At most [`MAX_LIFO_STREAK`]
//!    times in a row; then the slot's task goes to the back of the queue, so
//!    two tasks waking each other cannot monopolise the worker.
//! 4. The local queue (FIFO), then the due queue even past its streak.
//! 5. Search, if fewer than half the workers are searching: steal half of a
//!    random sibling's due queue, else of its local queue.
//! 6. A batch from the injector, then from the due injector.
//! 7. Pending I/O readiness: the woken tasks go to the local queue, and a
//!    sibling is woken if there is more than one (see "I/O duty" in
//!    `aiolos_io`'s `driver.rs`).
//! 8. Park until the earliest timer (see `idle.rs` for the sleep protocol).
//!    The last worker to park hands the I/O watch to the reactor.
//!
//! # Counters and the clock
//!
//! The worker counts its steals, parks and slow polls in its own block of
//! `Shared::counters` (a relaxed load and store each, see
//! `runtime/metrics.rs`). Its polls (read off its tick, which nearly every
//! task advances anyway, see `Local::polls`) and LIFO-slot hits, too
//! frequent for that, it counts in `Local` and publishes there with the
//! clock's refresh (every [`CLOCK_INTERVAL`] ticks, 244), before it parks
//! and as it exits, so a running worker's may lag by that many ticks. It keeps the coarse clock
//! fresh (`clock.rs`): when it starts, every [`CLOCK_INTERVAL`] ticks, and
//! each time it comes back from a park; the last worker to park marks it
//! stale. It keeps its own reading (`Local::now`) and hands it to every
//! poll it runs as the poll's stamp. In debug mode it runs a loop of its
//! own that times every poll (`run_timed`, `task/debug.rs`).
//!
//! # Shutdown
//!
//! 1. `Shared::begin_shutdown` sets the flag and unparks every worker.
//! 2. Each worker finishes the poll it is in, sees the flag, drops the task
//!    references in its LIFO slot and local queue, and exits.
//! 3. The runtime joins the workers, then drains the injector and cancels
//!    every task still in the owned list (dropping their futures).

use std::cell::Cell;
use std::sync::Arc as StdArc;
use std::task::Waker;

use aiolos_io::TimerEntry;

use crossbeam_deque::{Steal, Stealer, Worker as Deque};

use super::clock::Timing;
use super::Shared;
use crate::loom::{Arc, Ordering};
use crate::runtime::{bump, WorkerCounters, INTROSPECTION};
use crate::task::debug;
use crate::task::raw::{poll_stamp, Notified};

/// How often the injector is checked first.
const GLOBAL_INTERVAL: u32 = 61;

/// How often (in ticks) the coarse clock is refreshed and the counts
/// published: a multiple of [`GLOBAL_INTERVAL`], so that it is asked only
/// in that step's branch, not on every tick (2 instructions per poll).
const CLOCK_INTERVAL: u32 = 4 * GLOBAL_INTERVAL;

/// How many LIFO-slot tasks may run back to back.
const MAX_LIFO_STREAK: u32 = 3;

/// How many due-queue tasks may run back to back before one other task.
const MAX_DUE_STREAK: u32 = 16;

/// `next_timer` when the wheel is empty.
const NO_TIMER: u64 = u64::MAX;

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
    /// Times `next_task` got past the due queue (wrapping): nearly every
    /// task run, which is how polls are counted (see `polls`).
    tick: Cell<u32>,
    /// Tasks run up to the last publication of the counts, when `tick` was
    /// `polls_tick`. Counting them costs a task nothing: each that
    /// `next_task` takes past the due queue advances `tick` anyway, and
    /// `polls_adjust` (wrapping) adds the tasks found elsewhere (the due
    /// queue, stealing, I/O) and takes back the ticks that found none.
    polls: Cell<u64>,
    polls_tick: Cell<u32>,
    polls_adjust: Cell<u64>,
    /// Tasks taken from the LIFO slot, published to `counters` with the
    /// polls (see the module docs).
    lifo_hits: Cell<u64>,
    /// This worker's last reading of the coarse clock as the polls it runs
    /// are stamped with it (`poll_stamp`; refreshed with the clock, see the
    /// module docs).
    now: Cell<u64>,
    /// Whether this worker is counted as searching in `Idle`.
    searching: Cell<bool>,
    /// xorshift state for picking a steal victim.
    rng: Cell<u32>,
    /// This worker's wheel's earliest deadline (`NO_TIMER` when empty), as
    /// last seen: never later than the truth (a cancel, or the reactor's
    /// rescue, can only make the truth later).
    next_timer: Cell<u64>,
    /// Tasks woken by this worker's timers; siblings steal from it too.
    due: Deque<Notified>,
    /// Due-queue tasks run back to back.
    due_streak: Cell<u32>,
    /// Whether this worker counts itself in `Shared::due_backlog`.
    advertised: Cell<bool>,
    /// Set while waking fired timers: wake-ups then go to `due`.
    firing: Cell<bool>,
    /// Set while waking tasks whose I/O became ready: wake-ups then go to
    /// the local queue.
    io_waking: Cell<bool>,
    /// Reused buffer for the wakers of fired timers and ready I/O.
    fired: Cell<Vec<Waker>>,
}

/// A worker's queues, made before its thread starts so that the stealers
/// can be shared.
pub(crate) struct Queues {
    queue: Deque<Notified>,
    due: Deque<Notified>,
}

impl Queues {
    pub(crate) fn new() -> Queues {
        Queues {
            queue: Deque::new_fifo(),
            due: Deque::new_fifo(),
        }
    }

    /// Stealers of the local queue and of the due queue.
    pub(crate) fn stealers(&self) -> (Stealer<Notified>, Stealer<Notified>) {
        (self.queue.stealer(), self.due.stealer())
    }
}

impl Local {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, queues: Queues) -> Local {
        Local {
            index,
            shared,
            queue: queues.queue,
            lifo: Cell::new(None),
            lifo_streak: Cell::new(0),
            tick: Cell::new(0),
            polls: Cell::new(0),
            polls_tick: Cell::new(0),
            polls_adjust: Cell::new(0),
            lifo_hits: Cell::new(0),
            now: Cell::new(0),
            searching: Cell::new(false),
            rng: Cell::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            next_timer: Cell::new(NO_TIMER),
            due: queues.due,
            due_streak: Cell::new(0),
            advertised: Cell::new(false),
            firing: Cell::new(false),
            io_waking: Cell::new(false),
            fired: Cell::new(Vec::new()),
        }
    }

    /// This worker's metrics counters.
    #[inline]
    fn counters(&self) -> &WorkerCounters {
        &self.shared.counters[self.index]
    }

    /// Publishes the counts kept in `Local` to this worker's counters, the
    /// polls up to tick `tick`: the current one, or in `next_task` the one
    /// before (a tick still looking for its task may yet be taken back,
    /// and a count published with it would then go down). Called at least
    /// every [`CLOCK_INTERVAL`] ticks while the worker runs, so `tick`
    /// cannot wrap between two calls.
    fn publish_counts(&self, tick: u32) {
        if INTROSPECTION {
            let ticks = u64::from(tick.wrapping_sub(self.polls_tick.replace(tick)));
            let polls = self.polls.get().wrapping_add(ticks);
            let polls = polls.wrapping_add(self.polls_adjust.replace(0));
            self.polls.set(polls);
            let c = self.counters();
            c.polls.store(polls, Ordering::Relaxed);
            c.lifo_hits.store(self.lifo_hits.get(), Ordering::Relaxed);
        }
    }

    /// Counts a poll that took longer than the slow-poll threshold.
    pub(crate) fn count_slow_poll(&self) {
        bump(&self.counters().slow_polls);
    }

    /// The runtime this worker belongs to, as a pointer for identity checks.
    pub(crate) fn shared(&self) -> *const Shared {
        Arc::as_ptr(&self.shared)
    }

    /// Queues a task woken or spawned on this worker.
    pub(crate) fn schedule_local(&self, task: Notified, is_yield: bool) {
        if self.firing.get() {
            // Woken by one of our timers (`fire_timers` wakes a sibling if
            // there is more than this worker will run at once).
            self.due.push(task);
            return;
        }
        if self.io_waking.get() {
            // Made ready by our I/O poll: in order, behind what is queued
            // (`poll_io` wakes a sibling once for the whole batch).
            self.queue.push(task);
            return;
        }
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
        // Debug mode: this thread's polls are timed (see `task/debug.rs`).
        let timed = INTROSPECTION && self.shared.clock.timing() != Timing::Off;
        crate::task::set_poll_timing(timed);
        self.now.set(poll_stamp(self.shared.worker_woke()));
        if timed {
            self.run_loop::<true>();
        } else {
            self.run_loop::<false>();
        }
        self.publish_counts(self.tick.get());
        // Shutdown step 2: let go of queued tasks and of the timers (with
        // the wakers they hold); the owned list cancels the tasks once every
        // worker has stopped.
        self.shared.driver.clear_worker_timers(self.index);
        self.next_timer.set(NO_TIMER);
        drop(self.lifo.take());
        while self.queue.pop().is_some() {}
        while self.due.pop().is_some() {}
    }

    /// Runs tasks until shutdown, parking when there are none. `TIMED`
    /// (debug mode) times every poll: a copy of the loop of its own, so
    /// that without it the loop does not even ask.
    fn run_loop<const TIMED: bool>(&self) {
        while !self.shared.is_shutdown() {
            if let Some(task) = self.next_task() {
                self.run_task::<TIMED>(task);
                continue;
            }
            if let Some(task) = self
                .steal()
                .or_else(|| self.poll_io().then(|| self.queue.pop()).flatten())
            {
                // Found without a tick: count it (see `Local::polls`).
                self.adjust_polls(1);
                self.run_task::<TIMED>(task);
                continue;
            }
            self.park();
            // Time has passed, and we may be the only one awake.
            self.now.set(poll_stamp(self.shared.worker_woke()));
        }
    }

    fn run_task<const TIMED: bool>(&self, task: Notified) {
        if self.searching.replace(false) && self.shared.idle.transition_from_searching() {
            // We were the last searcher and found work: there may be more, so
            // get someone else looking.
            self.shared.notify_parked();
        }
        if TIMED {
            self.run_timed(task);
        } else {
            task.run(self.now.get());
        }
    }

    /// Debug mode: runs a task and reports its poll if it was slow
    /// (`task/debug.rs`, "Timing a poll"). The poll is stamped with the
    /// coarse clock, which the reactor keeps moving in debug mode, rather
    /// than with this worker's reading.
    #[inline(never)]
    fn run_timed(&self, task: Notified) {
        let id = task.header().id;
        let start = debug::poll_begins(&self.shared.clock, task.header());
        task.run(poll_stamp(start));
        debug::poll_ended(&self.shared, id);
    }

    /// Counts `n` (wrapping: `u64::MAX` is -1) more polls than ticks (see
    /// `Local::polls`).
    #[inline]
    fn adjust_polls(&self, n: u64) {
        if INTROSPECTION {
            self.polls_adjust
                .set(self.polls_adjust.get().wrapping_add(n));
        }
    }

    /// Files a timer registered by a task on this worker in its wheel.
    pub(crate) fn add_timer(&self, entry: &StdArc<TimerEntry>) {
        self.shared.driver.add_worker_timer(self.index, entry);
        if entry.deadline() < self.next_timer.get() {
            self.next_timer.set(entry.deadline());
        }
    }

    /// Fires the timers whose deadline has passed; the tasks they wake go to
    /// the due queue. Costs a clock read while the wheel is not empty (the
    /// caller skips the call when it is).
    #[inline(never)]
    fn fire_timers(&self) {
        let next = self.next_timer.get();
        if next == NO_TIMER {
            return;
        }
        let driver = &self.shared.driver;
        let now = driver.now();
        if now < next {
            return;
        }
        let mut fired = self.fired.take();
        let next = driver.fire_worker_timers(self.index, now, &mut fired);
        self.next_timer.set(next.unwrap_or(NO_TIMER));
        if !fired.is_empty() {
            self.firing.set(true);
            let _reset = ResetOnDrop(&self.firing);
            for w in fired.drain(..) {
                w.wake();
            }
        }
        self.fired.set(fired);
        if self.due.len() > 1 {
            // More than we run next: have busy siblings take some before
            // their own work, and let a sleeping one help.
            if !self.advertised.replace(true) {
                self.shared.due_backlog.fetch_add(1, Ordering::Relaxed);
            }
            self.shared.notify_parked();
        }
    }

    /// Takes the pending I/O events (the workers' I/O duty, see "I/O duty"
    /// in `aiolos_io`'s `driver.rs`): the tasks they make ready go to the
    /// local queue, and a sibling is woken if there is more than one.
    /// Returns whether any task was woken.
    fn poll_io(&self) -> bool {
        let mut fired = self.fired.take();
        self.shared.driver.poll_io(&mut fired);
        let woke = !fired.is_empty();
        if woke {
            self.io_waking.set(true);
            let _reset = ResetOnDrop(&self.io_waking);
            for w in fired.drain(..) {
                w.wake();
            }
        }
        self.fired.set(fired);
        if self.queue.len() > 1 {
            self.shared.notify_parked();
        }
        woke
    }

    /// The next timer-woken task: ours, or, while a sibling advertises a
    /// backlog, half of its due queue.
    fn pop_due(&self) -> Option<Notified> {
        if let Some(task) = self.due.pop() {
            return Some(task);
        }
        if self.advertised.replace(false) {
            self.shared.due_backlog.fetch_sub(1, Ordering::Relaxed);
        }
        if self.shared.due_backlog.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.steal_due()
    }

    /// Half of the first sibling's due queue that has tasks (kept out of
    /// `pop_due`, which is on every task's path, so that stays small).
    #[inline(never)]
    fn steal_due(&self) -> Option<Notified> {
        let n = self.shared.due_stealers.len();
        let task = (1..n).find_map(|i| {
            let victim = &self.shared.due_stealers[(self.index + i) % n];
            steal_from(victim, &self.due)
        });
        if task.is_some() {
            bump(&self.counters().steals);
        }
        task
    }

    /// Steps 1 to 4 of the module docs. Inlined into both copies of the
    /// run loop: called out of line it cost about 15 instructions per task
    /// (callgrind, `yield_many`).
    #[inline(always)]
    fn next_task(&self) -> Option<Notified> {
        if self.next_timer.get() != NO_TIMER {
            self.fire_timers();
        }
        let streak = self.due_streak.get();
        if streak < MAX_DUE_STREAK {
            if let Some(task) = self.pop_due() {
                self.due_streak.set(streak + 1);
                // No tick for it: count it (see `Local::polls`).
                self.adjust_polls(1);
                return Some(task);
            }
        }
        self.due_streak.set(0);
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick.is_multiple_of(GLOBAL_INTERVAL) {
            if INTROSPECTION && tick.is_multiple_of(CLOCK_INTERVAL) {
                self.now.set(poll_stamp(self.shared.clock.refresh()));
                self.publish_counts(tick.wrapping_sub(1));
            }
            // Tasks whose I/O became ready join the back of our queue.
            self.poll_io();
            // Timer wake-ups the reactor fired first (they are late).
            let task =
                steal_one(&self.shared.due_injector).or_else(|| steal_one(&self.shared.injector));
            if task.is_some() {
                return task;
            }
        }
        if let Some(task) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                if INTROSPECTION {
                    self.lifo_hits.set(self.lifo_hits.get() + 1);
                }
                return Some(task);
            }
            // Long enough: the slot's task waits its turn in the queue.
            self.queue.push(task);
        }
        self.lifo_streak.set(0);
        let task = self.queue.pop().or_else(|| self.pop_due());
        if task.is_none() {
            // A tick that ran nothing (see `Local::polls`).
            self.adjust_polls(u64::MAX);
        }
        task
    }

    /// Steps 5 and 6 of the module docs.
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
                let due = &self.shared.due_stealers[victim];
                let task = steal_from(due, &self.due)
                    .or_else(|| steal_from(&self.shared.stealers[victim], &self.queue));
                if task.is_some() {
                    bump(&self.counters().steals);
                    return task;
                }
            }
        }
        steal_from_injector(&self.shared.injector, &self.queue)
            .or_else(|| steal_from_injector(&self.shared.due_injector, &self.due))
            .or_else(|| self.pop_due())
    }

    /// Step 8: sleep until a producer picks this worker, its earliest timer
    /// is due, or shutdown starts.
    fn park(&self) {
        let shared = &self.shared;
        self.publish_counts(self.tick.get());
        bump(&self.counters().parks);
        let was_searching = self.searching.replace(false);
        let parked = shared.idle.transition_to_parked(self.index, was_searching);
        if parked.last_searcher || parked.last_awake {
            // A producer may have skipped its wake-up because it saw us
            // searching, or awake (see `idle.rs`, step 4).
            shared.notify_if_work_pending();
        }
        if parked.last_awake {
            // Nobody runs to poll for I/O now: the reactor watches it (an
            // event since our last poll fires the watch at once).
            shared.driver.watch_io();
            // Nobody keeps the coarse clock fresh either.
            if INTROSPECTION {
                shared.clock.mark_stale();
            }
        }
        loop {
            if shared.is_shutdown() {
                return;
            }
            let parker = &shared.parkers[self.index];
            let driver = &shared.driver;
            match driver.instant_of(self.next_timer.get()) {
                Some(deadline) => {
                    // We wake for our timers ourselves: the reactor need not
                    // watch them meanwhile.
                    driver.worker_parked(self.index);
                    parker.park_until(deadline);
                    driver.worker_unparked(self.index, self.next_timer.get());
                }
                None => parker.park(),
            }
            if !shared.idle.is_sleeping(self.index) {
                // A producer picked us and counted us as searching.
                self.searching.set(true);
                return;
            }
            // Our timers, or a stale or spurious wake-up (or shutdown).
            self.fire_timers();
            if !self.due.is_empty() {
                if !shared.idle.unpark_self(self.index) {
                    // A producer picked us meanwhile.
                    self.searching.set(true);
                }
                return;
            }
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

/// Clears a flag when dropped (also on unwinding).
struct ResetOnDrop<'a>(&'a Cell<bool>);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// Half of `from`'s tasks into `into`, one of them returned; retries on
/// contention.
fn steal_from(from: &Stealer<Notified>, into: &Deque<Notified>) -> Option<Notified> {
    loop {
        match from.steal_batch_and_pop(into) {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

/// A batch from `injector` into `into`, one task of it returned; retries on
/// contention.
fn steal_from_injector(
    injector: &crossbeam_deque::Injector<Notified>,
    into: &Deque<Notified>,
) -> Option<Notified> {
    loop {
        match injector.steal_batch_and_pop(into) {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
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
