//! Spawning at scale and scheduling fairness: many tasks from inside the
//! runtime and from foreign threads all run, tasks wake each other across
//! workers without lost wake-ups, `yield_now` and the cooperative budget let
//! other tasks run on a single worker.

mod common;

use common::*;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll};
use std::thread;

#[test]
fn hundred_thousand_tasks_spawned_from_inside_the_runtime_all_run() {
    let _wd = watchdog(
        "hundred_thousand_tasks_spawned_from_inside_the_runtime_all_run",
        300,
    );
    const N: usize = 100_000;
    let rt = runtime(2);
    let ran = Counter::new();
    let r = ran.clone();
    let root = rt.spawn(async move {
        let mut tasks = Vec::with_capacity(N);
        for i in 0..N {
            let r = r.clone();
            tasks.push(aiolos::spawn(async move {
                r.incr();
                i
            }));
        }
        let mut sum = 0usize;
        for t in tasks {
            sum += t.await.expect("a child task failed");
        }
        sum
    });
    let sum = join_timeout(root, "root task awaiting 100k children").expect("root task failed");
    assert_eq!(ran.get(), N, "not every spawned task ran");
    assert_eq!(sum, N * (N - 1) / 2, "some task returned a wrong value");
}

#[test]
fn hundred_thousand_detached_tasks_spawned_from_inside_the_runtime_all_run() {
    let _wd = watchdog("hundred_thousand_detached_tasks_all_run", 300);
    const N: usize = 100_000;
    let rt = runtime(2);
    let ran = Counter::new();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let r = ran.clone();
    let root = rt.spawn(async move {
        for _ in 0..N {
            let r = r.clone();
            let done_tx = done_tx.clone();
            // Handle dropped right away: the task is detached.
            drop(aiolos::spawn(async move {
                if r.incr() == N {
                    done_tx.send(()).unwrap();
                }
            }));
        }
    });
    join_timeout(root, "root spawner").expect("root task failed");
    done_rx
        .recv_timeout(LONG)
        .unwrap_or_else(|_| panic!("only {} of {N} detached tasks ran", ran.get()));
    assert_eq!(ran.get(), N);
}

