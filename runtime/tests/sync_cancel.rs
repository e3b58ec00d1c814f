//! Cancellation safety of `sync`: a waiting future dropped at any moment
//! (by `Task::cancel`, a `time::timeout`, or by hand) never swallows a lock
//! hand-off, permits, an item, a free slot or a notification, and a
//! cooperative-budget yield never drops a grant. First one deterministic
//! test per hand-off, then stress tests that cancel waiters at random points
//! on two workers and count every item and permit at the end.

mod common;

use aiolos::sync::{Condition, Event, Mutex, Queue, Semaphore};
use aiolos::time::timeout;
use common::*;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// A pseudo-random duration of 0..300 µs (reproducible from `seed`).
fn tiny(seed: u64) -> Duration {
    Duration::from_micros(splitmix64(seed) % 300)
}

/// Yields a pseudo-random number (0..8) of times.
async fn jitter(seed: u64) {
    for _ in 0..splitmix64(seed) % 8 {
        aiolos::yield_now().await;
    }
}

/// Runs `fut` until `limit` passes, checking the deadline *before* polling
/// `fut` (a biased `select!`): when a grant and the deadline arrive
/// together, the granted future is dropped without being polled again,
/// which `time::timeout` (it polls the future first) never does.
async fn deadline_first<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let mut sleep = pin!(aiolos::time::sleep(limit));
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| {
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Runs `fut` unless `bail` is set, checking `bail` first (a biased race).
async fn unless<F: Future>(bail: &Event, fut: F) -> Option<F::Output> {
    let mut bail = pin!(bail.wait());
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| {
        if bail.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Polls `fut` once, expecting `Pending`.
async fn pending<F: Future + Unpin>(fut: &mut F, what: &str) {
    assert!(poll_once(fut).await.is_pending(), "{what} was ready");
}

/// Uses up the current task's cooperative budget for this turn.
async fn exhaust_budget() {
    for _ in 0..10_000 {
        if poll_once(&mut pin!(aiolos::task::consume_budget()))
            .await
            .is_pending()
        {
            return;
        }
    }
    panic!("the budget never ran out (not inside a task?)");
}

// ------------------------------------------------------ deterministic hand-offs

#[test]
fn a_lock_future_dropped_after_the_hand_off_passes_the_lock_on() {
    let rt = runtime(1);
    rt.block_on(async {
        let m = Mutex::new(0);
        let g = m.lock().await;
        let mut a = Box::pin(m.lock());
        let mut b = Box::pin(m.lock());
        let mut c = Box::pin(m.lock());
        pending(&mut a, "a").await;
        pending(&mut b, "b").await;
        pending(&mut c, "c").await;
        drop(b); // dropped while queued: simply leaves
        drop(g); // hands the lock to a
        drop(a); // a never used it: on to c
        assert!(m.is_locked());
        let Poll::Ready(g) = poll_once(&mut c).await else {
            panic!("the hand-off to a dropped waiter was lost");
        };
        drop(g);
        assert!(m.try_lock().is_some(), "the lock is stranded");
    });
}

#[test]
fn an_acquire_dropped_after_its_grant_gives_the_permits_to_the_next_waiter() {
    let rt = runtime(1);
    rt.block_on(async {
        let sem = Semaphore::new(0);
        let mut a = Box::pin(sem.acquire_many(2));
        let mut b = Box::pin(sem.acquire_many(2));
        pending(&mut a, "a").await;
        pending(&mut b, "b").await;
        sem.add_permits(2); // granted to a
        drop(a);
        assert!(
            matches!(poll_once(&mut b).await, Poll::Ready(Ok(_))),
            "permits granted to a dropped waiter were lost"
        );
        assert_eq!(sem.available_permits(), 2);

        // A dropped front waiter that held the others up lets them through.
        let mut big = Box::pin(sem.acquire_many(3));
        let mut small = Box::pin(sem.acquire_many(2));
        pending(&mut big, "big").await;
        pending(&mut small, "small").await;
        drop(big);
        assert!(matches!(poll_once(&mut small).await, Poll::Ready(Ok(_))));
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn a_getter_dropped_after_an_item_was_set_aside_leaves_it_for_the_next() {
    let rt = runtime(1);
    rt.block_on(async {
        let q = Queue::new(0);
        let mut a = Box::pin(q.get());
        let mut b = Box::pin(q.get());
        pending(&mut a, "a").await;
        pending(&mut b, "b").await;
        q.put_nowait(7).unwrap(); // set aside for a
        drop(a);
        assert_eq!(
            poll_once(&mut b).await,
            Poll::Ready(Ok(7)),
            "the item was lost"
        );
        // With no other getter, the item simply stays in the queue.
        let mut c = Box::pin(q.get());
        pending(&mut c, "c").await;
        q.put_nowait(8).unwrap();
        drop(c);
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get_nowait(), Ok(8));
    });
}

#[test]
fn a_putter_dropped_after_a_slot_was_kept_passes_the_slot_on() {
    let rt = runtime(1);
    rt.block_on(async {
        let q = Queue::new(1);
        q.put_nowait(0).unwrap();
        let mut a = Box::pin(q.put(1));
        let mut b = Box::pin(q.put(2));
        pending(&mut a, "a").await;
        pending(&mut b, "b").await;
        assert_eq!(q.get_nowait(), Ok(0)); // the slot is kept for a
        drop(a); // a's item is dropped unput, its slot goes to b
        assert_eq!(
            poll_once(&mut b).await,
            Poll::Ready(Ok(())),
            "the slot was lost"
        );
        assert_eq!(q.get_nowait(), Ok(2));
        assert!(q.empty());
    });
}

#[test]
fn a_condition_waiter_dropped_after_its_notification_passes_it_on() {
    let rt = runtime(1);
    rt.block_on(async {
        let cond = Condition::new(());
        let mut a = Box::pin(cond.wait(cond.lock().await));
        pending(&mut a, "a").await;
        let mut b = Box::pin(cond.wait(cond.lock().await));
        pending(&mut b, "b").await;
        let mut c = Box::pin(cond.wait(cond.lock().await));
        pending(&mut c, "c").await;

        // Notified but not yet polled.
        assert_eq!(cond.notify(1), 1);
        drop(a);
        let Poll::Ready(g) = poll_once(&mut b).await else {
            panic!("a's notification was swallowed");
        };
        drop(g);

        // Notified and polled, but stuck re-taking the lock.
        let mut d = Box::pin(cond.wait(cond.lock().await));
        pending(&mut d, "d").await;
        let held = cond.lock().await;
        assert_eq!(cond.notify(1), 1); // c
        pending(&mut c, "c, while the lock is held").await;
        drop(c);
        drop(held);
        assert!(
            poll_once(&mut d).await.is_ready(),
            "c's notification was swallowed while it re-locked"
        );
        assert_eq!(cond.notify_all(), 0);
    });
}

#[test]
fn a_budget_yield_keeps_a_grant_it_has_not_taken_yet() {
    let _wd = watchdog("budget_keeps_grant", 120);
    let rt = runtime(1);
    let t = rt.spawn(async {
        // Mutex.
        let m = Mutex::new(());
        let g = m.lock().await;
        let mut lock = Box::pin(m.lock());
        pending(&mut lock, "lock").await;
        drop(g); // handed to `lock`
        exhaust_budget().await;
        pending(&mut lock, "lock with no budget").await;
        assert!(
            m.try_lock().is_none(),
            "the hand-off was dropped by the budget yield"
        );
        aiolos::yield_now().await; // a fresh turn
        assert!(poll_once(&mut lock).await.is_ready());
        drop(lock);

        // Semaphore.
        let sem = Semaphore::new(0);
        let mut acquire = Box::pin(sem.acquire());
        pending(&mut acquire, "acquire").await;
        sem.add_permits(1);
        exhaust_budget().await;
        pending(&mut acquire, "acquire with no budget").await;
        assert_eq!(sem.available_permits(), 0);
        aiolos::yield_now().await;
        assert!(matches!(poll_once(&mut acquire).await, Poll::Ready(Ok(_))));
        drop(acquire);

        // Queue.
        let q = Queue::new(0);
        let mut get = Box::pin(q.get());
        pending(&mut get, "get").await;
        q.put_nowait(5).unwrap();
        exhaust_budget().await;
        pending(&mut get, "get with no budget").await;
        assert!(
            q.get_nowait().is_err(),
            "a newcomer took the item set aside"
        );
        aiolos::yield_now().await;
        assert_eq!(poll_once(&mut get).await, Poll::Ready(Ok(5)));
    });
    join_ok(t, "budget test");
}

// ------------------------------------------------------------ random stress

/// Cancels every third task of `tasks`, each after a pseudo-random number
/// of yields; returns how many cancels took effect.
async fn cancel_some<T>(tasks: &[aiolos::Task<T>], seed: u64) -> usize {
    let mut cancelled = 0;
    for (i, t) in tasks.iter().enumerate() {
        if i.is_multiple_of(3) {
            jitter(seed + i as u64).await;
            if t.cancel() {
                cancelled += 1;
            }
        }
    }
    cancelled
}

/// Awaits every task; a cancelled one is fine, a failed one is not.
async fn join_all<T>(tasks: Vec<aiolos::Task<T>>) {
    for t in tasks {
        match t.await {
            Ok(_) => {}
            Err(e) if e.is_cancelled() => {}
            Err(e) => panic!("a task failed: {e}"),
        }
    }
}

#[test]
fn cancelled_lock_waiters_never_strand_the_lock_or_lose_an_update() {
    let _wd = watchdog("cancel_mutex_stress", 120);
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(0usize));
    let updates = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..150u64 {
            let (m, updates) = (m.clone(), updates.clone());
            tasks.push(aiolos::spawn(async move {
                for i in 0..20u64 {
                    let seed = t * 1000 + i;
                    let got = if seed.is_multiple_of(2) {
                        timeout(tiny(seed), m.lock()).await.ok()
                    } else {
                        deadline_first(tiny(seed), m.lock()).await
                    };
                    if let Some(mut g) = got {
                        // Counted together, with no await in between.
                        *g += 1;
                        updates.fetch_add(1, SeqCst);
                        jitter(seed).await; // hold the lock across yields
                    }
                }
            }));
        }
        let cancelled = cancel_some(&tasks, 7).await;
        join_all(tasks).await;
        assert!(
            cancelled > 0,
            "nothing was cancelled: the test proves little"
        );
        let g = timeout(Duration::from_secs(30), m.lock())
            .await
            .expect("the lock was stranded by a cancelled waiter");
        assert_eq!(*g, updates.load(SeqCst));
        drop(g);
        assert!(m.try_lock().is_some());
    });
}

/// Subtracts its count from a gauge when dropped (also when cancelled).
struct Held<'a>(&'a AtomicUsize, usize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, SeqCst);
    }
}

