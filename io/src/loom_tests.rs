//! Loom models of the timer handshake (`--cfg loom`): registrars and the
//! reactor, in every interleaving of the real `Driver` and `TimerEntry`
//! code; and of the busy tick's handshake (a waking worker's `turn_by`
//! against the reactor publishing its target).
//!
//! The reactor is the real loop's timer steps (`turn_timers`, then
//! `prepare_sleep`), run at a fixed time until it may sleep; its wait in the
//! poller is not modelled: the sleep it would take is the target it
//! published, and `notify` sets a flag instead of waking the poller. A
//! notification is sticky (the poller's is: a `notify` before the wait makes
//! the wait return at once), so the flag is read after the threads end.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p aiolos-io --lib --release loom_tests`.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::thread;

use crate::driver::{Driver, RESCUE_AFTER};
use crate::reactor::turn_timers;
use crate::timer::{Fired, TimerEntry, Timers, REACTOR};

/// One millisecond in nanoseconds.
const MS: u64 = 1_000_000;

/// A waker's target that counts its wake-ups. (Instrumentation: plain
/// atomics, which loom neither schedules around nor reorders.)
#[derive(Default)]
struct Count {
    wakes: AtomicUsize,
}

impl Count {
    fn new() -> Arc<Count> {
        Arc::new(Count::default())
    }

    fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    fn wakes(&self) -> usize {
        self.wakes.load(SeqCst)
    }
}

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

/// A timer entry due at `deadline` with `count`'s waker stored, as a
/// `Sleep` leaves it after its first poll.
fn entry(deadline: u64, count: &Arc<Count>) -> Arc<TimerEntry> {
    let entry = Arc::new(TimerEntry::new(deadline));
    assert_eq!(entry.poll_fired(&count.waker()), Fired::No);
    entry
}

/// The reactor at time `now`: turns of the loop's timer steps, waking what
/// fires, until its last look lets it sleep. Returns the target it sleeps
/// towards.
fn reactor_turn(driver: &Driver, timers: &mut Timers, now: u64) -> u64 {
    let mut fired = Vec::new();
    loop {
        let target = turn_timers(driver, timers, now, &mut fired);
        if !fired.is_empty() {
            fired.drain(..).for_each(Waker::wake);
            continue;
        }
        if driver.prepare_sleep(target, now) {
            return target;
        }
    }
}

/// Whether anyone notified the reactor.
fn notified(driver: &Driver) -> bool {
    driver.notified.load(SeqCst)
}

#[test]
fn a_timer_registered_as_the_reactor_goes_to_sleep_never_sleeps_past_it() {
    loom::model(|| {
        let driver = Arc::new(Driver::new(0).unwrap());
        let mut timers = Timers::new(REACTOR);
        let count = Count::new();
        // The reactor sleeps towards `soon` (its slot starts at 1 ms), with
        // `late` behind it.
        let soon = entry(MS + MS / 4, &count);
        let late = entry(10 * MS, &count);
        timers.insert(&soon);
        timers.insert(&late);
        assert_eq!(reactor_turn(&driver, &mut timers, 0), MS);

        // Someone registers a timer between the two; meanwhile the reactor
        // wakes, fires `soon` and goes to sleep towards `late`, unless it
        // sees the new one.
        let new = entry(2 * MS, &count);
        let registrar = {
            let (driver, new) = (driver.clone(), new.clone());
            thread::spawn(move || driver.add_timer(&new))
        };
        let slept = reactor_turn(&driver, &mut timers, MS + MS / 4);
        registrar.join().unwrap();

        assert!(soon.is_fired());
        assert!(
            slept <= new.deadline() || notified(&driver),
            "the reactor sleeps until {slept} ns, past a timer due at {} ns, and nobody woke it",
            new.deadline()
        );
    });
}

#[test]
fn a_deadline_published_as_the_reactor_goes_to_sleep_is_watched() {
    loom::model(|| {
        // One worker, running, with an empty wheel; the reactor sleeps
        // towards `soon` (its slot starts at 1 ms), with `late` behind it.
        let driver = Arc::new(Driver::new(1).unwrap());
        let mut timers = Timers::new(REACTOR);
        let count = Count::new();
        let soon = entry(MS + MS / 4, &count);
        let late = entry(50 * MS, &count);
        timers.insert(&soon);
        timers.insert(&late);
        assert_eq!(reactor_turn(&driver, &mut timers, 0), MS);

        // The worker files a timer in its own wheel, publishing its
        // deadline; meanwhile the reactor wakes, fires `soon` and goes to
        // sleep towards `late`, unless it sees the worker's deadline.
        let due = entry(3 * MS, &count);
        let worker = {
            let (driver, due) = (driver.clone(), due.clone());
            thread::spawn(move || driver.add_worker_timer(0, &due))
        };
        let slept = reactor_turn(&driver, &mut timers, MS + MS / 4);
        worker.join().unwrap();

        // The reactor must look by the time it would rescue that timer.
        let rescue = due.deadline() + RESCUE_AFTER.as_nanos() as u64;
        assert!(
            slept <= rescue || notified(&driver),
            "the reactor sleeps until {slept} ns, past the rescue of a worker's timer at \
             {rescue} ns, and nobody woke it"
        );
    });
}

