//! Sockets under faults (issue 7): descriptors exhausted (`EMFILE`) when
//! connecting, binding or building a runtime; a peer that stops reading;
//! and one 64 MiB write on one stream.
//!
//! Covered elsewhere, not repeated here: `accept` under fd exhaustion
//! reports `EMFILE` and the same listener accepts once descriptors are free
//! (`net_tcp::accept_reports_emfile_and_the_listener_recovers`); a reset
//! peer fails only its own stream (`net_tcp::a_reset_peer_fails_only_its_own_stream_while_50_others_keep_echoing`);
//! sockets used after their runtime shut down
//! (`rt_faults::a_handle_whose_runtime_is_gone_gives_cancelled_or_a_clear_panic_and_never_hangs`).
//!
//! The fd-exhaustion tests lower `RLIMIT_NOFILE` and use up every
//! descriptor, which would break every other test of the process: each
//! runs in a child process of its own (`run_child_test`).

mod common;

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

use aiolos::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// `len` bytes of the stream `seed` of [`pattern_byte`], made a word at a
/// time (the same bytes as `fill_pattern`, eight times faster: this file
/// makes tens of MiB of it in debug builds).
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    for word in 0..len.div_ceil(8) as u64 {
        let w = splitmix64(seed ^ word.wrapping_mul(0x2545_F491_4F6C_DD1D));
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.truncate(len);
    debug_assert!(
        len < 16
            || v[..16]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == pattern_byte(seed, i as u64))
    );
    v
}

/// Panics naming the first differing offset unless `got` is `want`
/// (compared as slices first: a byte-by-byte check of MiBs is slow).
fn check_same(what: &str, offset: usize, got: &[u8], want: &[u8]) {
    if got != want {
        let i = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{what}: byte {} is {:#04x}, expected {:#04x}",
            offset + i,
            got[i],
            want[i]
        );
    }
}

/// Lowers this process's descriptor limit to what is open now plus `spare`.
fn limit_fds(spare: usize) {
    let n = (open_fds() + spare) as libc::rlim_t;
    let limit = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: `limit` is a valid rlimit; lowering our own limit is allowed.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

/// Opens `/dev/null` until the process is out of descriptors.
fn use_up_fds() -> Vec<std::fs::File> {
    let mut hoard = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hoard.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                return hoard;
            }
        }
    }
}

/// Asserts that `err` is EMFILE and says so in its message. (Errors that
/// name an address keep the kind but not the OS error number.)
fn assert_emfile(what: &str, err: &io::Error) {
    let emfile = io::Error::from_raw_os_error(libc::EMFILE);
    assert_eq!(err.kind(), emfile.kind(), "{what}: {err}");
    assert!(
        matches!(err.raw_os_error(), None | Some(libc::EMFILE)),
        "{what}: {err}"
    );
    assert!(
        err.to_string().contains("Too many open files"),
        "{what}: {err}"
    );
}

/// Child side of
/// [`connect_and_bind_under_fd_exhaustion_fail_with_emfile_and_work_once_fds_are_free`].
#[test]
#[ignore = "runs in a child process started by connect_and_bind_under_fd_exhaustion_fail_with_emfile_and_work_once_fds_are_free"]
fn child_connect_and_bind_under_fd_exhaustion() {
    if !is_child_for("child_connect_and_bind_under_fd_exhaustion") {
        return;
    }
    let _wd = watchdog("child_connect_under_fd_exhaustion", 120);
    limit_fds(64);
    let rt = runtime(2);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();

    let mut hoard = use_up_fds();
    assert!(hoard.len() > 16, "only {} files fit", hoard.len());
    // From block_on and from a task: an error naming the cause, at once.
    let err = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_emfile("connect in block_on", &err);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    let task = rt.spawn(async move { TcpStream::connect(addr).await.map(drop) });
    assert_emfile("connect in a task", &join_ok(task, "connect").unwrap_err());
    let err = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap_err();
    assert_emfile("TcpListener::bind", &err);
    let err = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap_err();
    assert_emfile("UdpSocket::bind", &err);
    assert_emfile(
        "UnixStream::pair",
        &rt.block_on(async { UnixStream::pair() }).unwrap_err(),
    );

    // Descriptors freed: the same runtime connects and talks.
    hoard.truncate(hoard.len() - 16);
    rt.block_on(async {
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"after EMFILE").await.unwrap();
        let mut buf = [0; 12];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after EMFILE");
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        drop(other);
    });
}

