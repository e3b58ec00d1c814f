//! hyper 1.x on aiolos (`aiolos::hyper`, the `hyper` feature): a hyper
//! server answers 200 requests from hyper clients on 8 connections at once,
//! every one `200 OK` with its own body; a 1 MiB body survives the round
//! trip; `UnixStream` serves hyper directly and any futures-io stream does
//! through `HyperIo`; the `Executor` spawns from a plain thread; and the
//! `Timer` resets the `Sleep` it made in place, fires a reset sleep at its
//! new deadline (never early), replaces a foreign sleep, and drives hyper's
//! header read timeout.
//!
//! No sleep synchronises anything; wall-clock checks are lower bounds
//! ("not early"), and the watchdogs' bounds are in seconds.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use aiolos::hyper::{Executor, HyperIo, Sleep, Timer};
use aiolos::net::{TcpListener, TcpStream, UnixStream};
use aiolos::time::Instant;
use aiolos::Task;
use common::*;
use futures_lite::AsyncReadExt;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::rt::{Executor as _, Timer as _};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

type Body = Full<Bytes>;

/// The service: `POST` echoes the request body; anything else gets
/// `hello PATH`. Counts the requests it answers.
async fn answer(request: Request<Incoming>, answered: Counter) -> hyper::Result<Response<Body>> {
    let body = if request.method() == Method::POST {
        request.into_body().collect().await?.to_bytes()
    } else {
        Bytes::from(format!("hello {}", request.uri().path()))
    };
    answered.incr();
    Ok(Response::new(Full::new(body)))
}

/// Serves one connection with the aiolos timer until the client is done.
async fn serve<I>(io: I, answered: Counter) -> hyper::Result<()>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    http1::Builder::new()
        .timer(Timer::new())
        .serve_connection(
            io,
            service_fn(move |request| answer(request, answered.clone())),
        )
        .await
}

/// Accepts connections for ever, each served in a task of its own.
fn start_server(listener: TcpListener, answered: Counter) -> Task<()> {
    aiolos::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept failed");
            let answered = answered.clone();
            aiolos::spawn(async move {
                serve(stream, answered)
                    .await
                    .expect("the server's side of a connection failed");
            });
        }
    })
}

/// A hyper client over `io`, with its connection driven by its own task.
async fn client<I>(io: I) -> (SendRequest<Body>, Task<hyper::Result<()>>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("the HTTP/1 handshake failed");
    (sender, aiolos::spawn(conn))
}

/// Sends one request and collects the response's status and body.
async fn send(
    sender: &mut SendRequest<Body>,
    method: Method,
    path: &str,
    body: Bytes,
) -> (StatusCode, Bytes) {
    sender.ready().await.expect("the connection closed early");
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "aiolos.test")
        .body(Full::new(body))
        .expect("a valid request");
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("request {path} failed: {e}"));
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("reading the body of {path} failed: {e}"))
        .to_bytes();
    (status, body)
}

/// `n` bytes of a pattern that a shifted or dropped chunk would break.
fn pattern(n: usize) -> Bytes {
    (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

#[test]
fn hyper_server_answers_200_requests_on_8_concurrent_connections() {
    let _wd = watchdog("hyper_200_requests", 120);
    const CONNECTIONS: usize = 8;
    const PER_CONNECTION: usize = 25;
    let rt = runtime(2);
    let answered = Counter::new();
    let server_count = answered.clone();
    let ok = rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = start_server(listener, server_count);

        let clients: Vec<Task<usize>> = (0..CONNECTIONS)
            .map(|c| {
                aiolos::spawn(async move {
                    let stream = TcpStream::connect(addr).await.expect("connect failed");
                    let (mut sender, conn) = client(stream).await;
                    let mut ok = 0;
                    for r in 0..PER_CONNECTION {
                        let path = format!("/c{c}/r{r}");
                        let (status, body) =
                            send(&mut sender, Method::GET, &path, Bytes::new()).await;
                        assert_eq!(status, StatusCode::OK, "status of {path}");
                        assert_eq!(body, format!("hello {path}"), "body of {path}");
                        ok += 1;
                    }
                    // Dropping the sender ends the connection cleanly.
                    drop(sender);
                    conn.await
                        .expect("the client connection task failed")
                        .expect("the client connection ended with an error");
                    ok
                })
            })
            .collect();
        let mut ok = 0;
        for c in clients {
            ok += c.await.expect("a client task failed");
        }
        ok
    });
    assert_eq!(ok, CONNECTIONS * PER_CONNECTION, "requests answered 200 OK");
    assert_eq!(
        answered.get(),
        CONNECTIONS * PER_CONNECTION,
        "requests the server saw"
    );
}

