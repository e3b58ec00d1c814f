//! Stress and soak (issue 7): under load, faults and bad input aiolos keeps
//! working, never loses a task, a wake-up, a byte or a permit, and never
//! leaks memory, threads or fds.
//!
//! Five scenarios, each one parameterised body run by two tests: a quick
//! `stress_*` variant that `cargo test --workspace` runs (scaled down, same
//! structure; the five take seconds in a debug build), and an `#[ignore]`d
//! long `soak_*` one at the issue's sizes that goes on for
//! `AIOLOS_SOAK_SECS` (default 60): the timed scenarios run that long, the
//! others repeat their full-size run until that time has passed.
//!
//! | scenario | quick | long (each run) |
//! |---|---|---|
//! | tasks from 8 spawner threads, woken at random by outside threads | 100,000 tasks | 1,000,000 tasks |
//! | ping-pong pairs over `sync::mpsc` while tasks are cancelled at random | 2,000 tasks | 10,000 tasks |
//! | TCP echo soak, 200 clients reconnecting, every byte verified | 3 connections each | until the soak time |
//! | blocking pool at its limit, jobs from several threads | 4,000 jobs, limit 4 | 200,000 jobs, limit 8 |
//! | runtime shutdown racing with spawns from other threads | 30 rounds | rounds until the soak time |
//!
//! Run the long ones in release (five soaks: about 5 minutes with the
//! default), all or one, for longer with the variable:
//!
//! ```text
//! cargo test --release -p aiolos --test stress -- --ignored
//! AIOLOS_SOAK_SECS=600 cargo test --release -p aiolos --test stress -- --ignored soak_tcp
//! ```
//!
//! `AIOLOS_STRESS_SEED=<n>` fixes the random choices (each run prints its
//! seed with its results, shown for a failing test or with `--nocapture`;
//! thread interleavings still differ from run to run).
//!
//! The tests of this file take one lock and so run one at a time: each has
//! the machine to itself, and the descriptor and thread counts they check
//! are not disturbed by another test's sockets or runtimes.

mod common;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use aiolos::net::{TcpListener, TcpStream};
use aiolos::sync::{mpsc, oneshot};
use aiolos::{Handle, Runtime, Task, TaskError};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

// ---- Shared by the scenarios ----

/// Serialises the tests of this file (see the module docs).
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long the timed long tests run: `AIOLOS_SOAK_SECS`, default 60 s.
fn soak_duration() -> Duration {
    let secs = match std::env::var("AIOLOS_SOAK_SECS") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("AIOLOS_SOAK_SECS must be a number of seconds, not {s:?}")),
        Err(_) => 60,
    };
    Duration::from_secs(secs)
}

/// Runs `body` again and again until the soak time has passed (at least
/// once): the long variants of the scenarios sized by counts.
fn repeat_for_soak(what: &str, mut body: impl FnMut()) {
    let soak = soak_duration();
    let started = Instant::now();
    let mut runs = 0;
    loop {
        body();
        runs += 1;
        if started.elapsed() >= soak {
            break;
        }
    }
    eprintln!("{what}: {runs} runs in {:?}", started.elapsed());
}

/// The run's base seed: `AIOLOS_STRESS_SEED`, or the clock.
fn base_seed() -> u64 {
    match std::env::var("AIOLOS_STRESS_SEED") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("AIOLOS_STRESS_SEED must be a number, not {s:?}")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}

/// A small pseudo-random generator (SplitMix64 of a counter).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(splitmix64(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index into a collection of `len > 0` items.
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// The panic message of a task's error, or what the error was.
fn describe(e: TaskError) -> String {
    if e.is_panic() {
        format!("panicked: {}", panic_message(&*e.into_panic()))
    } else {
        e.to_string()
    }
}

/// Waits until no thread whose name starts with `prefix` is left. A joined
/// thread leaves `/proc/self/task` a moment after `pthread_join` returns.
fn wait_for_threads_to_leave(prefix: &str) {
    wait_until(&format!("every `{prefix}*` thread to exit"), || {
        thread_names_with_prefix(prefix).is_empty()
    });
}

// ---- 1. Many tasks from spawner threads, woken at random from outside ----