#[test]
fn four_foreign_threads_spawning_25k_tasks_each_through_a_handle_all_run() {
    let _wd = watchdog("four_foreign_threads_spawning_25k_tasks_each", 300);
    const THREADS: usize = 4;
    const PER: usize = 25_000;
    let rt = runtime(2);
    let handle = rt.handle();
    let ran = Counter::new();
    let start = Arc::new(Barrier::new(THREADS));
    let spawners: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = handle.clone();
            let ran = ran.clone();
            let start = start.clone();
            thread::spawn(move || {
                // All four start spawning at the same moment.
                start.wait();
                (0..PER)
                    .map(|i| {
                        let ran = ran.clone();
                        handle.spawn(async move {
                            ran.incr();
                            t * PER + i
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let tasks: Vec<_> = spawners
        .into_iter()
        .flat_map(|j| j.join().expect("a spawner thread panicked"))
        .collect();
    assert_eq!(tasks.len(), THREADS * PER);
    let seen = rt.block_on(async move {
        let mut seen = vec![false; THREADS * PER];
        for t in tasks {
            let v = t.await.expect("a task failed");
            assert!(!seen[v], "value {v} returned twice");
            seen[v] = true;
        }
        seen
    });
    assert!(seen.iter().all(|&s| s), "some task's value never came back");
    assert_eq!(ran.get(), THREADS * PER, "not every task ran");
}

/// Receives from `mb`; with `spins > 0`, after registering its waker it keeps
/// polling the slot (a bounded number of busy-wait turns) before
/// returning `Pending`. The task then stays *running* on its worker while it
/// waits, so a peer on the other worker cannot be run on this one and the
/// sender's wake-up crosses workers (hitting the task either still in `poll` or
/// just after it went idle). The bound is in iterations, never time: if the
/// peer does not answer in time the task simply goes idle as usual.
struct SpinRecv<'a> {
    mb: &'a Mailbox<u64>,
    spins: usize,
}

impl Future for SpinRecv<'_> {
    type Output = u64;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if let Poll::Ready(v) = self.mb.poll_recv(cx) {
            return Poll::Ready(v);
        }
        for _ in 0..self.spins {
            // Busy-wait (no sched_yield: on a loaded machine that hands the
            // core to another process for a whole time slice).
            for _ in 0..32 {
                std::hint::spin_loop();
            }
            if let Some(v) = self.mb.try_take() {
                return Poll::Ready(v);
            }
        }
        Poll::Pending
    }
}

/// One ping-pong pair: `ping` sends `i` to `pong`, `pong` answers `i + 1`.
/// Each message wakes the other task.
struct PingPong {
    ping: aiolos::Task<u64>,
    pong: aiolos::Task<u64>,
    to_ping: Arc<Mailbox<u64>>,
    to_pong: Arc<Mailbox<u64>>,
}

impl PingPong {
    fn spawn(
        handle: &aiolos::Handle,
        rounds: u64,
        spins: usize,
        threads_seen: Arc<Mutex<HashSet<String>>>,
    ) -> Self {
        let to_pong = Arc::new(Mailbox::<u64>::new());
        let to_ping = Arc::new(Mailbox::<u64>::new());
        let (tp, tq) = (to_pong.clone(), to_ping.clone());
        let seen = threads_seen.clone();
        let pong = handle.spawn(async move {
            let mut answered = 0u64;
            loop {
                let v = SpinRecv { mb: &tp, spins }.await;
                seen.lock().unwrap().insert(thread_name());
                if v == u64::MAX {
                    return answered;
                }
                answered += 1;
                tq.send(v + 1);
            }
        });
        let (tp, tq) = (to_pong.clone(), to_ping.clone());
        let ping = handle.spawn(async move {
            let mut round_trips = 0u64;
            for i in 0..rounds {
                tp.send(i);
                let reply = SpinRecv { mb: &tq, spins }.await;
                threads_seen.lock().unwrap().insert(thread_name());
                assert_eq!(reply, i + 1, "wrong reply in round {i}");
                round_trips += 1;
            }
            tp.send(u64::MAX);
            round_trips
        });
        PingPong {
            ping,
            pong,
            to_ping,
            to_pong,
        }
    }

    /// Counts wake-ups that crossed threads; usable after the tasks moved out.
    fn cross_counter(&self) -> impl Fn() -> usize {
        let (a, b) = (self.to_ping.clone(), self.to_pong.clone());
        move || a.cross_thread_wakes() + b.cross_thread_wakes()
    }
}

/// Tasks that keep the run queues busy (yielding) until `stop` is set, so the
/// ping-pong wake-ups compete with other runnable tasks. (They do not make the
/// pair migrate: the LIFO slot keeps a ping-ponging pair on one worker, which
/// is why `two_tasks_on_different_workers_wake_each_other_10k_times` exists.)
fn spawn_noise(rt: &aiolos::Runtime, n: usize, stop: &Arc<AtomicBool>) -> Vec<aiolos::Task<u64>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                let mut turns = 0u64;
                while !stop.load(SeqCst) {
                    aiolos::yield_now().await;
                    turns += 1;
                }
                turns
            })
        })
        .collect()
}

#[test]
fn two_tasks_ping_ponging_among_busy_tasks_complete_10k_round_trips() {
    let _wd = watchdog("two_tasks_ping_ponging_among_busy_tasks", 300);
    const ROUNDS: u64 = 10_000;
    let rt = runtime(2);
    let stop = Arc::new(AtomicBool::new(false));
    let noise = spawn_noise(&rt, 2, &stop);
    let threads_seen = Arc::new(Mutex::new(HashSet::new()));
    let pair = PingPong::spawn(&rt.handle(), ROUNDS, 0, threads_seen.clone());
    let cross = pair.cross_counter();
    let trips = join_timeout(pair.ping, "ping task");
    stop.store(true, SeqCst);
    let trips = trips.expect("ping task failed");
    let answered = join_timeout(pair.pong, "pong task").expect("pong task failed");
    assert_eq!(trips, ROUNDS);
    assert_eq!(answered, ROUNDS);
    for n in noise {
        join_timeout(n, "noise task").expect("noise task failed");
    }
    eprintln!(
        "ping-pong: {} of {} wake-ups crossed threads; ran on {:?}",
        cross(),
        2 * ROUNDS,
        threads_seen.lock().unwrap()
    );
}

