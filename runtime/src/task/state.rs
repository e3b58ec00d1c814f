//! The task state word: lifecycle flags in the low bits, the reference
//! count above them, and the low bits of the task's poll count at the top,
//! all in one `AtomicU64` so every transition is one atomic
//! read-modify-write.
//!
//! # Flags
//!
//! - [`SCHEDULED`]: a `Notified` for the task sits in (or is on its way to) a
//!   queue, or the task was woken while [`RUNNING`]. Only the holder of that
//!   `Notified` may run the task. Waking a task that is already scheduled
//!   pushes nothing; waking a running task only sets the flag, and the runner
//!   pushes the task again when the poll returns (that is how a yield is
//!   seen). Every wake of an unfinished task writes the word (if only its
//!   old value), so the run it leads to acquires what the waker did before
//!   waking.
//! - [`RUNNING`]: one thread owns the future: it is polling it, or dropping it.
//! - [`FINISHING`]: the future has returned `Ready`, panicked, or been dropped.
//!   From here on `cancel()` no longer takes effect.
//! - [`COMPLETE`]: the output is stored and every done callback has run. The
//!   `Task` handle may take the output from now on, and nothing else touches
//!   it.
//! - [`CANCELLED`]: `cancel()` was called before the task finished; the future
//!   is dropped at its next scheduling point and the output is
//!   `Err(Cancelled)`.
//! - [`JOIN_INTEREST`]: the `Task` handle is alive. Whoever sees it cleared
//!   together with [`COMPLETE`] drops the output.
//! - [`JOIN_WAKER`]: the join waker slot holds the awaiting task's waker and
//!   belongs to the runtime side; while it is clear the slot belongs to the
//!   `Task` handle.
//! - [`CASCADE`]: set with [`CANCELLED`] by the combinators (`gather`,
//!   `try_gather`, `TaskGroup`): the future is dropped with `Task` handles
//!   dropped meanwhile cancelling their tasks too (see `cascade.rs`), so a
//!   cancellation reaches the tasks the cancelled one was awaiting.
//!
//! # References
//!
//! A new task has three: the `Task` handle, the owned-task list (released when
//! the task completes), and the first `Notified`. Every `Waker` and every
//! queued `Notified` holds one more. The cell is freed when the count reaches
//! zero. The count has 40 bits (bits 8 to 47).
//!
//! # Polls
//!
//! The top 16 bits count the task's polls (for `TaskInfo::polls` and the
//! dump): [`transition_to_running`](State::transition_to_running) adds one
//! in the compare-exchange it does anyway, so counting costs a poll no
//! memory access of its own (a separate counter beside the word, loaded,
//! incremented and stored by the runner, cost `yield_many` 4%). Each time
//! the count's top bit (the word's sign bit) flips, every
//! 2^[`CARRY_BITS`] polls, the runner carries one into the header's
//! `poll_carries` (see [`polls`] and `Header::polls`). A flip is seen as
//! the sign of the old word XOR the new one: two instructions and no
//! constant, where testing the 16 bits for a wrap to zero took four.
//! Without introspection (`aiolos_no_introspection`) nothing is counted.

use crate::loom::{AtomicU64, Ordering};
use crate::runtime::INTROSPECTION;

/// A `Notified` for the task is queued, or the task was woken while running.
pub(crate) const SCHEDULED: u64 = 1 << 0;
/// A thread owns the future (polls or drops it).
pub(crate) const RUNNING: u64 = 1 << 1;
/// The output is stored and the done callbacks have run.
pub(crate) const COMPLETE: u64 = 1 << 2;
/// Cancellation was requested before the task finished.
pub(crate) const CANCELLED: u64 = 1 << 3;
/// The future is done (returned, panicked or dropped); cancel has no effect.
pub(crate) const FINISHING: u64 = 1 << 4;
/// The `Task` handle is alive.
pub(crate) const JOIN_INTEREST: u64 = 1 << 5;
/// The join waker slot is set and owned by the runtime side.
pub(crate) const JOIN_WAKER: u64 = 1 << 6;
/// The cancellation cascades to the `Task` handles the future holds.
pub(crate) const CASCADE: u64 = 1 << 7;