#[test]
fn a_one_mebibyte_body_survives_the_round_trip_over_tcp() {
    let _wd = watchdog("hyper_big_body_tcp", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _server = start_server(listener, Counter::new());
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, _conn) = client(stream).await;
        let sent = pattern(1 << 20);
        let (status, body) = send(&mut sender, Method::POST, "/echo", sent.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.len(), sent.len(), "echoed length");
        assert!(body == sent, "the echoed body differs from the one sent");
    });
}

#[test]
fn unix_stream_serves_hyper_without_a_wrapper() {
    let _wd = watchdog("hyper_unix_direct", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (server_end, client_end) = UnixStream::pair().unwrap();
        let answered = Counter::new();
        let server = aiolos::spawn(serve(server_end, answered.clone()));
        let (mut sender, conn) = client(client_end).await;
        let (status, body) = send(&mut sender, Method::GET, "/unix", Bytes::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "hello /unix");
        let sent = pattern(300_000);
        let (status, body) = send(&mut sender, Method::POST, "/echo", sent.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body == sent, "the echoed body differs from the one sent");
        drop(sender);
        conn.await.unwrap().expect("client connection error");
        server.await.unwrap().expect("server connection error");
        assert_eq!(answered.get(), 2);
    });
}

#[test]
fn hyper_io_runs_hyper_over_any_futures_io_stream() {
    let _wd = watchdog("hyper_io_wrapper", 120);
    let rt = runtime(2);
    rt.block_on(async {
        // Both ends through the generic wrapper: hyper sees only futures-io.
        let (server_end, client_end) = UnixStream::pair().unwrap();
        let answered = Counter::new();
        let server = aiolos::spawn(serve(HyperIo::new(server_end), answered.clone()));
        let (mut sender, conn) = client(HyperIo::new(client_end)).await;
        let (status, body) = send(&mut sender, Method::GET, "/wrapped", Bytes::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "hello /wrapped");
        let sent = pattern(300_000);
        let (status, body) = send(&mut sender, Method::POST, "/echo", sent.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body == sent, "the echoed body differs from the one sent");
        drop(sender);
        conn.await.unwrap().expect("client connection error");
        server.await.unwrap().expect("server connection error");
        assert_eq!(answered.get(), 2);
    });
}

#[test]
fn executor_spawns_on_its_runtime_from_a_plain_thread() {
    let _wd = watchdog("hyper_executor", 120);
    let rt = runtime(2);
    let exec = Executor::new(rt.handle());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || exec.execute(async move { tx.send(thread_name()).unwrap() }))
        .join()
        .unwrap();
    let ran_on = rx
        .recv_timeout(LONG)
        .expect("the executed future never ran");
    assert!(
        ran_on.starts_with("aiolos-worker"),
        "the future ran on {ran_on}, not on a worker"
    );

    // `Executor::current` inside the runtime spawns there too.
    let (tx, rx) = std::sync::mpsc::channel();
    rt.block_on(async move { Executor::current().execute(async move { tx.send(()).unwrap() }) });
    rx.recv_timeout(LONG)
        .expect("the future executed from block_on never ran");
}

/// The address of the boxed sleep (to tell "moved" from "replaced").
fn addr(sleep: &Pin<Box<dyn hyper::rt::Sleep>>) -> *const () {
    &**sleep as *const dyn hyper::rt::Sleep as *const ()
}

