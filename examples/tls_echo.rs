//! A TLS echo server and two TLS clients in one program: rustls on aiolos
//! through the futures-io traits, with a certificate made at start.
//!
//! asyncio does TLS with `start_server(..., ssl=ctx)` and
//! `open_connection(..., ssl=ctx)`. aiolos has no TLS code of its own:
//! `aiolos::net::TcpStream` implements futures-io's `AsyncRead` and
//! `AsyncWrite`, and that is all `futures-rustls` needs. Its
//! `TlsAcceptor::accept(tcp)` and `TlsConnector::connect(name, tcp)` run
//! the handshake on the aiolos stream and give back a TLS stream with the
//! same two traits, so the usual helpers (`read`, `write_all`,
//! `read_line`) work on it unchanged.
//!
//! What it does, in order:
//!
//! 1. Generates a self-signed certificate for `localhost` with `rcgen` (a
//!    new key every run; nothing is read from disk).
//! 2. Starts a TLS echo server on `127.0.0.1:0`: a task accepts TCP
//!    connections and spawns a task for each, which runs the server side of
//!    the handshake and then echoes until the client's `close_notify`.
//! 3. Client 1 trusts that certificate and nothing else (its only root),
//!    connects to `127.0.0.1` asking for the name `localhost` (the name the
//!    certificate must be valid for), sends [`LINES`] one at a time and
//!    prints each echo. Then it closes its side (a TLS `close_notify`, then
//!    a TCP shutdown) and reads until the server's `close_notify`.
//! 4. Client 2 trusts only an unrelated CA, also generated at start. Its
//!    handshake is refused (`invalid peer certificate: UnknownIssuer`, an
//!    `io::Error` of kind `InvalidData`), and the server's side of that
//!    handshake fails too: client 2 told it why with an alert (`UnknownCA`).
//!
//! Both rustls configurations are built with an explicit ring
//! `CryptoProvider` (`builder_with_provider`), so nothing depends on a
//! process-wide default provider being installed.
//!
//! One thing to know about TLS streams: `write` hands bytes to rustls, which
//! may keep the last record in its buffer when the socket is momentarily
//! full, and a later `read` does not push it out. So the echo loop and the
//! client `flush` after each write (`close` flushes too); without that an
//! echo can sit in a buffer while both sides wait to read.
//!
//! Each connection's task reports how it ended on a channel, and `main`
//! prints that report after the client it belongs to, so the output is the
//! same on every run: no ports, keys or timings are printed.
//!
//! Run it with `cargo run --example tls_echo`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aiolos::net::{TcpListener, TcpStream};
use aiolos::sync::mpsc;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use futures_rustls::rustls::crypto::{self, CryptoProvider};
use futures_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};

/// The name the server's certificate is made for, and client 1 asks for.
const SERVER_NAME: &str = "localhost";

/// What client 1 sends, one line at a time.
const LINES: [&str; 3] = [
    "hello over TLS",
    "aiolos speaks rustls",
    "协程 and certificates",
];

/// Any error as an `io::Error`, for `?` in an `io::Result` function.
fn other(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

// ------------------------------------------------------------ the server ----

/// Echoes everything `tls` sends until its `close_notify`, flushing after
/// each write, then sends ours; returns how many bytes it echoed.
async fn echo(mut tls: impl AsyncRead + AsyncWrite + Unpin) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        // 0 means the client sent `close_notify`; a TCP end of stream
        // without one is an `UnexpectedEof` error instead (a cut-off stream).
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?;
        total += n as u64;
    }
    // Our `close_notify`, then a TCP shutdown of our side.
    tls.close().await?;
    Ok(total)
}

/// Connection `n`'s task: the handshake, then the echo; returns the line
/// that says how it ended.
async fn serve(acceptor: TlsAcceptor, tcp: TcpStream, n: usize) -> String {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => return format!("server: connection {n}: handshake failed: {e}"),
    };
    match echo(tls).await {
        Ok(bytes) => format!(
            "server: connection {n}: echoed {bytes} bytes, closed after the client's close_notify"
        ),
        Err(e) => format!("server: connection {n}: failed after the handshake: {e}"),
    }
}