#[test]
fn two_tasks_on_different_workers_wake_each_other_10k_times() {
    let _wd = watchdog("two_tasks_on_different_workers_wake_each_other", 300);
    const ROUNDS: u64 = 10_000;
    // Busy-waiting per receive before going idle: about 0.05 ms in a
    // release build, 0.5 ms in a debug one. Far longer than a wake-up takes
    // to cross workers, and short enough for the case where both tasks end
    // up on one worker: there the partner, woken into this worker's LIFO
    // slot (which siblings cannot steal), runs only once the spin gives up,
    // so every such round costs a whole spin. (At 5 000 spins, a loaded
    // machine kept the pair together long enough to take over a minute.)
    const SPINS: usize = 500;
    let rt = runtime(2);
    let threads_seen = Arc::new(Mutex::new(HashSet::new()));
    let pair = PingPong::spawn(&rt.handle(), ROUNDS, SPINS, threads_seen.clone());
    let cross = pair.cross_counter();
    let trips = join_timeout(pair.ping, "ping task").expect("ping task failed");
    let answered = join_timeout(pair.pong, "pong task").expect("pong task failed");
    assert_eq!(trips, ROUNDS);
    assert_eq!(answered, ROUNDS);
    eprintln!(
        "spinning ping-pong: {} of {} wake-ups crossed threads; ran on {:?}",
        cross(),
        2 * ROUNDS,
        threads_seen.lock().unwrap()
    );
}

#[test]
fn eight_pairs_ping_ponging_concurrently_on_two_workers_lose_no_wakeups() {
    let _wd = watchdog("eight_pairs_ping_ponging_concurrently", 300);
    const PAIRS: usize = 8;
    const ROUNDS: u64 = 2_000;
    let rt = runtime(2);
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let pairs: Vec<_> = (0..PAIRS)
        .map(|_| PingPong::spawn(&rt.handle(), ROUNDS, 0, seen.clone()))
        .collect();
    let counters: Vec<_> = pairs.iter().map(PingPong::cross_counter).collect();
    for (i, pair) in pairs.into_iter().enumerate() {
        assert_eq!(
            join_timeout(pair.ping, "ping").expect("ping failed"),
            ROUNDS,
            "pair {i}"
        );
        assert_eq!(
            join_timeout(pair.pong, "pong").expect("pong failed"),
            ROUNDS,
            "pair {i}"
        );
    }
    eprintln!(
        "8 pairs: {} of {} wake-ups crossed threads; ran on {:?}",
        counters.iter().map(|c| c()).sum::<usize>(),
        2 * ROUNDS * PAIRS as u64,
        seen.lock().unwrap()
    );
}

#[test]
fn task_woken_10k_times_from_a_foreign_thread_sees_every_message() {
    let _wd = watchdog("task_woken_10k_times_from_a_foreign_thread", 300);
    const ROUNDS: u64 = 10_000;
    let rt = runtime(2);
    let inbox = Arc::new(Mailbox::<u64>::new());
    let (ack_tx, ack_rx) = mpsc::channel::<u64>();
    let ib = inbox.clone();
    let task = rt.spawn(async move {
        let mut sum = 0u64;
        for i in 0..ROUNDS {
            let v = ib.recv().await;
            assert_eq!(v, i);
            sum += v;
            ack_tx.send(v).unwrap();
        }
        sum
    });
    // This (non-runtime) thread is the waker: each send wakes the task.
    for i in 0..ROUNDS {
        inbox.send(i);
        let ack = ack_rx
            .recv_timeout(LONG)
            .unwrap_or_else(|_| panic!("task never acknowledged message {i}: lost wake-up"));
        assert_eq!(ack, i);
    }
    let sum = join_timeout(task, "receiver task").expect("receiver task failed");
    assert_eq!(sum, ROUNDS * (ROUNDS - 1) / 2);
}