/// A wake-up cell an outside thread sets: a waker-based flag that can also be
/// nudged (woken without being set) to make spurious wake-ups.
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Flag {
    fn set(&self) {
        self.set.store(true, SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes the waiting task without setting the flag.
    fn nudge(&self) {
        let waker = self.waker.lock().unwrap().clone();
        if let Some(w) = waker {
            w.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.load(SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            // Re-check: a `set` between the load and the store found no waker.
            if self.set.load(SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// How an outside thread completes one task's wait.
enum Wake {
    Flag(Arc<Flag>),
    Oneshot(oneshot::Sender<u64>),
}

/// Pending wake-ups handed from spawners to one waker thread.
#[derive(Default)]
struct Shard {
    queue: Mutex<Vec<(u64, Wake)>>,
    more: Condvar,
}

struct ManyTasks {
    tasks: u64,
    spawners: u64,
    wakers: usize,
    /// Tasks a spawner has in flight before it joins the oldest half.
    window: usize,
}

/// `tasks` tasks spawned through `Handle::spawn` from `spawners` plain
/// threads; each waits (after a few random yields) on a flag or a oneshot
/// that one of `wakers` other plain threads completes at a random moment and
/// in random order, with spurious wake-ups mixed in. Every task must complete
/// exactly once (a per-task slot set once), return its own index to the
/// spawner that joins it, and have its future dropped once.
fn many_tasks_woken_from_outside(p: ManyTasks) {
    let seed = base_seed();
    eprintln!("many_tasks: seed {seed}");
    let rt = runtime(4);
    let handle = rt.handle();
    let slots: Arc<Vec<AtomicU8>> = Arc::new((0..p.tasks).map(|_| AtomicU8::new(0)).collect());
    let completed = Counter::new();
    let drops = Counter::new();
    let fired = Counter::new();
    let nudged = Counter::new();
    let shards: Arc<Vec<Shard>> = Arc::new((0..p.wakers).map(|_| Shard::default()).collect());
    let spawners_done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let wakers: Vec<_> = (0..p.wakers)
        .map(|w| {
            let (shards, spawners_done, fired, nudged) = (
                shards.clone(),
                spawners_done.clone(),
                fired.clone(),
                nudged.clone(),
            );
            let spawners = p.spawners;
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (0xa11 << 32) ^ w as u64);
                let shard = &shards[w];
                let mut local: Vec<(u64, Wake)> = Vec::new();
                loop {
                    {
                        let mut q = shard.queue.lock().unwrap();
                        while q.is_empty() && local.is_empty() {
                            if spawners_done.load(SeqCst) == spawners {
                                return;
                            }
                            q = shard.more.wait(q).unwrap();
                        }
                        local.append(&mut q);
                    }
                    // Fire a random part of what is pending, in random order;
                    // the rest waits for a later round.
                    let n = 1 + rng.index(local.len() / 2 + 1);
                    for _ in 0..n {
                        let (i, wake) = local.swap_remove(rng.index(local.len()));
                        if !local.is_empty() && rng.one_in(4) {
                            if let (_, Wake::Flag(f)) = &local[rng.index(local.len())] {
                                f.nudge();
                                nudged.incr();
                            }
                        }
                        match wake {
                            Wake::Flag(f) => f.set(),
                            Wake::Oneshot(tx) => {
                                assert!(tx.send(i).is_ok(), "task {i}'s oneshot receiver is gone")
                            }
                        }
                        fired.incr();
                    }
                }
            })
        })
        .collect();

    let spawners: Vec<_> = (0..p.spawners)
        .map(|s| {
            let (handle, slots, completed, drops, shards, spawners_done) = (
                handle.clone(),
                slots.clone(),
                completed.clone(),
                drops.clone(),
                shards.clone(),
                spawners_done.clone(),
            );
            let (tasks, stride, window) = (p.tasks, p.spawners, p.window);
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (0x5b << 32) ^ s);
                let mut in_flight: VecDeque<(u64, Task<u64>)> = VecDeque::new();
                let join = |batch: Vec<(u64, Task<u64>)>| {
                    let n = batch.len();
                    let all = async move {
                        for (i, task) in batch {
                            match task.await {
                                Ok(got) => assert_eq!(got, i, "task {i} returned another's index"),
                                Err(e) => panic!("task {i} failed: {}", describe(e)),
                            }
                        }
                    };
                    // (The timer needs the runtime: create it inside block_on.)
                    let joined =
                        handle.block_on(async move { aiolos::time::timeout(LONG, all).await });
                    assert!(
                        joined.is_ok(),
                        "{n} tasks of spawner {s} not all done within {LONG:?}: lost wake-up?"
                    );
                };
                for i in (s..tasks).step_by(stride as usize) {
                    let yields = rng.below(3);
                    let guard = DropGuard::new(&drops);
                    let (slots, completed) = (slots.clone(), completed.clone());
                    let (wake, task) = if rng.one_in(2) {
                        let flag = Arc::new(Flag::default());
                        let f = flag.clone();
                        let task = handle.spawn(async move {
                            let _guard = guard;
                            for _ in 0..yields {
                                aiolos::yield_now().await;
                            }
                            f.wait().await;
                            let before = slots[i as usize].fetch_add(1, SeqCst);
                            assert_eq!(before, 0, "task {i} completed twice");
                            completed.incr();
                            i
                        });
                        (Wake::Flag(flag), task)
                    } else {
                        let (tx, rx) = oneshot::channel();
                        let task = handle.spawn(async move {
                            let _guard = guard;
                            for _ in 0..yields {
                                aiolos::yield_now().await;
                            }
                            let got = rx.await.expect("the oneshot sender was dropped");
                            assert_eq!(got, i, "task {i} was sent another task's value");
                            let before = slots[i as usize].fetch_add(1, SeqCst);
                            assert_eq!(before, 0, "task {i} completed twice");
                            completed.incr();
                            i
                        });
                        (Wake::Oneshot(tx), task)
                    };
                    let shard = &shards[rng.index(shards.len())];
                    shard.queue.lock().unwrap().push((i, wake));
                    shard.more.notify_one();
                    in_flight.push_back((i, task));
                    if in_flight.len() >= window {
                        join(in_flight.drain(..window / 2).collect());
                    }
                }
                // No more wake-ups will come from this spawner: tell the
                // wakers (under each lock, so none misses it).
                spawners_done.fetch_add(1, SeqCst);
                for shard in shards.iter() {
                    let _q = shard.queue.lock().unwrap();
                    shard.more.notify_all();
                }
                join(in_flight.into_iter().collect());
            })
        })
        .collect();

    for t in spawners {
        t.join().expect("a spawner thread failed");
    }
    for t in wakers {
        t.join().expect("a waker thread failed");
    }
    let elapsed = started.elapsed();
    eprintln!(
        "many_tasks: {} tasks, {} spurious wake-ups, in {elapsed:?}",
        p.tasks,
        nudged.get()
    );
    let n = p.tasks as usize;
    assert_eq!(fired.get(), n, "wake-ups fired");
    assert_eq!(completed.get(), n, "tasks completed");
    if let Some(i) = slots.iter().position(|s| s.load(SeqCst) != 1) {
        panic!("task {i} completed {} times", slots[i].load(SeqCst));
    }
    // A task's future is dropped before its result is published.
    assert_eq!(
        drops.get(),
        n,
        "task futures dropped by the time they were joined"
    );
    drop(rt);
}

#[test]
fn stress_tasks_from_8_threads_woken_at_random_each_complete_exactly_once() {
    let _serial = serial();
    let _wd = watchdog("stress_many_tasks", 300);
    many_tasks_woken_from_outside(ManyTasks {
        tasks: 100_000,
        spawners: 8,
        wakers: 4,
        window: 1024,
    });
}

#[test]
#[ignore = "long: run with --ignored; AIOLOS_SOAK_SECS sets its length (see the module docs)"]
fn soak_a_million_tasks_from_8_threads_woken_at_random_each_complete_exactly_once() {
    let _serial = serial();
    let _wd = watchdog("soak_many_tasks", soak_duration().as_secs() + 1200);
    repeat_for_soak("many_tasks", || {
        many_tasks_woken_from_outside(ManyTasks {
            tasks: 1_000_000,
            spawners: 8,
            wakers: 4,
            window: 4096,
        })
    });
}

// ---- 2. Ping-pong through channels while tasks are cancelled at random ----

/// A message: its sequence number; dropping it counts it, so every message
/// made must be dropped exactly once (received, returned, or left in a
/// channel that went away).
struct Msg {
    seq: u64,
    _dropped: DropGuard,
}

/// Per-pair counts of messages: index 0 is A to B, 1 is B to A.
#[derive(Default)]
struct PairCounts {
    /// Sends that returned `Ok`.
    sent: [AtomicU64; 2],
    /// Receives that returned a message.
    received: [AtomicU64; 2],
}

/// How one side of a pair ended (when it was not cancelled).
#[derive(Debug, PartialEq)]
enum Ended {
    /// It sent and received every message.
    Done,
    /// Its peer went away first (sending failed or receiving ended early).
    PeerGone,
}

struct PingPong {
    pairs: usize,
    rounds: u64,
    /// Capacity of each channel.
    capacity: usize,
    /// Messages A keeps in flight (at most twice the capacity: never stuck).
    window: u64,
    /// Cancellations each of the two chaos agents makes.
    cancels: usize,
}

/// `pairs` pairs of tasks ping-pong `rounds` numbered messages through two
/// bounded `mpsc` channels (A keeps `window` in flight, so sends wait for
/// room), while a chaos thread (`Task::cancel`, `Handle::cancel_task`) and a
/// chaos task (`task::cancel`) cancel random tasks as the traffic proceeds.
/// Every `Task` must resolve; each receiver sees its sender's messages in
/// order without gaps or repeats; a pair with nobody cancelled exchanges
/// everything, and in a pair with a cancelled side each direction's sent
/// and received counts differ by at most what the channel could hold; a
/// side only sees its peer go away if the peer was cancelled; every future
/// and every message is dropped exactly once.
fn ping_pong_with_random_cancels(p: PingPong) {
    assert!(
        p.window <= 2 * p.capacity as u64,
        "the window could wedge a pair"
    );
    let seed = base_seed();
    eprintln!("ping_pong: seed {seed}");
    let rt = runtime(4);
    let handle = rt.handle();
    let msgs_made = Counter::new();
    let msgs_dropped = Counter::new();
    let futures_dropped = Counter::new();
    let progress = Counter::new();
    let counts: Arc<Vec<PairCounts>> =
        Arc::new((0..p.pairs).map(|_| PairCounts::default()).collect());
    let msg = {
        let (made, dropped) = (msgs_made.clone(), msgs_dropped.clone());
        move |seq| {
            made.incr();
            Msg {
                seq,
                _dropped: DropGuard::new(&dropped),
            }
        }
    };
    let started = Instant::now();

    let mut tasks = Vec::with_capacity(2 * p.pairs);
    for pair in 0..p.pairs {
        let (ab_tx, mut ab_rx) = mpsc::channel::<Msg>(p.capacity);
        let (ba_tx, mut ba_rx) = mpsc::channel::<Msg>(p.capacity);
        let (rounds, window) = (p.rounds, p.window);

        let (c, msg_a, progress_a) = (counts.clone(), msg.clone(), progress.clone());
        let guard = DropGuard::new(&futures_dropped);
        tasks.push(rt.spawn(async move {
            let _guard = guard;
            let c = &c[pair];
            let (mut next, mut expect) = (0, 0);
            while expect < rounds {
                while next < rounds && next - expect < window {
                    if ab_tx.send(msg_a(next)).await.is_err() {
                        return Ended::PeerGone;
                    }
                    c.sent[0].fetch_add(1, SeqCst);
                    next += 1;
                }
                match ba_rx.recv().await {
                    Some(m) => {
                        assert_eq!(m.seq, expect, "pair {pair}: B to A out of order");
                        c.received[1].fetch_add(1, SeqCst);
                        progress_a.incr();
                        expect += 1;
                    }
                    None => return Ended::PeerGone,
                }
            }
            Ended::Done
        }));

        let (c, msg_b, progress_b) = (counts.clone(), msg.clone(), progress.clone());
        let guard = DropGuard::new(&futures_dropped);
        tasks.push(rt.spawn(async move {
            let _guard = guard;
            let c = &c[pair];
            let mut expect = 0;
            while let Some(m) = ab_rx.recv().await {
                assert_eq!(m.seq, expect, "pair {pair}: A to B out of order");
                c.received[0].fetch_add(1, SeqCst);
                progress_b.incr();
                expect += 1;
                if m.seq % 7 == 3 {
                    aiolos::yield_now().await;
                }
                if ba_tx.send(msg_b(m.seq)).await.is_err() {
                    return Ended::PeerGone;
                }
                c.sent[1].fetch_add(1, SeqCst);
            }
            if expect == rounds {
                Ended::Done
            } else {
                Ended::PeerGone
            }
        }));
    }
    let tasks = Arc::new(tasks);
    let total = 2 * p.pairs as u64 * p.rounds;

    // Chaos: each agent makes its cancellations spread over the traffic (the
    // j-th once `j / (cancels + 1)` of all messages were received), and
    // stops early once every task has finished.
    let all_finished = |tasks: &[Task<Ended>]| tasks.iter().all(Task::is_finished);
    // A random task, preferably one still running (a few tries).
    fn pick_unfinished<'a>(rng: &mut Rng, tasks: &'a [Task<Ended>]) -> &'a Task<Ended> {
        let mut task = &tasks[rng.index(tasks.len())];
        for _ in 0..8 {
            if !task.is_finished() {
                break;
            }
            task = &tasks[rng.index(tasks.len())];
        }
        task
    }
    let chaos_thread = {
        let (tasks, progress, handle) = (tasks.clone(), progress.clone(), handle.clone());
        let cancels = p.cancels as u64;
        thread::spawn(move || {
            let mut rng = Rng::new(seed ^ 0xc4a05);
            let mut made = 0;
            'cancels: for j in 1..=cancels {
                let threshold = j * total / (cancels + 1);
                while (progress.get() as u64) < threshold {
                    if all_finished(&tasks) {
                        break 'cancels;
                    }
                    // Pacing, not synchronisation: let the traffic move on.
                    thread::sleep(Duration::from_micros(200));
                }
                let task = pick_unfinished(&mut rng, &tasks);
                if rng.one_in(2) {
                    task.cancel();
                } else {
                    handle.cancel_task(task.id());
                }
                made += 1;
            }
            made
        })
    };
    let chaos_task = {
        let (tasks, progress) = (tasks.clone(), progress.clone());
        let cancels = p.cancels as u64;
        rt.spawn(async move {
            let mut rng = Rng::new(seed ^ 0xc4a0_57a5);
            let mut made = 0;
            'cancels: for j in 1..=cancels {
                // Offset from the thread's thresholds by half a step.
                let threshold = (2 * j - 1) * total / (2 * cancels + 2);
                while (progress.get() as u64) < threshold {
                    if all_finished(&tasks) {
                        break 'cancels;
                    }
                    aiolos::time::sleep(Duration::from_micros(200)).await;
                }
                aiolos::task::cancel(pick_unfinished(&mut rng, &tasks).id());
                made += 1;
            }
            made
        })
    };
    let thread_cancels = chaos_thread.join().expect("the chaos thread panicked");
    let task_cancels = join_ok(chaos_task, "the chaos task");
    let tasks = Arc::into_inner(tasks).expect("the chaos agents still hold the tasks");

    let mut results = Vec::with_capacity(tasks.len());
    for (k, task) in tasks.into_iter().enumerate() {
        let got = rt.block_on(async move { aiolos::time::timeout(LONG, task).await });
        match got {
            Ok(Ok(ended)) => results.push(Some(ended)),
            Ok(Err(e)) if e.is_cancelled() => results.push(None),
            Ok(Err(e)) => panic!("task {k} (pair {}) failed: {}", k / 2, describe(e)),
            Err(_) => panic!("task {k} (pair {}) hangs: lost wake-up?", k / 2),
        }
    }
    let elapsed = started.elapsed();

    let mut cancelled_tasks = 0;
    for (pair, c) in counts.iter().enumerate() {
        let (a, b) = (&results[2 * pair], &results[2 * pair + 1]);
        let sent = [c.sent[0].load(SeqCst), c.sent[1].load(SeqCst)];
        let received = [c.received[0].load(SeqCst), c.received[1].load(SeqCst)];
        let what = format!("pair {pair}: A {a:?}, B {b:?}, sent {sent:?}, received {received:?}");
        cancelled_tasks += usize::from(a.is_none()) + usize::from(b.is_none());
        if a.is_some() && b.is_some() {
            assert_eq!((a, b), (&Some(Ended::Done), &Some(Ended::Done)), "{what}");
            assert_eq!(sent, [p.rounds; 2], "{what}");
            assert_eq!(received, [p.rounds; 2], "{what}");
        } else {
            for d in 0..2 {
                assert!(
                    received[d] <= sent[d] && sent[d] <= received[d] + p.capacity as u64,
                    "{what}: more lost than a channel holds"
                );
            }
            // Only a cancelled peer may go away.
            assert!(a != &Some(Ended::PeerGone) || b.is_none(), "{what}");
            assert!(b != &Some(Ended::PeerGone) || a.is_none(), "{what}");
            if a == &Some(Ended::Done) {
                assert_eq!(received[1], p.rounds, "{what}");
            }
        }
    }
    eprintln!(
        "ping_pong: {} tasks, {} messages, {thread_cancels}+{task_cancels} cancel requests, \
         {cancelled_tasks} tasks cancelled, in {elapsed:?}",
        2 * p.pairs,
        progress.get(),
    );
    assert!(
        cancelled_tasks > 0,
        "no cancellation took effect: the chaos came too late to test anything"
    );
    assert_eq!(futures_dropped.get(), 2 * p.pairs, "task futures dropped");
    assert_eq!(msgs_dropped.get(), msgs_made.get(), "messages dropped");
    drop(rt);
}

