//! The workloads, modelled on tokio's `benches/rt_multi_threaded.rs`.
//!
//! Each one is a function that runs ONE iteration on any [`Rt`] and checks what
//! it counted (tasks run, yields done, messages received, blocking calls made):
//! it returns `Err` with a description when the count is wrong, so a broken
//! runtime cannot post a time. Completion is signalled over an
//! `async_channel` for every runtime, so only the schedulers differ. Every
//! task that could signal holds a clone of the sender: if a runtime drops
//! tasks without running them, the waiter sees the channel close instead of
//! hanging.
//!
//! An iteration may also measure something besides its time: it returns
//! [`Metrics`] (`timers_sleep` reports how late its sleeps woke up,
//! `tcp_echo` its round trips per second and round-trip latency).

use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::rt::{Rt, Spawner};

/// Tasks spawned per iteration by `spawn_local` and `spawn_remote`.
pub const SPAWN_TASKS: usize = 10_000;
/// Tasks in `yield_many`.
pub const YIELD_TASKS: usize = 200;
/// `yield_now().await` calls per task in `yield_many`.
pub const YIELDS_PER_TASK: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
pub const PING_PONG_PAIRS: usize = 1_000;
/// Round trips (ping + pong) per pair in `ping_pong`.
pub const PING_PONG_ROUNDS: usize = 10;
/// Links in `chained_spawn`.
pub const CHAIN_LEN: usize = 1_000;
/// `spawn_blocking` calls in `spawn_blocking`.
pub const BLOCKING_CALLS: usize = 1_000;
/// Tasks creating timers in `timers_churn`.
pub const CHURN_TASKS: usize = 4;
/// Timers of each kind (a `timeout` and a `sleep`) each `timers_churn` task
/// creates.
pub const CHURN_PER_TASK: usize = 75_000;
/// The delay of every `timers_churn` timer: far enough that none fires.
pub const CHURN_DELAY: Duration = Duration::from_secs(5);
/// Sleeping tasks in `timers_sleep`.
pub const SLEEP_TASKS: usize = 50_000;
/// The shortest sleep in `timers_sleep`, in milliseconds.
pub const SLEEP_MIN_MS: u64 = 1;
/// The longest sleep in `timers_sleep`, in milliseconds.
pub const SLEEP_MAX_MS: u64 = 25;
/// Client connections in `tcp_echo`.
pub const ECHO_CONNS: usize = 50;
/// Round trips each `tcp_echo` connection makes.
pub const ECHO_ROUNDS: usize = 2_000;
/// Bytes in one `tcp_echo` message (sent, then echoed back).
pub const ECHO_MSG_LEN: usize = 64;
/// Tasks sharing the one mutex in `mutex_contended`.
pub const MUTEX_TASKS: usize = 16;
/// Lock/unlock rounds each `mutex_contended` task makes.
pub const MUTEX_LOCKS_PER_TASK: usize = 20_000;
/// Producer tasks in `mpsc_fanin`.
pub const FANIN_PRODUCERS: usize = 8;
/// Messages each `mpsc_fanin` producer sends.
pub const FANIN_PER_PRODUCER: usize = 50_000;
/// Capacity of the bounded channel in `mpsc_fanin`.
pub const FANIN_CAPACITY: usize = 1_024;
/// Tasks spawned and then gathered in `gather_many`.
pub const GATHER_TASKS: usize = 100_000;