/// The reference count starts at this bit.
const REF_SHIFT: u32 = 8;
/// Bits of the reference count.
const REF_BITS: u32 = 40;
/// One reference.
pub(crate) const REF_ONE: u64 = 1 << REF_SHIFT;
/// The reference count's bits.
const REF_MASK: u64 = ((1 << REF_BITS) - 1) << REF_SHIFT;
/// A count this high means references leak: `ref_inc` aborts long before
/// the count could reach the poll bits.
const REF_LIMIT: u64 = 1 << (REF_BITS - 1);
/// The poll count's low bits start at this bit (see "Polls").
const POLL_SHIFT: u32 = REF_SHIFT + REF_BITS;
/// Bits of the poll count kept in the word.
const POLL_BITS: u32 = u64::BITS - POLL_SHIFT;
/// The word's count carries into the header every `1 << CARRY_BITS` polls:
/// each time its top bit flips (see "Polls").
pub(crate) const CARRY_BITS: u32 = POLL_BITS - 1;
/// One poll (nothing without introspection).
const POLL_ONE: u64 = if INTROSPECTION { 1 << POLL_SHIFT } else { 0 };

/// The state of a new task: scheduled, with a handle, three references.
pub(crate) const INITIAL: u64 = SCHEDULED | JOIN_INTEREST | (3 * REF_ONE);

/// The atomic state word of one task.
#[derive(Debug)]
pub(crate) struct State(AtomicU64);

/// What the runner may do after `transition_to_running`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future (counted in the word; `carry`: the count's top bit
    /// just flipped, carry one into the header).
    Poll { carry: bool },
    /// Cancellation was requested: drop the future and complete.
    Cancel,
    /// Someone else owns or has finished the task: drop the `Notified`.
    Skip,
}

/// What the runner does after a poll returned `Pending`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Nothing: the runner's reference was released in the transition.
    Idle,
    /// The task was woken during the poll: push it again with the runner's
    /// reference.
    Notified,
    /// Cancellation arrived during the poll: drop the future and complete.
    Cancel,
}

/// What a waker does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WakeAction {
    /// Push a `Notified` carrying one reference.
    Submit,
    /// Nothing to push.
    Nothing,
    /// Nothing to push, and the waker held the last reference: free the cell.
    Dealloc,
}

/// What `cancel` did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CancelAction {
    /// The task had already finished.
    TooLate,
    /// Recorded; whoever runs the task next will see it.
    Requested,
    /// Recorded, and the task was idle: push a `Notified` (one reference was
    /// added for it) so a worker drops the future promptly.
    Submit,
}

impl State {
    /// A state word for a new task.
    pub(crate) fn new() -> State {
        State(AtomicU64::new(INITIAL))
    }

