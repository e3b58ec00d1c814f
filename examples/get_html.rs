//! Ten `get_html` coroutines fetch a page at once over HTTP/1.1: they wait
//! for the (slow) server together, so the whole run takes about one fetch,
//! not ten.
//!
//! The seed (`seeds/001_*.txt` #2; the `gather_and_wait` example ports it
//! as it is), which only pretends to fetch:
//!
//! ```python
//! import asyncio
//! import time
//!
//! async def get_html(url):
//!     print("start get url")
//!     await asyncio.sleep(2)
//!     print("end get url")
//!
//! if __name__ == "__main__":
//!     start_time = time.time()
//!     loop = asyncio.get_event_loop()
//!     tasks = [get_html("http://www.imooc.com") for i in range(10)]
//!     loop.run_until_complete(asyncio.wait(tasks))
//!     print(time.time() - start_time)   # about 2 s, not 20 s
//! ```
//!
//! Here the fetch is real but local (no outside network is needed): the
//! example first starts its own tiny HTTP/1.1 server, a task with an
//! `aiolos::net::TcpListener` on `127.0.0.1:0` that answers each `GET` with a
//! small HTML page after [`SERVER_DELAY`] (the seed's `asyncio.sleep(2)`:
//! a slow server), with a `Content-Length`, one request per connection.
//! Then ten tasks each open a plain `TcpStream`, write the request, read the
//! response until the end of the body (by `Content-Length`, or the end of the
//! stream), and parse the status line, the body and its `<title>`. `main`
//! prints each result and the total time.
//!
//! Run it with `cargo run --example get_html`.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aiolos::net::{TcpListener, TcpStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Pages fetched at once (the seed's `range(10)`).
const FETCHES: usize = 10;
/// How long the server thinks before answering (the seed's `sleep(2)`,
/// shortened).
const SERVER_DELAY: Duration = Duration::from_millis(200);
/// The longest request head the server reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

// ------------------------------------------------------------ the server ----

