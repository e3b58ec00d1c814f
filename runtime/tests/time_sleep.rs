//! `time::sleep` / `sleep_until` / `Sleep`: sleeps never end early (checked
//! inside each of 10,000 sleeping tasks), a zero sleep completes and gives
//! other tasks a turn, far-future sleeps neither panic nor leak, `reset`
//! moves the deadline both ways, `is_elapsed` tells the truth, timers made
//! outside a runtime panic with a message naming the runtime, and dropping a
//! runtime full of hour-long sleeps is prompt and drops every one of them.
//!
//! Upper bounds on wall-clock time are in seconds (loaded 2-core CI);
//! lower bounds ("not early") are exact.

mod common;

use aiolos::time::{sleep, sleep_until, timeout, Instant};
use common::*;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);

#[test]
fn ten_thousand_sleeps_of_different_lengths_all_wake_and_none_early() {
    let _wd = watchdog("ten_thousand_sleeps_none_early", 120);
    const N: usize = 10_000;
    let rt = runtime(2);
    let woke = Counter::new();
    let w = woke.clone();
    let results = rt.block_on(async move {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let d = ms(1 + splitmix64(i as u64) % 200);
                let woke = w.clone();
                aiolos::spawn(async move {
                    let deadline = Instant::now() + d;
                    // Half use `sleep`, half `sleep_until`.
                    if i % 2 == 0 {
                        sleep(d).await;
                    } else {
                        sleep_until(deadline).await;
                    }
                    let now = Instant::now();
                    woke.incr();
                    // (how early, how late): exactly one of them is zero.
                    (i, d, deadline - now, now - deadline)
                })
            })
            .collect();
        let mut out = Vec::with_capacity(N);
        for t in tasks {
            out.push(t.await.expect("a sleeping task failed"));
        }
        out
    });
    assert_eq!(woke.get(), N, "not every sleeping task woke");
    let early: Vec<_> = results
        .iter()
        .filter(|(_, _, early, _)| !early.is_zero())
        .collect();
    assert!(
        early.is_empty(),
        "{} of {N} sleeps woke before their deadline; first few (task, duration, how early, _): {:?}",
        early.len(),
        &early[..early.len().min(5)]
    );
    let max_late = results.iter().map(|r| r.3).max().unwrap();
    eprintln!("10,000 sleeps: latest wake-up was {max_late:?} after its deadline");
}

#[test]
fn sleep_zero_completes_in_block_on_and_in_a_task() {
    let _wd = watchdog("sleep_zero_completes", 120);
    let rt = runtime(1);
    rt.block_on(async {
        let s = sleep(Duration::ZERO);
        assert!(s.is_elapsed(), "a zero sleep is elapsed from the start");
        s.await;
    });
    let t = rt.spawn(async {
        sleep(Duration::ZERO).await;
        sleep(Duration::ZERO).await;
        7
    });
    assert_eq!(join_timeout(t, "task doing sleep(ZERO)").unwrap(), 7);
}

#[test]
fn sleep_zero_lets_another_task_run_on_a_single_worker() {
    let _wd = watchdog("sleep_zero_yields", 120);
    let rt = runtime(1);
    let t = rt.spawn(async {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // One worker: the other task can only run if we give up the thread.
        let other = aiolos::spawn(async move { f.store(true, SeqCst) });
        let mut rounds = 0u32;
        while !flag.load(SeqCst) && rounds < 10_000 {
            sleep(Duration::ZERO).await;
            rounds += 1;
        }
        other.await.expect("the other task failed");
        rounds
    });
    let rounds = join_timeout(t, "sleep(ZERO) loop").unwrap();
    assert_eq!(
        rounds, 1,
        "the other ready task should run during the first sleep(ZERO) (as asyncio.sleep(0) / \
         yield_now); it took {rounds} rounds (10000 = never)"
    );
}

#[test]
fn sleep_max_does_not_panic_and_can_be_dropped_while_pending() {
    let _wd = watchdog("sleep_max_droppable", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let before = Instant::now();
        let mut s = sleep(Duration::MAX);
        assert!(
            s.deadline() > before + YEAR,
            "sleep(Duration::MAX) should saturate to a far-future deadline, got {:?} (now {before:?})",
            s.deadline()
        );
        assert!(!s.is_elapsed());
        // Registers it with the wheel.
        assert!(poll_once(&mut s).await.is_pending());
        assert!(!s.is_elapsed());
        drop(s);

        let mut far = sleep_until(Instant::now() + Duration::MAX);
        assert!(poll_once(&mut far).await.is_pending());
        drop(far);

        // Through a timeout: the far sleep is registered, then dropped on Elapsed.
        let r = timeout(ms(20), sleep(Duration::MAX)).await;
        assert!(r.is_err(), "sleep(MAX) finished within 20 ms");

        // The wheel still works after holding (and dropping) far-future timers.
        let start = Instant::now();
        sleep(ms(20)).await;
        assert!(start.elapsed() >= ms(20));
    });
}

