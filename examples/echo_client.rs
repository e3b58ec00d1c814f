//! A TCP echo client: sends a few lines to an echo server, reads the echoes
//! back and checks that each came back unchanged.
//!
//! asyncio's `open_connection` gives a reader and a writer; here
//! `TcpStream::into_split` does, and the two halves work at once: a task
//! writes every line while `main` reads the echoes line by line
//! (`futures_lite::io::BufReader::read_line`), so the client never waits
//! for one echo before sending the next line.
//!
//! It prints each line as it comes back and `OK: N lines echoed back by
//! ADDR` at the end; it exits with an error if the connection fails or an
//! echo differs.
//!
//! Start a server with `cargo run --example echo_server`, then run
//! `cargo run --example echo_client [ADDR]` (default `127.0.0.1:8080`).

use std::io;

use aiolos::net::TcpStream;
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncWriteExt};

/// Where to connect when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The lines to send, each followed by `\n`.
const LINES: [&str; 5] = [
    "hello, echo server",
    "aiolos speaks TCP",
    "协程 and sockets",
    "a line with trailing spaces   ",
    "bye",
];

#[aiolos::main]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let stream = TcpStream::connect(addr.as_str()).await?;
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?;
    println!("connected to {peer}");
    let (reader, mut writer) = stream.into_split();

    // Write every line from a task of its own while this one reads.
    let sender = aiolos::spawn(async move {
        for line in LINES {
            writer.write_all(format!("{line}\n").as_bytes()).await?;
        }
        // Dropping `writer` here shuts down our side: the server sees the
        // end of the stream once it has everything.
        Ok::<_, io::Error>(())
    });

    // Read the echoes, one line per line sent, and compare.
    let mut reader = BufReader::new(reader);
    let mut echo = String::new();
    for (i, line) in LINES.iter().enumerate() {
        echo.clear();
        if reader.read_line(&mut echo).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{peer} closed the connection after {i} of {} echoes",
                    LINES.len()
                ),
            ));
        }
        let got = echo.strip_suffix('\n').unwrap_or(&echo);
        if got != *line {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("echo {} differs: sent {line:?}, got back {got:?}", i + 1),
            ));
        }
        println!("echoed: {got}");
    }
    sender
        .await
        .map_err(|e| io::Error::other(format!("the sending task failed: {e}")))??;

    println!("OK: {} lines echoed back by {peer}", LINES.len());
    Ok(())
}
