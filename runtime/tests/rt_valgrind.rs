//! The valgrind leak check's workload (issue 7): one test that goes through
//! every part of the runtime once, small enough to run under valgrind in a
//! minute or two. Run alone it only checks its own results; under valgrind
//! (README, "Leaks") it must report no "definitely lost" bytes and no
//! memory error:
//!
//! ```sh
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER='valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1' \
//!     cargo test -p aiolos --test rt_valgrind
//! ```
//!
//! What it touches: tasks (spawn, await, detach, cancel, panics, names,
//! done callbacks, `all_tasks`), combinators (`gather`, `wait`, `TaskGroup`,
//! `shield`), timers (`sleep`, `timeout`, `interval`, `call_soon`,
//! `call_later` run and cancelled), `sync` (mutex, mpsc, oneshot, queue),
//! sockets (TCP echo, UDP, a Unix pair), a signal stream, the blocking pool
//! beyond its cap, a runtime dropped and one shut down with a timeout while
//! full of pending tasks, timers and sockets, and a `Handle` used after.

mod common;

use std::future::pending;
use std::sync::mpsc;
use std::time::Duration;

use aiolos::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use aiolos::signal::{signal, SignalKind};
use aiolos::sync::{oneshot, Mutex, Queue};
use aiolos::time::{interval, sleep, timeout};
use aiolos::{gather, wait, ReturnWhen, TaskError, TaskGroup};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Tasks, combinators, timers, callbacks and `sync` on `rt`.
fn tasks_timers_and_sync(rt: &aiolos::Runtime) {
    let h = rt.handle();
    rt.block_on(async {
        // Spawn, await, names, done callbacks, detach.
        let named = aiolos::task::Builder::new()
            .name("named")
            .spawn(async { 1u32 });
        let (tx, rx) = oneshot::channel();
        named.add_done_callback(move |r| {
            let _ = tx.send(*r.as_ref().unwrap());
        });
        assert_eq!(named.await.unwrap(), 1);
        assert_eq!(rx.await.unwrap(), 1);
        aiolos::spawn(async { sleep(ms(1)).await }).detach();
        assert!(!aiolos::task::all_tasks().is_empty());

        // Cancel a pending task, and a panic.
        let stuck = aiolos::spawn(pending::<()>());
        assert!(stuck.cancel());
        assert!(matches!(stuck.await, Err(TaskError::Cancelled)));
        let boom = aiolos::spawn(async { panic!("valgrind workload panic (expected)") });
        assert!(boom.await.unwrap_err().is_panic());

        // Combinators.
        let outs = aiolos::gather((0..10u32).map(|i| aiolos::spawn(async move { i })));
        let sum: u32 = outs.await.into_iter().map(Result::unwrap).sum();
        assert_eq!(sum, 45);
        let (a, b) = gather!(async { 1 }, async { 2 }).await;
        assert_eq!(a + b, 3);
        let tasks: Vec<_> = (0..3u64)
            .map(|i| aiolos::spawn(async move { sleep(ms(i * 50)).await }))
            .collect();
        let (done, rest) = wait(tasks, ReturnWhen::FirstCompleted, None).await;
        assert!(!done.is_empty());
        for t in rest {
            t.cancel();
        }
        let group = TaskGroup::<std::io::Error>::new();
        for _ in 0..3 {
            group.spawn(async { Ok(()) });
        }
        group.join().await.unwrap();
        let shielded = aiolos::shield(aiolos::spawn(async { 5 }));
        assert_eq!(shielded.await.unwrap(), 5);

        // Timers.
        assert!(timeout(ms(5), pending::<()>()).await.is_err());
        assert_eq!(timeout(ms(500), async { 7 }).await.unwrap(), 7);
        let mut every = interval(ms(1));
        for _ in 0..3 {
            every.tick().await;
        }

        // sync.
        let mutex = std::sync::Arc::new(Mutex::new(0u32));
        let adders: Vec<_> = (0..4)
            .map(|_| {
                let m = mutex.clone();
                aiolos::spawn(async move {
                    for _ in 0..100 {
                        *m.lock().await += 1;
                        aiolos::yield_now().await;
                    }
                })
            })
            .collect();
        for a in adders {
            a.await.unwrap();
        }
        assert_eq!(*mutex.lock().await, 400);
        let (tx, mut rx) = aiolos::sync::mpsc::channel::<Vec<u8>>(4);
        let producer = aiolos::spawn(async move {
            for i in 0..100u8 {
                tx.send(vec![i; 100]).await.unwrap();
            }
        });
        let mut n = 0;
        while let Some(v) = rx.recv().await {
            assert_eq!(v[0] as usize, n);
            n += 1;
        }
        assert_eq!(n, 100);
        producer.await.unwrap();
        let queue = Queue::new(0);
        queue.put(String::from("item")).await.unwrap();
        assert_eq!(queue.get().await.unwrap(), "item");
    });

    // Loop callbacks: run, cancelled, and one left for the shutdown.
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    h.call_soon(move || tx.send(()).unwrap());
    let later = h.call_later(ms(2), move || tx2.send(()).unwrap());
    let cancelled = h.call_later(Duration::from_secs(3600), || unreachable!());
    assert!(cancelled.cancel());
    drop(h.call_later(Duration::from_secs(3600), || unreachable!()));
    for _ in 0..2 {
        rx.recv_timeout(LONG).expect("a callback never ran");
    }
    assert!(later.is_done());
}