#[test]
fn connect_and_bind_under_fd_exhaustion_fail_with_emfile_and_work_once_fds_are_free() {
    run_child_test("child_connect_and_bind_under_fd_exhaustion");
}

/// Child side of
/// [`building_a_runtime_without_free_fds_is_an_emfile_error_that_leaks_nothing`].
#[test]
#[ignore = "runs in a child process started by building_a_runtime_without_free_fds_is_an_emfile_error_that_leaks_nothing"]
fn child_build_under_fd_exhaustion() {
    if !is_child_for("child_build_under_fd_exhaustion") {
        return;
    }
    let _wd = watchdog("child_build_under_fd_exhaustion", 120);
    limit_fds(64);
    let threads_before = process_threads().len();
    let mut hoard = use_up_fds();
    // With 0, 1, 2, ... descriptors free, until a build succeeds: each
    // failure is EMFILE and gives back what it had opened before failing,
    // which shows as exactly `free` descriptors to take afterwards
    // (`/proc/self/fd` cannot be listed without a free descriptor).
    let mut failures = 0;
    for free in 0..32 {
        let keep = hoard.len() - free;
        hoard.truncate(keep);
        match aiolos::Runtime::builder().worker_threads(2).build() {
            Err(e) => {
                assert_emfile(&format!("build with {free} free fds"), &e);
                let back = use_up_fds();
                assert_eq!(
                    back.len(),
                    free,
                    "a build failing with {free} free fds leaked"
                );
                failures += 1;
                // No free descriptor left for the next round.
                hoard.extend(back);
            }
            Ok(rt) => {
                assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
                drop(rt);
                let back = use_up_fds();
                assert_eq!(
                    back.len(),
                    free,
                    "a runtime built with {free} free fds leaked"
                );
                assert!(
                    failures > 0,
                    "a runtime was built without a free descriptor"
                );
                drop((back, hoard));
                wait_until("the failed builds' threads to exit", || {
                    process_threads().len() == threads_before
                });
                eprintln!("{failures} builds failed with EMFILE; one with {free} free fds worked");
                return;
            }
        }
    }
    panic!("no runtime could be built with up to 31 free descriptors");
}

#[test]
fn building_a_runtime_without_free_fds_is_an_emfile_error_that_leaks_nothing() {
    run_child_test("child_build_under_fd_exhaustion");
}

/// Sets `SO_SNDBUF` or `SO_RCVBUF`: fixed, small kernel buffers (no
/// autotuning) so a test knows how little a stalled connection can hold.
fn set_buffer(fd: std::os::fd::RawFd, opt: libc::c_int, bytes: libc::c_int) {
    // SAFETY: `bytes` is a valid int that outlives the call, the length is
    // its size; a bad fd gives an error, not UB.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", io::Error::last_os_error());
}

