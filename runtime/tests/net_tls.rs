//! TLS on aiolos: futures-rustls (rustls on the ring provider) over
//! `aiolos::net::TcpStream` through the futures-io traits, on a two-worker
//! runtime, with certificates rcgen makes for each test.
//!
//! A 1 MiB round trip with every byte checked, refusals with clear errors
//! (an unknown issuer, a name the certificate does not cover) that the
//! server sees as failed handshakes too, `close_notify` in both directions,
//! a TCP end of stream without `close_notify` reported as a cut-off stream,
//! and concurrent connections.
//!
//! Nothing here sleeps or times anything: every wait is an await, and a
//! watchdog turns a hang into a failure.

mod common;

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;

use aiolos::net::{TcpListener, TcpStream};
use aiolos::sync::mpsc;
use common::*;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::client::TlsStream;
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use futures_rustls::rustls::crypto::{self, CryptoProvider};
use futures_rustls::rustls::{
    self, AlertDescription, CertificateError, ClientConfig, RootCertStore, ServerConfig,
};
use futures_rustls::{TlsAcceptor, TlsConnector};

/// The name the test server's certificate is made for.
const NAME: &str = "localhost";

/// The ring provider, given explicitly to every configuration: no test
/// relies on a process-wide default provider.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// A new self-signed certificate for [`NAME`] and its private key.
fn identity() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![NAME.to_owned()])
            .expect("generating a certificate");
    (cert.der().clone(), PrivateKeyDer::from(signing_key))
}

/// A new self-signed CA certificate with a subject of its own, so no
/// certificate from [`identity`] can even name it as its issuer.
fn unrelated_ca() -> CertificateDer<'static> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "net_tls: an unrelated CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("generating a key");
    params.self_signed(&key).expect("signing").der().clone()
}

/// A server configuration that presents `cert`.
fn acceptor(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsAcceptor {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("a server configuration with the test certificate");
    TlsAcceptor::from(Arc::new(config))
}

/// A client configuration whose only trusted root is `root`.
fn connector(root: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).expect("adding the root");
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// `name` as a server name (a DNS name, or an IP address if it parses as one).
fn server_name(name: &'static str) -> ServerName<'static> {
    ServerName::try_from(name).expect("a valid server name")
}

/// The rustls error inside an `io::Error` from futures-rustls, if any.
fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref()
}

/// How one connection ended, seen from the server.
#[derive(Debug)]
enum ServerSide {
    /// The handshake failed with this error.
    HandshakeFailed(io::Error),
    /// The handshake succeeded; then the echo ended like this (bytes echoed).
    Echoed(io::Result<u64>),
}

/// Echoes everything `tls` sends until it reads 0 (the peer's
/// `close_notify`), flushing after each write, then closes (our
/// `close_notify`). Returns how many bytes it echoed.
async fn echo(tls: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
        // rustls may keep the end of a write buffered: push it out before
        // waiting to read again, or the peer may wait for it forever.
        tls.flush().await?;
        total += n as u64;
    }
    tls.close().await?;
    Ok(total)
}

/// A TLS echo server on `127.0.0.1:0`, one task per connection.
struct EchoServer {
    /// Where it listens.
    addr: SocketAddr,
    /// How each connection ended, in the order they ended.
    outcomes: mpsc::UnboundedReceiver<ServerSide>,
}

impl EchoServer {
    /// Starts the server with `acceptor`; it runs until the runtime drops it.
    async fn start(acceptor: TlsAcceptor) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, outcomes) = mpsc::unbounded();
        drop(aiolos::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.expect("accept failed");
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                drop(aiolos::spawn(async move {
                    let outcome = match acceptor.accept(tcp).await {
                        Ok(mut tls) => ServerSide::Echoed(echo(&mut tls).await),
                        Err(e) => ServerSide::HandshakeFailed(e),
                    };
                    let _ = tx.send(outcome);
                }));
            }
        }));
        EchoServer { addr, outcomes }
    }

    /// How the next connection to end ended.
    async fn next_outcome(&mut self) -> ServerSide {
        self.outcomes
            .recv()
            .await
            .expect("the server's accept loop stopped")
    }
}