#[test]
fn stress_ping_pong_pairs_with_random_cancels_lose_nothing_and_all_resolve() {
    let _serial = serial();
    let _wd = watchdog("stress_ping_pong", 300);
    ping_pong_with_random_cancels(PingPong {
        pairs: 1_000,
        rounds: 40,
        capacity: 2,
        window: 3,
        cancels: 100,
    });
}

#[test]
#[ignore = "long: run with --ignored; AIOLOS_SOAK_SECS sets its length (see the module docs)"]
fn soak_10k_ping_pong_tasks_with_random_cancels_lose_nothing_and_all_resolve() {
    let _serial = serial();
    let _wd = watchdog("soak_ping_pong", soak_duration().as_secs() + 1200);
    repeat_for_soak("ping_pong", || {
        ping_pong_with_random_cancels(PingPong {
            pairs: 5_000,
            rounds: 1_000,
            capacity: 2,
            window: 3,
            cancels: 1_000,
        })
    });
}

// ---- 3. TCP echo soak ----

/// Bytes counted at each of the four points they pass.
#[derive(Default)]
struct Bytes {
    client_out: AtomicU64,
    server_in: AtomicU64,
    server_out: AtomicU64,
    client_in: AtomicU64,
    /// What the clients meant to send (the sum of the payload lengths).
    planned: AtomicU64,
}