#[test]
fn a_peer_that_stops_reading_blocks_only_its_writer_and_later_gets_every_byte() {
    // Far more than the two fixed 64 KiB buffers (doubled by the kernel)
    // of the stalled connection can hold.
    const LEN: usize = 8 << 20;
    const ECHOERS: u32 = 20;
    const MESSAGES: u32 = 100;
    let _wd = watchdog("stalled_peer", 300);
    let rt = runtime(2);
    let data = Arc::new(pattern(0x57a1, LEN));
    let written = Arc::new(AtomicU64::new(0));
    let pendings = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let (mut stalled, _) = listener.accept().await.unwrap();
        set_buffer(stalled.as_raw_fd(), libc::SO_SNDBUF, 64 << 10);
        set_buffer(peer.as_raw_fd(), libc::SO_RCVBUF, 64 << 10);

        // The writer counts what each write call took and how often it
        // had to wait.
        let (d, w, p) = (data.clone(), written.clone(), pendings.clone());
        let writer = aiolos::spawn(async move {
            let mut off = 0;
            while off < d.len() {
                let mut write = stalled.write(&d[off..]);
                let n = match poll_once(&mut write).await {
                    Poll::Ready(n) => n,
                    Poll::Pending => {
                        p.fetch_add(1, SeqCst);
                        write.await
                    }
                }
                .unwrap();
                off += n;
                w.store(off as u64, SeqCst);
            }
            stalled.flush().await.unwrap();
            off
        });
        wait_until_async("the writer to wait on the stalled peer", || {
            pendings.load(SeqCst) > 0
        })
        .await;

        // Meanwhile, echo connections on the same runtime keep working.
        let server = aiolos::spawn(async move {
            let mut conns = Vec::new();
            for _ in 0..ECHOERS {
                let (mut s, _) = listener.accept().await.unwrap();
                conns.push(aiolos::spawn(async move {
                    let mut buf = [0; 256];
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for c in conns {
                c.await.unwrap();
            }
        });
        let clients: Vec<_> = (0..ECHOERS)
            .map(|c| {
                aiolos::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    for i in 0..MESSAGES {
                        let msg = pattern(u64::from(c) << 32 | u64::from(i), 100);
                        s.write_all(&msg).await.unwrap();
                        let mut back = vec![0; msg.len()];
                        s.read_exact(&mut back).await.unwrap();
                        check_same("echo", 0, &back, &msg);
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
        let stuck_at = written.load(SeqCst);
        assert!(
            !writer.is_finished() && stuck_at < LEN as u64 / 2,
            "the writer got {stuck_at} of {LEN} bytes out to a peer that reads nothing"
        );

        // The peer reads at last: every byte arrives, in order.
        let mut got = vec![0; 64 << 10];
        let mut off = 0;
        while off < LEN {
            let n = peer.read(&mut got).await.unwrap();
            assert!(n > 0, "end of stream after {off} of {LEN} bytes");
            check_same("stalled stream", off, &got[..n], &data[off..off + n]);
            off += n;
        }
        assert_eq!(writer.await.unwrap(), LEN);
        eprintln!(
            "the writer was stuck at {stuck_at} bytes while {ECHOERS} connections echoed; \
             it waited {} times in all",
            pendings.load(SeqCst)
        );
    });
}

/// Waits inside a task until `cond` holds (yielding in between); fails after [`LONG`].
async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + LONG;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {LONG:?} waiting for {what}"
        );
        aiolos::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

#[test]
fn a_64_mib_write_on_one_stream_arrives_whole_and_in_order() {
    const LEN: usize = 64 << 20;
    let _wd = watchdog("write_64_mib", 300);
    let rt = runtime(2);
    let data = Arc::new(pattern(0x64, LEN));
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let d = data.clone();
        // One write_all call for the whole buffer.
        let writer = aiolos::spawn(async move {
            server.write_all(&d).await.unwrap();
            server.flush().await.unwrap();
            // Dropped here: the reader sees the end of the stream.
        });
        let d = data.clone();
        let reader = aiolos::spawn(async move {
            let mut buf = vec![0; 1 << 20];
            let mut off = 0;
            loop {
                let n = client.read(&mut buf).await.unwrap();
                if n == 0 {
                    return off;
                }
                assert!(off + n <= LEN, "more than {LEN} bytes arrived");
                check_same("64 MiB stream", off, &buf[..n], &d[off..off + n]);
                off += n;
            }
        });
        writer.await.unwrap();
        assert_eq!(reader.await.unwrap(), LEN);
    });
}