#[test]
fn yield_now_lets_the_other_task_run_on_one_worker() {
    let _wd = watchdog("yield_now_lets_the_other_task_run_on_one_worker", 120);
    const STEPS: usize = 20;
    let rt = runtime(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let started = Arc::new(AtomicUsize::new(0));
    let make = |name: char| {
        let log = log.clone();
        let started = started.clone();
        rt.spawn(async move {
            // Wait (cooperatively) until both tasks exist.
            started.fetch_add(1, SeqCst);
            while started.load(SeqCst) < 2 {
                aiolos::yield_now().await;
            }
            for i in 0..STEPS {
                log.lock().unwrap().push((name, i));
                aiolos::yield_now().await;
            }
        })
    };
    let a = make('a');
    let b = make('b');
    join_timeout(a, "task a").expect("task a failed");
    join_timeout(b, "task b").expect("task b failed");
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2 * STEPS);
    for w in log.windows(2) {
        assert_ne!(
            w[0].0, w[1].0,
            "task {} ran twice in a row although it yielded and the other was ready: {log:?}",
            w[0].0
        );
    }
}

/// Spins on `consume_budget` until `flag` is set; returns how many budget
/// units it consumed.
async fn spin_on_budget(flag: Arc<AtomicBool>) -> u64 {
    let mut n = 0u64;
    while !flag.load(SeqCst) {
        aiolos::task::consume_budget().await;
        n += 1;
    }
    n
}

#[test]
fn task_that_only_consumes_budget_does_not_starve_a_task_spawned_from_outside() {
    let _wd = watchdog("consume_budget_does_not_starve_outside_task", 180);
    let rt = runtime(1);
    let flag = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let f = flag.clone();
    let spinner = rt.spawn(async move {
        started_tx.send(()).unwrap();
        spin_on_budget(f).await
    });
    started_rx
        .recv_timeout(LONG)
        .expect("spinner task never started");
    // The only worker is now busy spinning; this task can only run if the
    // spinner's budget runs out and it is rescheduled behind it.
    let (set_tx, set_rx) = mpsc::channel::<()>();
    let f = flag.clone();
    let setter = rt.spawn(async move {
        f.store(true, SeqCst);
        set_tx.send(()).unwrap();
    });
    if set_rx.recv_timeout(LONG).is_err() {
        // Release the spinner so the runtime can shut down, then fail.
        flag.store(true, SeqCst);
        panic!("the flag-setting task was starved by a task calling consume_budget in a loop");
    }
    let spins = join_timeout(spinner, "spinner").expect("spinner failed");
    join_timeout(setter, "setter").expect("setter failed");
    assert!(spins >= 1, "spinner never consumed budget");
}

#[test]
fn task_that_only_consumes_budget_does_not_starve_a_task_it_spawned() {
    let _wd = watchdog("consume_budget_does_not_starve_local_task", 180);
    let rt = runtime(1);
    let flag = Arc::new(AtomicBool::new(false));
    let (set_tx, set_rx) = mpsc::channel::<()>();
    let f = flag.clone();
    let spinner = rt.spawn(async move {
        let f2 = f.clone();
        // Goes to this worker's local queue; the spinner keeps the worker busy.
        let setter = aiolos::spawn(async move {
            f2.store(true, SeqCst);
            set_tx.send(()).unwrap();
        });
        let n = spin_on_budget(f).await;
        setter.await.expect("setter failed");
        n
    });
    if set_rx.recv_timeout(LONG).is_err() {
        flag.store(true, SeqCst);
        panic!("a locally spawned task was starved by a task calling consume_budget in a loop");
    }
    let spins = join_timeout(spinner, "spinner").expect("spinner failed");
    assert!(spins >= 1, "spinner never consumed budget");
}

/// A task spawned from outside just as the workers go to sleep still runs.
/// Each spawn below comes right after the previous task finished, while the
/// worker that ran it is on its way to park: the last worker to park must
/// look at the injector once more, or it sleeps on the task (a one-worker
/// runtime never searches, so only that last look saves it).
#[test]
fn tasks_spawned_from_outside_while_the_workers_go_to_sleep_all_run() {
    let _wd = watchdog("spawn_while_parking", 120);
    for workers in [1, 2] {
        let rt = runtime(workers);
        for i in 0..10_000u32 {
            assert_eq!(rt.block_on(rt.spawn(async move { i })).unwrap(), i);
        }
    }
}