struct Soak {
    clients: u64,
    /// Connections per client, if bounded by count.
    rounds: Option<u64>,
    /// How long clients keep reconnecting, if bounded by time.
    duration: Option<Duration>,
    /// Largest payload of one connection.
    max_len: u64,
}

/// One server connection: echoes until the client's end of stream, counting
/// bytes; `live` goes down once the socket is closed.
async fn echo(stream: TcpStream, bytes: Arc<Bytes>, live: Arc<AtomicUsize>) -> Result<(), String> {
    let mut buf = vec![0; 16 * 1024];
    let result = async {
        let mut stream = &stream;
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            bytes.server_in.fetch_add(n as u64, SeqCst);
            stream.write_all(&buf[..n]).await?;
            bytes.server_out.fetch_add(n as u64, SeqCst);
        }
    }
    .await;
    drop(stream);
    live.fetch_sub(1, SeqCst);
    result.map_err(|e| format!("server connection: {e}"))
}

/// One client connection: sends a patterned payload of `len` bytes in random
/// chunks while reading the echo back and checking every byte, closes its
/// writing side, and expects exactly `len` bytes before the end of stream.
async fn echo_round(
    addr: std::net::SocketAddr,
    stream_seed: u64,
    len: u64,
    nodelay: bool,
    bytes: &Bytes,
) {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream.set_nodelay(nodelay).unwrap();
    let writer = async {
        let mut w = &stream;
        let mut buf = vec![0; 8192];
        let mut off = 0;
        while off < len {
            let chunk = (1 + splitmix64(stream_seed ^ off) % 8192).min(len - off);
            let chunk = &mut buf[..chunk as usize];
            fill_pattern(stream_seed, off, chunk);
            w.write_all(chunk).await?;
            off += chunk.len() as u64;
            bytes.client_out.fetch_add(chunk.len() as u64, SeqCst);
        }
        w.close().await
    };
    let reader = async {
        let mut r = &stream;
        let mut buf = vec![0; 8192];
        let mut got = 0;
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(got);
            }
            check_pattern("echoed payload", stream_seed, got, &buf[..n]);
            got += n as u64;
            bytes.client_in.fetch_add(n as u64, SeqCst);
        }
    };
    let (written, read) = futures::future::join(writer, reader).await;
    written.unwrap_or_else(|e| panic!("writing {len} bytes: {e}"));
    let got = read.unwrap_or_else(|e| panic!("reading {len} bytes back: {e}"));
    assert_eq!(got, len, "stream {stream_seed:#x}: echo length");
}