#[test]
fn a_task_in_sleep_until_far_future_can_be_cancelled_and_its_future_is_dropped() {
    let _wd = watchdog("far_sleep_cancel", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let guard = DropGuard::new(&drops);
    let (tx, rx) = mpsc::channel();
    let t = rt.spawn(async move {
        let _guard = guard;
        let mut s = sleep_until(Instant::now() + 1000 * YEAR);
        let first = poll_once(&mut s).await.is_pending();
        tx.send(first).unwrap();
        s.await;
    });
    assert!(
        rx.recv_timeout(LONG).expect("task never polled its sleep"),
        "a far-future sleep completed on its first poll"
    );
    assert!(t.cancel(), "cancel() of a sleeping task returned false");
    let r = join_timeout(t, "cancelled sleeping task");
    assert!(matches!(r, Err(aiolos::TaskError::Cancelled)), "got {r:?}");
    assert_eq!(
        drops.get(),
        1,
        "the cancelled task's future was not dropped"
    );
}

#[test]
fn sleep_deadline_is_now_plus_the_duration() {
    let _wd = watchdog("sleep_deadline", 120);
    let rt = runtime(1);
    rt.block_on(async {
        let before = Instant::now();
        let s = sleep(ms(250));
        let after = Instant::now();
        assert!(s.deadline() >= before + ms(250) && s.deadline() <= after + ms(250));
        let t = Instant::now() + ms(75);
        assert_eq!(sleep_until(t).deadline(), t);
    });
}

#[test]
fn sleep_reset_to_a_later_deadline_waits_for_the_new_deadline() {
    let _wd = watchdog("sleep_reset_later", 120);
    let rt = runtime(2);
    let t = rt.spawn(async {
        let mut s = sleep(ms(20));
        assert!(poll_once(&mut s).await.is_pending());
        let new = Instant::now() + ms(150);
        s.reset(new);
        assert_eq!(s.deadline(), new);
        (&mut s).await;
        let now = Instant::now();
        (new, now)
    });
    let (new, woke) = join_timeout(t, "sleep reset later").unwrap();
    assert!(
        woke >= new,
        "a sleep reset to a later deadline completed {:?} early (old deadline still armed?)",
        new - woke
    );
}

#[test]
fn sleep_reset_to_an_earlier_deadline_completes_at_the_new_deadline() {
    let _wd = watchdog("sleep_reset_earlier", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut s).await.is_pending());
        let new = Instant::now() + ms(30);
        s.reset(new);
        (&mut s).await;
        let now = Instant::now();
        assert!(
            now >= new,
            "completed {:?} before the new deadline",
            new - now
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a sleep reset from 1 h to 30 ms took {:?}",
            start.elapsed()
        );
        assert!(s.is_elapsed());
    });
}

#[test]
fn sleep_reset_to_a_past_instant_while_registered_completes() {
    let _wd = watchdog("sleep_reset_past", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut s).await.is_pending());
        s.reset(start);
        assert!(
            s.is_elapsed(),
            "reset to a past instant: is_elapsed() should be true"
        );
        (&mut s).await;
        assert!(start.elapsed() < Duration::from_secs(30));
    });
}

#[test]
fn a_completed_sleep_can_be_reset_and_awaited_again() {
    let _wd = watchdog("sleep_reset_after_completion", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut s = sleep(ms(10));
        (&mut s).await;
        assert!(s.is_elapsed());
        let again = Instant::now() + ms(40);
        s.reset(again);
        assert!(!s.is_elapsed() || Instant::now() >= again);
        (&mut s).await;
        let now = Instant::now();
        assert!(now >= again, "second wait ended {:?} early", again - now);
    });
}

#[test]
fn is_elapsed_is_false_before_the_deadline_and_true_after() {
    let _wd = watchdog("sleep_is_elapsed", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut s = sleep(Duration::from_secs(10));
        assert!(!s.is_elapsed(), "unpolled 10 s sleep reports elapsed");
        assert!(poll_once(&mut s).await.is_pending());
        assert!(!s.is_elapsed(), "registered 10 s sleep reports elapsed");
        s.reset(Instant::now() + ms(20));
        (&mut s).await;
        assert!(s.is_elapsed(), "a completed sleep reports not elapsed");

        let past = sleep_until(Instant::now() - ms(5));
        assert!(
            past.is_elapsed(),
            "a sleep until a past instant is not elapsed"
        );
        past.await;
    });
}