    /// The current flags and count.
    pub(crate) fn load(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Overwrites the word. Only for a task nobody else can see yet.
    pub(crate) fn set_unshared(&self, value: u64) {
        self.0.store(value, Ordering::Release);
    }

    fn update<R>(&self, mut f: impl FnMut(u64) -> (Option<u64>, R)) -> R {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (next, ret) = f(cur);
            let Some(next) = next else { return ret };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return ret,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes ownership of the future for a poll, consuming `SCHEDULED`.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        let to = self.update(|cur| {
            if cur & (RUNNING | COMPLETE) != 0 {
                // Shutdown took the task while this `Notified` was queued.
                return (None, ToRunning::Skip);
            }
            debug_assert!(
                cur & SCHEDULED != 0,
                "running a task that was not scheduled"
            );
            // Counted whether it polls or cancels: one value to swap in,
            // where two cost a poll three more instructions (both computed,
            // then one picked); a cancel takes its count back below.
            let next = ((cur & !SCHEDULED) | RUNNING).wrapping_add(POLL_ONE);
            if cur & CANCELLED != 0 {
                (Some(next), ToRunning::Cancel)
            } else {
                let carry = INTROSPECTION && ((cur ^ next) as i64) < 0;
                (Some(next), ToRunning::Poll { carry })
            }
        });
        if INTROSPECTION && to == ToRunning::Cancel {
            // Not a poll. We own RUNNING: no other transition touches the
            // count meanwhile, and this restores the bits exactly (a
            // flipped top bit flips back, so there is nothing to carry).
            self.0.fetch_sub(POLL_ONE, Ordering::Relaxed);
        }
        to
    }

    /// Gives the future back after a `Pending` poll.
    pub(crate) fn transition_to_idle(&self) -> ToIdle {
        self.update(|cur| {
            debug_assert!(cur & RUNNING != 0);
            if cur & CANCELLED != 0 {
                return (None, ToIdle::Cancel);
            }
            let next = cur & !RUNNING;
            if cur & SCHEDULED != 0 {
                (Some(next), ToIdle::Notified)
            } else {
                // Release the runner's reference; the owned list still holds
                // one, so this can never be the last.
                debug_assert!(ref_count(cur) >= 2);
                (Some(next - REF_ONE), ToIdle::Idle)
            }
        })
    }

    /// Marks the future as done; returns whether cancellation was requested
    /// first (then the output is `Err(Cancelled)`).
    pub(crate) fn transition_to_finishing(&self) -> bool {
        self.0.fetch_or(FINISHING, Ordering::AcqRel) & CANCELLED != 0
    }

    /// Publishes the output: clears `RUNNING`, sets `COMPLETE`. Returns the
    /// previous word so the caller can see `JOIN_INTEREST` and `JOIN_WAKER`.
    pub(crate) fn transition_to_complete(&self) -> u64 {
        let prev = self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel);
        debug_assert!(prev & RUNNING != 0 && prev & COMPLETE == 0);
        prev
    }

