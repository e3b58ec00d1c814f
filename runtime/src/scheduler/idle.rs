//! Which workers are asleep and which are searching for work.
//!
//! One atomic word counts unparked workers (high bits) and searching workers
//! (low 16 bits); a lock guards the list of sleepers.
//!
//! # Protocol
//!
//! 1. A producer that made work stealable (pushed to a local queue or the
//!    injector) calls `worker_to_notify`. It wakes one sleeper only when
//!    nobody is searching and somebody sleeps: a searcher will find the work
//!    anyway. The woken worker is counted as unparked *and searching* before
//!    it runs, so a burst of producers wakes one worker, not all of them.
//! 2. A worker may start searching only while fewer than half the workers
//!    search (`transition_to_searching`).
//! 3. A searcher that finds work stops searching; if it was the last one, it
//!    wakes another worker (the caller does), which spreads a burst of work
//!    over the workers one wake-up at a time.
//! 4. A worker with nothing to do announces itself as a sleeper under the lock
//!    (`transition_to_parked`). If it was the last searcher, or the last
//!    worker awake, it must look at every queue once more and wake someone
//!    if work is there: a producer may have skipped its wake-up because it
//!    saw this worker searching, or every worker awake. (Without the second
//!    case a one-worker runtime, whose worker never searches, could sleep
//!    on a task spawned while it was going to sleep.)
//!
//! The counter updates are `SeqCst`, and producers issue a `SeqCst`
//! read-modify-write after pushing, so either the producer sees the sleeper
//! or the sleeper's final look sees the work.

use crate::loom::{AtomicBool, AtomicUsize, Mutex, Ordering};

/// The searching count occupies the low bits.
const SEARCH_MASK: usize = (1 << 16) - 1;
/// One unparked worker.
const UNPARK_ONE: usize = 1 << 16;

/// What a worker that parks must do besides sleeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parked {
    /// It was the last searcher: it must look at every queue once more
    /// (protocol step 4).
    pub(crate) last_searcher: bool,
    /// No other worker is awake: it hands the I/O duty to the reactor
    /// ("I/O duty" in `aiolos_io`'s `driver.rs`).
    pub(crate) last_awake: bool,
}

/// Worker sleep and search accounting.
#[derive(Debug)]
pub(crate) struct Idle {
    /// `(unparked << 16) | searching`.
    state: AtomicUsize,
    /// Indexes of parked workers.
    sleepers: Mutex<Vec<usize>>,
    /// Per worker: is it in `sleepers`? Written under the lock.
    sleeping: Box<[AtomicBool]>,
    /// How many workers there are.
    num_workers: usize,
}

impl Idle {
    /// All `num_workers` start unparked and not searching.
    pub(crate) fn new(num_workers: usize) -> Idle {
        assert!(num_workers < SEARCH_MASK);
        Idle {
            state: AtomicUsize::new(num_workers * UNPARK_ONE),
            sleepers: Mutex::new(Vec::with_capacity(num_workers)),
            sleeping: (0..num_workers).map(|_| AtomicBool::new(false)).collect(),
            num_workers,
        }
    }

    fn should_wake(&self) -> bool {
        // A read-modify-write, not a load: it orders the producer's push
        // before this read (step 1 of the protocol).
        let s = self.state.fetch_add(0, Ordering::SeqCst);
        s & SEARCH_MASK == 0 && s / UNPARK_ONE < self.num_workers
    }

