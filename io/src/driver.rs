//! `Driver`: the reactor's shared half, used from any thread to register
//! timers and I/O sources.
//!
//! # Where timers live
//!
//! - **Worker wheels.** Each worker of the runtime has a wheel here, behind a
//!   lock that only that worker takes in the normal course: it files the
//!   timers its tasks create (`add_worker_timer`) and fires them itself
//!   between tasks or when its timed park ends (`fire_worker_timers`). The
//!   lock exists for two rarer visitors: a `Sleep` cancelled on another
//!   thread frees its slot directly, and the reactor *rescues* a wheel whose
//!   owner is stuck in a long poll (below).
//! - **The reactor's wheel**, for timers registered anywhere else (outside
//!   the workers, loop callbacks). Those registrations do not take a lock the
//!   reactor holds: they go through a lock-free queue of operations that the
//!   reactor drains before it sleeps, and wake the reactor
//!   (`Poller::notify`) only when their deadline is earlier than the one it
//!   sleeps towards.
//!
//! # Rescue
//!
//! A running worker publishes its wheel's earliest deadline (never later
//! than the truth); a parked one publishes "none", because its timed park
//! ends at that deadline. The reactor sleeps at most until a running
//! worker's published deadline plus [`RESCUE_AFTER`]; if that worker has
//! not fired its due entries by then (it is blocked in a poll), the reactor
//! fires them and hands the wakers to the scheduler, so one blocked worker
//! delays its timers by milliseconds, not for as long as it is blocked.
//!
//! # I/O duty
//!
//! Registered sources live in [`Interest`], an epoll instance of their own
//! that any thread may poll without waiting (`poll_io`). Exactly one party
//! has the duty of looking at it:
//! - **Busy workers.** A running worker polls it every so many tasks and
//!   whenever it runs out of tasks, and runs the tasks that became ready
//!   from its own queue. Nobody sleeps in `epoll_wait` then, so a `send()`
//!   on loopback wakes no thread: no context switch, no hop through the
//!   injector.
//! - **The reactor.** The interest fd is registered in the reactor's
//!   poller, one-shot. While armed, an event wakes the reactor, which takes
//!   the events, hands the woken tasks to the scheduler in one batch and
//!   unparks one worker; that consumes the arming.
//!
//! The duty passes to the reactor (the watch is armed, `watch_io`):
//! 1. when the last running worker parks, after it has registered as
//!    parked and taken a last look (`poll_io`); events that arrived since
//!    make the armed watch fire at once, so none is lost;
//! 2. when the reactor, after consuming an arming, finds every worker
//!    parked (a parker may have armed just before the reactor consumed its
//!    arming, see 1);
//! 3. when the workers have not polled for [`IO_CHECK`] although some run:
//!    one is stuck in a long poll and the others are parked, so an I/O event
//!    now waits at most about twice that long.
//!
//! While the watch is not armed the reactor wakes every [`IO_CHECK`] to
//! make check 3; an armed watch needs no checks, so an idle runtime's
//! reactor sleeps until its next timer.
//!
//! # Protocol (no late timer)
//!
//! The reactor publishes its target in `sleep_until`, then looks at the queue
//! and the published worker deadlines once more before it sleeps
//! (`prepare_sleep`). A registrar pushes its operation (or publishes its
//! deadline), then reads `sleep_until`. Both sides use `SeqCst`, so either
//! the reactor's last look sees the change, or the registrar sees the target
//! and notifies if its deadline is earlier. The loom models in
//! `loom_tests.rs` check this, and cancellation racing the firing.

use std::fmt;
use std::io;
use std::os::fd::RawFd;
// The metrics counters are not part of any modelled protocol.
use std::sync::atomic::{AtomicIsize, AtomicUsize};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use polling::{Event, PollMode, Poller};

use crate::epoll::Interest;
use crate::loom::{AtomicBool, AtomicU64, Injector, Mutex, Ordering, Steal};
use crate::source::{Direction, Source, Sources};
use crate::timer::{TimerEntry, Timers, REACTOR};

/// How long after a running worker's earliest deadline the reactor fires
/// that worker's due timers itself (see "Rescue" above).
///
/// It also bounds how often the reactor wakes to watch busy workers (about
/// twice per this period at most), so it is a trade: shorter rescues a
/// blocked worker's timers sooner, longer costs fewer wake-ups.
pub const RESCUE_AFTER: Duration = Duration::from_millis(5);

/// [`RESCUE_AFTER`] in nanoseconds.
const RESCUE_AFTER_NS: u64 = RESCUE_AFTER.as_nanos() as u64;

