//! UDP: `UdpSocket` send/recv on connected sockets, send_to / recv_from /
//! peek_from on unconnected ones, datagram boundaries and payloads checked,
//! and a receive that waits for its datagram (or its error).

mod common;

use std::io;
use std::sync::Arc;

use aiolos::net::UdpSocket;
use common::*;

/// Datagram `i` of stream `seed`: 1 to 1200 bytes that name their index.
fn datagram(seed: u64, i: u32) -> Vec<u8> {
    let len = 4 + (splitmix64(seed ^ u64::from(i)) % 1197) as usize;
    let mut d = vec![0; len];
    d[..4].copy_from_slice(&i.to_le_bytes());
    fill_pattern(seed ^ u64::from(i), 4, &mut d[4..]);
    d
}

#[test]
fn connected_sockets_send_and_recv_whole_datagrams_in_both_directions() {
    const N: u32 = 200;
    let _wd = watchdog("udp_connected", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = vec![0; 2048];
        // Lock-step, so no datagram is dropped for want of buffer space.
        for i in 0..N {
            let (from, to, seed) = if i % 2 == 0 { (&a, &b, 1) } else { (&b, &a, 2) };
            let d = datagram(seed, i);
            assert_eq!(from.send(&d).await.unwrap(), d.len());
            let n = to.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &d[..], "datagram {i} differs");
        }
    });
}

#[test]
fn recv_waits_for_a_datagram_sent_later() {
    let _wd = watchdog("udp_recv_waits", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let a_addr = a.local_addr().unwrap();
        let receiver = {
            let a = a.clone();
            aiolos::spawn(async move {
                let mut buf = [0; 64];
                let (n, from) = a.recv_from(&mut buf).await.unwrap();
                (buf[..n].to_vec(), from)
            })
        };
        // Give the receiver a chance to wait first (the test holds either
        // way; this only makes the waiting path the likely one).
        aiolos::task::yield_now().await;
        b.send_to(b"late datagram", a_addr).await.unwrap();
        let (got, from) = receiver.await.unwrap();
        assert_eq!(got, b"late datagram");
        assert_eq!(from, b.local_addr().unwrap());
    });
}

#[test]
fn send_to_and_recv_from_report_each_sender() {
    const ROUNDS: u32 = 100;
    let _wd = watchdog("udp_send_to", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let c1 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let c2 = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = vec![0; 2048];
        for i in 0..ROUNDS {
            let (client, seed) = if i % 3 == 0 { (&c2, 20) } else { (&c1, 10) };
            let d = datagram(seed, i);
            assert_eq!(client.send_to(&d, server_addr).await.unwrap(), d.len());
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(
                from,
                client.local_addr().unwrap(),
                "round {i}: wrong sender"
            );
            assert_eq!(&buf[..n], &d[..], "round {i}: payload differs");
            // Reply to whoever sent it.
            let reply: Vec<u8> = d.iter().map(|b| !b).collect();
            server.send_to(&reply, from).await.unwrap();
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, server_addr);
            assert_eq!(&buf[..n], &reply[..], "round {i}: reply differs");
        }
    });
}

#[test]
fn peek_from_leaves_the_datagram_queued() {
    let _wd = watchdog("udp_peek_from", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let first = datagram(7, 1);
        let second = datagram(7, 2);
        b.send_to(&first, a.local_addr().unwrap()).await.unwrap();
        b.send_to(&second, a.local_addr().unwrap()).await.unwrap();
        let mut buf = vec![0; 2048];
        for _ in 0..2 {
            let (n, from) = a.peek_from(&mut buf).await.unwrap();
            assert_eq!(from, b.local_addr().unwrap());
            assert_eq!(&buf[..n], &first[..], "peek did not see the first datagram");
        }
        let (n, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &first[..]);
        let (n, _) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &second[..]);
    });
}

#[test]
fn a_connected_socket_receives_only_from_its_peer() {
    let _wd = watchdog("udp_connected_filter", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(peer.local_addr().unwrap()).await.unwrap();
        let a_addr = a.local_addr().unwrap();
        stranger.send_to(b"from a stranger", a_addr).await.unwrap();
        peer.send_to(b"from the peer", a_addr).await.unwrap();
        let mut buf = [0; 64];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from the peer");
    });
}

#[test]
fn a_pending_recv_on_a_connected_socket_wakes_with_connection_refused() {
    let _wd = watchdog("udp_refused", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        a.connect(closed).await.unwrap();
        let receiver = {
            let a = a.clone();
            aiolos::spawn(async move { a.recv(&mut [0; 16]).await })
        };
        aiolos::task::yield_now().await;
        // The port is closed: the ICMP error comes back on the socket.
        a.send(b"anyone?").await.unwrap();
        let err = receiver.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn binding_a_udp_address_in_use_is_addr_in_use_naming_the_address() {
    let _wd = watchdog("udp_addr_in_use", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let first = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = UdpSocket::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    });
}
