//! The pool itself (see the module above for the protocol).

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::thread;
use std::time::{Duration, Instant};

use crate::loom::{Arc, Condvar, Mutex};
use crate::runtime::Config;
use crate::scheduler::Shared;
use crate::task::raw::Notified;

/// The blocking thread pool of one runtime.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    /// Queue and counters.
    state: Mutex<State>,
    /// Idle threads wait here for jobs.
    job_ready: Condvar,
    /// Signalled when a thread exits (shutdown waits on it).
    thread_exited: Condvar,
    /// The thread cap.
    max_threads: usize,
    /// How long an idle thread waits for a job before exiting.
    keep_alive: Duration,
}

#[derive(Debug)]
struct State {
    /// Jobs not yet started, oldest first.
    queue: VecDeque<Notified>,
    /// Threads alive (counted from the moment one is decided on).
    num_threads: usize,
    /// Threads waiting for a job and not yet picked.
    num_idle: usize,
    /// Picked idle threads that have not woken yet.
    num_notify: usize,
    /// Shutdown started: exit when out of work.
    shutdown: bool,
    /// Join handles of live threads, by thread number.
    threads: HashMap<usize, thread::JoinHandle<()>>,
    /// Number for the next thread's name.
    next_id: usize,
}

impl BlockingPool {
    pub(crate) fn new(config: &Config) -> BlockingPool {
        BlockingPool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                num_threads: 0,
                num_idle: 0,
                num_notify: 0,
                shutdown: false,
                threads: HashMap::new(),
                next_id: 0,
            }),
            job_ready: Condvar::new(),
            thread_exited: Condvar::new(),
            max_threads: config.max_blocking_threads,
            keep_alive: config.blocking_keep_alive,
        }
    }

    /// Queues a job; reuses an idle thread or starts one under the cap.
    pub(crate) fn push(&self, task: Notified, shared: &Arc<Shared>) {
        let mut st = self.state.lock();
        if st.shutdown {
            // The owned list cancelled the job already (or will: shutdown
            // closes it before stopping the pool); drop our reference.
            drop(st);
            drop(task);
            return;
        }
        st.queue.push_back(task);
        if st.num_idle > 0 {
            st.num_idle -= 1;
            st.num_notify += 1;
            self.job_ready.notify_one();
            return;
        }
        if st.num_threads >= self.max_threads {
            // Every thread is busy: the job waits its turn.
            return;
        }
        st.num_threads += 1;
        let id = st.next_id;
        st.next_id += 1;
        drop(st);

        // Start the thread outside the lock: spawning takes a while.
        let name = format!("{}-blocking-{id}", shared.config.thread_name);
        let shared2 = shared.clone();
        let spawned = thread::Builder::new()
            .name(name)
            .spawn(move || run_thread(shared2));
        let mut st = self.state.lock();
        match spawned {
            Ok(handle) => {
                // Forget threads that left after their keep-alive, so the map
                // holds only live (or just exiting) threads.
                st.threads.retain(|_, h| !h.is_finished());
                st.threads.insert(id, handle);
            }
            Err(e) => {
                st.num_threads -= 1;
                if st.num_threads == 0 {
                    // No thread will ever take the queued jobs: fail loudly
                    // rather than lose them.
                    drop(st);
                    panic!("aiolos could not start a blocking-pool thread: {e}");
                }
            }
        }
    }

    /// Threads alive and idle, and jobs queued.
    pub(crate) fn counts(&self) -> PoolCounts {
        let st = self.state.lock();
        PoolCounts {
            threads: st.num_threads,
            // Picked idle threads that have not woken yet are no longer idle.
            idle: st.num_idle,
            queued: st.queue.len(),
        }
    }

    /// Shutdown steps 1 to 3; waits at most `timeout` (forever with `None`)
    /// for running jobs. Returns true when every thread has exited.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = self.state.lock();
        st.shutdown = true;
        let queued = std::mem::take(&mut st.queue);
        self.job_ready.notify_all();
        drop(st);
        drop(queued);

        // A job that shuts its own runtime down is one of the threads: do not
        // wait for it.
        let own = usize::from(CURRENT_POOL.with(|c| std::ptr::eq(c.get(), self)));
        let mut st = self.state.lock();
        while st.num_threads > own {
            match deadline {
                None => self.thread_exited.wait(&mut st),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    self.thread_exited.wait_for(&mut st, deadline - now);
                }
            }
        }
        let handles: Vec<_> = st.threads.drain().map(|(_, h)| h).collect();
        drop(st);
        let me = thread::current().id();
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
        true
    }

    /// The body of a blocking thread. Returns whether the thread is still
    /// counted in `num_threads` (false once it left after its keep-alive).
    fn work(&self) -> bool {
        let mut st = self.state.lock();
        'outer: loop {
            while let Some(task) = st.queue.pop_front() {
                drop(st);
                // A blocking job's stamp must not be stale (the clock may
                // have been idle): `for_stamp`, not the worker's reading.
                let now = if crate::runtime::INTROSPECTION {
                    crate::task::raw::poll_stamp(task.header().shared.clock.for_stamp())
                } else {
                    0
                };
                task.run(now);
                st = self.state.lock();
            }
            if st.shutdown {
                break;
            }
            st.num_idle += 1;
            loop {
                let timed_out = self
                    .job_ready
                    .wait_for(&mut st, self.keep_alive)
                    .timed_out();
                if st.num_notify > 0 {
                    // Picked by `push` (which took us out of the idle count).
                    st.num_notify -= 1;
                    continue 'outer;
                }
                if st.shutdown {
                    st.num_idle -= 1;
                    break 'outer;
                }
                if timed_out {
                    // Idle for the whole keep-alive: leave (the next thread
                    // start forgets our join handle). Count ourselves out
                    // now, under the lock that decided it: a job pushed
                    // from here on must not count on us, or at the cap it
                    // would start no thread and wait for one that is gone.
                    st.num_idle -= 1;
                    st.num_threads -= 1;
                    return false;
                }
                // Spurious wake-up: keep waiting.
            }
        }
        // Jobs left in the queue at exit are impossible: a job is only queued
        // while a thread is counted to take it, and shutdown drops the queue.
        debug_assert!(st.queue.is_empty() || st.shutdown);
        drop(st);
        true
    }

    /// Counts a thread out (unless it did so itself) and signals shutdown
    /// waiters.
    fn thread_done(&self, counted: bool) {
        let mut st = self.state.lock();
        if counted {
            st.num_threads -= 1;
        }
        drop(st);
        self.thread_exited.notify_all();
    }
}

/// The pool's counts, for `Handle::metrics`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolCounts {
    /// Threads alive.
    pub(crate) threads: usize,
    /// Threads waiting for a job.
    pub(crate) idle: usize,
    /// Jobs waiting for a thread.
    pub(crate) queued: usize,
}

thread_local! {
    /// The pool this thread belongs to, if it is a blocking thread.
    static CURRENT_POOL: Cell<*const BlockingPool> = const { Cell::new(std::ptr::null()) };
}

fn run_thread(shared: Arc<Shared>) {
    if let Some(f) = &shared.config.on_thread_start {
        f();
    }
    CURRENT_POOL.with(|c| c.set(&shared.blocking));
    let counted = {
        let _enter = crate::context::enter(&shared, false);
        shared.blocking.work()
    };
    CURRENT_POOL.with(|c| c.set(std::ptr::null()));
    if let Some(f) = &shared.config.on_thread_stop {
        f();
    }
    shared.blocking.thread_done(counted);
}