#[test]
fn cancelled_acquires_return_every_permit() {
    let _wd = watchdog("cancel_semaphore_stress", 120);
    const PERMITS: usize = 5;
    let rt = runtime(2);
    let sem = Arc::new(Semaphore::new(PERMITS));
    let held = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..150u64 {
            let (sem, held) = (sem.clone(), held.clone());
            tasks.push(aiolos::spawn(async move {
                for i in 0..20u64 {
                    let seed = t * 1000 + i;
                    let want = 1 + (splitmix64(seed) % 3) as usize;
                    let got = if seed.is_multiple_of(2) {
                        timeout(tiny(seed), sem.acquire_many(want)).await.ok()
                    } else {
                        deadline_first(tiny(seed), sem.acquire_many(want)).await
                    };
                    if let Some(permit) = got {
                        let _permit = permit.unwrap();
                        let now = held.fetch_add(want, SeqCst) + want;
                        assert!(now <= PERMITS, "{now} permits out of {PERMITS} held");
                        // Declared after the permit, so dropped before it
                        // (also when the task is cancelled in the jitter).
                        let _held = Held(&held, want);
                        jitter(seed).await;
                    }
                }
            }));
        }
        cancel_some(&tasks, 11).await;
        join_all(tasks).await;
    });
    assert_eq!(held.load(SeqCst), 0);
    assert_eq!(
        sem.available_permits(),
        PERMITS,
        "permits lost to cancelled waiters"
    );
    assert!(sem.try_acquire_many(PERMITS).is_some());
}

