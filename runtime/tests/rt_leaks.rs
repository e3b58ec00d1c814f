//! Leaks (issue 7): a hundred runtimes, each dropped while full of live work
//! (tasks pending forever, tasks asleep on hour-long timers, a listener
//! waiting to accept, TCP, Unix and UDP sockets with tasks blocked reading,
//! a `call_later` an hour away, a finished `spawn_blocking` job whose
//! thread idles), leave this process with the threads (`/proc/self/task`)
//! and file descriptors (`/proc/self/fd`) it had before, and drop every
//! future they held.
//!
//! Descriptors are compared exactly, right after each drop: sockets, the
//! poller and its wake-up fd are closed by the time `Runtime::drop` returns
//! (once nothing else holds the runtime: a `Task` or `TimerHandle` kept past
//! the drop keeps its runtime's shared state, the poller included, alive,
//! so the test lets go of those first). Threads are joined by the drop,
//! but the kernel may list a joined thread for a moment after `join`
//! returns, so the thread count is awaited (bounded). One round in three
//! ends with `shutdown_timeout(Duration::ZERO)` instead: by design that
//! does not wait for the blocking pool, so its idle thread is told to exit
//! and is not joined; it leaves on its own a moment later, and until then
//! it holds the runtime's shared state, so for those rounds the descriptor
//! count is awaited too (bounded), and both must come back. Another third
//! uses `shutdown_timeout` with a long limit, which behaves like the drop.
//!
//! The only test of its binary on purpose: tests of one binary run on
//! parallel threads, and their threads and sockets would change the counts.

mod common;

use std::future::pending;
use std::sync::mpsc;
use std::time::Duration;

use aiolos::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use aiolos::time::sleep;
use common::*;
use futures::io::AsyncReadExt;

const ROUNDS: usize = 100;

/// How a round's runtime is shut down.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Drop,
    ShutdownTimeoutLong,
    ShutdownTimeoutZero,
}

fn thread_count() -> usize {
    process_threads().len()
}