    /// Takes the future away from an idle or queued task at shutdown. Returns
    /// true when the caller now owns it (`RUNNING`); a running task only gets
    /// `CANCELLED`, and its runner finishes the job.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.update(|cur| {
            if cur & COMPLETE != 0 {
                (None, false)
            } else if cur & RUNNING != 0 {
                (Some(cur | CANCELLED), false)
            } else {
                (Some(cur | RUNNING | CANCELLED), true)
            }
        })
    }

    /// A wake that consumes the waker's reference.
    pub(crate) fn wake_by_val(&self) -> WakeAction {
        self.update(|cur| {
            if cur & RUNNING != 0 {
                // The runner will push it; drop the waker's reference (the
                // runner holds another, so it is not the last).
                (Some((cur | SCHEDULED) - REF_ONE), WakeAction::Nothing)
            } else if cur & (COMPLETE | SCHEDULED) != 0 {
                let next = cur - REF_ONE;
                let action = if ref_count(next) == 0 {
                    WakeAction::Dealloc
                } else {
                    WakeAction::Nothing
                };
                (Some(next), action)
            } else {
                // The waker's reference becomes the `Notified`'s.
                (Some(cur | SCHEDULED), WakeAction::Submit)
            }
        })
    }

    /// A wake that keeps the waker's reference; returns true when the caller
    /// must push a `Notified` (a reference was added for it).
    pub(crate) fn wake_by_ref(&self) -> bool {
        self.update(|cur| {
            if cur & COMPLETE != 0 {
                (None, false)
            } else if cur & SCHEDULED != 0 {
                // Queued already, or woken already while running: nothing
                // to push, but still write the word (unchanged), so that
                // this wake is a release the next run's acquire pairs with
                // and the poll it leads to sees what the waker did before
                // waking. A load alone would leave that poll free to miss
                // it, and the wake-up would be lost.
                (Some(cur), false)
            } else if cur & RUNNING != 0 {
                (Some(cur | SCHEDULED), false)
            } else {
                (Some((cur | SCHEDULED) + REF_ONE), true)
            }
        })
    }

    /// Requests cancellation; with `cascade`, also marks it [`CASCADE`]
    /// (which a second, cascading request may add to a plain one).
    pub(crate) fn cancel(&self, cascade: bool) -> CancelAction {
        let extra = if cascade {
            CANCELLED | CASCADE
        } else {
            CANCELLED
        };
        self.update(|cur| {
            if cur & (COMPLETE | FINISHING) != 0 {
                (None, CancelAction::TooLate)
            } else if cur & CANCELLED != 0 {
                let next = (cur & extra != extra).then_some(cur | extra);
                (next, CancelAction::Requested)
            } else if cur & (RUNNING | SCHEDULED) != 0 {
                (Some(cur | extra), CancelAction::Requested)
            } else {
                (
                    Some((cur | extra | SCHEDULED) + REF_ONE),
                    CancelAction::Submit,
                )
            }
        })
    }

    /// Clears `JOIN_INTEREST` (and `JOIN_WAKER`, so nobody wakes a handle that
    /// is gone). Returns the previous word: if it had `COMPLETE`, the caller
    /// drops the output.
    pub(crate) fn unset_join_interest(&self) -> u64 {
        self.update(|cur| {
            let next = if cur & COMPLETE != 0 {
                cur & !JOIN_INTEREST
            } else {
                cur & !(JOIN_INTEREST | JOIN_WAKER)
            };
            (Some(next), cur)
        })
    }

    /// Hands the join waker slot to the runtime side. Fails (returning the
    /// word) when the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), u64> {
        self.update(|cur| {
            debug_assert!(cur & JOIN_WAKER == 0);
            if cur & COMPLETE != 0 {
                (None, Err(cur))
            } else {
                (Some(cur | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// Takes the join waker slot back so the handle can replace the waker.
    /// Fails when the task completed meanwhile.
    pub(crate) fn unset_join_waker(&self) -> Result<(), u64> {
        self.update(|cur| {
            debug_assert!(cur & JOIN_WAKER != 0);
            if cur & COMPLETE != 0 {
                (None, Err(cur))
            } else {
                (Some(cur & !JOIN_WAKER), Ok(()))
            }
        })
    }

    /// Adds a reference.
    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        // A count this high means references leak: stop long before it
        // reaches the poll bits.
        if ref_count(prev) >= REF_LIMIT {
            std::process::abort();
        }
    }

    /// Drops `n` references; returns true when they were the last.
    pub(crate) fn ref_dec(&self, n: u64) -> bool {
        let prev = self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel);
        debug_assert!(ref_count(prev) >= n);
        ref_count(prev) == n
    }
}

/// The reference count in a state word.
pub(crate) fn ref_count(word: u64) -> u64 {
    (word & REF_MASK) >> REF_SHIFT
}

/// The poll count's low [`CARRY_BITS`] bits in a state word (the bits
/// above them are in the header's carries).
pub(crate) fn polls(word: u64) -> u64 {
    (word >> POLL_SHIFT) & ((1 << CARRY_BITS) - 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wake_while_running_sets_scheduled_and_runner_repushes() {
        let s = State::new();
        assert_eq!(s.transition_to_running(), ToRunning::Poll { carry: false });
        assert!(!s.wake_by_ref());
        assert_eq!(s.transition_to_idle(), ToIdle::Notified);
        assert_eq!(ref_count(s.load()), 3);
    }

    #[test]
    fn idle_transition_releases_runner_reference() {
        let s = State::new();
        s.transition_to_running();
        assert_eq!(s.transition_to_idle(), ToIdle::Idle);
        assert_eq!(ref_count(s.load()), 2);
        assert!(s.wake_by_ref());
        assert_eq!(ref_count(s.load()), 3);
        // A second wake while queued does nothing.
        assert!(!s.wake_by_ref());
        assert_eq!(ref_count(s.load()), 3);
    }

    #[test]
    fn cancel_of_idle_task_submits_and_is_seen_by_runner() {
        let s = State::new();
        s.transition_to_running();
        s.transition_to_idle();
        assert_eq!(s.cancel(false), CancelAction::Submit);
        assert_eq!(s.cancel(false), CancelAction::Requested);
        assert_eq!(s.transition_to_running(), ToRunning::Cancel);
        assert!(s.transition_to_finishing());
        assert_eq!(s.cancel(false), CancelAction::TooLate);
    }

    #[test]
    fn a_cancelled_run_is_not_counted_as_a_poll_even_at_a_carry() {
        // Idle after `polls` polls, then cancelled; the run that drops the
        // future leaves the word exactly as it found it, but for the flags.
        for polls_before in [0u64, 1, (1 << CARRY_BITS) - 1, (1 << POLL_BITS) - 1] {
            let s = State::new();
            s.transition_to_running();
            s.transition_to_idle();
            // Set the count in the word directly (an idle task: nobody
            // else writes it here).
            let word = s.load() & !(u64::MAX << POLL_SHIFT);
            s.set_unshared(word | (polls_before << POLL_SHIFT));
            assert_eq!(s.cancel(false), CancelAction::Submit);
            let before = s.load();
            assert_eq!(s.transition_to_running(), ToRunning::Cancel);
            let after = s.load();
            assert_eq!(after >> POLL_SHIFT, before >> POLL_SHIFT, "{polls_before}");
            let low = !(u64::MAX << POLL_SHIFT);
            assert_eq!(after & low, ((before & !SCHEDULED) | RUNNING) & low);
        }
    }

    #[test]
    fn cascading_cancel_adds_its_flag_to_a_plain_one() {
        let s = State::new();
        assert_eq!(s.cancel(false), CancelAction::Requested);
        assert_eq!(s.load() & CASCADE, 0);
        assert_eq!(s.cancel(true), CancelAction::Requested);
        assert_ne!(s.load() & CASCADE, 0);
        assert_eq!(ref_count(s.load()), 3);
    }

    #[test]
    fn cancel_after_finishing_is_too_late() {
        let s = State::new();
        s.transition_to_running();
        assert!(!s.transition_to_finishing());
        assert_eq!(s.cancel(false), CancelAction::TooLate);
        let prev = s.transition_to_complete();
        assert!(prev & JOIN_INTEREST != 0);
        assert!(s.load() & COMPLETE != 0 && s.load() & RUNNING == 0);
    }

    #[test]
    fn shutdown_skips_running_task_but_marks_it() {
        let s = State::new();
        s.transition_to_running();
        assert!(!s.transition_to_shutdown());
        assert_eq!(s.transition_to_idle(), ToIdle::Cancel);
    }

    #[test]
    fn queued_notified_is_skipped_after_shutdown_took_the_task() {
        let s = State::new();
        assert!(s.transition_to_shutdown());
        assert_eq!(s.transition_to_running(), ToRunning::Skip);
    }

    #[test]
    fn join_waker_handoff_fails_after_complete() {
        let s = State::new();
        s.set_join_waker().unwrap();
        s.unset_join_waker().unwrap();
        s.transition_to_running();
        s.transition_to_finishing();
        s.transition_to_complete();
        assert!(s.set_join_waker().is_err());
    }

    #[test]
    fn wake_by_val_on_complete_task_can_free_it() {
        let s = State::new();
        s.transition_to_running();
        s.transition_to_finishing();
        s.transition_to_complete();
        // Release the handle's, the owned list's and the runner's references.
        assert!(!s.ref_dec(2));
        let prev = s.unset_join_interest();
        assert!(prev & COMPLETE != 0);
        s.ref_inc(); // a waker
        assert!(!s.ref_dec(1)); // handle's reference
        assert_eq!(s.wake_by_val(), WakeAction::Dealloc);
    }
}
