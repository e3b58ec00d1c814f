//! Signals: a stream receives the signals the test raises, every listener
//! of a signal gets each delivery (on one runtime and across runtimes), a
//! listener sees only what comes after it, bursts coalesce without being
//! lost, bad signal numbers get a clear error, and a listener whose runtime
//! is gone ends instead of hanging.
//!
//! Signals are process-wide and the tests of this file run on parallel
//! threads of one process, so each test uses a signal of its own.

mod common;

use std::io;
use std::pin::pin;
use std::task::Poll;

use aiolos::signal::{ctrl_c, signal, Signal, SignalKind};
use common::*;

/// Sends `signum` to this process.
fn raise(signum: i32) {
    // SAFETY: `kill(2)` on our own pid only delivers a signal; every signal
    // these tests raise has a handler installed by then.
    let r = unsafe { libc::kill(libc::getpid(), signum) };
    assert_eq!(r, 0, "kill failed: {}", io::Error::last_os_error());
}

/// Real-time signal number `n` (the tests' private signals).
fn rt_signal(n: i32) -> SignalKind {
    SignalKind::from_raw(libc::SIGRTMIN() + n)
}

#[test]
fn a_sigusr1_raised_by_the_test_reaches_the_stream() {
    let _wd = watchdog("sigusr1", 60);
    let rt = runtime(2);
    rt.block_on(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        assert_eq!(usr1.kind(), SignalKind::user_defined1());
        for _ in 0..20 {
            raise(libc::SIGUSR1);
            assert_eq!(usr1.recv().await, Some(()));
        }
    });
}

#[test]
fn a_signal_raised_from_a_plain_thread_wakes_a_waiting_task() {
    let _wd = watchdog("signal_from_thread", 60);
    let rt = runtime(2);
    let kind = rt_signal(1);
    let (listening_tx, listening_rx) = std::sync::mpsc::channel();
    let waiter = rt.spawn(async move {
        let mut sig = Signal::new(kind).unwrap();
        let mut recv = pin!(sig.recv());
        assert!(poll_once(&mut recv).await.is_pending());
        listening_tx.send(()).unwrap();
        recv.await
    });
    // Once the task waits, the workers run out of work and park; the
    // signal then reaches it through whoever watches readiness.
    let raiser = std::thread::spawn(move || {
        listening_rx.recv().unwrap();
        raise(kind.as_raw_value());
    });
    raiser.join().unwrap();
    assert_eq!(join_ok(waiter, "signal waiter"), Some(()));
}

#[test]
fn every_listener_of_a_signal_gets_each_delivery_on_one_runtime_and_across_runtimes() {
    let _wd = watchdog("signal_listeners", 60);
    let kind = SignalKind::user_defined2();
    let rt1 = runtime(2);
    let rt2 = runtime(1);
    let mut a = rt1.block_on(async { signal(kind).unwrap() });
    let mut b = rt1.block_on(async { signal(kind).unwrap() });
    let mut c = rt2.block_on(async { signal(kind).unwrap() });
    for round in 0..10 {
        let ta = rt1.spawn(async move {
            let r = a.recv().await;
            (a, r)
        });
        let tb = rt1.spawn(async move {
            let r = b.recv().await;
            (b, r)
        });
        let tc = rt2.spawn(async move {
            let r = c.recv().await;
            (c, r)
        });
        raise(kind.as_raw_value());
        let (a2, ra) = join_ok(ta, "listener a");
        let (b2, rb) = join_ok(tb, "listener b");
        let (c2, rc) = join_ok(tc, "listener c");
        assert_eq!(
            (ra, rb, rc),
            (Some(()), Some(()), Some(())),
            "round {round}"
        );
        (a, b, c) = (a2, b2, c2);
    }
}

#[test]
fn a_listener_sees_only_deliveries_after_it_was_created() {
    let _wd = watchdog("signal_after", 60);
    let kind = rt_signal(2);
    let rt = runtime(2);
    rt.block_on(async {
        let mut first = Signal::new(kind).unwrap();
        raise(kind.as_raw_value());
        assert_eq!(first.recv().await, Some(()));
        // That delivery has been dispatched: a new listener does not see it.
        let mut late = Signal::new(kind).unwrap();
        {
            let mut recv = pin!(late.recv());
            assert!(poll_once(&mut recv).await.is_pending());
        }
        raise(kind.as_raw_value());
        assert_eq!(late.recv().await, Some(()));
        assert_eq!(first.recv().await, Some(()));
    });
}

#[test]
fn a_burst_of_deliveries_coalesces_but_is_never_lost() {
    let _wd = watchdog("signal_burst", 60);
    let kind = rt_signal(3);
    let rt = runtime(2);
    rt.block_on(async {
        let mut sig = Signal::new(kind).unwrap();
        for _ in 0..100 {
            raise(kind.as_raw_value());
        }
        // At least one delivery is reported; then, once the pipe is empty,
        // none is left over.
        assert_eq!(sig.recv().await, Some(()));
        let mut extra = 0;
        loop {
            let mut recv = pin!(sig.recv());
            match poll_once(&mut recv).await {
                Poll::Ready(r) => {
                    assert_eq!(r, Some(()));
                    extra += 1;
                    assert!(extra < 100, "more deliveries than signals raised");
                }
                Poll::Pending => break,
            }
        }
        // And the next one still arrives.
        raise(kind.as_raw_value());
        assert_eq!(sig.recv().await, Some(()));
    });
}

#[test]
fn numbers_that_are_not_catchable_signals_are_refused_with_a_clear_error() {
    let rt = runtime(1);
    rt.block_on(async {
        for signum in [0, -1, 65, 1000, libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
            let err = Signal::new(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "signal {signum}");
            let msg = err.to_string();
            assert!(msg.contains(&signum.to_string()), "{msg}");
        }
        let msg = Signal::new(SignalKind::from_raw(libc::SIGKILL))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("cannot be caught"), "{msg}");
    });
}

#[test]
fn a_listener_whose_runtime_shut_down_ends_instead_of_hanging() {
    let _wd = watchdog("signal_shutdown", 60);
    let kind = rt_signal(4);
    let rt = runtime(1);
    let mut sig = rt.block_on(async { Signal::new(kind).unwrap() });
    drop(rt);
    let other = runtime(1);
    assert_eq!(other.block_on(sig.recv()), None);
}

#[test]
fn ctrl_c_completes_on_sigint() {
    let _wd = watchdog("ctrl_c", 60);
    let rt = runtime(2);
    rt.block_on(async {
        let mut ctrl_c = pin!(ctrl_c());
        // The first poll installs the handler and starts listening.
        assert!(poll_once(&mut ctrl_c).await.is_pending());
        raise(libc::SIGINT);
        ctrl_c.await.unwrap();
    });
}