/// Connects to `addr` over TCP and runs the client handshake asking for
/// `name`.
async fn connect(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &'static str,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    connector.connect(server_name(name), tcp).await
}

/// Sends `len` bytes of the pattern stream `seed` through `tls` while
/// reading the echo back at the same time (a writer task and this one, on
/// the two halves), checks every byte, then closes; returns the bytes that
/// came back. Writes are 1 byte to 32 KiB, so records of many sizes cross.
async fn round_trip(tls: TlsStream<TcpStream>, seed: u64, len: u64) -> u64 {
    let (mut reader, mut writer) = tls.split();
    let sender = aiolos::spawn(async move {
        let mut sent = 0;
        let mut chunk = Vec::new();
        for i in 0.. {
            if sent == len {
                break;
            }
            let size = (1 + splitmix64(seed ^ i) % (32 * 1024)).min(len - sent);
            chunk.resize(size as usize, 0);
            fill_pattern(seed, sent, &mut chunk);
            writer.write_all(&chunk).await?;
            sent += size;
        }
        // Flushes what rustls still holds, then sends `close_notify`.
        writer.close().await?;
        Ok::<_, io::Error>(sent)
    });

    let mut got = 0;
    let mut buf = vec![0; 20_000];
    loop {
        let n = reader.read(&mut buf).await.expect("reading the echo");
        if n == 0 {
            // The server's `close_notify`, sent after ours.
            break;
        }
        check_pattern("the echo", seed, got, &buf[..n]);
        got += n as u64;
        assert!(got <= len, "more came back than was sent");
    }
    let sent = sender
        .await
        .expect("the writer task")
        .expect("writing the stream");
    assert_eq!(sent, len);
    got
}

#[test]
fn a_1_mib_round_trip_comes_back_byte_for_byte() {
    const LEN: u64 = 1 << 20;
    let _wd = watchdog("tls_1_mib", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;
        let tls = connect(&connector(&cert), server.addr, NAME)
            .await
            .expect("the handshake with the trusted certificate");
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );

        assert_eq!(round_trip(tls, 0x7115_0001, LEN).await, LEN);
        match server.next_outcome().await {
            ServerSide::Echoed(Ok(n)) => assert_eq!(n, LEN, "bytes the server echoed"),
            other => panic!("the server's side ended with {other:?}"),
        }
    });
}

#[test]
fn a_client_with_the_wrong_root_is_refused_as_unknown_issuer() {
    let _wd = watchdog("tls_wrong_root", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;

        let err = match connect(&connector(&unrelated_ca()), server.addr, NAME).await {
            Ok(_) => panic!("a client that does not trust the server finished its handshake"),
            Err(e) => e,
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("invalid peer certificate") && msg.contains("UnknownIssuer"),
            "the message does not name the cause: {msg}"
        );
        assert!(
            matches!(
                rustls_error(&err),
                Some(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{err:?}"
        );

        // The client told the server why with an alert before hanging up:
        // the server's handshake fails (and does not hang) naming it.
        match server.next_outcome().await {
            ServerSide::HandshakeFailed(e) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                assert!(
                    matches!(
                        rustls_error(&e),
                        Some(rustls::Error::AlertReceived(AlertDescription::UnknownCA))
                    ),
                    "{e:?}"
                );
            }
            other => panic!("the server's side ended with {other:?}"),
        }

        // The server is fine: a client that trusts it gets its echo.
        let tls = connect(&connector(&cert), server.addr, NAME)
            .await
            .expect("the handshake with the trusted certificate");
        assert_eq!(round_trip(tls, 0x7115_0002, 1000).await, 1000);
        assert!(matches!(
            server.next_outcome().await,
            ServerSide::Echoed(Ok(1000))
        ));
    });
}

