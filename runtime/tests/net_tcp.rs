//! TCP: `TcpListener` and `TcpStream` on a two-worker runtime. Echo under
//! load with every byte checked, error kinds and messages (refused, in use,
//! reset), end of stream, accept under fd exhaustion (in a child process),
//! split halves in both directions at once, and the futures-io helpers.

mod common;

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use aiolos::net::{TcpListener, TcpStream};
use common::*;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;

/// Message `index` of connection `conn`: 8 to 263 bytes that start with the
/// connection and message numbers, so a reply routed to the wrong
/// connection or out of order cannot match.
fn message(conn: u32, index: u32) -> Vec<u8> {
    let seed = (u64::from(conn) << 32) | u64::from(index);
    let len = 8 + (splitmix64(seed) % 256) as usize;
    let mut msg = vec![0; len];
    msg[..4].copy_from_slice(&conn.to_le_bytes());
    msg[4..8].copy_from_slice(&index.to_le_bytes());
    fill_pattern(seed, 8, &mut msg[8..]);
    msg
}

/// Echoes everything until end of stream; returns how many bytes it echoed.
async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Sends messages `range` of connection `conn` one at a time, checking each
/// echo; returns the bytes sent.
async fn exchange(
    stream: &mut TcpStream,
    conn: u32,
    range: std::ops::Range<u32>,
) -> io::Result<u64> {
    let mut sent = 0;
    let mut reply = Vec::new();
    for i in range {
        let msg = message(conn, i);
        stream.write_all(&msg).await?;
        reply.resize(msg.len(), 0);
        stream.read_exact(&mut reply).await?;
        assert!(
            reply == msg,
            "connection {conn}, message {i}: the echo differs from what was sent"
        );
        sent += msg.len() as u64;
    }
    Ok(sent)
}

/// A closed port: bind a std listener to an ephemeral port and drop it.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn echo_100_connections_of_1000_messages_checks_every_byte() {
    const CONNS: u32 = 100;
    const MSGS: u32 = 1000;
    let _wd = watchdog("echo_100_connections", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aiolos::spawn(async move {
            let mut handlers = Vec::new();
            for _ in 0..CONNS {
                let (stream, _) = listener.accept().await.unwrap();
                handlers.push(aiolos::spawn(echo(stream)));
            }
            let mut total = 0;
            for h in handlers {
                total += h.await.unwrap().expect("an echo handler failed");
            }
            total
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|conn| {
                aiolos::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    let sent = exchange(&mut s, conn, 0..MSGS).await.unwrap();
                    s.close().await.unwrap();
                    // The server closes after our end of stream.
                    let mut rest = [0; 16];
                    assert_eq!(s.read(&mut rest).await.unwrap(), 0);
                    sent
                })
            })
            .collect();
        let mut sent = 0;
        for c in clients {
            sent += c.await.unwrap();
        }
        let echoed = server.await.unwrap();
        assert_eq!(echoed, sent, "the server echoed a different byte count");
        assert!(sent > u64::from(CONNS * MSGS) * 8);
    });
}

#[test]
fn connect_to_a_closed_port_is_connection_refused_naming_the_address() {
    let _wd = watchdog("connect_refused", 120);
    let rt = runtime(2);
    let addr = closed_port();
    let err = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert!(
        err.to_string().contains(&addr.to_string()),
        "the message does not name {addr}: {err}"
    );
}