/// What became of a timer raced by a cancel: fired or cancelled, woken once
/// if fired and never otherwise, its waker released either way, and its
/// slot freed once the reactor has taken the queued operations.
fn check_fired_or_cancelled(entry: &TimerEntry, count: &Arc<Count>, timers: &Timers) {
    assert_ne!(
        entry.is_fired(),
        entry.is_cancelled(),
        "the timer is neither or both fired and cancelled: {entry:?}"
    );
    assert_eq!(count.wakes(), usize::from(entry.is_fired()));
    assert_eq!(Arc::strong_count(count), 1, "the timer kept its waker");
    assert!(timers.is_empty(), "a slot is left in the wheel: {timers:?}");
}

#[test]
fn a_cancel_racing_the_firing_either_fires_or_cancels() {
    loom::model(|| {
        let driver = Arc::new(Driver::new(0).unwrap());
        let mut timers = Timers::new(REACTOR);
        let count = Count::new();
        let timer = entry(MS, &count);
        driver.add_timer(&timer);
        // Filed in the reactor's wheel.
        assert_eq!(reactor_turn(&driver, &mut timers, 0), MS);

        // The `Sleep` is dropped as the deadline passes.
        let canceller = {
            let (driver, timer) = (driver.clone(), timer.clone());
            thread::spawn(move || driver.cancel_timer(&timer))
        };
        reactor_turn(&driver, &mut timers, MS);
        canceller.join().unwrap();
        // The reactor's next turn takes the cancel's operation, if any.
        reactor_turn(&driver, &mut timers, MS);

        check_fired_or_cancelled(&timer, &count, &timers);
    });
}

#[test]
fn a_timer_cancelled_while_its_registration_is_queued_never_fires() {
    loom::model(|| {
        let driver = Arc::new(Driver::new(0).unwrap());
        let mut timers = Timers::new(REACTOR);
        let count = Count::new();
        let timer = entry(MS, &count);

        // A `Sleep` registers and is dropped at once, while the reactor,
        // already past the deadline, takes turns.
        let sleep = {
            let (driver, timer) = (driver.clone(), timer.clone());
            thread::spawn(move || {
                driver.add_timer(&timer);
                driver.cancel_timer(&timer);
            })
        };
        reactor_turn(&driver, &mut timers, 2 * MS);
        sleep.join().unwrap();
        reactor_turn(&driver, &mut timers, 2 * MS);

        check_fired_or_cancelled(&timer, &count, &timers);
    });
}

#[test]
fn a_waker_stored_as_the_timer_fires_is_the_one_woken() {
    loom::model(|| {
        let driver = Arc::new(Driver::new(0).unwrap());
        let mut timers = Timers::new(REACTOR);
        let (first, second) = (Count::new(), Count::new());
        let timer = entry(MS, &first);
        driver.add_timer(&timer);
        assert_eq!(reactor_turn(&driver, &mut timers, 0), MS);

        // The `Sleep` is polled again, by another task, as it fires.
        let poll = {
            let (timer, waker) = (timer.clone(), second.waker());
            thread::spawn(move || timer.poll_fired(&waker))
        };
        reactor_turn(&driver, &mut timers, MS);
        let fired = poll.join().unwrap();

        assert!(timer.is_fired());
        // One wake-up, to the waker stored last before the firing.
        let (woken, unwoken) = match fired {
            Fired::No => (&second, &first),
            Fired::Yes => (&first, &second),
        };
        assert_eq!((woken.wakes(), unwoken.wakes()), (1, 0));
        assert_eq!(Arc::strong_count(&first), 1);
        assert_eq!(Arc::strong_count(&second), 1);
    });
}

#[test]
fn a_worker_that_wakes_as_the_reactor_stops_ticking_gets_its_ticks() {
    // The busy tick (`BusyTick`, the scheduler's debug mode): while a worker
    // is awake the reactor turns at least every tick. Here it was ticking
    // (its last turn published a target one tick ahead), then saw every
    // worker parked and, with no timer, publishes "no target". A worker
    // wakes meanwhile: it marks itself awake (in the scheduler, a SeqCst
    // read-modify-write of the idle state) and asks for a turn with
    // `turn_by`. The loop's step 4 asks "is a worker awake?" once more
    // after publishing its target; either that look sees the worker, or
    // the worker's `turn_by` sees the new target and notifies.
    const TICK: u64 = MS;
    loom::model(|| {
        let driver = Arc::new(Driver::new(1).unwrap());
        let mut timers = Timers::new(REACTOR);
        assert!(driver.prepare_sleep(TICK, 0));
        // (The shim's atomic: see `loom.rs` on loom's initial values.)
        let awake = Arc::new(crate::loom::AtomicBool::new(false));

        let worker = {
            let (driver, awake) = (driver.clone(), awake.clone());
            thread::spawn(move || {
                awake.swap(true, SeqCst);
                driver.turn_by(TICK / 2 + TICK);
            })
        };
        // The reactor's turn at half a tick: the look at the workers
        // (`on_turn`), then the timer steps and the published target.
        let ticking = awake.load(SeqCst);
        let target = reactor_turn(&driver, &mut timers, TICK / 2);
        let looked_again = !ticking && awake.load(SeqCst);
        worker.join().unwrap();

        assert!(
            ticking || target <= TICK / 2 + TICK || looked_again || notified(&driver),
            "the reactor sleeps until {target} with a worker awake, and nobody woke it"
        );
    });
}
