//! The blocking pool behind `spawn_blocking` (asyncio's
//! `run_in_executor(None, f)`).
//!
//! Threads start on demand, up to `max_blocking_threads`; a new job goes to an
//! idle thread before a new thread is started, which keeps a burst of tiny
//! jobs on a few threads. Jobs beyond the cap wait in FIFO order. A thread
//! idle for `blocking_keep_alive` exits.
//!
//! # Protocol
//!
//! One lock guards the queue and the counters. `spawn` pushes the job, then:
//! if a thread is idle it takes one idle thread out of the count, adds one
//! pending notification and signals the condition variable; otherwise, under
//! the cap, it counts a new thread and starts it after unlocking. A waiting
//! thread that wakes takes a pending notification if there is one (it was
//! already removed from the idle count); otherwise it was a spurious wake-up
//! or its keep-alive ran out, in which case it leaves the idle count and
//! the thread count at once, under the lock, and exits (so a job pushed
//! while it exits starts a new thread instead of waiting for it). Jobs are
//! popped only under the lock, so each runs once.
//!
//! # Shutdown
//!
//! 1. The runtime has already cancelled every queued job through the owned
//!    list (its future, the closure, was dropped); the pool drops the queue's
//!    references.
//! 2. Idle threads are woken and exit; busy ones exit after their job.
//! 3. The runtime waits (up to its timeout) until the thread count is zero,
//!    then joins the threads that have exited.

mod pool;

pub(crate) use pool::BlockingPool;