/// Sockets and a signal stream on `rt`.
fn sockets_and_signals(rt: &aiolos::Runtime) {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aiolos::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let msg = vec![7u8; 100_000];
        let mut back = vec![0; msg.len()];
        c.write_all(&msg).await.unwrap();
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg);
        drop(c);
        server.await.unwrap();

        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"datagram", b.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"datagram"[..], a.local_addr().unwrap())
        );

        let (mut x, mut y) = UnixStream::pair().unwrap();
        x.write_all(b"unix").await.unwrap();
        let mut buf = [0; 4];
        y.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"unix");

        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        // SAFETY: raising a signal this process handles (the stream above
        // installed the handler) has no other effect.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
        usr2.recv().await.unwrap();
    });
}

/// The blocking pool past its cap.
fn blocking_pool(rt: &aiolos::Runtime) {
    let jobs: Vec<_> = (0..10u32)
        .map(|i| rt.spawn_blocking(move || vec![i; 1000].iter().sum::<u32>()))
        .collect();
    let sum: u32 = jobs.into_iter().map(|j| join_ok(j, "blocking job")).sum();
    assert_eq!(sum, 45_000);
}

/// Pending work of every kind, left for a shutdown to drop.
fn leave_pending_work(rt: &aiolos::Runtime) -> Counter {
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    for i in 0..6 {
        let guard = DropGuard::new(&drops);
        let started = started_tx.clone();
        rt.spawn(async move {
            let _guard = guard;
            match i {
                0 => {
                    started.send(()).unwrap();
                    pending::<()>().await
                }
                1 => {
                    started.send(()).unwrap();
                    sleep(Duration::from_secs(3600)).await
                }
                2 => {
                    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
                    started.send(()).unwrap();
                    let _ = l.accept().await;
                    pending::<()>().await
                }
                3 => {
                    let (mut a, _b) = UnixStream::pair().unwrap();
                    started.send(()).unwrap();
                    let _ = a.read(&mut [0; 8]).await;
                }
                4 => {
                    let child = aiolos::spawn(pending::<()>());
                    started.send(()).unwrap();
                    let _ = child.await;
                }
                _ => {
                    let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
                    started.send(()).unwrap();
                    usr2.recv().await;
                }
            }
        })
        .detach();
    }
    for _ in 0..6 {
        started_rx.recv_timeout(LONG).expect("a task never started");
    }
    rt.handle()
        .call_soon(|| std::thread::sleep(Duration::from_millis(1)));
    drops
}

#[test]
fn a_workload_through_every_part_of_the_runtime_runs_and_shuts_down_for_valgrind() {
    let _wd = watchdog("valgrind_workload", 1200);
    let rt = runtime(2);
    tasks_timers_and_sync(&rt);
    sockets_and_signals(&rt);
    blocking_pool(&rt);
    let drops = leave_pending_work(&rt);
    let handle = rt.handle();
    drop(rt);
    assert_eq!(drops.get(), 6);

    // A handle used after its runtime is gone.
    assert!(matches!(
        handle.block_on(handle.spawn(async { 1 })),
        Err(TaskError::Cancelled)
    ));
    drop(handle);

    // A second runtime, with a small blocking pool, shut down with a
    // timeout while full of work.
    let rt = aiolos::Runtime::builder()
        .worker_threads(2)
        .max_blocking_threads(2)
        .blocking_keep_alive(ms(10))
        .build()
        .unwrap();
    blocking_pool(&rt);
    let drops = leave_pending_work(&rt);
    rt.shutdown_timeout(LONG);
    assert_eq!(drops.get(), 6);
}
