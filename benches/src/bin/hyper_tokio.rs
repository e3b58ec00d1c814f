//! `hyper_tokio`: the "Hello, world" hyper HTTP/1 server of
//! `examples/http_server.rs`, on tokio instead of aiolos, to compare the two
//! by hand with a load generator:
//!
//! ```text
//! cargo run --release -p aiolos-benches --bin hyper_tokio -- [PORT]   # default 3001
//! wrk -t2 -c50 -d10s http://127.0.0.1:3001/
//! ```
//!
//! Same shape as the aiolos example: one task per connection, `TCP_NODELAY`,
//! hyper's timer from the runtime (hyper-util's `TokioTimer`), the runtime's
//! default worker count (one per CPU).

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// The port when none is given on the command line.
const DEFAULT_PORT: u16 = 3001;

/// The service: the same answer to every request.
async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world",
    ))))
}

#[tokio::main]
async fn main() {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u16>().unwrap_or_else(|_| {
            eprintln!("the port must be a number from 0 to 65535, not {arg:?}");
            std::process::exit(2)
        }),
        None => DEFAULT_PORT,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("could not bind to 127.0.0.1:{port}: {e}");
            std::process::exit(1)
        });
    println!("listening on http://{}", listener.local_addr().unwrap());

    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
            if let Err(e) = served {
                eprintln!("connection error: {e}");
            }
        });
    }
}