/// Reads a request head (up to the blank line); `None` if the client hung up
/// first or sent more than [`MAX_REQUEST_HEAD`] bytes without one.
async fn read_request_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while find(&head, b"\r\n\r\n").is_none() {
        if head.len() > MAX_REQUEST_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// The response to a request line such as `GET /page/3 HTTP/1.1`.
fn respond(request_line: &str) -> String {
    let mut parts = request_line.split_whitespace();
    let (status, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => (
            "200 OK",
            format!(
                "<!DOCTYPE html>\n<html><head><title>aiolos page {path}</title></head>\n\
                 <body><h1>{path}</h1><p>Served by a task on aiolos.</p></body></html>\n"
            ),
        ),
        _ => (
            "405 Method Not Allowed",
            "<!DOCTYPE html>\n<html><head><title>405</title></head><body>GET only</body></html>\n"
                .to_owned(),
        ),
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Answers one request on `stream`, then closes it.
async fn serve_one(mut stream: TcpStream) -> io::Result<()> {
    let Some(head) = read_request_head(&mut stream).await? else {
        return Ok(());
    };
    let request_line = head.lines().next().unwrap_or_default();
    // The slow part of a real server (a database, another service): other
    // connections are served meanwhile.
    aiolos::time::sleep(SERVER_DELAY).await;
    stream.write_all(respond(request_line).as_bytes()).await?;
    // One request per connection: closing marks the end of the response too.
    stream.close().await
}

/// Accepts connections forever, one task each.
async fn http_server(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => drop(aiolos::spawn(async move {
                if let Err(e) = serve_one(stream).await {
                    eprintln!("server: connection from {peer}: {e}");
                }
            })),
            Err(e) => {
                eprintln!("server: accept failed: {e}");
                aiolos::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

// ------------------------------------------------------------ the client ----

/// What one fetch got.
#[derive(Debug)]
struct Page {
    /// The status code, e.g. 200.
    status: u16,
    /// The status line's reason phrase, e.g. `OK`.
    reason: String,
    /// The body.
    body: String,
    /// The text of the body's `<title>`, if any.
    title: Option<String>,
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad_response(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Splits a raw response into status, reason, and body (cut to its
/// `Content-Length` when there is one).
fn parse_response(raw: &[u8]) -> io::Result<Page> {
    let head_end =
        find(raw, b"\r\n\r\n").ok_or_else(|| bad_response("the response has no header end"))?;
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| bad_response("the response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");

    // "HTTP/1.1 200 OK"
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code, reason) = (parts.next(), parts.next(), parts.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(bad_response(format!(
            "not an HTTP/1 status line: {status_line:?}"
        )));
    }
    let status: u16 = code
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad_response(format!("no status code in {status_line:?}")))?;

    let content_length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()
        .map_err(|_| bad_response("a Content-Length that is not a number"))?;
    let mut body = &raw[head_end + 4..];
    if let Some(len) = content_length {
        if body.len() < len {
            return Err(bad_response(format!(
                "body cut short: {} of {len} bytes",
                body.len()
            )));
        }
        body = &body[..len];
    }
    let body = String::from_utf8_lossy(body).into_owned();
    let title = body
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.to_owned());
    Ok(Page {
        status,
        reason: reason.unwrap_or_default().to_owned(),
        body,
        title,
    })
}

/// Whether `raw` holds a whole response: its head and `Content-Length`
/// bytes of body. Without a `Content-Length`, only the end of the stream
/// says so.
fn response_complete(raw: &[u8]) -> bool {
    let Some(head_end) = find(raw, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let len = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    len.is_some_and(|len| raw.len() >= head_end + 4 + len)
}

/// `GET http://{addr}{path}` over HTTP/1.1 on a fresh connection.
async fn get_html(addr: SocketAddr, path: &str) -> io::Result<Page> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: aiolos-get_html\r\n\
         Accept: text/html\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;

    // Read until the body is complete, or to the end of the stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !response_complete(&raw) {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    parse_response(&raw)
}

/// One fetch as the seed's coroutine does it: say when it starts and ends.
async fn fetch(addr: SocketAddr, i: usize) -> io::Result<(String, Page, Duration)> {
    let url = format!("http://{addr}/page/{i}");
    let path = format!("/page/{i}");
    println!("start get {url}");
    let start = Instant::now();
    let page = get_html(addr, &path).await?;
    let took = start.elapsed();
    println!("end get {url}");
    Ok((url, page, took))
}

#[aiolos::main]
async fn main() -> io::Result<()> {
    // The server: bound before anything connects, so no fetch can race it.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!(
        "server listening on http://{addr}/ (answers after {:?})",
        SERVER_DELAY
    );
    drop(aiolos::spawn(http_server(listener)));

    // tasks = [get_html(url) for i in range(10)]; all start now.
    let start = Instant::now();
    let tasks: Vec<_> = (0..FETCHES)
        .map(|i| aiolos::spawn(fetch(addr, i)))
        .collect();

    // asyncio.wait(tasks): await each in turn; they ran at once anyway.
    let mut fetched = 0;
    for task in tasks {
        let (url, page, took) = task
            .await
            .map_err(|e| io::Error::other(format!("a fetch task failed: {e}")))??;
        println!(
            "GOT {url}: {} {}, {} bytes, title {:?}, in {:.1?}",
            page.status,
            page.reason,
            page.body.len(),
            page.title.as_deref().unwrap_or("(none)"),
            took
        );
        if page.status == 200 {
            fetched += 1;
        }
    }
    let total = start.elapsed();
    println!(
        "TIME: {:.3} s for {FETCHES} fetches of a page the server answers after {:.3} s; \
         {fetched} of {FETCHES} returned 200",
        total.as_secs_f64(),
        SERVER_DELAY.as_secs_f64()
    );
    Ok(())
}