/// Producers put with random timeouts, consumers get with random timeouts
/// and some consumers are cancelled; every item whose put succeeded must be
/// received exactly once.
fn queue_loses_nothing(maxsize: usize) {
    let rt = runtime(2);
    let q = Arc::new(Queue::new(maxsize));
    let put_ok = Arc::new(std::sync::Mutex::new(Vec::new()));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut consumers = Vec::new();
        for c in 0..12u64 {
            let (q, got) = (q.clone(), got.clone());
            consumers.push(aiolos::spawn(async move {
                for i in 0.. {
                    let seed = 1_000_000 + c * 100_000 + i;
                    // Consumers 0 and 1 never time out, so someone drains.
                    let limit = if c < 2 {
                        Duration::from_secs(60)
                    } else {
                        tiny(seed)
                    };
                    match deadline_first(limit, q.get()).await {
                        // Recorded with no await after the get: a cancel
                        // cannot fall in between.
                        Some(Ok(v)) => got.lock().unwrap().push(v),
                        Some(Err(_)) => return,
                        None => jitter(seed).await,
                    }
                }
            }));
        }
        let mut producers = Vec::new();
        for p in 0..4u64 {
            let (q, put_ok) = (q.clone(), put_ok.clone());
            producers.push(aiolos::spawn(async move {
                for i in 0..500u64 {
                    let v = p * 1_000 + i;
                    if let Some(r) = deadline_first(tiny(v), q.put(v)).await {
                        r.unwrap();
                        put_ok.lock().unwrap().push(v);
                    }
                }
            }));
        }
        // Cancel some of the consumers that may time out, at random points.
        let flaky = consumers.split_off(2);
        let cancelled = cancel_some(&flaky, 3).await;
        assert!(cancelled > 0);
        for p in producers {
            p.await.unwrap();
        }
        // No slot was lost to a cancelled putter: with the queue drained,
        // `maxsize` items fit again.
        let deadline = std::time::Instant::now() + LONG;
        while !q.empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "items stuck in the queue with consumers waiting: {q:?}"
            );
            aiolos::yield_now().await;
        }
        for i in 0..maxsize as u64 {
            q.put_nowait(1_000_000 + i).expect("a free slot was lost");
            put_ok.lock().unwrap().push(1_000_000 + i);
        }
        q.shutdown();
        for c in consumers {
            c.await.unwrap();
        }
        join_all(flaky).await;
    });
    let mut got = std::mem::take(&mut *got.lock().unwrap());
    while let Ok(v) = q.get_nowait() {
        got.push(v);
    }
    let mut put = std::mem::take(&mut *put_ok.lock().unwrap());
    got.sort_unstable();
    put.sort_unstable();
    assert!(!put.is_empty());
    assert_eq!(got.len(), put.len(), "items lost or duplicated");
    assert_eq!(got, put);
}

