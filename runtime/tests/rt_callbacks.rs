//! asyncio's loop callbacks on `Handle`: `call_soon` (any thread, FIFO,
//! exactly once, one at a time, on a worker), `call_later` / `call_at`
//! (never early, cancellable through `TimerHandle`, ordered by deadline and,
//! for equal deadlines, by registration), and `Runtime::run_forever` /
//! `Handle::stop` (from a callback, a foreign thread or a task; a stop that
//! came first is remembered once; `run_forever` can run again; it panics on
//! a worker or inside `block_on`).

mod common;

use aiolos::time::{sleep, Instant};
use aiolos::{Handle, Runtime};
use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Waits for `n` messages on `rx`, failing loudly after [`LONG`].
fn recv_n(rx: &mpsc::Receiver<()>, n: usize, what: &str) {
    for i in 0..n {
        rx.recv_timeout(LONG)
            .unwrap_or_else(|_| panic!("{what}: only {i} of {n} callbacks ran within {LONG:?}"));
    }
}

/// Queues one more `call_soon` and waits for it: since callbacks run in FIFO
/// order, every callback made ready before it has run by then.
fn drain_callbacks(h: &Handle) {
    let (tx, rx) = mpsc::channel();
    h.call_soon(move || tx.send(()).unwrap());
    recv_n(&rx, 1, "draining callback");
}

#[test]
fn call_later_cancelled_before_its_deadline_never_runs() {
    let _wd = watchdog("call_later_cancelled_never_runs", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let ran = Arc::new(AtomicBool::new(false));
    let drops = Counter::new();
    let (r, guard) = (ran.clone(), DropGuard::new(&drops));
    let th = h.call_later(ms(50), move || {
        let _guard = guard;
        r.store(true, SeqCst);
    });
    assert!(
        th.cancel(),
        "cancel() before the deadline should return true"
    );
    assert!(th.is_done(), "a cancelled handle should report done");
    assert!(!th.cancel(), "a second cancel() should return false");
    // Wait well past the deadline: a callback due 100 ms after it.
    let (tx, rx) = mpsc::channel();
    h.call_later(ms(150), move || tx.send(()).unwrap());
    recv_n(&rx, 1, "later callback");
    assert!(!ran.load(SeqCst), "a cancelled call_later callback ran");
    assert_eq!(drops.get(), 1, "the cancelled callback was not dropped");
}

#[test]
fn cancel_after_the_callback_ran_returns_false() {
    let _wd = watchdog("cancel_after_run", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let pending = h.call_later(Duration::from_secs(3600), || {});
    assert!(!pending.is_done(), "a pending callback reports done");
    let (tx, rx) = mpsc::channel();
    let th = h.call_later(ms(10), move || tx.send(()).unwrap());
    recv_n(&rx, 1, "10 ms callback");
    assert!(th.is_done());
    assert!(
        !th.cancel(),
        "cancel() after the callback ran returned true"
    );
    assert!(pending.cancel());
}

#[test]
fn timer_handle_when_is_the_scheduled_instant() {
    let _wd = watchdog("timer_handle_when", 120);
    let rt = runtime(1);
    let h = rt.handle();
    let t = Instant::now() + Duration::from_secs(3600);
    let at = h.call_at(t, || {});
    assert_eq!(at.when(), t);
    let before = Instant::now();
    let later = h.call_later(Duration::from_secs(60), || {});
    let after = Instant::now();
    assert!(
        later.when() >= before + Duration::from_secs(60)
            && later.when() <= after + Duration::from_secs(60),
        "call_later(60 s).when() is not now + 60 s"
    );
    assert!(at.cancel() && later.cancel());
}

#[test]
fn call_later_and_call_at_never_run_before_they_are_due() {
    let _wd = watchdog("call_later_not_early", 120);
    const N: usize = 300;
    let rt = runtime(2);
    let h = rt.handle();
    let ran_at: Arc<Vec<Mutex<Option<Instant>>>> =
        Arc::new((0..N).map(|_| Mutex::new(None)).collect());
    let (tx, rx) = mpsc::channel();
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let d = ms(1 + splitmix64(i as u64) % 100);
            let (ran_at, tx) = (ran_at.clone(), tx.clone());
            let cb = move || {
                *ran_at[i].lock().unwrap() = Some(Instant::now());
                tx.send(()).unwrap();
            };
            if i % 2 == 0 {
                h.call_later(d, cb)
            } else {
                h.call_at(Instant::now() + d, cb)
            }
        })
        .collect();
    recv_n(&rx, N, "timed callbacks");
    for (i, th) in handles.iter().enumerate() {
        let ran = ran_at[i].lock().unwrap().expect("callback did not record");
        assert!(
            ran >= th.when(),
            "callback {i} ran {:?} before its due time",
            th.when() - ran
        );
    }
}