/// One benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// From inside a task, spawn 10 000 tiny tasks; the last to run signals.
    SpawnLocal,
    /// From an outside thread, spawn 10 000 tiny tasks through the handle.
    SpawnRemote,
    /// 200 tasks each `yield_now().await` 1 000 times.
    YieldMany,
    /// 1 000 pairs of tasks, each pair doing 10 round trips over channels.
    PingPong,
    /// A chain of 1 000 spawns, each task spawning the next.
    ChainedSpawn,
    /// 1 000 `spawn_blocking` calls of tiny closures, all awaited.
    SpawnBlocking,
    /// 4 tasks each create 75 000 `timeout(5 s, ready)` (awaited) and 75 000
    /// `sleep(5 s)` (polled once, then dropped).
    TimersChurn,
    /// 50 000 tasks each sleep 1–25 ms; reports how late they woke.
    TimersSleep,
    /// A loopback echo server and 50 client connections, each making 2 000
    /// round trips of 64 bytes; reports round trips per second and the 99th
    /// percentile round-trip time.
    TcpEcho,
    /// 16 tasks each lock one async mutex 20 000 times to bump a counter.
    MutexContended,
    /// 8 producer tasks each send 50 000 messages into one bounded channel
    /// (capacity 1 024) that one task receives.
    MpscFanin,
    /// A task spawns 100 000 tiny tasks and gathers their outputs in order.
    GatherMany,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 12] = [
        Workload::SpawnLocal,
        Workload::SpawnRemote,
        Workload::YieldMany,
        Workload::PingPong,
        Workload::ChainedSpawn,
        Workload::SpawnBlocking,
        Workload::TimersChurn,
        Workload::TimersSleep,
        Workload::TcpEcho,
        Workload::MutexContended,
        Workload::MpscFanin,
        Workload::GatherMany,
    ];

    /// The name used on the command line, in tables and in criterion.
    pub fn name(self) -> &'static str {
        match self {
            Workload::SpawnLocal => "spawn_local",
            Workload::SpawnRemote => "spawn_remote",
            Workload::YieldMany => "yield_many",
            Workload::PingPong => "ping_pong",
            Workload::ChainedSpawn => "chained_spawn",
            Workload::SpawnBlocking => "spawn_blocking",
            Workload::TimersChurn => "timers_churn",
            Workload::TimersSleep => "timers_sleep",
            Workload::TcpEcho => "tcp_echo",
            Workload::MutexContended => "mutex_contended",
            Workload::MpscFanin => "mpsc_fanin",
            Workload::GatherMany => "gather_many",
        }
    }

    /// Looks a workload up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Timed iterations per measurement in `compare` (after one warm-up),
    /// chosen so one measurement takes roughly 0.1–1 s on a small machine.
    pub fn iters(self) -> u32 {
        match self {
            Workload::SpawnLocal => 100,
            Workload::SpawnRemote => 100,
            Workload::YieldMany => 50,
            Workload::PingPong => 100,
            Workload::ChainedSpawn => 1_000,
            Workload::SpawnBlocking => 30,
            Workload::TimersChurn => 10,
            Workload::TimersSleep => 10,
            Workload::TcpEcho => 3,
            Workload::MutexContended => 20,
            Workload::MpscFanin => 10,
            Workload::GatherMany => 5,
        }
    }

    /// One line saying what an iteration does.
    pub fn about(self) -> &'static str {
        match self {
            Workload::SpawnLocal => {
                "a task spawns 10 000 tiny tasks (each decrements a counter); wait for the last"
            }
            Workload::SpawnRemote => {
                "a non-runtime thread spawns 10 000 tiny tasks through the handle; wait for the last"
            }
            Workload::YieldMany => "200 tasks each yield_now().await 1 000 times",
            Workload::PingPong => {
                "1 000 task pairs, each doing 10 ping/pong round trips over two async-channels"
            }
            Workload::ChainedSpawn => "a chain of 1 000 tasks, each spawning the next",
            Workload::SpawnBlocking => "1 000 spawn_blocking calls of tiny closures, all awaited",
            Workload::TimersChurn => {
                "4 tasks x 75 000 timeout(5 s, ready) awaited + 75 000 sleep(5 s) polled once, dropped"
            }
            Workload::TimersSleep => {
                "50 000 tasks each sleep 1-25 ms (fixed pseudo-random); lateness = wake - deadline"
            }
            Workload::TcpEcho => {
                "loopback echo server, 50 connections x 2 000 round trips of 64 bytes (TCP_NODELAY)"
            }
            Workload::MutexContended => {
                "16 tasks x 20 000 lock/unlock of one async Mutex around a counter"
            }
            Workload::MpscFanin => {
                "8 producers x 50 000 messages into one bounded channel (capacity 1 024), one consumer"
            }
            Workload::GatherMany => {
                "a task spawns 100 000 tiny tasks and gathers their outputs in order"
            }
        }
    }

    /// Runs one iteration on `rt`, checks its result and returns what it
    /// measured besides its time (nothing, for most workloads).
    pub fn run<R: Rt>(self, rt: &R) -> Result<Metrics, Failure> {
        let none = |()| Metrics::default();
        let r = match self {
            Workload::SpawnLocal => spawn_local(rt).map(none),
            Workload::SpawnRemote => spawn_remote(rt).map(none),
            Workload::YieldMany => yield_many(rt).map(none),
            Workload::PingPong => ping_pong(rt).map(none),
            Workload::ChainedSpawn => chained_spawn(rt).map(none),
            Workload::SpawnBlocking => spawn_blocking(rt).map(none),
            Workload::TimersChurn => timers_churn(rt).map(none),
            Workload::TimersSleep => timers_sleep(rt),
            Workload::TcpEcho => tcp_echo(rt, ECHO_CONNS, ECHO_ROUNDS),
            Workload::MutexContended => mutex_contended(rt).map(none),
            Workload::MpscFanin => mpsc_fanin(rt).map(none),
            Workload::GatherMany => gather_many(rt).map(none),
        };
        r.map_err(|msg| Failure {
            workload: self,
            msg,
        })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A workload whose check failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The workload that failed.
    pub workload: Workload,
    /// What was wrong.
    pub msg: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} check failed: {}", self.workload, self.msg)
    }
}