#[test]
fn a_reset_peer_fails_only_its_own_stream_while_50_others_keep_echoing() {
    const OTHERS: u32 = 50;
    const MSGS: u32 = 200;
    let _wd = watchdog("reset_peer", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Half of the others' messages are done / the server saw the reset.
        let half_done = Gate::new();
        let reset_seen = Gate::new();
        let failures: Arc<Mutex<Vec<(SocketAddr, io::Error)>>> = Arc::default();

        let server = {
            let (reset_seen, failures) = (reset_seen.clone(), failures.clone());
            aiolos::spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..=OTHERS {
                    let (stream, peer) = listener.accept().await.unwrap();
                    let (reset_seen, failures) = (reset_seen.clone(), failures.clone());
                    handlers.push(aiolos::spawn(async move {
                        match echo(stream).await {
                            Ok(_) => true,
                            Err(e) => {
                                failures.lock().unwrap().push((peer, e));
                                reset_seen.open();
                                false
                            }
                        }
                    }));
                }
                let mut ok = 0;
                for h in handlers {
                    ok += usize::from(h.await.unwrap());
                }
                ok
            })
        };

        let halfway = Arc::new(AtomicUsize::new(0));
        let others: Vec<_> = (0..OTHERS)
            .map(|conn| {
                let (half_done, reset_seen, halfway) =
                    (half_done.clone(), reset_seen.clone(), halfway.clone());
                aiolos::spawn(async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    let mut sent = exchange(&mut s, conn, 0..MSGS / 2).await.unwrap();
                    if halfway.fetch_add(1, SeqCst) + 1 == OTHERS as usize {
                        half_done.open();
                    }
                    // Carry on only once the server has seen the reset.
                    reset_seen.wait().await;
                    sent += exchange(&mut s, conn, MSGS / 2..MSGS).await.unwrap();
                    s.close().await.unwrap();
                    assert_eq!(s.read(&mut [0; 8]).await.unwrap(), 0);
                    sent
                })
            })
            .collect();

        // The resetting peer: one exchange, then a message whose echo it
        // never reads, then a close with SO_LINGER 0 (an RST, no FIN).
        let mut victim = TcpStream::connect(addr).await.unwrap();
        let victim_addr = victim.local_addr().unwrap();
        exchange(&mut victim, OTHERS, 0..1).await.unwrap();
        half_done.wait().await;
        victim.write_all(&message(OTHERS, 1)).await.unwrap();
        set_linger_zero(victim.as_raw_fd());
        drop(victim);

        for c in others {
            let sent = c.await.unwrap();
            assert!(sent > 0);
        }
        let ok = server.await.unwrap();
        assert_eq!(
            ok, OTHERS as usize,
            "a connection other than the reset one failed"
        );
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "failures: {failures:?}");
        let (peer, err) = &failures[0];
        assert_eq!(*peer, victim_addr, "the wrong stream failed: {err}");
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "the reset stream failed with {:?}: {err}",
            err.kind()
        );
    });
}

#[test]
fn read_after_the_peer_closes_gives_zero_every_time() {
    let _wd = watchdog("read_after_close", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aiolos::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"bye").await.unwrap();
            // Dropped here: a FIN after the data.
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0; 3];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"bye");
        server.await.unwrap();
        for _ in 0..3 {
            assert_eq!(c.read(&mut [0; 16]).await.unwrap(), 0);
        }
    });
}

/// A short read forgets read readiness (so the next read waits instead of
/// failing with `WouldBlock`), but never when the peer has closed: data and
/// FIN arriving together, in either order relative to the reader's look,
/// must give the data and then `Ok(0)`, never a reader waiting for an edge
/// that already came. 300 connections, each written and closed by a thread
/// outside the runtime while a task reads into a big buffer.
#[test]
fn data_then_close_gives_the_data_then_zero_after_short_reads() {
    let _wd = watchdog("short_read_then_fin", 120);
    let rt = runtime(2);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = rt.spawn(async move {
        let mut total = 0usize;
        for _ in 0..300 {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"hello, then goodbye");
            total += 1;
        }
        total
    });
    for i in 0..300 {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        if i % 2 == 0 {
            // Data and FIN in one go.
            c.write_all(b"hello, then goodbye").unwrap();
        } else {
            // Data, then (perhaps after the reader's short read) the FIN.
            c.write_all(b"hello, ").unwrap();
            std::thread::yield_now();
            c.write_all(b"then goodbye").unwrap();
        }
        drop(c);
    }
    assert_eq!(rt.block_on(reader).unwrap(), 300);
}

#[test]
fn read_after_the_peer_resets_gives_connection_reset() {
    let _wd = watchdog("read_after_reset", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        // A read is already waiting when the reset arrives.
        let reader = aiolos::spawn(async move { c.read(&mut [0; 16]).await });
        aiolos::task::yield_now().await;
        set_linger_zero(s.as_raw_fd());
        drop(s);
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    });
}