/// `clients` concurrent clients of an aiolos echo server each open a
/// connection, send a random-length patterned payload, read it back byte
/// for byte, close, and start again, for `rounds` connections or until the
/// deadline. Bytes are counted at all four points and must agree with what
/// was planned; every server connection must end, and the process's
/// descriptor count must come back to where it was, with the runtime alive
/// (sockets closed) and after it is dropped (nothing of the runtime left).
fn tcp_echo_soak(p: Soak) {
    let seed = base_seed();
    eprintln!("tcp_soak: seed {seed}");
    let fds_before_runtime = open_fds();
    let rt = runtime(4);
    let fds_with_runtime = open_fds();
    let bytes = Arc::new(Bytes::default());
    let live = Arc::new(AtomicUsize::new(0));
    let accepted = Counter::new();
    let connections = Counter::new();
    let server_errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let deadline = p.duration.map(|d| started + d);

    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Gate::new();
        let server = {
            let (stop, bytes, live, accepted, errors) = (
                stop.clone(),
                bytes.clone(),
                live.clone(),
                accepted.clone(),
                server_errors.clone(),
            );
            aiolos::spawn(async move {
                loop {
                    let next =
                        futures_lite::future::or(async { Some(listener.accept().await) }, async {
                            stop.wait().await;
                            None
                        });
                    let stream = match next.await {
                        Some(Ok((stream, _))) => stream,
                        Some(Err(e)) => {
                            errors.lock().unwrap().push(format!("accept: {e}"));
                            continue;
                        }
                        None => break,
                    };
                    live.fetch_add(1, SeqCst);
                    accepted.incr();
                    let (bytes, live, errors) = (bytes.clone(), live.clone(), errors.clone());
                    aiolos::spawn(async move {
                        if let Err(e) = echo(stream, bytes, live).await {
                            errors.lock().unwrap().push(e);
                        }
                    });
                }
                // The listener closes here.
            })
        };

        let clients: Vec<_> = (0..p.clients)
            .map(|c| {
                let (bytes, connections) = (bytes.clone(), connections.clone());
                let (rounds, max_len) = (p.rounds, p.max_len);
                aiolos::spawn(async move {
                    let mut rng = Rng::new(seed ^ (c << 40));
                    for round in 0.. {
                        if rounds.is_some_and(|r| round >= r)
                            || deadline.is_some_and(|d| Instant::now() >= d)
                        {
                            break;
                        }
                        let stream_seed = seed ^ (c << 40) ^ round;
                        let len = match rng.below(8) {
                            0 => 0,
                            1 => rng.below(64),
                            _ => rng.below(max_len + 1),
                        };
                        bytes.planned.fetch_add(len, SeqCst);
                        echo_round(addr, stream_seed, len, rng.one_in(2), &bytes).await;
                        connections.incr();
                    }
                })
            })
            .collect();
        for (c, client) in clients.into_iter().enumerate() {
            match client.await {
                Ok(()) => {}
                Err(e) => panic!("client {c}: {}", describe(e)),
            }
        }
        stop.open();
        server.await.expect("the accept loop failed");
    });
    // The echo tasks finish on their own once they see the end of stream.
    wait_until("every server connection to close", || {
        live.load(SeqCst) == 0
    });
    let elapsed = started.elapsed();
    let errors = server_errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "server errors: {errors:?}");
    let planned = bytes.planned.load(SeqCst);
    let counted = [
        bytes.client_out.load(SeqCst),
        bytes.server_in.load(SeqCst),
        bytes.server_out.load(SeqCst),
        bytes.client_in.load(SeqCst),
    ];
    eprintln!(
        "tcp_soak: {} clients, {} connections, {planned} bytes each way, in {elapsed:?}",
        p.clients,
        connections.get()
    );
    assert_eq!(
        counted, [planned; 4],
        "bytes [client out, server in, server out, client in] vs planned"
    );
    assert_eq!(
        accepted.get(),
        connections.get(),
        "connections accepted vs made"
    );
    assert_eq!(
        open_fds(),
        fds_with_runtime,
        "descriptors left open by the soak"
    );
    drop(rt);
    assert_eq!(
        open_fds(),
        fds_before_runtime,
        "descriptors left by the dropped runtime"
    );
}

#[test]
fn stress_tcp_echo_200_clients_reconnecting_every_byte_verified_no_fd_leak() {
    let _serial = serial();
    let _wd = watchdog("stress_tcp_soak", 300);
    tcp_echo_soak(Soak {
        clients: 200,
        rounds: Some(3),
        duration: None,
        max_len: 32 * 1024,
    });
}

#[test]
#[ignore = "long: run with --ignored; AIOLOS_SOAK_SECS sets its length (see the module docs)"]
fn soak_tcp_echo_200_clients_reconnecting_every_byte_verified_no_fd_leak() {
    let _serial = serial();
    let soak = soak_duration();
    let _wd = watchdog("soak_tcp_soak", soak.as_secs() + 1200);
    tcp_echo_soak(Soak {
        clients: 200,
        rounds: None,
        duration: Some(soak),
        max_len: 256 * 1024,
    });
}

// ---- 4. The blocking pool at its limit ----

struct PoolAtLimit {
    limit: usize,
    /// Plain threads submitting through `Handle::spawn_blocking`.
    thread_submitters: usize,
    /// Tasks submitting through `aiolos::spawn_blocking`.
    task_submitters: usize,
    jobs_per_submitter: usize,
    /// Jobs of each submitter that wait at a barrier of `limit`.
    barrier_jobs_per_submitter: usize,
    /// Jobs for a one-thread pool whose thread leaves after each job.
    churn_jobs: usize,
}

/// Job accounting shared by the pool test's jobs.
#[derive(Default)]
struct Jobs {
    running: AtomicUsize,
    max_running: AtomicUsize,
    /// Jobs started, not counting the plugs.
    started: AtomicUsize,
    /// `spawn_blocking` calls made by the submitters.
    submitted: AtomicUsize,
    /// Barrier releases (each needed `limit` jobs running at once).
    full_house: AtomicUsize,
    /// The most pool threads seen alive at a barrier release.
    max_threads_seen: AtomicUsize,
}

impl Jobs {
    fn enter(&self) {
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.max_running.fetch_max(now, SeqCst);
    }

    fn leave(&self) {
        self.running.fetch_sub(1, SeqCst);
    }
}

/// A job for the pool test: `(submitter, index)` comes back as its result.
fn pool_job(
    jobs: &Arc<Jobs>,
    barrier: &Arc<Barrier>,
    prefix: &'static str,
    submitter: usize,
    j: usize,
    at_barrier: bool,
    kind: u64,
) -> impl FnOnce() -> (usize, usize) + Send + 'static {
    let (jobs, barrier) = (jobs.clone(), barrier.clone());
    move || {
        jobs.enter();
        jobs.started.fetch_add(1, SeqCst);
        if at_barrier {
            if barrier.wait().is_leader() {
                jobs.full_house.fetch_add(1, SeqCst);
                let threads = thread_names_with_prefix(&format!("{prefix}-bl")).len();
                jobs.max_threads_seen.fetch_max(threads, SeqCst);
            }
        } else {
            match kind {
                // The job's own work, not synchronisation.
                0 => thread::sleep(Duration::from_micros(20 + splitmix64(j as u64) % 300)),
                1 => thread::yield_now(),
                _ => {
                    std::hint::black_box((0..200u64).fold(0, |a, i| a ^ splitmix64(i)));
                }
            }
        }
        jobs.leave();
        (submitter, j)
    }
}