/// How often the reactor checks that running workers still poll for I/O
/// while the watch is not armed (see "I/O duty" above).
pub const IO_CHECK: Duration = Duration::from_millis(1);

/// [`IO_CHECK`] in nanoseconds.
pub(crate) const IO_CHECK_NS: u64 = IO_CHECK.as_nanos() as u64;

/// The poller key of the interest fd (the poller reserves `usize::MAX`).
pub(crate) const WATCH_KEY: usize = 0;

/// One millisecond in nanoseconds.
const MS: u64 = 1_000_000;

/// One worker's timer wheel.
struct WorkerWheel {
    timers: Mutex<Timers>,
    /// The earliest deadline, as published for the reactor: never later
    /// than the truth while the worker runs; `u64::MAX` when there is none
    /// or the worker is parked.
    next: AtomicU64,
}

/// A queued timer operation.
pub(crate) enum Op {
    /// File the entry in the wheel.
    Insert(Arc<TimerEntry>),
    /// Remove the entry from the wheel.
    Cancel(Arc<TimerEntry>),
}

/// The reactor's shared state.
pub struct Driver {
    /// The OS poller; `notify` wakes the reactor thread.
    pub(crate) poller: Poller,
    /// Timer operations not yet seen by the reactor.
    ops: Injector<Op>,
    /// When the reactor last fired its timers (may lag the clock).
    wheel_now: AtomicU64,
    /// When the reactor will next look at timers (`u64::MAX`: no timer).
    sleep_until: AtomicU64,
    /// Time zero: every time here is nanoseconds since it.
    origin: Instant,
    /// Set when the reactor must exit.
    pub(crate) shutdown: AtomicBool,
    /// Registered I/O sources.
    pub(crate) sources: Sources,
    /// The epoll instance the sources are registered in.
    interest: Interest,
    /// Whether the reactor's watch on `interest` is armed (a hint for the
    /// reactor's check 3; see "I/O duty").
    pub(crate) watch_armed: AtomicBool,
    /// How many times workers polled `interest` (for check 3).
    pub(crate) io_polls: CachePadded<AtomicU64>,
    /// The workers' timer wheels.
    workers: Box<[CachePadded<WorkerWheel>]>,
    /// Entries in the reactor's wheel, as the reactor last published it
    /// (for [`timers_pending`](Driver::timers_pending)).
    pub(crate) reactor_timers: AtomicUsize,
    /// Queued operations not yet taken by the reactor: inserts count one,
    /// cancels minus one (for [`timers_pending`](Driver::timers_pending)).
    pub(crate) queued_timers: AtomicIsize,
    /// Set by every `notify`: the loom models' stand-in for the poller's
    /// wake-up, which they cannot observe.
    #[cfg(loom)]
    pub(crate) notified: AtomicBool,
}

/// Every this many operations a thread pushes, it wakes the reactor anyway,
/// so cancelled timers do not pile up while it sleeps towards a far deadline.
const OPS_PER_WAKEUP: u32 = 4096;