impl std::error::Error for Failure {}

/// Named numbers an iteration measured besides its time, e.g.
/// `lateness_mean_ns`. Names are `GROUP_STAT_UNIT` (`compare` prints them
/// grouped); values are plain numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(Vec<(&'static str, f64)>);

impl Metrics {
    /// Adds (or replaces) the metric `name`.
    pub fn set(&mut self, name: &'static str, value: f64) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The metric `name`, if measured.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// Every metric, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.0.iter().copied()
    }

    /// Whether nothing was measured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Counts tasks down; the one that brings the count to zero sends the signal.
#[derive(Debug)]
struct Countdown {
    /// Tasks still to finish.
    rem: AtomicUsize,
    /// Where the last one signals.
    done: async_channel::Sender<()>,
}

impl Countdown {
    /// A countdown from `n` and the receiver of its signal.
    fn new(n: usize) -> (Arc<Countdown>, async_channel::Receiver<()>) {
        let (done, rx) = async_channel::bounded(1);
        let cd = Arc::new(Countdown {
            rem: AtomicUsize::new(n),
            done,
        });
        (cd, rx)
    }

    /// Marks one task finished.
    fn tick(&self) {
        if self.rem.fetch_sub(1, AcqRel) == 1 {
            let _ = self.done.try_send(());
        }
    }
}

/// Waits, from outside the runtime, for a countdown's signal. The caller must
/// not hold the countdown itself: only the tasks' references may keep the
/// channel open, so a runtime that drops tasks unrun closes it instead of
/// leaving us waiting.
fn wait<R: Rt>(rt: &R, rx: async_channel::Receiver<()>) -> Result<(), String> {
    rt.block_on(rx.recv()).map_err(|_| {
        "completion channel closed before the signal: every task holding it was dropped, \
         so the runtime dropped tasks without running them to the end"
            .to_string()
    })
}

/// Compares a count with what it should be.
fn expect(what: &str, got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got}, expected {want}"))
    }
}

/// From inside a task, spawn [`SPAWN_TASKS`] tiny tasks; wait for the last.
pub fn spawn_local<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(SPAWN_TASKS);
    let ran = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    let ran2 = ran.clone();
    rt.spawner().spawn_remote(async move {
        for _ in 0..SPAWN_TASKS {
            let (cd, ran) = (cd.clone(), ran2.clone());
            sp.spawn(async move {
                ran.fetch_add(1, AcqRel);
                cd.tick();
            });
        }
    });
    wait(rt, rx)?;
    expect("tasks run", ran.load(Acquire), SPAWN_TASKS)
}

/// From this (non-runtime) thread, spawn [`SPAWN_TASKS`] tiny tasks through
/// the handle; wait for the last.
pub fn spawn_remote<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(SPAWN_TASKS);
    let ran = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    for _ in 0..SPAWN_TASKS {
        let (cd, ran) = (cd.clone(), ran.clone());
        sp.spawn_remote(async move {
            ran.fetch_add(1, AcqRel);
            cd.tick();
        });
    }
    drop(cd);
    wait(rt, rx)?;
    expect("tasks run", ran.load(Acquire), SPAWN_TASKS)
}

