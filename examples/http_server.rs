//! An HTTP/1 server with hyper on aiolos: every request gets "Hello, world".
//!
//! The accept loop runs in `main`; each connection is served by hyper in a
//! task of its own (asyncio's `start_server` callback per client), so a
//! slow client holds up nobody else. aiolos's `TcpStream` implements
//! hyper's I/O traits itself, and `aiolos::hyper::Timer` gives hyper its
//! timeouts on aiolos's timer wheels.
//!
//! Run it with
//! `cargo run --release --features hyper --example http_server -- [PORT]`
//! (port 3000 by default) and try `curl http://127.0.0.1:3000/`.
//!
//! Ctrl-C kills the process: graceful shutdown (stop accepting, let open
//! connections finish) is left for a later issue.

use std::convert::Infallible;

use aiolos::hyper::Timer;
use aiolos::net::TcpListener;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

/// The port when none is given on the command line.
const DEFAULT_PORT: u16 = 3000;

/// The service: the same answer to every request.
async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world",
    ))))
}

#[aiolos::main]
async fn main() {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u16>().unwrap_or_else(|_| {
            eprintln!("the port must be a number from 0 to 65535, not {arg:?}");
            std::process::exit(2)
        }),
        None => DEFAULT_PORT,
    };
    // The error names the address (e.g. "could not bind to 127.0.0.1:3000").
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    println!("listening on http://{}", listener.local_addr().unwrap());

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            // Out of file descriptors and the like: this client is lost,
            // the listener keeps working.
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // Small responses: send them now, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        aiolos::spawn(async move {
            let served = http1::Builder::new()
                .timer(Timer::new())
                .serve_connection(stream, service_fn(hello))
                .await;
            if let Err(e) = served {
                eprintln!("connection error: {e}");
            }
        });
    }
}