/// Child side of [`accept_reports_emfile_and_the_listener_recovers`].
#[test]
#[ignore = "runs in a child process started by accept_reports_emfile_and_the_listener_recovers"]
fn child_accept_under_fd_exhaustion() {
    if !is_child_for("child_accept_under_fd_exhaustion") {
        return;
    }
    let _wd = watchdog("child_accept_under_fd_exhaustion", 120);
    let limit = libc::rlimit {
        rlim_cur: (open_fds() + 64) as libc::rlim_t,
        rlim_max: (open_fds() + 64) as libc::rlim_t,
    };
    // SAFETY: `limit` is a valid rlimit; lowering our own limit is allowed.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());

    let rt = runtime(2);
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();

    // Use up every descriptor.
    let mut hoard = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hoard.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
    }
    assert!(hoard.len() > 8, "only {} files fit", hoard.len());
    // One descriptor for the client; the kernel completes its handshake into
    // the listener's backlog.
    hoard.pop();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    assert_eq!(
        std::fs::File::open("/dev/null").unwrap_err().raw_os_error(),
        Some(libc::EMFILE),
        "descriptors are not exhausted"
    );

    for attempt in 0..2 {
        let err = rt.block_on(listener.accept()).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EMFILE),
            "accept attempt {attempt}: {err}"
        );
    }

    // Free some descriptors: the same listener accepts the pending client.
    hoard.truncate(hoard.len() - 8);
    let (mut server, peer) = rt.block_on(listener.accept()).unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"after EMFILE").unwrap();
    let mut buf = [0; 12];
    rt.block_on(server.read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, b"after EMFILE");
    rt.block_on(server.write_all(b"ok")).unwrap();
    let mut reply = [0; 2];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"ok");
}

#[test]
fn accept_reports_emfile_and_the_listener_recovers() {
    run_child_test("child_accept_under_fd_exhaustion");
}

#[test]
fn split_halves_read_and_write_at_once_in_both_directions() {
    // Far beyond what loopback socket buffers hold, so each side's writer
    // blocks until the other side's reader drains: a side that read and
    // wrote in turn, or lost a wake-up, would deadlock.
    const LEN: u64 = 16 << 20;
    let _wd = watchdog("split_halves", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();

        let mut tasks = Vec::new();
        for (stream, send_seed, recv_seed) in [(client, 1, 2), (server, 2, 1)] {
            let (mut r, mut w) = stream.into_split();
            tasks.push(aiolos::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let mut off = 0;
                while off < LEN {
                    let n = (LEN - off).min(buf.len() as u64) as usize;
                    fill_pattern(send_seed, off, &mut buf[..n]);
                    w.write_all(&buf[..n]).await.unwrap();
                    off += n as u64;
                }
                off
            }));
            tasks.push(aiolos::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                let mut off = 0;
                loop {
                    let n = r.read(&mut buf).await.unwrap();
                    if n == 0 || off >= LEN {
                        assert_eq!(n, 0, "more bytes than were sent");
                        break;
                    }
                    check_pattern("split read half", recv_seed, off, &buf[..n]);
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

#[test]
fn dropping_the_write_half_ends_the_peers_stream() {
    let _wd = watchdog("drop_write_half", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = c.into_split();
        w.write_all(b"last words").await.unwrap();
        drop(w);
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        // The read half still works.
        s.write_all(b"reply").await.unwrap();
        let mut buf = [0; 5];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    });
}

#[test]
fn binding_an_address_in_use_is_addr_in_use_naming_the_address() {
    let _wd = watchdog("addr_in_use", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(
            err.to_string().contains(&addr.to_string()),
            "the message does not name {addr}: {err}"
        );
        // The OS error, code and all, is the source.
        let os = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .unwrap_or_else(|| panic!("no OS error as the source: {err:?}"));
        assert_eq!(os.raw_os_error(), Some(libc::EADDRINUSE), "{os:?}");
    });
}

#[test]
fn incoming_yields_each_connected_stream() {
    let _wd = watchdog("incoming", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..3u8)
            .map(|i| {
                aiolos::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    c.write_all(&[i]).await.unwrap();
                    let mut back = [0; 1];
                    c.read_exact(&mut back).await.unwrap();
                    assert_eq!(back[0], i + 100);
                })
            })
            .collect();
        let mut incoming = listener.incoming();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let mut s = incoming.next().await.unwrap().unwrap();
            assert_eq!(s.local_addr().unwrap(), addr);
            let mut id = [0; 1];
            s.read_exact(&mut id).await.unwrap();
            s.write_all(&[id[0] + 100]).await.unwrap();
            seen.push(id[0]);
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
        for c in clients {
            c.await.unwrap();
        }
    });
}

