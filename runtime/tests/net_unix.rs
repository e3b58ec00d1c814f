//! Unix-domain sockets: `UnixListener` / `UnixStream` through socket files
//! in the temp dir, `UnixStream::pair`, `UnixDatagram` pairs and bound
//! paths, and the errors of binding and connecting (path in the message).

mod common;

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net as std_unix;

use aiolos::net::{UnixDatagram, UnixListener, UnixStream};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

/// Writes `len` bytes of stream `send_seed` on `w` while reading and
/// checking `len` bytes of stream `recv_seed` from `r`, then shuts down
/// writing and expects the peer's end of stream.
async fn exchange_both_ways(s: &UnixStream, len: u64, send_seed: u64, recv_seed: u64) {
    let write = async {
        let mut w = s;
        let mut buf = vec![0; 32 * 1024];
        let mut off = 0;
        while off < len {
            let n = (len - off).min(buf.len() as u64) as usize;
            fill_pattern(send_seed, off, &mut buf[..n]);
            w.write_all(&buf[..n]).await.unwrap();
            off += n as u64;
        }
        w.close().await.unwrap();
    };
    let read = async {
        let mut r = s;
        let mut buf = vec![0; 32 * 1024];
        let mut off = 0;
        loop {
            let n = r.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            check_pattern("unix stream", recv_seed, off, &buf[..n]);
            off += n as u64;
        }
        assert_eq!(off, len, "the stream ended early or ran long");
    };
    futures::future::join(write, read).await;
}

#[test]
fn unix_stream_round_trips_through_a_listener_in_the_temp_dir() {
    const LEN: u64 = 4 << 20;
    let _wd = watchdog("unix_listener", 120);
    let path = unique_temp_path("listener");
    let _rm = RemoveOnDrop(path.clone());
    let rt = runtime(2);
    rt.block_on(async {
        let listener = UnixListener::bind(&path).await.unwrap();
        assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
        let server = aiolos::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            exchange_both_ways(&s, LEN, 2, 1).await;
        });
        let c = UnixStream::connect(&path).await.unwrap();
        assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(&*path));
        exchange_both_ways(&c, LEN, 1, 2).await;
        server.await.unwrap();
    });
}

#[test]
fn unix_incoming_yields_each_connected_stream() {
    let _wd = watchdog("unix_incoming", 120);
    let path = unique_temp_path("incoming");
    let _rm = RemoveOnDrop(path.clone());
    let rt = runtime(2);
    rt.block_on(async {
        let listener = UnixListener::bind(&path).await.unwrap();
        let clients: Vec<_> = (0..3u8)
            .map(|i| {
                let path = path.clone();
                aiolos::spawn(async move {
                    let mut c = UnixStream::connect(&path).await.unwrap();
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
fn unix_stream_pair_round_trips_and_ends_with_zero() {
    const LEN: u64 = 4 << 20;
    let _wd = watchdog("unix_pair", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let other = aiolos::spawn(async move {
            exchange_both_ways(&b, LEN, 4, 3).await;
            b
        });
        exchange_both_ways(&a, LEN, 3, 4).await;
        let b = other.await.unwrap();
        drop(b);
        // Closed for good: every further read gives 0.
        for _ in 0..2 {
            assert_eq!((&a).read(&mut [0; 8]).await.unwrap(), 0);
        }
    });
}

#[test]
fn unix_datagram_pair_keeps_each_datagram_whole() {
    let _wd = watchdog("unix_dgram_pair", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let mut buf = vec![0; 4096];
        for i in 0..100u64 {
            let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let mut d = vec![0; 1 + (splitmix64(i) % 3000) as usize];
            fill_pattern(i, 0, &mut d);
            assert_eq!(from.send(&d).await.unwrap(), d.len());
            let n = to.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &d[..], "datagram {i} differs");
        }
    });
}

#[test]
fn unix_datagram_recv_waits_for_a_datagram_sent_later() {
    let _wd = watchdog("unix_dgram_wait", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let receiver = aiolos::spawn(async move {
            let mut buf = [0; 32];
            let n = b.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        aiolos::task::yield_now().await;
        a.send(b"later").await.unwrap();
        assert_eq!(receiver.await.unwrap(), b"later");
    });
}

#[test]
fn unix_datagrams_between_bound_paths_name_their_sender() {
    let _wd = watchdog("unix_dgram_paths", 120);
    let (pa, pb) = (unique_temp_path("dgram-a"), unique_temp_path("dgram-b"));
    let (_ra, _rb) = (RemoveOnDrop(pa.clone()), RemoveOnDrop(pb.clone()));
    let rt = runtime(2);
    rt.block_on(async {
        let a = UnixDatagram::bind(&pa).await.unwrap();
        let b = UnixDatagram::bind(&pb).await.unwrap();
        assert_eq!(a.local_addr().unwrap().as_pathname(), Some(&*pa));
        let mut buf = vec![0; 4096];
        for i in 0..50u64 {
            let mut d = vec![0; 1 + (splitmix64(i + 99) % 2000) as usize];
            fill_pattern(i + 99, 0, &mut d);
            let (from, from_path, to, to_path) = if i % 2 == 0 {
                (&a, &pa, &b, &pb)
            } else {
                (&b, &pb, &a, &pa)
            };
            assert_eq!(from.send_to(&d, to_path).await.unwrap(), d.len());
            let (n, sender) = to.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &d[..], "datagram {i} differs");
            assert_eq!(sender.as_pathname(), Some(&**from_path));
        }
        // `connect` sets the default peer for `send`.
        a.connect(&pb).unwrap();
        assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(&*pb));
        a.send(b"connected").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");
    });
}

#[test]
fn binding_an_existing_path_is_addr_in_use_naming_the_path() {
    let _wd = watchdog("unix_addr_in_use", 120);
    let path = unique_temp_path("in-use");
    let _rm = RemoveOnDrop(path.clone());
    let rt = runtime(2);
    rt.block_on(async {
        let _first = UnixListener::bind(&path).await.unwrap();
        let shown = path.display().to_string();
        let err = UnixListener::bind(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&shown), "{err}");
        let err = UnixDatagram::bind(&path).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&shown), "{err}");
    });
}