/// [`YIELD_TASKS`] tasks each yield [`YIELDS_PER_TASK`] times.
pub fn yield_many<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(YIELD_TASKS);
    let yields = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    for _ in 0..YIELD_TASKS {
        let (cd, yields) = (cd.clone(), yields.clone());
        sp.spawn_remote(async move {
            let mut n = 0;
            for _ in 0..YIELDS_PER_TASK {
                R::Spawner::yield_now().await;
                n += 1;
            }
            yields.fetch_add(n, AcqRel);
            cd.tick();
        });
    }
    drop(cd);
    wait(rt, rx)?;
    expect(
        "yields performed",
        yields.load(Acquire),
        YIELD_TASKS * YIELDS_PER_TASK,
    )
}

/// [`PING_PONG_PAIRS`] pairs of tasks; in each pair one side sends a ping and
/// waits for the pong, [`PING_PONG_ROUNDS`] times. Pairs are spawned from
/// inside a task, each pair's partner from inside the pair's first task.
pub fn ping_pong<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(2 * PING_PONG_PAIRS);
    let received = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    let (received2, wrong2) = (received.clone(), wrong.clone());
    rt.spawner().spawn_remote(async move {
        for _ in 0..PING_PONG_PAIRS {
            let (cd, received, wrong) = (cd.clone(), received2.clone(), wrong2.clone());
            let partner = sp.clone();
            sp.spawn(async move {
                let (ping_tx, ping_rx) = async_channel::bounded::<usize>(1);
                let (pong_tx, pong_rx) = async_channel::bounded::<usize>(1);
                let (cd_p, received_p) = (cd.clone(), received.clone());
                // The partner answers each ping until the pinger hangs up.
                partner.spawn(async move {
                    let mut n = 0;
                    while let Ok(v) = ping_rx.recv().await {
                        n += 1;
                        if pong_tx.send(v).await.is_err() {
                            break;
                        }
                    }
                    received_p.fetch_add(n, AcqRel);
                    cd_p.tick();
                });
                let mut n = 0;
                for i in 0..PING_PONG_ROUNDS {
                    if ping_tx.send(i).await.is_err() {
                        break;
                    }
                    match pong_rx.recv().await {
                        Ok(v) if v == i => n += 1,
                        Ok(_) => {
                            wrong.fetch_add(1, AcqRel);
                        }
                        Err(_) => break,
                    }
                }
                drop(ping_tx);
                received.fetch_add(n, AcqRel);
                cd.tick();
            });
        }
    });
    wait(rt, rx)?;
    expect("out-of-order pongs", wrong.load(Acquire), 0)?;
    expect(
        "messages received",
        received.load(Acquire),
        2 * PING_PONG_PAIRS * PING_PONG_ROUNDS,
    )
}

/// One link of [`chained_spawn`]: counts itself, then spawns the next link or,
/// at the end, signals.
fn link<S: Spawner>(sp: S, n: usize, links: Arc<AtomicUsize>, cd: Arc<Countdown>) {
    links.fetch_add(1, AcqRel);
    if n == 0 {
        cd.tick();
    } else {
        let next = sp.clone();
        sp.spawn(async move { link(next, n - 1, links, cd) });
    }
}

/// A chain of [`CHAIN_LEN`] spawns, each task spawning the next.
pub fn chained_spawn<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(1);
    let links = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    let links2 = links.clone();
    rt.spawner()
        .spawn_remote(async move { link(sp, CHAIN_LEN, links2, cd) });
    wait(rt, rx)?;
    // The first task plus CHAIN_LEN spawned ones.
    expect("links run", links.load(Acquire), CHAIN_LEN + 1)
}