/// Builds a runtime, fills it with live work, shuts it down; returns how
/// many futures it had to drop and how many of them were dropped.
fn one_round(round: usize, ending: Ending) -> (usize, usize) {
    let rt = runtime_named(2, &format!("lk{round}"));
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let mut expected = 0;
    let mut tasks = Vec::new();
    let guarded = |expected: &mut usize| {
        *expected += 1;
        (DropGuard::new(&drops), started_tx.clone())
    };

    // Pending forever, one of them waiting on a child that is too.
    for _ in 0..3 {
        let (guard, started) = guarded(&mut expected);
        tasks.push(rt.spawn(async move {
            let _guard = guard;
            started.send(()).unwrap();
            pending::<()>().await
        }));
    }
    let (guard, started) = guarded(&mut expected);
    let (child_guard, child_started) = guarded(&mut expected);
    tasks.push(rt.spawn(async move {
        let _guard = guard;
        let child = aiolos::spawn(async move {
            let _guard = child_guard;
            child_started.send(()).unwrap();
            pending::<()>().await
        });
        started.send(()).unwrap();
        child.await.unwrap()
    }));

    // Asleep on long timers (in the workers' wheels).
    for i in 0..4 {
        let (guard, started) = guarded(&mut expected);
        tasks.push(rt.spawn(async move {
            let _guard = guard;
            started.send(()).unwrap();
            sleep(Duration::from_secs(3600 + i)).await
        }));
    }

    // A listener waiting to accept, a connected pair with both ends
    // blocked reading, a Unix pair and a UDP socket likewise.
    let (guard, started) = guarded(&mut expected);
    let (client_guard, client_started) = guarded(&mut expected);
    let (server_guard, server_started) = guarded(&mut expected);
    tasks.push(rt.spawn(async move {
        let _guard = guard;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = aiolos::spawn(async move {
            let _guard = client_guard;
            let mut s = TcpStream::connect(addr).await.unwrap();
            client_started.send(()).unwrap();
            let _ = s.read(&mut [0; 16]).await;
            unreachable!("nobody writes to this stream");
        });
        let (mut s, _) = listener.accept().await.unwrap();
        aiolos::spawn(async move {
            let _guard = server_guard;
            server_started.send(()).unwrap();
            let _ = s.read(&mut [0; 16]).await;
            unreachable!("nobody writes to this stream");
        })
        .detach();
        started.send(()).unwrap();
        // Accepts nobody else, ever.
        let _ = listener.accept().await;
        client.await.unwrap()
    }));
    for _ in 0..2 {
        let (guard, started) = guarded(&mut expected);
        tasks.push(rt.spawn(async move {
            let _guard = guard;
            let (mut a, _b) = UnixStream::pair().unwrap();
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            started.send(()).unwrap();
            let _ = a.read(&mut [0; 16]).await;
            let _ = udp.recv(&mut [0; 16]).await;
            unreachable!("nobody writes to these sockets");
        }));
    }

    // A callback an hour away (in the reactor's wheel).
    let (guard, _) = guarded(&mut expected);
    drop(rt.handle().call_later(Duration::from_secs(3600), move || {
        let _guard = guard;
        unreachable!("an hour-long call_later ran");
    }));
    // A blocking job that finishes; its thread then idles in the pool.
    assert_eq!(join_ok(rt.spawn_blocking(|| 7), "blocking job"), 7);

    drop(started_tx);
    for _ in 0..expected - 1 {
        started_rx
            .recv_timeout(LONG)
            .expect("a task of the round never started");
    }
    // Nothing outside the runtime may hold it past the shutdown.
    tasks.into_iter().for_each(aiolos::Task::detach);
    match ending {
        Ending::Drop => drop(rt),
        Ending::ShutdownTimeoutLong => rt.shutdown_timeout(LONG),
        Ending::ShutdownTimeoutZero => rt.shutdown_timeout(Duration::ZERO),
    }
    (expected, drops.get())
}

#[test]
fn a_hundred_runtimes_dropped_with_live_tasks_sockets_and_timers_leave_no_thread_or_fd_behind() {
    let _wd = watchdog("rt_leaks", 600);
    // A first round sets up what a process makes once (the I/O context
    // hooks, std's thread-local and stdio state): not a leak of later ones.
    let (expected, dropped) = one_round(0, Ending::Drop);
    assert_eq!(dropped, expected);
    wait_until("the warm-up round's threads to exit", || {
        thread_names_with_prefix("lk0-").is_empty()
    });

    let threads = thread_count();
    let fds = open_fds();
    let mut lingered = Vec::new();
    for round in 1..=ROUNDS {
        let ending = match round % 3 {
            0 => Ending::Drop,
            1 => Ending::ShutdownTimeoutLong,
            _ => Ending::ShutdownTimeoutZero,
        };
        let (expected, dropped) = one_round(round, ending);
        assert_eq!(
            dropped, expected,
            "round {round} ({ending:?}): futures left undropped"
        );
        if open_fds() != fds || thread_count() != threads {
            lingered.push(round);
        }
        if let Ending::ShutdownTimeoutZero = ending {
            // The unjoined blocking thread holds the runtime's shared state,
            // the poller's descriptors included, until it has exited.
            wait_until(&format!("round {round} ({ending:?}): fds to close"), || {
                open_fds() == fds
            });
        } else {
            assert_eq!(
                open_fds(),
                fds,
                "round {round} ({ending:?}): descriptors left open after the shutdown"
            );
        }
        wait_until(
            &format!("round {round} ({ending:?}): threads to exit"),
            || thread_count() == threads,
        );
    }
    assert_eq!(open_fds(), fds);
    assert_eq!(thread_count(), threads);
    eprintln!(
        "{ROUNDS} runtimes: {threads} threads and {fds} fds before and after; \
         a thread or fd was still there right after the shutdown in rounds {lingered:?}"
    );
}
