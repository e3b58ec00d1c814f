//! `Async<T>` over a std `UnixStream` pair: `read_with` / `write_with`,
//! `readable` / `writable` waiting for real readiness, `into_inner` handing
//! back a working (and deregistered) stream, `Send + Sync`, and a large
//! transfer both ways at once with every byte checked (no lost wake-up).

mod common;

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::task::Poll;

use aiolos::io::Async;
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

fn pair() -> (Async<UnixStream>, Async<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    (Async::new(a).unwrap(), Async::new(b).unwrap())
}

/// Compile-time check: the I/O types are `Send + Sync` when their inner type is.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Async<UnixStream>>();
    is_send_sync::<Async<std::net::TcpStream>>();
    is_send_sync::<Async<std::net::UdpSocket>>();
    is_send_sync::<aiolos::net::TcpListener>();
    is_send_sync::<aiolos::net::TcpStream>();
    is_send_sync::<aiolos::net::OwnedReadHalf>();
    is_send_sync::<aiolos::net::OwnedWriteHalf>();
    is_send_sync::<aiolos::net::UdpSocket>();
    is_send_sync::<aiolos::net::UnixListener>();
    is_send_sync::<aiolos::net::UnixStream>();
    is_send_sync::<aiolos::net::UnixDatagram>();
}

#[test]
fn read_with_waits_for_data_and_write_with_sends_it() {
    let _wd = watchdog("async_read_with", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = pair();
        let mut buf = [0; 16];
        {
            // Nothing written yet: the read must wait, not fail.
            let mut read = Box::pin(b.read_with(|s| (&*s).read(&mut buf)));
            assert!(poll_once(&mut read).await.is_pending());
            let n = a.write_with(|s| (&*s).write(b"ping")).await.unwrap();
            assert_eq!(n, 4);
            assert_eq!(read.await.unwrap(), 4);
        }
        assert_eq!(&buf[..4], b"ping");
        // The readiness was used up by the read: the next one waits again.
        let mut again = Box::pin(b.read_with(|s| (&*s).read(&mut buf)));
        assert!(poll_once(&mut again).await.is_pending());
        a.write_with(|s| (&*s).write(b"pong")).await.unwrap();
        let n = again.await.unwrap();
        assert_eq!(&buf[..n], b"pong");
    });
}

#[test]
fn read_with_returns_the_operations_own_error() {
    let _wd = watchdog("async_read_with_error", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, _b) = pair();
        let err = a
            .read_with(|_| -> io::Result<()> { Err(io::Error::other("from the op")) })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "from the op");
    });
}

#[test]
fn readable_waits_until_the_peer_writes() {
    let _wd = watchdog("async_readable", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = pair();
        let mut readable = Box::pin(b.readable());
        assert!(
            poll_once(&mut readable).await.is_pending(),
            "readable before anything was written"
        );
        a.get_ref().write_all(b"x").unwrap();
        readable.await.unwrap();
        let mut buf = [0; 1];
        assert_eq!(b.get_ref().read(&mut buf).unwrap(), 1);
    });
}

#[test]
fn writable_waits_while_the_buffer_is_full_and_wakes_when_drained() {
    let _wd = watchdog("async_writable", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = pair();
        a.writable().await.unwrap();
        // Fill the socket through `write_with` until it has to wait: that
        // also clears the write readiness.
        let chunk = vec![7u8; 64 * 1024];
        let mut written = 0;
        loop {
            let mut w = Box::pin(a.write_with(|s| (&*s).write(&chunk)));
            match poll_once(&mut w).await {
                Poll::Ready(n) => written += n.unwrap(),
                Poll::Pending => break,
            }
        }
        assert!(written > 0);
        let mut writable = Box::pin(a.writable());
        assert!(
            poll_once(&mut writable).await.is_pending(),
            "writable with a full buffer"
        );
        // Drain everything on another task; the writer must be woken.
        let drainer = aiolos::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            let mut got = 0;
            while got < written {
                got += b.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
            }
            (b, got)
        });
        writable.await.unwrap();
        let (_b, got) = drainer.await.unwrap();
        assert_eq!(got, written);
    });
}

#[test]
fn into_inner_gives_back_a_working_deregistered_stream() {
    let _wd = watchdog("async_into_inner", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = pair();
        a.write_with(|s| (&*s).write(b"before")).await.unwrap();
        let inner = b.into_inner().unwrap();
        inner.set_nonblocking(false).unwrap();
        let mut buf = [0; 6];
        (&inner).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"before");
        (&inner).write_all(b"after").unwrap();
        let mut reply = [0; 5];
        (&a).read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"after");
        // Registering the same descriptor again works only if `into_inner`
        // removed it from the poller.
        let again = Async::new(inner).unwrap();
        (&a).write_all(b"again").await.unwrap();
        let mut buf = [0; 5];
        (&again).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
    });
}