/// The deadline of a boxed sleep, which must be an `aiolos::hyper::Sleep`.
fn deadline(sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>) -> Instant {
    sleep
        .as_mut()
        .downcast_mut_pin::<Sleep>()
        .expect("the boxed sleep is not an aiolos::hyper::Sleep")
        .deadline()
}

#[test]
fn timer_reset_moves_the_existing_sleep_and_it_fires_at_the_new_deadline() {
    let _wd = watchdog("hyper_timer_reset_earlier", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let timer = Timer::new();
        let mut sleep = timer.sleep(Duration::from_secs(3600));
        let boxed_at = addr(&sleep);
        // Register it with a wheel first, so the reset has to move it there.
        assert!(poll_once(&mut sleep).await.is_pending());

        let new_deadline = std::time::Instant::now() + Duration::from_millis(30);
        timer.reset(&mut sleep, new_deadline);
        assert_eq!(
            addr(&sleep),
            boxed_at,
            "reset replaced the sleep instead of moving it"
        );
        assert_eq!(deadline(&mut sleep), Instant::from(new_deadline));

        // An hour-long sleep completing at all means the move took.
        (&mut sleep).await;
        assert!(
            std::time::Instant::now() >= new_deadline,
            "fired before its new deadline"
        );

        // A fired sleep can be reset and fires again, still not early.
        let again = std::time::Instant::now() + Duration::from_millis(20);
        timer.reset(&mut sleep, again);
        assert_eq!(addr(&sleep), boxed_at);
        (&mut sleep).await;
        assert!(
            std::time::Instant::now() >= again,
            "fired before its second deadline"
        );
    });
}

#[test]
fn a_sleep_reset_to_later_does_not_fire_at_its_old_deadline() {
    let _wd = watchdog("hyper_timer_reset_later", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let timer = Timer::new();
        let mut sleep = timer.sleep(Duration::from_millis(10));
        assert!(poll_once(&mut sleep).await.is_pending());
        let boxed_at = addr(&sleep);

        let new_deadline = std::time::Instant::now() + Duration::from_millis(300);
        timer.reset(&mut sleep, new_deadline);
        assert_eq!(
            addr(&sleep),
            boxed_at,
            "reset replaced the sleep instead of moving it"
        );
        (&mut sleep).await;
        assert!(
            std::time::Instant::now() >= new_deadline,
            "the reset sleep fired early (at its old 10 ms deadline?)"
        );
    });
}

/// A sleep from some other timer, which never fires.
struct Foreign;

impl Future for Foreign {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl hyper::rt::Sleep for Foreign {}

#[test]
fn timer_reset_replaces_a_sleep_it_did_not_make() {
    let _wd = watchdog("hyper_timer_reset_foreign", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let timer = Timer::new();
        let mut sleep: Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(Foreign);
        let new_deadline = std::time::Instant::now() + Duration::from_millis(20);
        timer.reset(&mut sleep, new_deadline);
        assert!(sleep.is::<Sleep>(), "the foreign sleep was kept");
        assert_eq!(deadline(&mut sleep), Instant::from(new_deadline));
        (&mut sleep).await;
        assert!(std::time::Instant::now() >= new_deadline);
    });
}

#[test]
fn header_read_timeout_drops_a_silent_client() {
    let _wd = watchdog("hyper_header_timeout", 120);
    const TIMEOUT: Duration = Duration::from_millis(100);
    let rt = runtime(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let start = std::time::Instant::now();
        let mut silent = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let served = aiolos::spawn(
            http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(TIMEOUT)
                .serve_connection(
                    stream,
                    service_fn(|_request| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }),
                ),
        );
        let err = served
            .await
            .unwrap()
            .expect_err("a client that sends nothing was served");
        assert!(
            err.is_timeout(),
            "expected a header read timeout, got: {err}"
        );
        assert!(
            start.elapsed() >= TIMEOUT,
            "the header read timeout fired early"
        );

        // The client sees the connection closed, without a response.
        let mut rest = Vec::new();
        silent.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "got {} unexpected bytes", rest.len());
    });
}