/// A pool capped at `limit` threads is first filled by `limit` plug jobs;
/// submitters on plain threads and in tasks then queue all their jobs, none
/// of which may start until the plugs are released. Then the jobs drain:
/// short ones (sleeping, yielding, computing) and barrier ones that can only
/// return when `limit` of them run at once. At most `limit` jobs ever run
/// together, `limit` do at every barrier release, the pool never has more
/// than `limit` threads, every job's result reaches its submitter, and no
/// pool thread is left after the runtime is dropped. Last, [`keep_alive_churn`].
fn blocking_pool_at_its_limit(p: PoolAtLimit) {
    const PREFIX: &str = "stressbp";
    let submitters = p.thread_submitters + p.task_submitters;
    let barrier_jobs = submitters * p.barrier_jobs_per_submitter;
    assert_eq!(
        barrier_jobs % p.limit,
        0,
        "a barrier group would never fill"
    );
    let seed = base_seed();
    eprintln!("blocking_pool: seed {seed}");
    let rt = Runtime::builder()
        .worker_threads(2)
        .max_blocking_threads(p.limit)
        .thread_name(PREFIX)
        .build()
        .unwrap();
    let handle = rt.handle();
    let jobs = Arc::new(Jobs::default());
    let barrier = Arc::new(Barrier::new(p.limit));
    let started_at = Instant::now();

    // 1. Plug every pool thread.
    let plug = Arc::new(Barrier::new(p.limit + 1));
    let plugs: Vec<_> = (0..p.limit)
        .map(|_| {
            let (jobs, plug) = (jobs.clone(), plug.clone());
            rt.spawn_blocking(move || {
                jobs.enter();
                plug.wait(); // all plugs run
                plug.wait(); // released
                jobs.leave();
            })
        })
        .collect();
    plug.wait();
    assert_eq!(jobs.running.load(SeqCst), p.limit, "plugs running");

    // 2. Submit everything; it all has to queue.
    let plan = move |rng: &mut Rng, j: usize| {
        let every = p.jobs_per_submitter / p.barrier_jobs_per_submitter.max(1);
        let at_barrier = j.is_multiple_of(every) && j / every < p.barrier_jobs_per_submitter;
        (at_barrier, rng.below(3))
    };
    let thread_submitters: Vec<_> = (0..p.thread_submitters)
        .map(|s| {
            let (handle, jobs, barrier) = (handle.clone(), jobs.clone(), barrier.clone());
            let n = p.jobs_per_submitter;
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (s as u64) << 8);
                let tasks: Vec<_> = (0..n)
                    .map(|j| {
                        let (at_barrier, kind) = plan(&mut rng, j);
                        let job = pool_job(&jobs, &barrier, PREFIX, s, j, at_barrier, kind);
                        let task = handle.spawn_blocking(job);
                        jobs.submitted.fetch_add(1, SeqCst);
                        task
                    })
                    .collect();
                handle.block_on(async move {
                    for (j, task) in tasks.into_iter().enumerate() {
                        match aiolos::time::timeout(LONG, task).await {
                            Ok(Ok(got)) => assert_eq!(got, (s, j), "a job's result went astray"),
                            Ok(Err(e)) => panic!("job {j} of submitter {s}: {}", describe(e)),
                            Err(_) => panic!("job {j} of submitter {s} lost"),
                        }
                    }
                });
            })
        })
        .collect();
    let task_submitters: Vec<_> = (0..p.task_submitters)
        .map(|t| {
            let s = p.thread_submitters + t;
            let (jobs, barrier) = (jobs.clone(), barrier.clone());
            let n = p.jobs_per_submitter;
            rt.spawn(async move {
                let mut rng = Rng::new(seed ^ (s as u64) << 8);
                let mut tasks = Vec::with_capacity(n);
                for j in 0..n {
                    let (at_barrier, kind) = plan(&mut rng, j);
                    let job = pool_job(&jobs, &barrier, PREFIX, s, j, at_barrier, kind);
                    tasks.push(aiolos::spawn_blocking(job));
                    jobs.submitted.fetch_add(1, SeqCst);
                    if j % 64 == 0 {
                        aiolos::yield_now().await;
                    }
                }
                for (j, task) in tasks.into_iter().enumerate() {
                    match aiolos::time::timeout(LONG, task).await {
                        Ok(Ok(got)) => assert_eq!(got, (s, j), "a job's result went astray"),
                        Ok(Err(e)) => panic!("job {j} of submitter {s}: {}", describe(e)),
                        Err(_) => panic!("job {j} of submitter {s} lost"),
                    }
                }
            })
        })
        .collect();
    let total = submitters * p.jobs_per_submitter;
    wait_until("every job to be submitted", || {
        jobs.submitted.load(SeqCst) == total
    });
    assert_eq!(
        jobs.started.load(SeqCst),
        0,
        "a job started while every pool thread was busy"
    );

    // 3. Release the plugs and let everything drain.
    plug.wait();
    for (i, t) in plugs.into_iter().enumerate() {
        join_ok(t, &format!("plug {i}"));
    }
    for t in thread_submitters {
        t.join()
            .unwrap_or_else(|e| panic!("a submitter thread failed: {}", panic_message(&*e)));
    }
    for (i, t) in task_submitters.into_iter().enumerate() {
        join_ok(t, &format!("submitter task {i}"));
    }
    let elapsed = started_at.elapsed();
    eprintln!(
        "blocking_pool: {total} jobs over {} threads, in {elapsed:?}",
        p.limit
    );
    assert_eq!(jobs.started.load(SeqCst), total, "jobs run");
    assert_eq!(jobs.running.load(SeqCst), 0);
    assert_eq!(
        jobs.max_running.load(SeqCst),
        p.limit,
        "most jobs running at once"
    );
    assert_eq!(
        jobs.full_house.load(SeqCst),
        barrier_jobs / p.limit,
        "barrier releases"
    );
    let threads = jobs.max_threads_seen.load(SeqCst);
    assert!(
        threads <= p.limit,
        "{threads} pool threads alive with a limit of {}",
        p.limit
    );
    drop(rt);
    wait_for_threads_to_leave(PREFIX);
    keep_alive_churn(p.churn_jobs);
}

/// A pool capped at one thread with no keep-alive: its thread leaves as soon
/// as it runs out of jobs, so each job, submitted once the previous one has
/// returned, races with the thread's exit. Every job must run (at the cap,
/// one pushed while the thread was leaving used to wait for it forever).
fn keep_alive_churn(jobs: usize) {
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .blocking_keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    let started = Instant::now();
    for j in 0..jobs {
        match block_on_within(rt.spawn_blocking(move || j), LONG) {
            Some(Ok(got)) => assert_eq!(got, j),
            Some(Err(e)) => panic!("churn job {j}: {}", describe(e)),
            None => panic!("churn job {j} never ran (pushed while the pool's thread was leaving?)"),
        }
    }
    eprintln!(
        "blocking_pool: {jobs} jobs racing the keep-alive, in {:?}",
        started.elapsed()
    );
}