#[test]
fn a_name_the_certificate_does_not_cover_is_refused() {
    let _wd = watchdog("tls_wrong_name", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;
        let trusting = connector(&cert);

        // Another DNS name, and the address itself (the certificate names
        // only `localhost`, not 127.0.0.1).
        for name in ["other.example", "127.0.0.1"] {
            let err = match connect(&trusting, server.addr, name).await {
                Ok(_) => {
                    panic!("{name}: the handshake succeeded for a name not in the certificate")
                }
                Err(e) => e,
            };
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}: {err}");
            let msg = err.to_string();
            assert!(
                msg.contains("invalid peer certificate") && msg.contains("not valid for name"),
                "{name}: the message does not name the cause: {msg}"
            );
            assert!(
                matches!(
                    rustls_error(&err),
                    Some(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                            | CertificateError::NotValidForNameContext { .. }
                    ))
                ),
                "{name}: {err:?}"
            );
            match server.next_outcome().await {
                ServerSide::HandshakeFailed(e) => assert!(
                    matches!(
                        rustls_error(&e),
                        Some(rustls::Error::AlertReceived(
                            AlertDescription::BadCertificate
                        ))
                    ),
                    "{name}: {e:?}"
                ),
                other => panic!("{name}: the server's side ended with {other:?}"),
            }
        }
    });
}

#[test]
fn close_notify_ends_the_servers_read_and_the_servers_ends_ours() {
    let _wd = watchdog("tls_close_notify", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;
        let mut tls = connect(&connector(&cert), server.addr, NAME)
            .await
            .expect("the handshake with the trusted certificate");

        tls.write_all(b"ping").await.unwrap();
        tls.flush().await.unwrap();
        let mut buf = [0; 4];
        tls.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        // Our `close_notify`, then a TCP shutdown of our side. The server's
        // read returns 0 (its echo ends without an error) and it answers
        // with its own `close_notify`: our reads return 0, every time.
        tls.close().await.unwrap();
        match server.next_outcome().await {
            ServerSide::Echoed(Ok(n)) => assert_eq!(n, 4),
            other => panic!("the server's side ended with {other:?}"),
        }
        assert_eq!(tls.read(&mut buf).await.unwrap(), 0);
        assert_eq!(tls.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn a_tcp_end_without_close_notify_is_an_unexpected_eof_on_both_sides() {
    let _wd = watchdog("tls_truncation", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;
        let mut tls = connect(&connector(&cert), server.addr, NAME)
            .await
            .expect("the handshake with the trusted certificate");

        tls.write_all(b"half a story").await.unwrap();
        tls.flush().await.unwrap();
        let mut buf = [0; 12];
        tls.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"half a story");

        // Shut down the TCP stream under the TLS one: an end of stream
        // with no `close_notify`, as when an attacker cuts a connection.
        tls.get_ref().0.shutdown(Shutdown::Write).unwrap();
        match server.next_outcome().await {
            ServerSide::Echoed(Err(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
                assert!(e.to_string().contains("close_notify"), "{e}");
            }
            other => panic!("the server's side ended with {other:?}"),
        }

        // The server dropped its stream after that error, without a
        // `close_notify` of its own: our read fails the same way.
        let err = tls.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    });
}

#[test]
fn sixteen_concurrent_connections_each_get_their_own_bytes_back() {
    const CONNS: u64 = 16;
    const LEN: u64 = 64 * 1024;
    let _wd = watchdog("tls_concurrent", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let (cert, key) = identity();
        let mut server = EchoServer::start(acceptor(cert.clone(), key)).await;
        let trusting = connector(&cert);
        let addr = server.addr;

        // Every client at once, each on its own task with its own stream:
        // a reply crossing to the wrong connection would fail its pattern.
        let clients: Vec<_> = (0..CONNS)
            .map(|conn| {
                let trusting = trusting.clone();
                aiolos::spawn(async move {
                    let tls = connect(&trusting, addr, NAME)
                        .await
                        .unwrap_or_else(|e| panic!("connection {conn}: handshake: {e}"));
                    round_trip(tls, 0x7115_1000 + conn, LEN).await
                })
            })
            .collect();
        for (conn, client) in clients.into_iter().enumerate() {
            assert_eq!(
                client.await.expect("a client task"),
                LEN,
                "connection {conn}"
            );
        }
        for _ in 0..CONNS {
            match server.next_outcome().await {
                ServerSide::Echoed(Ok(n)) => assert_eq!(n, LEN),
                other => panic!("a server side ended with {other:?}"),
            }
        }
    });
}