#[test]
fn peek_leaves_the_data_for_the_next_read() {
    let _wd = watchdog("peek", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (s, _) = listener.accept().await.unwrap();
        // Waits for data: nothing has been written yet.
        let peeker = aiolos::spawn(async move {
            let mut first = [0; 64];
            let n = s.peek(&mut first).await.unwrap();
            let mut second = [0; 64];
            let again = s.peek(&mut second).await.unwrap();
            assert!(again >= n, "a second peek saw less ({again} < {n})");
            assert_eq!(first[..n], second[..n], "peek consumed data");
            (s, first[..n].to_vec())
        });
        aiolos::task::yield_now().await;
        c.write_all(b"hello world").await.unwrap();
        let (mut s, peeked) = peeker.await.unwrap();
        assert!(!peeked.is_empty() && b"hello world".starts_with(&peeked));
        let mut all = [0; 11];
        s.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"hello world");
    });
}

#[test]
fn set_nodelay_round_trips_and_addresses_match() {
    let _wd = watchdog("nodelay", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, peer) = listener.accept().await.unwrap();
        assert_eq!(c.peer_addr().unwrap(), addr);
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        for on in [true, false, true] {
            c.set_nodelay(on).unwrap();
            assert_eq!(c.nodelay().unwrap(), on);
        }
    });
}

#[test]
fn shutdown_write_sends_end_of_stream_but_keeps_reading() {
    let _wd = watchdog("shutdown_write", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        c.write_all(b"request").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut req = Vec::new();
        s.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        s.write_all(b"response").await.unwrap();
        drop(s);
        let mut resp = Vec::new();
        c.read_to_end(&mut resp).await.unwrap();
        assert_eq!(resp, b"response");
    });
}

#[test]
fn futures_io_bufreader_lines_and_copy_work_on_tcp_streams() {
    const LINES: usize = 2000;
    let _wd = watchdog("futures_io", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // An echo server made of `futures::io::copy` between the halves.
        let server = aiolos::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let (r, mut w) = s.into_split();
            futures::io::copy(r, &mut w).await.unwrap()
        });
        let c = TcpStream::connect(addr).await.unwrap();
        // One task writes lines through `&c` while it reads them back
        // through a `BufReader` over `&c`.
        let write = async {
            let mut w = &c;
            let mut sent = 0;
            for i in 0..LINES {
                let line = format!("line {i} {}\n", "x".repeat(i % 97));
                w.write_all(line.as_bytes()).await.unwrap();
                sent += line.len() as u64;
            }
            w.close().await.unwrap();
            sent
        };
        let read = async {
            let mut lines = BufReader::new(&c).lines();
            for i in 0..LINES {
                let line = lines.next().await.unwrap().unwrap();
                assert_eq!(line, format!("line {i} {}", "x".repeat(i % 97)));
            }
            assert!(lines.next().await.is_none(), "more lines than were sent");
        };
        let (sent, ()) = futures::future::join(write, read).await;
        assert_eq!(server.await.unwrap(), sent);
    });
}

#[test]
fn write_vectored_sends_every_slice_in_order() {
    let _wd = watchdog("write_vectored", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut c = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let reader = aiolos::spawn(async move {
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        // Big enough that the vectored writes are partial at times.
        let parts: Vec<Vec<u8>> = (0..3u64)
            .map(|i| {
                let mut v = vec![0; (1 << 20) + i as usize * 777];
                fill_pattern(i + 10, 0, &mut v);
                v
            })
            .collect();
        let mut slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut slices = &mut slices[..];
        let mut calls = 0;
        while !slices.is_empty() {
            let n = c.write_vectored(slices).await.unwrap();
            assert!(n > 0);
            calls += 1;
            IoSlice::advance_slices(&mut slices, n);
        }
        c.close().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got, parts.concat(), "after {calls} vectored writes");
    });
}

/// Two tasks accepting on one shared listener are both woken: each of two
/// connections reaches one of them (a single waker slot per direction would
/// leave one task asleep for good).
#[test]
fn two_tasks_accepting_on_one_listener_both_get_a_connection() {
    let _wd = watchdog("two_acceptors", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = listener.clone();
                aiolos::spawn(async move { l.accept().await.unwrap().1 })
            })
            .collect();
        // Let both acceptors wait before anyone connects.
        for _ in 0..10 {
            aiolos::yield_now().await;
        }
        let c1 = TcpStream::connect(addr).await.unwrap();
        let c2 = TcpStream::connect(addr).await.unwrap();
        let mut peers = Vec::new();
        for a in acceptors {
            peers.push(a.await.unwrap());
        }
        peers.sort();
        let mut want = vec![c1.local_addr().unwrap(), c2.local_addr().unwrap()];
        want.sort();
        assert_eq!(peers, want);
    });
}