/// Accepts connections forever, one task each; each task sends its
/// report on `reports`.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    reports: mpsc::UnboundedSender<String>,
) {
    for n in 1.. {
        match listener.accept().await {
            Ok((tcp, _peer)) => {
                let acceptor = acceptor.clone();
                let reports = reports.clone();
                // Detach the task (drop its handle): it runs on its own.
                drop(aiolos::spawn(async move {
                    let report = serve(acceptor, tcp, n).await;
                    // `main` may be gone already; nothing to do then.
                    let _ = reports.send(report);
                }));
            }
            // E.g. out of file descriptors: give connections a moment to
            // close, and keep serving.
            Err(e) => {
                eprintln!("server: accept failed: {e}");
                aiolos::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

// ----------------------------------------------------------- the clients ----

/// A client configuration whose only trusted root is `root`.
fn client_config(
    provider: &Arc<CryptoProvider>,
    root: &CertificateDer<'static>,
) -> io::Result<TlsConnector> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).map_err(other)?;
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A self-signed CA certificate that has nothing to do with the server's.
fn unrelated_ca() -> io::Result<CertificateDer<'static>> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    // A subject of its own, so no certificate the server has can even
    // claim this CA as its issuer.
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tls_echo: an unrelated CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().map_err(other)?;
    Ok(params.self_signed(&key).map_err(other)?.der().clone())
}

/// Client 1: the handshake, each line and its echo, then both
/// `close_notify`s.
async fn client_1(connector: &TlsConnector, addr: SocketAddr) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(SERVER_NAME).map_err(other)?;
    let tls = connector.connect(name, tcp).await?;
    let (_, session) = tls.get_ref();
    println!(
        "client 1: handshake done: {:?}, {:?}",
        session
            .protocol_version()
            .ok_or_else(|| io::Error::other("no protocol version after the handshake"))?,
        session
            .negotiated_cipher_suite()
            .ok_or_else(|| io::Error::other("no cipher suite after the handshake"))?
            .suite()
    );

    let mut tls = BufReader::new(tls);
    let mut echo = String::new();
    for line in LINES {
        tls.write_all(format!("{line}\n").as_bytes()).await?;
        tls.flush().await?;
        echo.clear();
        if tls.read_line(&mut echo).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before echoing every line",
            ));
        }
        println!("client 1: echoed: {}", echo.trim_end_matches('\n'));
    }

    // Our `close_notify`; the server answers with its own once it has
    // echoed everything, and the read below ends there (0 bytes).
    tls.close().await?;
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await?;
    if !rest.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} unexpected bytes after the last echo", rest.len()),
        ));
    }
    println!("client 1: closed; the server closed too");
    Ok(())
}

/// Client 2: a handshake that must be refused; returns the refusal.
async fn client_2(connector: &TlsConnector, addr: SocketAddr) -> io::Result<io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(SERVER_NAME).map_err(other)?;
    match connector.connect(name, tcp).await {
        Ok(_) => Err(io::Error::other(
            "client 2 trusted the server without its certificate as a root",
        )),
        Err(refusal) => Ok(refusal),
    }
}

#[aiolos::main]
async fn main() -> io::Result<()> {
    // ring, explicitly: no process-wide default provider is needed.
    let provider = Arc::new(crypto::ring::default_provider());

    // The server's certificate and key, made now.
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()]).map_err(other)?;
    let cert = cert.der().clone();
    println!("server: generated a self-signed certificate for {SERVER_NAME:?}");
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], PrivateKeyDer::from(signing_key))
        .map_err(other)?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("server: listening on 127.0.0.1 (a port the OS picked)");
    let (report_tx, mut reports) = mpsc::unbounded();
    let server = aiolos::spawn(accept_loop(
        listener,
        TlsAcceptor::from(Arc::new(server_config)),
        report_tx,
    ));
    let mut next_report = async || {
        reports
            .recv()
            .await
            .ok_or_else(|| io::Error::other("the server stopped without a report"))
    };

    println!("client 1: trusts only the server's certificate");
    client_1(&client_config(&provider, &cert)?, addr).await?;
    println!("{}", next_report().await?);

    println!("client 2: trusts only an unrelated CA");
    let refusal = client_2(&client_config(&provider, &unrelated_ca()?)?, addr).await?;
    println!("client 2: refused ({:?}): {refusal}", refusal.kind());
    println!("{}", next_report().await?);

    server.cancel();
    Ok(())
}