    /// Picks a sleeper to wake (already counted as unparked and searching),
    /// or `None` when no wake-up is needed.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_wake() {
            return None;
        }
        let mut sleepers = self.sleepers.lock();
        if !self.should_wake() {
            return None;
        }
        let index = sleepers.pop()?;
        self.sleeping[index].store(false, Ordering::SeqCst);
        self.state.fetch_add(UNPARK_ONE + 1, Ordering::SeqCst);
        Some(index)
    }

    /// Tries to become a searcher; false when enough workers search already.
    pub(crate) fn transition_to_searching(&self) -> bool {
        let s = self.state.load(Ordering::SeqCst);
        if 2 * (s & SEARCH_MASK) >= self.num_workers {
            return false;
        }
        self.state.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Stops searching; true when this was the last searcher.
    pub(crate) fn transition_from_searching(&self) -> bool {
        let prev = self.state.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev & SEARCH_MASK > 0);
        prev & SEARCH_MASK == 1
    }

    /// Registers worker `index` as a sleeper.
    pub(crate) fn transition_to_parked(&self, index: usize, searching: bool) -> Parked {
        let mut sleepers = self.sleepers.lock();
        let dec = UNPARK_ONE + usize::from(searching);
        let prev = self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(index);
        self.sleeping[index].store(true, Ordering::SeqCst);
        Parked {
            last_searcher: searching && prev & SEARCH_MASK == 1,
            last_awake: prev / UNPARK_ONE == 1,
        }
    }

    /// Whether every worker is parked.
    pub(crate) fn all_parked(&self) -> bool {
        self.state.load(Ordering::SeqCst) / UNPARK_ONE == 0
    }

    /// Worker `index` woke by itself (its timers were due) and leaves the
    /// sleepers, counted as unparked and not searching. False when a producer
    /// picked it meanwhile: then it is already counted as unparked *and
    /// searching*.
    pub(crate) fn unpark_self(&self, index: usize) -> bool {
        let mut sleepers = self.sleepers.lock();
        if !self.sleeping[index].load(Ordering::SeqCst) {
            return false;
        }
        if let Some(pos) = sleepers.iter().position(|&i| i == index) {
            sleepers.swap_remove(pos);
        }
        self.sleeping[index].store(false, Ordering::SeqCst);
        self.state.fetch_add(UNPARK_ONE, Ordering::SeqCst);
        true
    }

    /// Whether worker `index` is still registered as a sleeper (false once a
    /// producer picked it).
    pub(crate) fn is_sleeping(&self, index: usize) -> bool {
        self.sleeping[index].load(Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn no_wakeup_while_someone_searches() {
        let idle = Idle::new(2);
        assert!(!idle.transition_to_parked(0, false).last_searcher);
        assert!(idle.transition_to_searching());
        assert_eq!(idle.worker_to_notify(), None);
        assert!(idle.transition_from_searching());
        assert_eq!(idle.worker_to_notify(), Some(0));
        assert!(!idle.is_sleeping(0));
        // The woken worker counts as searching: no second wake-up.
        assert_eq!(idle.worker_to_notify(), None);
    }

    #[test]
    fn at_most_half_search() {
        let idle = Idle::new(4);
        assert!(idle.transition_to_searching());
        assert!(idle.transition_to_searching());
        assert!(!idle.transition_to_searching());
    }

    #[test]
    fn last_searcher_parking_is_reported() {
        let idle = Idle::new(2);
        assert!(idle.transition_to_searching());
        let parked = idle.transition_to_parked(1, true);
        assert!(parked.last_searcher && !parked.last_awake);
        let parked = idle.transition_to_parked(0, false);
        assert!(!parked.last_searcher && parked.last_awake);
        assert!(idle.all_parked());
        assert_eq!(idle.worker_to_notify(), Some(0));
        assert!(!idle.all_parked());
    }

    #[test]
    fn the_only_worker_parks_as_the_last_one_awake() {
        let idle = Idle::new(1);
        // It never searches (there is nobody to steal from), so only
        // `last_awake` makes it look again.
        let parked = idle.transition_to_parked(0, false);
        assert!(!parked.last_searcher && parked.last_awake);
        assert_eq!(idle.worker_to_notify(), Some(0));
    }

    #[test]
    fn a_worker_woken_by_its_timers_leaves_the_sleepers() {
        let idle = Idle::new(2);
        assert!(!idle.transition_to_parked(0, false).last_awake);
        assert!(idle.transition_to_parked(1, false).last_awake);
        assert!(idle.unpark_self(0));
        assert!(!idle.is_sleeping(0));
        // Worker 0 runs, not searching: a producer wakes the other one.
        assert_eq!(idle.worker_to_notify(), Some(1));
        // Picked by a producer before it looked: already counted.
        assert!(!idle.unpark_self(1));
        assert_eq!(idle.worker_to_notify(), None);
    }
}

/// Loom models of the sleep protocol (`--cfg loom`): a producer makes work
/// visible while workers decide to park, and in every interleaving either a
/// worker takes the work or a sleeping worker is picked to wake. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p aiolos --lib --release scheduler::idle`.
///
/// A worker going to sleep does what `Local::park` does: look at the queue,
/// register as a sleeper, and, when `transition_to_parked` says it was the
/// last searcher or the last worker awake, look once more and pick a
/// sleeper to wake if work is there. Without the last-awake case the
/// one-worker model fails: that was a real lost wake-up.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::Arc;
    use loom::thread;

    /// The sleep accounting, a one-task queue, and what became of the task.
    struct World {
        idle: Idle,
        work: AtomicBool,
        taken: AtomicBool,
        woken: AtomicUsize,
    }

    impl World {
        fn new(workers: usize) -> Arc<World> {
            Arc::new(World {
                idle: Idle::new(workers),
                work: AtomicBool::new(false),
                taken: AtomicBool::new(false),
                woken: AtomicUsize::new(0),
            })
        }

        /// A push and its wake-up (`Shared::schedule_remote`).
        fn produce(&self) {
            self.work.store(true, Ordering::SeqCst);
            if self.idle.worker_to_notify().is_some() {
                self.woken.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// Takes the task if it is there. (A compare-exchange, not a
        /// `swap`: loom 0.7 can let a concurrent store slip inside a
        /// `swap`, tokio-rs/loom#254.)
        fn take(&self) -> bool {
            let took = self
                .work
                .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            if took {
                self.taken.store(true, Ordering::SeqCst);
            }
            took
        }

        /// One worker running out of work, up to its sleep.
        fn go_to_sleep(&self, index: usize, searching: bool) {
            if self.take() {
                return;
            }
            let parked = self.idle.transition_to_parked(index, searching);
            if (parked.last_searcher || parked.last_awake)
                && self.work.load(Ordering::SeqCst)
                && self.idle.worker_to_notify().is_some()
            {
                self.woken.fetch_add(1, Ordering::SeqCst);
            }
        }

        /// The task was taken, or a sleeper was picked to wake for it.
        fn check(&self) {
            assert!(
                self.taken.load(Ordering::SeqCst) || self.woken.load(Ordering::SeqCst) > 0,
                "a task was pushed while the workers went to sleep and nobody woke for it"
            );
        }
    }

    #[test]
    fn one_worker_going_to_sleep_never_misses_a_push() {
        loom::model(|| {
            let w = World::new(1);
            let p = w.clone();
            let producer = thread::spawn(move || p.produce());
            w.go_to_sleep(0, false);
            producer.join().unwrap();
            w.check();
        });
    }

    #[test]
    fn two_workers_going_to_sleep_never_miss_a_push() {
        // Bounded to three preemptions: under a second. (Unbounded, it
        // also passes, in about eight minutes.)
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let w = World::new(2);
            // Worker 1 searches (as a worker out of work does), worker 0
            // does not (at most half the workers search).
            assert!(w.idle.transition_to_searching());
            let (a, p) = (w.clone(), w.clone());
            let other = thread::spawn(move || a.go_to_sleep(1, true));
            let producer = thread::spawn(move || p.produce());
            w.go_to_sleep(0, false);
            other.join().unwrap();
            producer.join().unwrap();
            w.check();
        });
    }
}