/// The minimal reproduction of the bug the pool scenario found: a job
/// pushed while the only thread of a pool at its cap is leaving after its
/// keep-alive (held in its stop hook here). The thread used to be counted
/// until its very end, so the push started no thread, and the job waited
/// until some later `spawn_blocking` started one: forever if none came.
#[test]
fn stress_blocking_job_pushed_as_the_capped_pools_thread_leaves_still_runs() {
    const PREFIX: &str = "stressleave";
    let _serial = serial();
    let _wd = watchdog("stress_blocking_leaving_thread", 300);
    let (leaving_tx, leaving) = std::sync::mpsc::channel();
    let leaving_tx = Mutex::new(leaving_tx);
    let go = Arc::new(Barrier::new(2));
    let first = AtomicBool::new(true);
    let rt = {
        let go = go.clone();
        Runtime::builder()
            .worker_threads(1)
            .max_blocking_threads(1)
            .blocking_keep_alive(Duration::from_millis(1))
            .thread_name(PREFIX)
            .on_thread_stop(move || {
                // Hold the first pool thread to leave in its stop hook.
                if thread_name().starts_with(PREFIX)
                    && thread_name().contains("-blocking-")
                    && first.swap(false, SeqCst)
                {
                    leaving_tx.lock().unwrap().send(()).unwrap();
                    go.wait();
                }
            })
            .build()
            .unwrap()
    };
    let first_job = rt.spawn_blocking(|| 1);
    assert_eq!(join_ok(first_job, "the first job"), 1);
    leaving
        .recv_timeout(LONG)
        .expect("the pool's thread did not leave after its keep-alive");
    let job = rt.spawn_blocking(|| 2);
    go.wait();
    match block_on_within(job, LONG) {
        Some(r) => assert_eq!(r.expect("the job failed"), 2),
        None => panic!("a job pushed while the pool's only thread was leaving never ran"),
    }
    drop(rt);
    wait_for_threads_to_leave(PREFIX);
}

#[test]
fn stress_blocking_pool_at_its_limit_queues_every_job_and_loses_none() {
    let _serial = serial();
    let _wd = watchdog("stress_blocking_pool", 300);
    blocking_pool_at_its_limit(PoolAtLimit {
        limit: 4,
        thread_submitters: 3,
        task_submitters: 1,
        jobs_per_submitter: 1_000,
        barrier_jobs_per_submitter: 4,
        churn_jobs: 5_000,
    });
}

#[test]
#[ignore = "long: run with --ignored; AIOLOS_SOAK_SECS sets its length (see the module docs)"]
fn soak_blocking_pool_at_its_limit_queues_200k_jobs_and_loses_none() {
    let _serial = serial();
    let _wd = watchdog("soak_blocking_pool", soak_duration().as_secs() + 1200);
    repeat_for_soak("blocking_pool", || {
        blocking_pool_at_its_limit(PoolAtLimit {
            limit: 8,
            thread_submitters: 7,
            task_submitters: 1,
            jobs_per_submitter: 25_000,
            barrier_jobs_per_submitter: 16,
            churn_jobs: 100_000,
        })
    });
}

// ---- 5. Shutdown racing with spawns ----

/// A `Task` a racing spawner keeps, with what it must resolve to.
enum Spawned {
    /// `Ok(value)` or `Err(Cancelled)`.
    Value(u64, Task<u64>),
    /// A task that spawned another: `Ok(inner)` (which then resolves like
    /// `Value`) or `Err(Cancelled)`.
    Nested(u64, Task<Task<u64>>),
    /// Never finishes on its own: only `Err(Cancelled)`.
    Forever(Task<()>),
}

/// Counts futures and closures made and dropped.
#[derive(Clone, Default)]
struct Made {
    made: Counter,
    dropped: Counter,
}

impl Made {
    fn future<F: Future + Send + 'static>(&self, f: F) -> impl Future<Output = F::Output> + Send {
        self.made.incr();
        let guard = DropGuard::new(&self.dropped);
        async move {
            let _guard = guard;
            f.await
        }
    }

    fn job(&self, v: u64) -> impl FnOnce() -> u64 + Send + 'static {
        self.made.incr();
        let guard = DropGuard::new(&self.dropped);
        move || {
            let _guard = guard;
            v
        }
    }
}

/// Spawns a never-ending task on the current runtime when dropped, if there
/// is one (a destructor that spawns, as shutdown drops the future holding it).
struct SpawnOnDrop(Made);

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = Handle::try_current() {
            drop(handle.spawn(self.0.future(std::future::pending::<()>())));
        }
    }
}

/// Outcomes of a round's tasks.
#[derive(Default, Debug)]
struct Resolved {
    ok: usize,
    cancelled: usize,
    /// Spawns made while the shutdown ran.
    during_shutdown: usize,
    /// Spawns made after it returned.
    after_shutdown: usize,
}

/// Awaits `task` with no runtime (the runtime is gone), failing if it hangs.
fn resolve<T>(task: Task<T>, what: &str) -> Result<T, TaskError> {
    match block_on_within(task, LONG) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_cancelled() => Err(e),
        Some(Err(e)) => panic!("{what}: {}", describe(e)),
        None => panic!("{what}: never resolved after the runtime shut down"),
    }
}

/// Where a racing round is: spawning before the shutdown, during it, or
/// after it returned.
#[derive(Default)]
struct RoundState {
    phase: AtomicUsize,
    lock: Mutex<()>,
    changed: Condvar,
}

const BEFORE: usize = 0;
const DURING: usize = 1;
const AFTER: usize = 2;

impl RoundState {
    fn phase(&self) -> usize {
        self.phase.load(SeqCst)
    }

    fn enter(&self, phase: usize) {
        self.phase.store(phase, SeqCst);
        let _lock = self.lock.lock().unwrap();
        self.changed.notify_all();
    }

    /// Waits until the round is past `phase`.
    fn wait_past(&self, phase: usize) {
        let mut lock = self.lock.lock().unwrap();
        while self.phase() <= phase {
            lock = self.changed.wait(lock).unwrap();
        }
    }
}

