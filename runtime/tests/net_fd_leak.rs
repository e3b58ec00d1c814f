//! Sockets give their file descriptors back: many connect/accept/close
//! cycles (and failed connects) leave this process's descriptor count where
//! it started.
//!
//! The only test of its binary on purpose: tests of one binary run on
//! parallel threads, and their sockets would change the count.

mod common;

use std::io;

use aiolos::net::{TcpListener, TcpStream};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn ten_thousand_connect_close_cycles_leave_the_fd_count_unchanged() {
    const CLIENTS: u32 = 10;
    const CYCLES: u32 = 1000; // per client: 10,000 connections in all
    const REFUSED: u32 = 500;
    let _wd = watchdog("fd_leak", 300);

    let before_runtime = open_fds();
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // Everything the loop needs is open: the runtime, the listener.
        let baseline = open_fds();

        // Each connection sends its number; the server reads it and the end
        // of stream, then drops its side.
        let server = aiolos::spawn(async move {
            let mut seen = vec![false; (CLIENTS * CYCLES) as usize];
            for _ in 0..CLIENTS * CYCLES {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut id = Vec::new();
                s.read_to_end(&mut id).await.unwrap();
                let id = u32::from_le_bytes(id.try_into().expect("a 4-byte id"));
                assert!(!seen[id as usize], "connection {id} arrived twice");
                seen[id as usize] = true;
            }
            listener
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                aiolos::spawn(async move {
                    for i in 0..CYCLES {
                        let mut s = TcpStream::connect(addr).await.unwrap();
                        s.write_all(&(c * CYCLES + i).to_le_bytes()).await.unwrap();
                        // Dropped here: the server sees the end of stream.
                    }
                })
            })
            .collect();
        // Failed connects must not leak their socket either.
        for _ in 0..REFUSED {
            let err = TcpStream::connect(closed).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        }
        for c in clients {
            c.await.unwrap();
        }
        let listener = server.await.unwrap();
        assert_eq!(
            open_fds(),
            baseline,
            "descriptors leaked by 10,000 connections and {REFUSED} refused connects"
        );
        drop(listener);
    });
    drop(rt);
    assert_eq!(
        open_fds(),
        before_runtime,
        "descriptors left behind by a dropped runtime"
    );
}