thread_local! {
    /// Operations this thread pushed since its last forced wake-up.
    static PUSHED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl Driver {
    pub(crate) fn new(workers: usize) -> io::Result<Driver> {
        let poller = Poller::new()?;
        let interest = Interest::new()?;
        // SAFETY: `add` requires the fd to stay open while it is
        // registered. Nothing below can fail, so both move into the driver,
        // where `poller` is declared, and therefore dropped, before
        // `interest`; nothing else closes the interest fd.
        unsafe {
            poller.add_with_mode(
                std::os::fd::AsRawFd::as_raw_fd(&interest),
                Event::readable(WATCH_KEY),
                PollMode::Oneshot,
            )?;
        }
        Ok(Driver {
            workers: (0..workers)
                .map(|i| {
                    CachePadded::new(WorkerWheel {
                        timers: Mutex::new(Timers::new(i)),
                        next: AtomicU64::new(u64::MAX),
                    })
                })
                .collect(),
            poller,
            interest,
            watch_armed: AtomicBool::new(true),
            io_polls: CachePadded::new(AtomicU64::new(0)),
            ops: Injector::new(),
            wheel_now: AtomicU64::new(0),
            sleep_until: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
            shutdown: AtomicBool::new(false),
            sources: Sources::default(),
            reactor_timers: AtomicUsize::new(0),
            queued_timers: AtomicIsize::new(0),
            #[cfg(loom)]
            notified: AtomicBool::new(false),
        })
    }

    /// A driver with no reactor thread, for the loom models of the crates
    /// above (a task needs a runtime, and a runtime a driver).
    ///
    /// # Errors
    ///
    /// When the poller cannot be created.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn unstarted(workers: usize) -> io::Result<Driver> {
        Driver::new(workers)
    }

    /// Wakes the reactor from its wait in the poller, or makes its next wait
    /// return at once.
    fn notify(&self) {
        #[cfg(loom)]
        self.notified.store(true, Ordering::SeqCst);
        let _ = self.poller.notify();
    }

    /// Whether the reactor has been shut down.
    pub fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Time zero of the timer wheel.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// When the reactor last fired its timers: a clock reading that may lag,
    /// without the cost of reading the clock. A deadline at or before it has
    /// certainly passed.
    pub fn wheel_now(&self) -> u64 {
        self.wheel_now.load(Ordering::Relaxed)
    }

    /// Records when the reactor fired its timers.
    pub(crate) fn set_wheel_now(&self, now: u64) {
        self.wheel_now.store(now, Ordering::Relaxed);
    }

    /// Nanoseconds elapsed since the origin.
    pub fn now(&self) -> u64 {
        duration_ns(self.origin.elapsed())
    }

    /// `deadline` in nanoseconds since the origin; deadlines before the
    /// origin give 0, far ones saturate.
    pub fn deadline(&self, deadline: Instant) -> u64 {
        duration_ns(deadline.saturating_duration_since(self.origin))
    }

    /// The instant `ns` nanoseconds after the origin, if it is representable.
    pub fn instant_of(&self, ns: u64) -> Option<Instant> {
        if ns == u64::MAX {
            return None;
        }
        self.origin.checked_add(Duration::from_nanos(ns))
    }

    /// Registers a file descriptor for readiness in both directions,
    /// edge-triggered (see `source.rs`).
    ///
    /// # Safety
    ///
    /// `fd` must stay open until [`deregister`](Driver::deregister) is called
    /// for the returned source.
    pub unsafe fn register(&self, fd: RawFd) -> io::Result<Arc<Source>> {
        self.sources.insert(&self.interest, fd)
    }

    /// How many I/O sources are registered (for metrics).
    pub fn io_registrations(&self) -> usize {
        self.sources.len()
    }

    /// How many timers are registered and not yet fired or cancelled (for
    /// metrics): every worker wheel's count, read under its lock, plus the
    /// reactor wheel's as of the reactor's last pass, corrected by the
    /// inserts and cancels queued for it since. Cancelled entries whose
    /// deadline is less than about 2 ms away are counted until it passes.
    pub fn timers_pending(&self) -> usize {
        let workers: usize = self.workers.iter().map(|w| w.timers.lock().len()).sum();
        let reactor = self.reactor_timers.load(Ordering::Relaxed) as isize
            + self.queued_timers.load(Ordering::Relaxed);
        workers + reactor.max(0) as usize
    }

    /// Removes a source; no event for it is delivered afterwards.
    pub fn deregister(&self, source: &Source) -> io::Result<()> {
        self.sources.remove(&self.interest, source)
    }

    /// Takes the pending I/O events without waiting and collects the
    /// wakers of the tasks they make ready; returns how many events there
    /// were. Running workers call this (see "I/O duty").
    pub fn poll_io(&self, wakers: &mut Vec<Waker>) -> usize {
        self.io_polls.fetch_add(1, Ordering::Relaxed);
        if self.sources.is_empty() {
            // No system call for a runtime without sockets. A source being
            // registered now is seen by the next poll, or by the reactor
            // once the watch is armed.
            return 0;
        }
        self.take_io(wakers)
    }

    /// `poll_io` for the reactor (not counted as a worker's poll).
    pub(crate) fn take_io(&self, wakers: &mut Vec<Waker>) -> usize {
        self.interest.poll_now(|ev| {
            if let Some(source) = self.sources.get(ev.key) {
                source.dispatch(ev, wakers);
            }
        })
    }

    /// Hands the I/O duty to the reactor: arms its watch, so that the next
    /// event (or one already pending) wakes it. The last running worker
    /// calls this when it parks, after registering as parked.
    ///
    /// Does nothing while the watch is armed already. (The flag can still
    /// say "armed" after the reactor consumed the arming, until it clears
    /// it; a worker that parked before seeing it cleared is seen parked by
    /// the reactor's look after clearing it, which re-arms: step 2 above.)
    pub fn watch_io(&self) {
        if self.watch_armed.swap(true, Ordering::SeqCst) {
            return;
        }
        // An error could only mean the poller is broken, which the
        // reactor's next wait reports.
        let _ = self.poller.modify_with_mode(
            &self.interest,
            Event::readable(WATCH_KEY),
            PollMode::Oneshot,
        );
    }

    /// Polls `source` for readiness in `dir` (see `source.rs`).
    pub fn poll_ready(
        &self,
        source: &Source,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        source.poll_ready(dir, cx)
    }

    /// Registers a timer. Each entry is registered at most once; further
    /// calls do nothing.
    pub fn add_timer(&self, entry: &Arc<TimerEntry>) {
        if !entry.mark_queued() {
            return;
        }
        let deadline = entry.deadline();
        self.push(Op::Insert(entry.clone()), deadline);
    }

    /// Cancels a timer: it will not fire, its waker is released now, and its
    /// slot is freed (by the reactor, for an entry in its wheel).
    pub fn cancel_timer(&self, entry: &Arc<TimerEntry>) {
        match entry.cancel() {
            None => {}
            Some(REACTOR) => self.remove_timer(entry.clone()),
            Some(worker) => self.workers[worker].timers.lock().remove(entry),
        }
    }

    /// Files `entry` in worker `index`'s wheel. Only that worker calls this.
    pub fn add_worker_timer(&self, index: usize, entry: &Arc<TimerEntry>) {
        let w = &self.workers[index];
        let mut timers = w.timers.lock();
        timers.insert(entry);
        let deadline = entry.deadline();
        if deadline < w.next.load(Ordering::Relaxed) {
            self.publish(w, deadline);
        }
    }

    /// Fires worker `index`'s entries due at `now`, pushing their wakers, and
    /// returns its earliest remaining deadline. Only that worker calls this.
    pub fn fire_worker_timers(
        &self,
        index: usize,
        now: u64,
        fired: &mut Vec<Waker>,
    ) -> Option<u64> {
        let w = &self.workers[index];
        let mut timers = w.timers.lock();
        timers.fire(now, fired);
        let next = timers.next_deadline();
        self.publish(w, next.unwrap_or(u64::MAX));
        next
    }

    /// Worker `index` parks until its earliest deadline: it fires its own
    /// timers when it wakes, so the reactor need not watch them.
    pub fn worker_parked(&self, index: usize) {
        // Under the lock: a rescue in progress must not publish after us.
        let w = &self.workers[index];
        let _timers = w.timers.lock();
        w.next.store(u64::MAX, Ordering::SeqCst);
    }

    /// Worker `index` runs again; `next` is its earliest deadline (or
    /// earlier), for the reactor to watch.
    pub fn worker_unparked(&self, index: usize, next: u64) {
        let w = &self.workers[index];
        let _timers = w.timers.lock();
        self.publish(w, next);
    }

    /// Drops every entry of worker `index`'s wheel (with their wakers), for
    /// the worker's exit.
    pub fn clear_worker_timers(&self, index: usize) {
        let w = &self.workers[index];
        let old = std::mem::replace(&mut *w.timers.lock(), Timers::new(index));
        w.next.store(u64::MAX, Ordering::SeqCst);
        drop(old);
    }

    /// Publishes a worker's earliest deadline (under its wheel's lock), and
    /// wakes the reactor if it must now look earlier.
    fn publish(&self, w: &WorkerWheel, next: u64) {
        // Most fires leave the earliest deadline where a previous publish
        // put it: skip the store and the look at the reactor's target.
        if w.next.load(Ordering::Relaxed) == next {
            return;
        }
        w.next.store(next, Ordering::SeqCst);
        if next != u64::MAX
            && next.saturating_add(RESCUE_AFTER_NS) < self.sleep_until.load(Ordering::SeqCst)
        {
            self.notify();
        }
    }

    /// Reactor side: fires the due entries of every running worker that has
    /// let them wait [`RESCUE_AFTER`] (skipping a wheel whose owner holds
    /// its lock: that worker is at work on it). Returns when to look again.
    pub(crate) fn rescue(&self, now: u64, fired: &mut Vec<Waker>) -> u64 {
        let mut target = u64::MAX;
        for w in self.workers.iter() {
            let mut next = w.next.load(Ordering::SeqCst);
            if next != u64::MAX && next.saturating_add(RESCUE_AFTER_NS) <= now {
                if let Some(mut timers) = w.timers.try_lock() {
                    timers.fire(now, fired);
                    next = timers.next_deadline().unwrap_or(u64::MAX);
                    w.next.store(next, Ordering::SeqCst);
                }
            }
            target = target.min(rescue_at(next, now));
        }
        target
    }

    /// Reactor side: whether a running worker published a deadline that
    /// needs looking at before `target` (its last look before sleeping).
    pub(crate) fn rescue_due_before(&self, target: u64, now: u64) -> bool {
        self.workers
            .iter()
            .any(|w| rescue_at(w.next.load(Ordering::SeqCst), now) < target)
    }

    /// Has the reactor free the slot of a cancelled entry it holds
    /// ([`TimerEntry::cancel`] returned [`REACTOR`]).
    pub fn remove_timer(&self, entry: Arc<TimerEntry>) {
        // No wake-up needed for this (it is never earlier than anything).
        self.push(Op::Cancel(entry), u64::MAX);
    }

    fn push(&self, op: Op, deadline: u64) {
        if self.shutdown.load(Ordering::Acquire) {
            // No reactor will run: drop the operation (and what it holds).
            return;
        }
        let delta = match op {
            Op::Insert(_) => 1,
            Op::Cancel(_) => -1,
        };
        self.queued_timers.fetch_add(delta, Ordering::Relaxed);
        self.ops.push(op);
        let pushed = PUSHED.with(|p| {
            let n = p.get().wrapping_add(1);
            p.set(n);
            n
        });
        if self.shutdown.load(Ordering::SeqCst) {
            // The reactor may have drained for the last time before our
            // push: drain again so no entry (and waker) is left behind.
            self.drain_and_drop();
            return;
        }
        if deadline < self.sleep_until.load(Ordering::SeqCst)
            || pushed.is_multiple_of(OPS_PER_WAKEUP)
        {
            self.notify();
        }
    }

    /// Takes every queued operation (reactor side).
    pub(crate) fn take_ops(&self, mut f: impl FnMut(Op)) {
        let mut taken = 0;
        loop {
            match self.ops.steal() {
                Steal::Success(op) => {
                    taken += match op {
                        Op::Insert(_) => 1,
                        Op::Cancel(_) => -1,
                    };
                    f(op);
                }
                Steal::Empty => break,
                Steal::Retry => {}
            }
        }
        if taken != 0 {
            self.queued_timers.fetch_sub(taken, Ordering::Relaxed);
        }
    }

    /// Wakes the reactor if it sleeps past `deadline` (nanoseconds since the
    /// origin): a worker that woke asks this way for the turn a
    /// [`BusyTick`](crate::BusyTick) promises within its period.
    pub fn turn_by(&self, deadline: u64) {
        if deadline < self.sleep_until.load(Ordering::SeqCst) {
            self.notify();
        }
    }

    /// The reactor's half of the protocol (no late timer): publishes its
    /// sleep target, then looks at the operation queue and the workers'
    /// deadlines once more. True when it may sleep until `target`; false
    /// when something arrived meanwhile that needs a turn first.
    pub(crate) fn prepare_sleep(&self, target: u64, now: u64) -> bool {
        self.sleep_until.store(target, Ordering::SeqCst);
        self.ops.is_empty() && !self.rescue_due_before(target, now)
    }

    /// Drops every queued operation (after shutdown).
    pub(crate) fn drain_and_drop(&self) {
        self.take_ops(drop);
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("origin", &self.origin)
            .field("sleep_until", &self.sleep_until.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// When the reactor should look at a running worker whose earliest deadline
/// is `next`: [`RESCUE_AFTER`] later, but not before the next millisecond
/// (a wheel it could not lock is being worked on by its owner, which will
/// publish a new deadline; looking again at once would spin).
fn rescue_at(next: u64, now: u64) -> u64 {
    if next == u64::MAX {
        return u64::MAX;
    }
    next.saturating_add(RESCUE_AFTER_NS)
        .max(now.saturating_add(MS))
}

pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_nanoseconds_since_the_origin_and_saturates() {
        let _fds = crate::TEST_FDS.lock().unwrap_or_else(|e| e.into_inner());
        let d = Driver::new(0).unwrap();
        assert_eq!(d.deadline(d.origin()), 0);
        assert_eq!(d.deadline(d.origin() + Duration::from_micros(1)), 1_000);
        assert_eq!(d.deadline(d.origin() + Duration::from_millis(5)), 5 * MS);
        let early = d.origin().checked_sub(Duration::from_secs(1));
        if let Some(early) = early {
            assert_eq!(d.deadline(early), 0);
        }
        let far = d.origin() + Duration::from_secs(1_000 * 365 * 86_400);
        assert_eq!(d.deadline(far), u64::MAX);
        assert_eq!(d.instant_of(u64::MAX), None);
        assert_eq!(
            d.instant_of(5 * MS),
            Some(d.origin() + Duration::from_millis(5))
        );
    }
}