/// One plain thread's spawning loop: spawns tasks of every kind through its
/// `Handle` (futures, blocking jobs, tasks that spawn from inside, tasks that
/// never end, detached tasks whose destructor spawns) before and all
/// through the shutdown, until it has spawned `after` more since the
/// shutdown returned; then awaits every `Task` it kept. It waits for the
/// next phase once it has made `caps[phase]` spawns, so that spawners
/// running ahead neither pile up work nor starve the shutting-down thread.
// The nested kinds hand their inner `Task` out of the outer one on purpose.
#[allow(clippy::async_yields_async)]
fn race_spawner(
    handle: Handle,
    made: Made,
    seed: u64,
    spawned: Counter,
    round: Arc<RoundState>,
    caps: [usize; 2],
    after: usize,
) -> Resolved {
    let mut rng = Rng::new(seed);
    let mut kept = Vec::new();
    let (mut during_shutdown, mut since_shutdown) = (0, 0);
    while since_shutdown < after {
        let phase = round.phase();
        if phase == DURING {
            during_shutdown += 1;
        }
        if phase == AFTER {
            since_shutdown += 1;
        } else if spawned.get() >= caps[phase] {
            round.wait_past(phase);
            continue;
        }
        let v = rng.next();
        let yields = rng.below(3);
        match rng.below(6) {
            0 => kept.push(Spawned::Value(
                v,
                handle.spawn(made.future(async move {
                    for _ in 0..yields {
                        aiolos::yield_now().await;
                    }
                    v
                })),
            )),
            1 => kept.push(Spawned::Value(v, handle.spawn_blocking(made.job(v)))),
            2 => {
                let m = made.clone();
                kept.push(Spawned::Nested(
                    v,
                    handle.spawn(made.future(async move {
                        aiolos::spawn(m.future(async move {
                            for _ in 0..yields {
                                aiolos::yield_now().await;
                            }
                            v
                        }))
                    })),
                ))
            }
            3 => {
                let m = made.clone();
                kept.push(Spawned::Nested(
                    v,
                    handle.spawn(made.future(async move { aiolos::spawn_blocking(m.job(v)) })),
                ))
            }
            4 => kept.push(Spawned::Forever(
                handle.spawn(made.future(std::future::pending())),
            )),
            _ => {
                let on_drop = SpawnOnDrop(made.clone());
                drop(handle.spawn(made.future(async move {
                    let _on_drop = on_drop;
                    for _ in 0..yields {
                        aiolos::yield_now().await;
                    }
                })));
            }
        }
        spawned.incr();
    }
    drop(handle);

    let mut resolved = Resolved {
        during_shutdown,
        after_shutdown: since_shutdown,
        ..Resolved::default()
    };
    let mut count = |ok: bool| {
        if ok {
            resolved.ok += 1;
        } else {
            resolved.cancelled += 1;
        }
    };
    for (k, s) in kept.into_iter().enumerate() {
        let what = format!("task {k}");
        match s {
            Spawned::Value(v, task) => {
                let got = resolve(task, &what);
                if let Ok(got) = got {
                    assert_eq!(got, v, "{what}: wrong value");
                }
                count(got.is_ok());
            }
            Spawned::Nested(v, task) => match resolve(task, &what) {
                Ok(inner) => {
                    let got = resolve(inner, &format!("{what}'s inner task"));
                    if let Ok(got) = got {
                        assert_eq!(got, v, "{what}'s inner task: wrong value");
                    }
                    count(got.is_ok());
                }
                Err(_) => count(false),
            },
            Spawned::Forever(task) => {
                assert!(
                    resolve(task, &what).is_err(),
                    "{what}: a never-ending task finished"
                );
                count(false);
            }
        }
    }
    resolved
}

struct ShutdownRace {
    /// Rounds, if bounded by count.
    rounds: Option<usize>,
    /// How long to keep starting rounds, if bounded by time.
    duration: Option<Duration>,
    spawners: usize,
    /// Spawns each spawner makes before the runtime is shut down (at least;
    /// at most twice as many).
    before: usize,
    /// Most spawns each spawner makes while the shutdown runs.
    during: usize,
    /// Spawns each spawner makes once it has seen the shutdown.
    after: usize,
}

/// Round after round, plain threads spawn through a `Handle` in a loop
/// while the main thread drops the runtime or calls `shutdown_timeout`
/// under them; the spawners go on spawning for a while after it. Every
/// `Task` they kept must resolve, with no runtime left to run anything:
/// to its value or `Err(Cancelled)` (never-ending ones only to
/// `Err(Cancelled)`), none hanging, none panicking. Every future and job
/// made is dropped exactly once, and after the last round no runtime
/// thread and no runtime descriptor is left.
fn shutdown_racing_spawns(p: ShutdownRace) {
    const PREFIX: &str = "stressdown";
    let seed = base_seed();
    eprintln!("shutdown_race: seed {seed}");
    let fds_before = open_fds();
    let made = Made::default();
    let mut rng = Rng::new(seed);
    let mut total = Resolved::default();
    let started = Instant::now();
    let mut rounds = 0;
    while p.rounds.is_none_or(|r| rounds < r) && p.duration.is_none_or(|d| started.elapsed() < d) {
        let rt = Runtime::builder()
            .worker_threads(2)
            .max_blocking_threads(4)
            .thread_name(PREFIX)
            .build()
            .unwrap();
        let round = Arc::new(RoundState::default());
        let counts: Vec<Counter> = (0..p.spawners).map(|_| Counter::new()).collect();
        let spawners: Vec<_> = counts
            .iter()
            .enumerate()
            .map(|(s, spawned)| {
                let (handle, made, spawned, round) =
                    (rt.handle(), made.clone(), spawned.clone(), round.clone());
                let seed = rng.next() ^ s as u64;
                let mut caps = [0; 2];
                caps[BEFORE] = 2 * p.before;
                caps[DURING] = caps[BEFORE] + p.during;
                let after = p.after;
                thread::spawn(move || race_spawner(handle, made, seed, spawned, round, caps, after))
            })
            .collect();
        wait_until("every spawner to be under way", || {
            counts.iter().all(|c| c.get() >= p.before)
        });
        round.enter(DURING);
        if rng.one_in(2) {
            drop(rt);
        } else {
            rt.shutdown_timeout(Duration::from_millis(rng.below(3)));
        }
        round.enter(AFTER);
        for t in spawners {
            let r = t
                .join()
                .unwrap_or_else(|e| panic!("round {rounds}: {}", panic_message(&*e)));
            total.ok += r.ok;
            total.cancelled += r.cancelled;
            total.during_shutdown += r.during_shutdown;
            total.after_shutdown += r.after_shutdown;
        }
        rounds += 1;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "shutdown_race: {rounds} rounds, {} futures and jobs, {total:?}, in {elapsed:?}",
        made.made.get()
    );
    assert!(total.ok > 0 && total.cancelled > 0, "{total:?}");
    wait_for_threads_to_leave(PREFIX);
    // Jobs left running by `shutdown_timeout` have finished (their threads
    // are gone), so everything made has been dropped.
    assert_eq!(
        made.dropped.get(),
        made.made.get(),
        "futures and jobs dropped"
    );
    assert_eq!(open_fds(), fds_before, "descriptors left by the runtimes");
}

#[test]
fn stress_shutdown_racing_with_spawns_from_other_threads_resolves_every_task() {
    let _serial = serial();
    let _wd = watchdog("stress_shutdown_race", 300);
    shutdown_racing_spawns(ShutdownRace {
        rounds: Some(30),
        duration: None,
        spawners: 4,
        before: 200,
        during: 1_000,
        after: 100,
    });
}

#[test]
#[ignore = "long: run with --ignored; AIOLOS_SOAK_SECS sets its length (see the module docs)"]
fn soak_shutdown_racing_with_spawns_from_other_threads_resolves_every_task() {
    let _serial = serial();
    let soak = soak_duration();
    let _wd = watchdog("soak_shutdown_race", soak.as_secs() + 1200);
    shutdown_racing_spawns(ShutdownRace {
        rounds: None,
        duration: Some(soak),
        spawners: 8,
        before: 1_000,
        during: 5_000,
        after: 200,
    });
}