#[test]
fn connecting_to_a_missing_path_is_not_found_naming_the_path() {
    let _wd = watchdog("unix_not_found", 120);
    let path = unique_temp_path("missing");
    let rt = runtime(2);
    let err = rt.block_on(UnixStream::connect(&path)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn connecting_to_a_full_backlog_fails_instead_of_returning_an_unconnected_stream() {
    let _wd = watchdog("unix_backlog", 120);
    let path = unique_temp_path("backlog");
    let _rm = RemoveOnDrop(path.clone());
    let rt = runtime(2);
    rt.block_on(async {
        let std_listener = std_unix::UnixListener::bind(&path).unwrap();
        // Listening again changes the backlog: 0 lets one connection wait.
        // SAFETY: `listen` on a socket we own; no memory is passed.
        assert_eq!(unsafe { libc::listen(std_listener.as_raw_fd(), 0) }, 0);
        let listener = UnixListener::from_std(std_listener).unwrap();
        let mut first = UnixStream::connect(&path).await.unwrap();

        // The backlog is full and nobody accepts: the kernel cannot connect
        // this socket now (EAGAIN), and no readiness event will say when it
        // could. A stream that is not connected must not come back as Ok.
        match UnixStream::connect(&path).await {
            Ok(s) => panic!(
                "connect returned Ok with a full backlog; peer_addr: {:?}",
                s.peer_addr()
            ),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            }
        }

        // Once the pending connection is accepted, connecting works again.
        let (mut accepted, _) = listener.accept().await.unwrap();
        first.write_all(b"first").await.unwrap();
        let mut buf = [0; 5];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"first");
        let mut second = UnixStream::connect(&path).await.unwrap();
        let (mut accepted, _) = listener.accept().await.unwrap();
        second.write_all(b"again").await.unwrap();
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
    });
}

/// The halves of a split Unix stream, owned by two tasks, read and write at
/// once (both directions fill the socket buffers), and dropping the write
/// half ends the peer's stream.
#[test]
fn unix_split_halves_read_and_write_from_two_tasks_at_once() {
    const LEN: u64 = 4 << 20;
    let _wd = watchdog("unix_split", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut ar, mut aw) = a.into_split();
        let peer = aiolos::spawn(async move {
            exchange_both_ways(&b, LEN, 7, 8).await;
        });
        let writer = aiolos::spawn(async move {
            let mut buf = vec![0; 32 * 1024];
            let mut off = 0;
            while off < LEN {
                let n = (LEN - off).min(buf.len() as u64) as usize;
                fill_pattern(8, off, &mut buf[..n]);
                aw.write_all(&buf[..n]).await.unwrap();
                off += n as u64;
            }
            // Dropping the half shuts down writing: the peer sees the end.
        });
        let reader = aiolos::spawn(async move {
            let mut buf = vec![0; 32 * 1024];
            let mut off = 0;
            loop {
                let n = ar.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                check_pattern("unix split", 7, off, &buf[..n]);
                off += n as u64;
            }
            assert_eq!(off, LEN, "the stream ended early or ran long");
        });
        writer.await.unwrap();
        reader.await.unwrap();
        peer.await.unwrap();
    });
}