#[test]
fn cancelled_getters_and_putters_lose_no_item_in_an_unbounded_queue() {
    let _wd = watchdog("cancel_queue_unbounded", 120);
    queue_loses_nothing(0);
}

#[test]
fn cancelled_getters_and_putters_lose_no_item_in_a_bounded_queue() {
    let _wd = watchdog("cancel_queue_bounded", 120);
    queue_loses_nothing(3);
}

/// The data of the condition stress test.
struct Jobs {
    /// Items not yet taken.
    items: VecDeque<u64>,
    /// Waiters that have counted themselves in (under the lock, right
    /// before waiting, so a lock taken after the count proves them queued).
    queued: usize,
    /// Set at the end: the steady consumer returns.
    closed: bool,
}

/// Yields until `queued` reaches `n`, checked under the lock.
async fn wait_queued(cond: &Condition<Jobs>, n: usize) {
    while cond.lock().await.queued < n {
        aiolos::yield_now().await;
    }
}

#[test]
fn cancelled_condition_waiters_never_swallow_a_notification() {
    let _wd = watchdog("cancel_condition_stress", 120);
    const ROUNDS: u64 = 200;
    const FLAKY: usize = 3;
    let rt = runtime(2);
    let cond = Arc::new(Condition::new(Jobs {
        items: VecDeque::new(),
        queued: 0,
        closed: false,
    }));
    let consumed = Arc::new(AtomicUsize::new(0));
    let by_steady = Arc::new(AtomicUsize::new(0));
    let go: Arc<Vec<Event>> = Arc::new((0..=ROUNDS).map(|_| Event::new()).collect());
    // One steady consumer, let into the queue (by `go`) behind a round's
    // flaky waiters.
    let (c2, n2, s2, go2) = (
        cond.clone(),
        consumed.clone(),
        by_steady.clone(),
        go.clone(),
    );
    let steady = rt.spawn(async move {
        let mut got = Vec::new();
        for k in 0.. {
            go2[k].wait().await;
            let mut g = c2.lock().await;
            g.queued += 1;
            let mut g = c2.wait_for(g, |s| !s.items.is_empty() || s.closed).await;
            match g.items.pop_front() {
                Some(v) => got.push(v),
                None => break,
            }
            s2.fetch_add(1, SeqCst);
            n2.fetch_add(1, SeqCst);
        }
        got
    });
    let flaky_got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c3, n3, f3) = (cond.clone(), consumed.clone(), flaky_got.clone());
    let producer = rt.spawn(async move {
        let (mut queued, mut gone, mut steady_waiting, mut passes) = (0, 0, false, 0);
        for r in 0..ROUNDS {
            // Flaky waiters, queued before the steady one, that give up as
            // soon as `bail` is set: if the notification reached one of
            // them, it must pass it on.
            let bail = Arc::new(Event::new());
            let flaky: Vec<_> = (0..FLAKY)
                .map(|_| {
                    let (c, n, f, bail) = (c3.clone(), n3.clone(), f3.clone(), bail.clone());
                    aiolos::spawn(async move {
                        let mut g = c.lock().await;
                        g.queued += 1;
                        let wait = c.wait_for(g, |s| !s.items.is_empty());
                        if let Some(mut g) = unless(&bail, wait).await {
                            f.lock().unwrap().push(g.items.pop_front().unwrap());
                            n.fetch_add(1, SeqCst);
                        }
                    })
                })
                .collect();
            queued += FLAKY;
            wait_queued(&c3, queued).await;
            if !steady_waiting {
                go[gone].set();
                gone += 1;
                queued += 1;
                wait_queued(&c3, queued).await;
                steady_waiting = true;
            }
            // One item, one notification, then the flaky ones bail.
            let steady_before = by_steady.load(SeqCst);
            c3.lock().await.items.push_back(r);
            assert_eq!(c3.notify(1), 1);
            jitter(r).await;
            bail.set();
            // If a bailing waiter swallowed the notification, the steady
            // consumer sleeps on and this never ends.
            let deadline = std::time::Instant::now() + LONG;
            while n3.load(SeqCst) <= r as usize {
                assert!(
                    std::time::Instant::now() < deadline,
                    "item {r} never consumed: a notification was lost"
                );
                aiolos::yield_now().await;
            }
            if by_steady.load(SeqCst) > steady_before {
                steady_waiting = false;
                passes += 1;
            }
            join_all(flaky).await;
        }
        if !steady_waiting {
            go[gone].set();
        }
        c3.lock().await.closed = true;
        c3.notify_all();
        passes
    });
    let passes = join_ok(producer, "producer");
    let mut all = join_ok(steady, "steady consumer");
    all.extend(flaky_got.lock().unwrap().iter());
    all.sort_unstable();
    assert_eq!(all, (0..ROUNDS).collect::<Vec<_>>());
    assert!(passes > 0, "the steady consumer never got an item");
}

#[test]
fn cancelled_event_waiters_do_not_disturb_the_others() {
    let _wd = watchdog("cancel_event_stress", 120);
    let rt = runtime(2);
    let event = Arc::new(Event::new());
    let released = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let mut steady = Vec::new();
        let mut flaky = Vec::new();
        for t in 0..60u64 {
            let (event, released) = (event.clone(), released.clone());
            let task = aiolos::spawn(async move {
                if t.is_multiple_of(2) {
                    event.wait().await;
                    released.fetch_add(1, SeqCst);
                } else {
                    let _ = timeout(tiny(t), event.wait()).await;
                }
            });
            if t.is_multiple_of(2) {
                steady.push(task);
            } else {
                flaky.push(task);
            }
        }
        jitter(5).await;
        cancel_some(&flaky, 1).await;
        event.set();
        join_all(flaky).await;
        for t in steady {
            t.await.unwrap();
        }
    });
    assert_eq!(released.load(SeqCst), 30);
}
