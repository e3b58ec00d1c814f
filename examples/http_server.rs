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
//! Ctrl-C (or SIGTERM, what service managers send) shuts it down
//! gracefully, the pattern every aiolos server can follow:
//! 1. stop accepting: the accept loop ends and the listener is closed, so
//!    new clients are refused at once;
//! 2. ask each open connection to finish: hyper answers the request in
//!    flight, then closes (an idle keep-alive connection closes at once);
//! 3. wait for them up to a deadline (the grace period, 5 s by default or
//!    the second argument, in seconds), then cancel the rest: the
//!    connections live in a [`TaskGroup`], and dropping its `join` cancels
//!    every child still running;
//! 4. return from `main`, which shuts the runtime down.
//!
//! A second Ctrl-C during the grace period cuts it short.
//!
//! Run it with
//! `cargo run --release --features hyper --example http_server -- [PORT [GRACE_SECS]]`
//! (port 3000 by default) and try `curl http://127.0.0.1:3000/`.

use std::convert::Infallible;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use aiolos::hyper::Timer;
use aiolos::net::{TcpListener, TcpStream};
use aiolos::signal::{signal, SignalKind};
use aiolos::sync::Event;
use aiolos::time::timeout;
use aiolos::TaskGroup;
use futures_lite::future;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};

/// The port when none is given on the command line.
const DEFAULT_PORT: u16 = 3000;

/// How long open connections get to finish after Ctrl-C, when the command
/// line does not say.
const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// The service: the same answer to every request.
async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world",
    ))))
}

/// Serves one connection until the client is done, or until the server
/// shuts down and the request in flight has been answered. Errors are the
/// client's business, so they are printed, not returned: one bad client
/// must not fail the group (which would cancel everybody else).
async fn serve(stream: TcpStream, shutting_down: Arc<Event>) -> Result<(), Infallible> {
    let conn = http1::Builder::new()
        .timer(Timer::new())
        .serve_connection(stream, service_fn(hello));
    let mut conn = pin!(conn);
    let finished = future::or(async { Some(conn.as_mut().await) }, async {
        shutting_down.wait().await;
        None
    })
    .await;
    let served = match finished {
        Some(served) => served,
        // Finish the request in flight (if any), then close.
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = served {
        eprintln!("connection error: {e}");
    }
    Ok(())
}

/// Parses command-line argument `n` with `parse`, or exits with a message.
fn arg<T>(n: usize, what: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let arg = std::env::args().nth(n)?;
    Some(parse(&arg).unwrap_or_else(|| {
        eprintln!("{what}, not {arg:?}");
        std::process::exit(2)
    }))
}

#[aiolos::main]
async fn main() {
    let port = arg(1, "the port must be a number from 0 to 65535", |a| {
        a.parse().ok()
    })
    .unwrap_or(DEFAULT_PORT);
    let grace = arg(2, "the grace period must be a number of seconds", |a| {
        a.parse().ok().map(Duration::from_secs_f64)
    })
    .unwrap_or(DEFAULT_GRACE);
    // The error names the address (e.g. "could not bind to 127.0.0.1:3000").
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1)
        });
    // Listen before saying we listen: from here on Ctrl-C and SIGTERM
    // reach these streams instead of killing the process.
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("cannot listen for Ctrl-C: {e}");
            std::process::exit(1)
        }
    };
    println!("listening on http://{}", listener.local_addr().unwrap());

    let connections = TaskGroup::<Infallible>::new();
    let shutting_down = Arc::new(Event::new());
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            future::or(interrupt.recv(), terminate.recv()).await;
            None
        })
        .await;
        let stream = match accepted {
            Some(Ok((stream, _peer))) => stream,
            // Out of file descriptors and the like: this client is lost,
            // the listener keeps working.
            Some(Err(e)) => {
                eprintln!("accept failed: {e}");
                continue;
            }
            None => break,
        };
        // Small responses: send them now, not after Nagle's delay.
        let _ = stream.set_nodelay(true);
        connections.spawn(serve(stream, shutting_down.clone()));
    }

    // 1. Stop accepting.
    drop(listener);
    println!(
        "shutting down: {} open connection(s), {grace:?} to finish",
        connections.len()
    );
    // 2. Ask every connection to finish.
    shutting_down.set();
    // 3. Wait up to the grace period (or a second Ctrl-C), then cancel the
    //    rest by dropping the join.
    let finished = future::or(
        async { timeout(grace, connections.join()).await.is_ok() },
        async {
            interrupt.recv().await;
            false
        },
    )
    .await;
    if finished {
        println!("every connection finished");
    } else {
        println!("grace period over: cancelled the connections still open");
    }
    // 4. Returning shuts the runtime down.
}