#[test]
fn sleep_until_a_past_instant_completes_promptly() {
    let _wd = watchdog("sleep_until_past", 120);
    let rt = runtime(2);
    let t = rt.spawn(async {
        let start = Instant::now();
        sleep_until(start - Duration::from_secs(1)).await;
        sleep_until(start).await;
        start.elapsed()
    });
    let took = join_timeout(t, "sleep_until(past)").unwrap();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn sleep_outside_a_runtime_panics_mentioning_runtime() {
    let msg =
        catch_panic_message(|| sleep(ms(1))).expect("sleep() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
    let msg = catch_panic_message(|| sleep_until(Instant::now()))
        .expect("sleep_until() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
    // Also on a thread that merely outlived a runtime.
    let rt = runtime(1);
    drop(rt);
    let msg = catch_panic_message(|| sleep(Duration::ZERO))
        .expect("sleep() after the runtime was dropped did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
}

#[test]
fn dropping_the_runtime_with_ten_thousand_pending_sleeps_returns_promptly_and_drops_them_all() {
    let _wd = watchdog("drop_runtime_with_pending_sleeps", 120);
    const N: usize = 10_000;
    let rt = runtime(2);
    let drops = Counter::new();
    let registered = Counter::new();
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let guard = DropGuard::new(&drops);
            let registered = registered.clone();
            rt.spawn(async move {
                let _guard = guard;
                let mut s = sleep(Duration::from_secs(3600));
                let _ = poll_once(&mut s).await; // now in the timer wheel
                registered.incr();
                s.await;
            })
        })
        .collect();
    wait_until("every task to register its sleep", || registered.get() == N);
    assert_eq!(
        drops.get(),
        0,
        "a sleeping task was dropped before shutdown"
    );
    let start = std::time::Instant::now();
    drop(rt);
    let took = start.elapsed();
    assert_eq!(
        drops.get(),
        N,
        "sleeping tasks still alive after Runtime::drop returned"
    );
    assert!(
        took < Duration::from_secs(10),
        "dropping a runtime with {N} pending sleeps took {took:?}"
    );
    for t in tasks {
        let r = simple_block_on(t);
        assert!(matches!(r, Err(aiolos::TaskError::Cancelled)), "got {r:?}");
    }
}

/// A timer registered in one task's poll and then awaited by another task
/// fires on time even while the registering task keeps its worker busy (the
/// registration may not wait for the end of that poll).
#[test]
fn sleep_registered_in_a_busy_poll_and_awaited_elsewhere_fires_on_time() {
    let _wd = common::watchdog("sleep_handed_to_another_task", 120);
    let rt = aiolos::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<aiolos::time::Sleep>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let busy = rt.spawn(async move {
        let mut sleep = aiolos::time::sleep(Duration::from_millis(20));
        // Register it with this task's waker, then hand it over.
        assert!(poll_once(&mut sleep).await.is_pending());
        tx.send(sleep).unwrap();
        // Keep this worker busy until the other task has seen the timer fire.
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the handed-over sleep never fired while its registering poll ran");
    });
    let waiter = rt.spawn(async move {
        let sleep = aiolos::task::spawn_blocking(move || rx.recv().unwrap())
            .await
            .unwrap();
        sleep.await;
        done_tx.send(()).unwrap();
    });
    rt.block_on(async {
        waiter.await.unwrap();
        busy.await.unwrap();
    });
}

/// A waker that only counts its clones (through the `Arc`).
struct Inert;

impl std::task::Wake for Inert {
    fn wake(self: Arc<Self>) {}
}

/// A sleep registered by a task on a worker (so in that worker's wheel) and
/// dropped on a foreign thread releases its waker at once: the slot is freed
/// across threads, nothing stays behind until the far deadline.
#[test]
fn a_sleep_registered_on_a_worker_and_dropped_elsewhere_releases_its_waker() {
    let _wd = common::watchdog("sleep_dropped_elsewhere", 120);
    let rt = runtime(2);
    let inert = Arc::new(Inert);
    let waker = std::task::Waker::from(inert.clone());
    let sleeps = rt
        .block_on(rt.spawn(async move {
            (0..100)
                .map(|_| {
                    let mut s = Box::pin(sleep(YEAR));
                    let mut cx = std::task::Context::from_waker(&waker);
                    assert!(s.as_mut().poll(&mut cx).is_pending());
                    s
                })
                .collect::<Vec<_>>()
        }))
        .unwrap();
    // One clone per registered sleep, plus ours.
    assert_eq!(Arc::strong_count(&inert), 101);
    std::thread::spawn(move || drop(sleeps)).join().unwrap();
    assert_eq!(
        Arc::strong_count(&inert),
        1,
        "dropped sleeps kept their wakers"
    );
}

/// Timers keep firing on time while every worker is kept busy by tasks that
/// never stop yielding (the due queue comes before the local queue), and a
/// sleeping task is not stuck behind them.
#[test]
fn sleeps_wake_while_the_workers_are_busy_with_yielding_tasks() {
    let _wd = common::watchdog("sleeps_while_busy", 120);
    let rt = runtime(2);
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            rt.spawn(async move {
                while !stop.load(SeqCst) {
                    aiolos::yield_now().await;
                }
            })
        })
        .collect();
    let sleepers: Vec<_> = (0..200u64)
        .map(|i| {
            rt.spawn(async move {
                let d = ms(1 + i % 20);
                let deadline = Instant::now() + d;
                sleep(d).await;
                assert!(Instant::now() >= deadline, "woke early");
            })
        })
        .collect();
    rt.block_on(async {
        for s in sleepers {
            s.await.unwrap();
        }
    });
    stop.store(true, SeqCst);
    rt.block_on(async {
        for s in spinners {
            s.await.unwrap();
        }
    });
}