/// [`BLOCKING_CALLS`] `spawn_blocking` calls from inside a task, all awaited
/// there; the task reports the sum of their results.
pub fn spawn_blocking<R: Rt>(rt: &R) -> Result<(), String> {
    let (tx, rx) = async_channel::bounded::<Result<usize, String>>(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    let calls2 = calls.clone();
    rt.spawner().spawn_remote(async move {
        let jobs: Vec<_> = (0..BLOCKING_CALLS)
            .map(|i| {
                let calls = calls2.clone();
                sp.spawn_blocking(move || {
                    calls.fetch_add(1, AcqRel);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        let mut first_err = None;
        for job in jobs {
            match job.await {
                Ok(v) => sum += v,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let _ = tx.try_send(first_err.map_or(Ok(sum), Err));
    });
    let sum = rt
        .block_on(rx.recv())
        .map_err(|_| "the driver task was dropped without reporting".to_string())??;
    expect("blocking calls run", calls.load(Acquire), BLOCKING_CALLS)?;
    expect(
        "sum of results",
        sum,
        BLOCKING_CALLS * (BLOCKING_CALLS - 1) / 2,
    )
}

/// Polls `fut` exactly once (so a timer registers with its runtime's timers)
/// and reports whether it was still pending; the caller then drops it.
async fn poll_once_pending<F: Future>(fut: F) -> bool {
    futures_lite::future::poll_once(pin!(fut)).await.is_none()
}

/// [`CHURN_TASKS`] tasks each create [`CHURN_PER_TASK`] timeouts around ready
/// futures (awaited: they complete at once, without the timer firing) and as
/// many sleeps that are polled once (registering them) and then dropped
/// (cancelling them), all with the far-away [`CHURN_DELAY`]: the cost of
/// creating, registering and cancelling timers from several threads at once.
pub fn timers_churn<R: Rt>(rt: &R) -> Result<(), String> {
    let (cd, rx) = Countdown::new(CHURN_TASKS);
    let completed = Arc::new(AtomicUsize::new(0));
    let pending = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    for _ in 0..CHURN_TASKS {
        let (cd, completed, pending) = (cd.clone(), completed.clone(), pending.clone());
        sp.spawn_remote(async move {
            let (mut ok, mut registered) = (0, 0);
            for i in 0..CHURN_PER_TASK {
                let r = R::Spawner::timeout(CHURN_DELAY, std::future::ready(i)).await;
                if r == Ok(i) {
                    ok += 1;
                }
                if poll_once_pending(R::Spawner::sleep(CHURN_DELAY)).await {
                    registered += 1;
                }
            }
            completed.fetch_add(ok, AcqRel);
            pending.fetch_add(registered, AcqRel);
            cd.tick();
        });
    }
    drop(cd);
    wait(rt, rx)?;
    let total = CHURN_TASKS * CHURN_PER_TASK;
    expect(
        "timeouts completed with their future's value",
        completed.load(Acquire),
        total,
    )?;
    expect(
        "sleeps pending after one poll",
        pending.load(Acquire),
        total,
    )
}

/// Marsaglia's xorshift32: the same pseudo-random sleeps on every runtime.
#[derive(Debug)]
struct XorShift32(u32);

impl XorShift32 {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + u64::from(self.next()) % (hi - lo + 1)
    }
}

/// A task's lateness slot before the task has woken.
const NOT_WOKEN: u64 = u64::MAX;

/// A task spawns [`SLEEP_TASKS`] tasks, each sleeping a pseudo-random
/// [`SLEEP_MIN_MS`]..=[`SLEEP_MAX_MS`] ms (the same sequence every
/// iteration). Each task notes its deadline (`std::time::Instant::now() + d`)
/// before creating its sleep and, on waking, how late it is; the iteration
/// reports the mean, 99th percentile and maximum lateness over all tasks as
/// `lateness_mean_ns`, `lateness_p99_ns` and `lateness_max_ns`. A sleep that
/// wakes before its deadline fails the check.
pub fn timers_sleep<R: Rt>(rt: &R) -> Result<Metrics, String> {
    let (cd, rx) = Countdown::new(SLEEP_TASKS);
    let lateness: Arc<Vec<AtomicU64>> = Arc::new(
        (0..SLEEP_TASKS)
            .map(|_| AtomicU64::new(NOT_WOKEN))
            .collect(),
    );
    let early = Arc::new(AtomicUsize::new(0));
    let sp = rt.spawner();
    let (lateness2, early2) = (lateness.clone(), early.clone());
    rt.spawner().spawn_remote(async move {
        let mut rng = XorShift32(0x9e37_79b9);
        for i in 0..SLEEP_TASKS {
            let d = Duration::from_millis(rng.range(SLEEP_MIN_MS, SLEEP_MAX_MS));
            let (cd, lateness, early) = (cd.clone(), lateness2.clone(), early2.clone());
            sp.spawn(async move {
                let deadline = Instant::now() + d;
                R::Spawner::sleep(d).await;
                let woke = Instant::now();
                if woke < deadline {
                    early.fetch_add(1, AcqRel);
                }
                let late = woke.saturating_duration_since(deadline).as_nanos();
                lateness[i].store(late.min(u128::from(NOT_WOKEN - 1)) as u64, Release);
                cd.tick();
            });
        }
    });
    wait(rt, rx)?;
    expect(
        "sleeps that woke before their deadline",
        early.load(Acquire),
        0,
    )?;
    let mut late: Vec<u64> = lateness.iter().map(|l| l.load(Acquire)).collect();
    expect(
        "sleeping tasks that never recorded waking",
        late.iter().filter(|&&l| l == NOT_WOKEN).count(),
        0,
    )?;
    late.sort_unstable();
    let mean = late.iter().map(|&l| l as f64).sum::<f64>() / late.len() as f64;
    let p99 = late[(late.len() * 99).div_ceil(100) - 1] as f64;
    let max = late[late.len() - 1] as f64;
    let mut m = Metrics::default();
    m.set("lateness_mean_ns", mean);
    m.set("lateness_p99_ns", p99);
    m.set("lateness_max_ns", max);
    Ok(m)
}

/// What a `tcp_echo` task reports when it ends well.
#[derive(Debug)]
enum EchoDone {
    /// A client finished its round trips; each one's time in nanoseconds.
    Client(Vec<u64>),
    /// A server connection task saw its client hang up after echoing this
    /// many bytes.
    Server(usize),
}

/// The byte at `offset` of message `round` on connection `conn`: every
/// message differs from its neighbours, so a misrouted or stale echo fails
/// the comparison.
fn echo_byte(conn: usize, round: usize, offset: usize) -> u8 {
    (conn.wrapping_mul(131) ^ round.wrapping_mul(31) ^ offset) as u8
}

/// Reads exactly `buf.len()` bytes; end of stream before that is an error.
async fn read_exact<S: Spawner>(stream: &mut S::TcpStream, buf: &mut [u8]) -> Result<(), String> {
    let mut filled = 0;
    while filled < buf.len() {
        match S::tcp_read(stream, &mut buf[filled..]).await {
            Ok(0) => {
                return Err(format!(
                    "the server closed the connection after {filled} of {} echoed bytes",
                    buf.len()
                ))
            }
            Ok(n) => filled += n,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(())
}

/// One `tcp_echo` client: connects, then `rounds` times writes a
/// [`ECHO_MSG_LEN`]-byte message, reads the echo back and checks it. Returns
/// each round trip's time in nanoseconds.
async fn echo_client<S: Spawner>(
    addr: SocketAddr,
    conn: usize,
    rounds: usize,
) -> Result<Vec<u64>, String> {
    let mut stream = S::tcp_connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let mut msg = [0u8; ECHO_MSG_LEN];
    let mut echo = [0u8; ECHO_MSG_LEN];
    let mut rtts = Vec::with_capacity(rounds);
    for round in 0..rounds {
        for (offset, b) in msg.iter_mut().enumerate() {
            *b = echo_byte(conn, round, offset);
        }
        let sent = Instant::now();
        S::tcp_write_all(&mut stream, &msg)
            .await
            .map_err(|e| format!("connection {conn} round {round}: write: {e}"))?;
        read_exact::<S>(&mut stream, &mut echo)
            .await
            .map_err(|e| format!("connection {conn} round {round}: {e}"))?;
        rtts.push(sent.elapsed().as_nanos() as u64);
        if echo != msg {
            return Err(format!(
                "connection {conn} round {round}: the echo differs from the message"
            ));
        }
    }
    // Dropping the stream closes it: the server's task reads end of stream.
    Ok(rtts)
}

/// One `tcp_echo` server connection: echoes whatever arrives until the client
/// hangs up; returns how many bytes it echoed.
async fn echo_server_conn<S: Spawner>(mut stream: S::TcpStream) -> Result<usize, String> {
    let mut buf = [0u8; 4 * ECHO_MSG_LEN];
    let mut echoed = 0;
    loop {
        let n = S::tcp_read(&mut stream, &mut buf)
            .await
            .map_err(|e| format!("server read: {e}"))?;
        if n == 0 {
            return Ok(echoed);
        }
        S::tcp_write_all(&mut stream, &buf[..n])
            .await
            .map_err(|e| format!("server write: {e}"))?;
        echoed += n;
    }
}

/// A loopback echo server and `conns` clients on the same runtime, each
/// client making `rounds` round trips of [`ECHO_MSG_LEN`] bytes (the
/// benchmark runs [`ECHO_CONNS`] x [`ECHO_ROUNDS`]).
///
/// A task binds a listener on `127.0.0.1:0`, spawns the `conns` client
/// tasks, then accepts `conns` connections, spawning one echo task per
/// connection. Every stream has `TCP_NODELAY` set. Each client writes a
/// message, reads its echo back, checks it, and times the round trip. The
/// iteration ends when every client and every server task has finished,
/// and reports `echo_rps` (round trips per second over the iteration's wall
/// time, connection set-up included), `echo_rtt_mean_ns` and
/// `echo_rtt_p99_ns` (over all round trips). Any I/O error, wrong echo or
/// byte count fails the check.
pub fn tcp_echo<R: Rt>(rt: &R, conns: usize, rounds: usize) -> Result<Metrics, String> {
    if conns == 0 || rounds == 0 {
        return Err("tcp_echo needs at least one connection and one round".into());
    }
    // Every task holds a sender: if the runtime drops them unrun, `recv`
    // fails instead of hanging.
    let (tx, rx) = async_channel::unbounded::<Result<EchoDone, String>>();
    let sp = rt.spawner();
    let start = Instant::now();
    rt.spawner().spawn_remote(async move {
        let fail = |what: String| {
            let _ = tx.try_send(Err(what));
        };
        let listener = match R::Spawner::tcp_bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
        {
            Ok(l) => l,
            Err(e) => return fail(format!("bind 127.0.0.1:0: {e}")),
        };
        let addr = match R::Spawner::tcp_local_addr(&listener) {
            Ok(a) => a,
            Err(e) => return fail(format!("listener address: {e}")),
        };
        for conn in 0..conns {
            let tx = tx.clone();
            sp.spawn(async move {
                let r = echo_client::<R::Spawner>(addr, conn, rounds).await;
                let _ = tx.try_send(r.map(EchoDone::Client));
            });
        }
        for _ in 0..conns {
            match R::Spawner::tcp_accept(&listener).await {
                Ok(stream) => {
                    let tx = tx.clone();
                    sp.spawn(async move {
                        let r = echo_server_conn::<R::Spawner>(stream).await;
                        let _ = tx.try_send(r.map(EchoDone::Server));
                    });
                }
                Err(e) => return fail(format!("accept: {e}")),
            }
        }
    });

    let mut rtts: Vec<u64> = Vec::with_capacity(conns * rounds);
    let mut clients_done = 0;
    let mut clients_elapsed = Duration::ZERO;
    let (mut servers_done, mut echoed) = (0, 0);
    while clients_done < conns || servers_done < conns {
        let done = rt.block_on(rx.recv()).map_err(|_| {
            "result channel closed before every task reported: the runtime dropped \
             tasks without running them to the end"
                .to_string()
        })??;
        match done {
            EchoDone::Client(mut r) => {
                rtts.append(&mut r);
                clients_done += 1;
                if clients_done == conns {
                    clients_elapsed = start.elapsed();
                }
            }
            EchoDone::Server(n) => {
                echoed += n;
                servers_done += 1;
            }
        }
    }
    let total = conns * rounds;
    expect("round trips timed", rtts.len(), total)?;
    expect("bytes echoed by the server", echoed, total * ECHO_MSG_LEN)?;

    let mean = rtts.iter().map(|&t| t as f64).sum::<f64>() / total as f64;
    let p99_at = (total * 99).div_ceil(100) - 1;
    let p99 = *rtts.select_nth_unstable(p99_at).1 as f64;
    let mut m = Metrics::default();
    m.set("echo_rps", total as f64 / clients_elapsed.as_secs_f64());
    m.set("echo_rtt_mean_ns", mean);
    m.set("echo_rtt_p99_ns", p99);
    Ok(m)
}

/// Waits, from outside the runtime, for the one report of a driver task that
/// holds `rx`'s only sender: the driver's `Err`, or an error if the driver
/// was dropped without reporting.
fn report<R: Rt, T>(rt: &R, rx: async_channel::Receiver<Result<T, String>>) -> Result<T, String> {
    rt.block_on(rx.recv())
        .map_err(|_| "the driver task was dropped without reporting".to_string())?
}

/// [`MUTEX_TASKS`] tasks, spawned from inside a task, each lock one async
/// mutex [`MUTEX_LOCKS_PER_TASK`] times and add one to the counter it guards
/// (a plain read-modify-write under the lock, so a lock that lets two in at
/// once loses increments). The last task to finish reads the counter under
/// the lock and reports it.
pub fn mutex_contended<R: Rt>(rt: &R) -> Result<(), String> {
    let (tx, rx) = async_channel::bounded::<Result<u64, String>>(1);
    let sp = rt.spawner();
    rt.spawner().spawn_remote(async move {
        let counter = Arc::new(R::Spawner::mutex(0u64));
        let left = Arc::new(AtomicUsize::new(MUTEX_TASKS));
        for _ in 0..MUTEX_TASKS {
            let (counter, left, tx) = (counter.clone(), left.clone(), tx.clone());
            sp.spawn(async move {
                for _ in 0..MUTEX_LOCKS_PER_TASK {
                    *R::Spawner::lock(&counter).await += 1;
                }
                if left.fetch_sub(1, AcqRel) == 1 {
                    let total = *R::Spawner::lock(&counter).await;
                    let _ = tx.try_send(Ok(total));
                }
            });
        }
    });
    let total = report(rt, rx)?;
    expect(
        "counter after every increment",
        total as usize,
        MUTEX_TASKS * MUTEX_LOCKS_PER_TASK,
    )
}

/// A task makes a bounded channel of [`FANIN_CAPACITY`] (the runtime's own,
/// see [`Spawner::channel`]), spawns [`FANIN_PRODUCERS`] producer tasks that
/// each send [`FANIN_PER_PRODUCER`] numbers, and receives them all itself
/// until every sender is gone. Producer `p` sends `p * FANIN_PER_PRODUCER +
/// k` for `k` in order, so the consumer checks that each producer's
/// messages arrive once each and in order, and their count and sum.
pub fn mpsc_fanin<R: Rt>(rt: &R) -> Result<(), String> {
    let (tx, rx) = async_channel::bounded::<Result<(), String>>(1);
    let sp = rt.spawner();
    rt.spawner().spawn_remote(async move {
        let (msg_tx, mut msg_rx) = R::Spawner::channel::<usize>(FANIN_CAPACITY);
        for p in 0..FANIN_PRODUCERS {
            let msg_tx = msg_tx.clone();
            sp.spawn(async move {
                for k in 0..FANIN_PER_PRODUCER {
                    if R::Spawner::send(&msg_tx, p * FANIN_PER_PRODUCER + k)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        // Only the producers' clones may keep the channel open.
        drop(msg_tx);
        let mut next = [0; FANIN_PRODUCERS];
        let (mut count, mut sum, mut first_wrong) = (0, 0, None);
        while let Some(v) = R::Spawner::recv(&mut msg_rx).await {
            count += 1;
            sum += v;
            let (p, k) = (v / FANIN_PER_PRODUCER, v % FANIN_PER_PRODUCER);
            if p < FANIN_PRODUCERS && k == next[p] {
                next[p] += 1;
            } else if first_wrong.is_none() {
                first_wrong = Some(format!(
                    "message {count} was {v}, out of its producer's order"
                ));
            }
        }
        let total = FANIN_PRODUCERS * FANIN_PER_PRODUCER;
        let r = match first_wrong {
            Some(e) => Err(e),
            None => expect("messages received", count, total)
                .and_then(|()| expect("sum of messages", sum, total * (total - 1) / 2)),
        };
        let _ = tx.try_send(r);
    });
    report(rt, rx)
}

/// A task spawns [`GATHER_TASKS`] tasks, task `i` returning `i`, keeps their
/// handles in spawn order and gathers them: `aiolos::gather` on aiolos,
/// awaiting each handle in turn on tokio and smol (see [`Spawner::gather`]).
/// The outputs must come back complete and in order.
pub fn gather_many<R: Rt>(rt: &R) -> Result<(), String> {
    let (tx, rx) = async_channel::bounded::<Result<Vec<usize>, String>>(1);
    let sp = rt.spawner();
    rt.spawner().spawn_remote(async move {
        let tasks: Vec<_> = (0..GATHER_TASKS)
            .map(|i| sp.spawn_task(async move { i }))
            .collect();
        let _ = tx.try_send(R::Spawner::gather(tasks).await);
    });
    let outputs = report(rt, rx)?;
    expect("outputs gathered", outputs.len(), GATHER_TASKS)?;
    match outputs.iter().enumerate().find(|&(i, &v)| i != v) {
        Some((i, v)) => Err(format!("output {i} is {v}: outputs out of order")),
        None => Ok(()),
    }
}