#[test]
fn call_at_a_past_instant_runs_promptly() {
    let _wd = watchdog("call_at_past", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let (tx, rx) = mpsc::channel();
    let start = std::time::Instant::now();
    h.call_at(Instant::now() - Duration::from_secs(1), move || {
        tx.send(()).unwrap()
    });
    recv_n(&rx, 1, "past call_at");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn call_soon_from_four_foreign_threads_runs_each_callback_exactly_once_in_per_thread_order() {
    let _wd = watchdog("call_soon_four_threads", 120);
    const THREADS: usize = 4;
    const PER: usize = 1_000;
    let rt = runtime(2);
    let runs: Arc<Vec<AtomicUsize>> =
        Arc::new((0..THREADS * PER).map(|_| AtomicUsize::new(0)).collect());
    // Per producer thread: the index of the last of its callbacks that ran.
    let last: Arc<Mutex<Vec<Option<usize>>>> = Arc::new(Mutex::new(vec![None; THREADS]));
    let out_of_order = Counter::new();
    let total = Counter::new();
    let barrier = Arc::new(Barrier::new(THREADS));
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let h = rt.handle();
            let (runs, last, ooo, total, barrier) = (
                runs.clone(),
                last.clone(),
                out_of_order.clone(),
                total.clone(),
                barrier.clone(),
            );
            thread::spawn(move || {
                barrier.wait();
                for i in 0..PER {
                    let (runs, last, ooo, total) =
                        (runs.clone(), last.clone(), ooo.clone(), total.clone());
                    h.call_soon(move || {
                        runs[t * PER + i].fetch_add(1, SeqCst);
                        let mut last = last.lock().unwrap();
                        if last[t].map_or(0, |l| l + 1) != i {
                            ooo.incr();
                        }
                        last[t] = Some(i);
                        total.incr();
                    });
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer thread panicked");
    }
    wait_until("all 4,000 callbacks to run", || {
        total.get() >= THREADS * PER
    });
    // Anything queued before this one has run once it runs (FIFO).
    drain_callbacks(&rt.handle());
    assert_eq!(
        total.get(),
        THREADS * PER,
        "callbacks ran more than once in total"
    );
    let wrong: Vec<_> = runs
        .iter()
        .enumerate()
        .filter(|(_, n)| n.load(SeqCst) != 1)
        .map(|(i, n)| (i, n.load(SeqCst)))
        .collect();
    assert!(
        wrong.is_empty(),
        "callbacks not run exactly once (index, runs): {:?}",
        &wrong[..wrong.len().min(10)]
    );
    assert_eq!(
        out_of_order.get(),
        0,
        "callbacks from one thread ran out of the order they were queued in"
    );
}

#[test]
fn call_soon_from_one_thread_runs_in_fifo_order() {
    let _wd = watchdog("call_soon_fifo", 120);
    const N: usize = 10_000;
    let rt = runtime(4);
    let h = rt.handle();
    let log = Arc::new(Mutex::new(Vec::with_capacity(N)));
    for i in 0..N {
        let log = log.clone();
        h.call_soon(move || log.lock().unwrap().push(i));
    }
    drain_callbacks(&h);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), N);
    let first_bad = log.iter().enumerate().find(|(k, &i)| *k != i);
    assert!(
        first_bad.is_none(),
        "call_soon order broken at {first_bad:?}"
    );
}

/// The seed example: call_later(2u), call_later(1u), call_later(3u),
/// call_soon. Returns `None` if registering took a whole unit (then the
/// ordering is not promised and the round is retried).
fn seed_round(h: &Handle, unit: Duration) -> Option<Vec<&'static str>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let rec = |name: &'static str| {
        let (log, tx) = (log.clone(), tx.clone());
        move || {
            log.lock().unwrap().push(name);
            tx.send(()).unwrap();
        }
    };
    let start = std::time::Instant::now();
    h.call_later(unit * 2, rec("later 2"));
    h.call_later(unit, rec("later 1"));
    h.call_later(unit * 3, rec("later 3"));
    h.call_soon(rec("soon"));
    let registering = start.elapsed();
    recv_n(&rx, 4, "seed callbacks");
    let out = log.lock().unwrap().clone();
    (registering < unit).then_some(out)
}

#[test]
fn call_soon_runs_first_then_call_later_callbacks_by_deadline() {
    let _wd = watchdog("seed_callback_order", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let unit = ms(20);
    let mut rounds = 0;
    let order = loop {
        rounds += 1;
        if let Some(order) = seed_round(&h, unit) {
            break order;
        }
        assert!(
            rounds < 5,
            "registering 4 callbacks took over {unit:?} in 5 rounds"
        );
    };
    assert_eq!(order, ["soon", "later 1", "later 2", "later 3"]);
}

#[test]
fn callbacks_due_at_the_same_instant_run_in_registration_order() {
    let _wd = watchdog("same_instant_order", 120);
    const N: usize = 200;
    let rt = runtime(4);
    let h = rt.handle();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let t = Instant::now() + ms(60);
    // Group "late" is registered first but due 5 ms after group "early".
    for i in 0..N {
        let (log, tx) = (log.clone(), tx.clone());
        h.call_at(t + ms(5), move || {
            log.lock().unwrap().push(("late", i));
            tx.send(()).unwrap();
        });
    }
    for i in 0..N {
        let (log, tx) = (log.clone(), tx.clone());
        h.call_at(t, move || {
            log.lock().unwrap().push(("early", i));
            tx.send(()).unwrap();
        });
    }
    recv_n(&rx, 2 * N, "same-instant callbacks");
    let log = log.lock().unwrap();
    let expected: Vec<_> = (0..N)
        .map(|i| ("early", i))
        .chain((0..N).map(|i| ("late", i)))
        .collect();
    let first_bad = log.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        first_bad.is_none(),
        "order broken at position {first_bad:?}: got {:?}, expected {:?}",
        first_bad.map(|p| log[p]),
        first_bad.map(|p| expected[p])
    );
}

#[test]
fn callbacks_run_one_at_a_time_on_worker_threads() {
    let _wd = watchdog("callbacks_serial_on_workers", 120);
    const N: usize = 2_000;
    let rt = runtime_named(4, "cbser");
    let busy = Arc::new(AtomicBool::new(false));
    let overlaps = Counter::new();
    let off_worker = Arc::new(Mutex::new(Vec::new()));
    let barrier = Arc::new(Barrier::new(2));
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let h = rt.handle();
            let (busy, overlaps, off_worker, barrier) = (
                busy.clone(),
                overlaps.clone(),
                off_worker.clone(),
                barrier.clone(),
            );
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..N / 2 {
                    let (busy, overlaps, off_worker) =
                        (busy.clone(), overlaps.clone(), off_worker.clone());
                    h.call_soon(move || {
                        if busy.swap(true, SeqCst) {
                            overlaps.incr();
                        }
                        let name = thread_name();
                        if !name.starts_with("cbser-worker-") {
                            off_worker.lock().unwrap().push(name);
                        }
                        for _ in 0..100 {
                            std::hint::spin_loop();
                        }
                        busy.store(false, SeqCst);
                    });
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    drain_callbacks(&rt.handle());
    assert_eq!(overlaps.get(), 0, "callbacks ran concurrently");
    let off = off_worker.lock().unwrap();
    assert!(
        off.is_empty(),
        "callbacks ran off the worker threads: {:?}",
        &off[..off.len().min(5)]
    );
}

#[test]
fn a_call_soon_made_inside_a_callback_runs_after_those_already_queued() {
    let _wd = watchdog("call_soon_inside_callback", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let (h2, log2, tx2) = (h.clone(), log.clone(), tx.clone());
    // One callback queues A then B; A queues C: C must come after B.
    h.call_soon(move || {
        let (h3, log_a, tx_a) = (h2.clone(), log2.clone(), tx2.clone());
        h2.call_soon(move || {
            log_a.lock().unwrap().push("a");
            tx_a.send(()).unwrap();
            let (log_c, tx_c) = (log_a.clone(), tx_a.clone());
            h3.call_soon(move || {
                log_c.lock().unwrap().push("c");
                tx_c.send(()).unwrap();
            });
        });
        let (log_b, tx_b) = (log2.clone(), tx2.clone());
        h2.call_soon(move || {
            log_b.lock().unwrap().push("b");
            tx_b.send(()).unwrap();
        });
    });
    recv_n(&rx, 3, "nested callbacks");
    assert_eq!(*log.lock().unwrap(), ["a", "b", "c"]);
}

#[test]
fn dropping_the_timer_handle_does_not_cancel_the_callback() {
    let _wd = watchdog("drop_timer_handle", 120);
    let rt = runtime(2);
    let (tx, rx) = mpsc::channel();
    drop(rt.handle().call_later(ms(10), move || tx.send(()).unwrap()));
    recv_n(&rx, 1, "callback whose TimerHandle was dropped");
}

#[test]
fn a_panicking_callback_does_not_stop_later_callbacks() {
    let _wd = watchdog("panicking_callback", 120);
    let rt = runtime(1);
    let h = rt.handle();
    let (tx, rx) = mpsc::channel();
    h.call_soon(|| panic!("callback boom (expected by the test)"));
    let tx2 = tx.clone();
    h.call_soon(move || tx2.send(()).unwrap());
    h.call_later(ms(5), || {
        panic!("timed callback boom (expected by the test)")
    });
    h.call_later(ms(10), move || tx.send(()).unwrap());
    recv_n(&rx, 2, "callbacks after a panicking one");
    // The runtime still runs tasks.
    let t = rt.spawn(async { 1 });
    assert_eq!(join_ok(t, "task after panicking callbacks"), 1);
}

#[test]
fn dropping_the_runtime_drops_callbacks_that_never_ran() {
    let _wd = watchdog("drop_runtime_drops_callbacks", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let drops = Counter::new();
    let ran = Arc::new(AtomicBool::new(false));
    for _ in 0..100 {
        let (guard, ran) = (DropGuard::new(&drops), ran.clone());
        // The TimerHandle is dropped at once: that does not cancel it.
        h.call_later(Duration::from_secs(3600), move || {
            let _guard = guard;
            ran.store(true, SeqCst);
        });
    }
    drop(h);
    drop(rt);
    assert!(!ran.load(SeqCst));
    assert_eq!(
        drops.get(),
        100,
        "pending call_later callbacks were not dropped with the runtime (leak?)"
    );
}

#[test]
fn callbacks_scheduled_through_a_handle_after_shutdown_never_run() {
    let _wd = watchdog("callbacks_after_shutdown", 120);
    let rt = runtime(2);
    let h = rt.handle();
    drop(rt);
    let drops = Counter::new();
    let ran = Arc::new(AtomicBool::new(false));
    let (g, r) = (DropGuard::new(&drops), ran.clone());
    h.call_soon(move || {
        let _g = g;
        r.store(true, SeqCst);
    });
    let (g, r) = (DropGuard::new(&drops), ran.clone());
    let cancelled = h.call_later(ms(1), move || {
        let _g = g;
        r.store(true, SeqCst);
    });
    let _ = cancelled.cancel(); // true or false: it never runs either way
    drop(cancelled);
    let (g, r) = (DropGuard::new(&drops), ran.clone());
    drop(h.call_later(ms(1), move || {
        let _g = g;
        r.store(true, SeqCst);
    }));
    assert!(
        !ran.load(SeqCst),
        "a callback ran after its runtime was dropped"
    );
    // Once the last handle goes, nothing may keep the callbacks alive.
    drop(h);
    assert_eq!(
        drops.get(),
        3,
        "callbacks scheduled after shutdown were leaked (never run, never dropped)"
    );
}

#[test]
fn run_forever_returns_when_a_callback_calls_stop() {
    let _wd = watchdog("run_forever_stop_from_callback", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let h2 = h.clone();
    // Before the timer is made: it fires at its exact deadline.
    let start = std::time::Instant::now();
    h.call_later(ms(30), move || h2.stop());
    rt.run_forever();
    assert!(
        start.elapsed() >= ms(30),
        "run_forever returned after {:?}, before stop() was called",
        start.elapsed()
    );
}

#[test]
fn run_forever_returns_when_another_thread_calls_stop() {
    let _wd = watchdog("run_forever_stop_from_thread", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let (tx, rx) = mpsc::channel();
    let start = std::time::Instant::now();
    h.call_later(ms(30), move || tx.send(()).unwrap());
    let stopper = thread::spawn(move || {
        rx.recv_timeout(LONG).expect("timer callback never ran");
        h.stop();
    });
    rt.run_forever();
    assert!(
        start.elapsed() >= ms(30),
        "run_forever returned before stop()"
    );
    stopper.join().unwrap();
}

#[test]
fn run_forever_returns_when_a_task_calls_stop() {
    let _wd = watchdog("run_forever_stop_from_task", 120);
    let rt = runtime(2);
    let start = std::time::Instant::now();
    let t = rt.spawn(async {
        sleep(ms(30)).await;
        Handle::current().stop();
    });
    rt.run_forever();
    assert!(
        start.elapsed() >= ms(30),
        "run_forever returned before stop()"
    );
    join_ok(t, "stopping task");
}

#[test]
fn stop_before_run_forever_makes_it_return_at_once_and_only_once() {
    let _wd = watchdog("stop_before_run_forever", 120);
    let rt = runtime(2);
    let h = rt.handle();
    h.stop();
    let start = std::time::Instant::now();
    rt.run_forever(); // returns at once (or the watchdog fires)
    assert!(start.elapsed() < Duration::from_secs(10));
    // The early stop was used up: the next run waits for a new stop().
    let h2 = h.clone();
    let start = std::time::Instant::now();
    h.call_later(ms(50), move || h2.stop());
    rt.run_forever();
    assert!(
        start.elapsed() >= ms(50),
        "the second run_forever returned after {:?}: an old stop() was applied twice",
        start.elapsed()
    );
}

#[test]
fn run_forever_can_be_called_again_after_it_returns() {
    let _wd = watchdog("run_forever_again", 120);
    let rt = runtime(2);
    let h = rt.handle();
    let ticks = Counter::new();
    for round in 1..=3 {
        let (h2, t) = (h.clone(), ticks.clone());
        let start = std::time::Instant::now();
        h.call_later(ms(20), move || {
            t.incr();
            h2.stop();
        });
        rt.run_forever();
        assert!(start.elapsed() >= ms(20), "round {round} returned early");
        assert_eq!(ticks.get(), round);
    }
    // Still a working runtime.
    assert_eq!(rt.block_on(async { 5 }), 5);
}

#[test]
fn run_forever_inside_a_task_panics() {
    let _wd = watchdog("run_forever_in_task", 120);
    let rt = Arc::new(runtime(2));
    let inner = rt.clone();
    let t = rt.spawn(async move {
        inner.run_forever();
    });
    let r = join_timeout(t, "task calling run_forever");
    match r {
        Err(e) if e.is_panic() => {
            let msg = panic_message(&*e.into_panic());
            assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
            eprintln!("run_forever in a task panics with {msg:?}");
        }
        other => panic!("run_forever inside a task should panic, got {other:?}"),
    }
    // The task's clone of the runtime goes with its future; drop ours last,
    // here on the test thread.
    wait_until("the task to release its Arc<Runtime>", || {
        Arc::strong_count(&rt) == 1
    });
    drop(Arc::try_unwrap(rt).expect("runtime still shared"));
}

#[test]
fn run_forever_inside_block_on_panics() {
    let _wd = watchdog("run_forever_in_block_on", 120);
    let rt: Runtime = runtime(1);
    let msg = rt.block_on(async { catch_panic_message(|| rt.run_forever()) });
    let msg = msg.expect("run_forever inside block_on did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
}
