//! A TCP echo server: one task per connection, each sending back whatever
//! its client sends until the client hangs up.
//!
//! asyncio's `start_server` with a `handle_echo(reader, writer)` coroutine is
//! the same shape: `TcpListener::accept` in a loop, and `aiolos::spawn` for
//! each connection, so one slow client never holds up the others. Each
//! connection task splits its stream (`into_split`) and copies the read half
//! into the write half with `futures_lite::io::copy`.
//!
//! It prints where it listens, then a line when each connection opens and
//! when it closes, and runs until killed (Ctrl-C).
//!
//! Run it with `cargo run --example echo_server [ADDR]` (default
//! `127.0.0.1:8080`; `127.0.0.1:0` picks a free port and prints it), then
//! talk to it with `cargo run --example echo_client [ADDR]`, or
//! `nc 127.0.0.1 8080`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use aiolos::net::{TcpListener, TcpStream};

/// Where to listen when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Echoes everything `stream` sends back to it; returns how many bytes.
async fn echo(stream: TcpStream) -> io::Result<u64> {
    // Small writes go out at once instead of waiting for Nagle's timer.
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    // `copy` returns when the client shuts down its side (end of stream);
    // dropping `writer` then closes ours.
    futures_lite::io::copy(reader, &mut writer).await
}

/// One connection's task: echo, then report how it ended.
async fn serve(stream: TcpStream, peer: SocketAddr) {
    println!("connection from {peer} opened");
    match echo(stream).await {
        Ok(bytes) => println!("connection from {peer} closed ({bytes} bytes echoed)"),
        Err(e) => println!("connection from {peer} closed with an error: {e}"),
    }
}

#[aiolos::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(addr.as_str()).await?;
    // With port 0 the OS picked the port: print the real one.
    println!("echo server listening on {}", listener.local_addr()?);

    loop {
        match listener.accept().await {
            // Detach the task (drop its handle): it runs on its own.
            Ok((stream, peer)) => drop(aiolos::spawn(serve(stream, peer))),
            // E.g. out of file descriptors: report it, give connections a
            // moment to close, and keep serving.
            Err(e) => {
                eprintln!("accept failed: {e}");
                aiolos::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