#[test]
fn a_large_transfer_both_ways_at_once_completes_with_every_byte_intact() {
    const LEN: u64 = 8 << 20;
    let _wd = watchdog("async_large_transfer", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = pair();
        let (a, b) = (Arc::new(a), Arc::new(b));
        let mut tasks = Vec::new();
        // One writer and one reader task per end, on a shared `&Async`.
        for (end, send_seed, recv_seed) in [(a, 11, 22), (b, 22, 11)] {
            let w = end.clone();
            tasks.push(aiolos::spawn(async move {
                let mut buf = vec![0; 48 * 1024];
                let mut off = 0;
                while off < LEN {
                    let n = (LEN - off).min(buf.len() as u64) as usize;
                    fill_pattern(send_seed, off, &mut buf[..n]);
                    (&*w).write_all(&buf[..n]).await.unwrap();
                    off += n as u64;
                }
                off
            }));
            tasks.push(aiolos::spawn(async move {
                let mut buf = vec![0; 40 * 1024];
                let mut off = 0;
                while off < LEN {
                    let want = (LEN - off).min(buf.len() as u64) as usize;
                    let n = (&*end).read(&mut buf[..want]).await.unwrap();
                    assert!(n > 0, "end of stream after {off} bytes");
                    check_pattern("Async<UnixStream>", recv_seed, off, &buf[..n]);
                    off += n as u64;
                }
                off
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), LEN);
        }
    });
}

/// `readable()` after the data was read by hand (not through `read_with`)
/// waits for new data instead of returning at once forever: a loop of
/// `readable().await` + read would otherwise spin.
#[test]
fn readable_waits_again_once_the_data_is_gone() {
    let _wd = watchdog("readable_waits_again", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = Async::new(a).unwrap();
        let mut b = b;
        b.write_all(b"one").unwrap();
        a.readable().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(a.get_ref().read(&mut buf).unwrap(), 3);
        // Nothing to read now: readable() must not complete.
        let r = aiolos::time::timeout(std::time::Duration::from_millis(200), a.readable()).await;
        assert!(r.is_err(), "readable() completed with nothing to read");
        // New data: it completes.
        b.write_all(b"two").unwrap();
        a.readable().await.unwrap();
        assert_eq!(a.get_ref().read(&mut buf).unwrap(), 3);
    });
}

/// Readiness waits respect the cooperative budget: a task whose reads are
/// always ready (the data is already queued) still yields now and then, so
/// a task queued behind it on a one-worker runtime gets to run long before
/// the reader is done.
#[test]
fn reads_that_are_always_ready_still_let_other_tasks_run() {
    const BYTES: usize = 64 * 1024;
    let _wd = watchdog("io_budget", 120);
    let rt = runtime(1);
    let (a, mut b) = UnixStream::pair().unwrap();
    // Queue everything before the reader starts: no read will wait.
    b.write_all(&vec![7u8; BYTES]).unwrap();
    let reads_before_other_ran = rt
        .block_on(rt.spawn(async move {
            let a = Async::new(a).unwrap();
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            aiolos::spawn(async move { r.store(true, SeqCst) }).detach();
            let mut buf = [0u8; 1];
            let mut reads = 0usize;
            while !ran.load(SeqCst) && reads < BYTES {
                a.read_with(|s| (&*s).read(&mut buf)).await.unwrap();
                reads += 1;
            }
            reads
        }))
        .unwrap();
    assert!(
        reads_before_other_ran < BYTES,
        "the reader read all {BYTES} bytes without ever yielding"
    );
}

/// While one worker is stuck in a long poll and the other is parked, nobody
/// polls for I/O between tasks: the reactor must notice and take the watch
/// back (check 3 of "I/O duty" in `aiolos_io`), or the reader below never
/// wakes (and the spinning task never stops).
#[test]
fn readiness_arrives_while_a_worker_is_stuck_in_a_long_poll() {
    const ROUNDS: usize = 5;
    let _wd = watchdog("io_stuck_worker", 120);
    let rt = runtime(2);
    let stop = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let (stop2, spinning2) = (stop.clone(), spinning.clone());
    // One worker spins for the whole test, so it never polls for I/O and
    // never parks (which would hand the watch to the reactor).
    let spinner = rt.spawn(async move {
        spinning2.store(true, SeqCst);
        while !stop2.load(SeqCst) {
            std::hint::spin_loop();
        }
    });
    let t0 = std::time::Instant::now();
    while !spinning.load(SeqCst) {
        assert!(t0.elapsed() < LONG, "the spinning task never started");
        std::thread::yield_now();
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    // The round whose read last returned `Pending` (plus one).
    let waiting = Arc::new(AtomicUsize::new(0));
    let w = waiting.clone();
    let reader = rt.spawn(async move {
        let mut a = Async::new(a).unwrap();
        let mut got = Vec::new();
        for round in 1..=ROUNDS {
            let mut buf = [0u8; 1];
            let mut read = std::pin::pin!(a.read_exact(&mut buf));
            std::future::poll_fn(|cx| {
                let r = read.as_mut().poll(cx);
                if r.is_pending() {
                    w.store(round, SeqCst);
                }
                r
            })
            .await
            .unwrap();
            got.push(buf[0]);
        }
        got
    });
    for round in 1..=ROUNDS {
        // Write only once the reader waits, on the other worker (which
        // then parks) or behind the spinner.
        while waiting.load(SeqCst) != round {
            assert!(t0.elapsed() < LONG, "the reader never waited");
            std::thread::yield_now();
        }
        b.write_all(&[round as u8]).unwrap();
    }
    let got = rt.block_on(reader).unwrap();
    stop.store(true, SeqCst);
    rt.block_on(spinner).unwrap();
    assert_eq!(got, (1..=ROUNDS as u8).collect::<Vec<_>>());
}
