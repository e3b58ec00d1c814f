//! A crawler: URLs read from a file, cut into batches, each batch fetched by
//! coroutines at once, with a timeout per request; failures are printed.
//!
//! The seed (`seeds/002_*.txt` #1, "python中多进程+协程的使用以及为什么要用它")
//! is Python 2 with gevent: one process per `flag` URLs, one greenlet per URL
//! inside it, because a Python process runs on one CPU at a time:
//!
//! ```python
//! import requests
//! from multiprocessing import Process
//! import gevent
//! from gevent import monkey; monkey.patch_all()
//!
//! def fetch(url):
//!     try:
//!         s = requests.Session()
//!         r = s.get(url,timeout=1)#在这里抓取页面
//!     except Exception,e:
//!         print e
//!     return ''
//!
//! def process_start(url_list):
//!     tasks = []
//!     for url in url_list:
//!         tasks.append(gevent.spawn(fetch,url))
//!     gevent.joinall(tasks)#使用协程来执行
//!
//! def task_start(filepath,flag = ...):#每W条url启动一个进程
//!     with open(filepath,'r') as reader:#从给定的文件中读取url
//!         url = reader.readline().strip()
//!         url_list = []#这个list用于存放协程任务
//!         i = 0 #计数器，记录添加了多少个url到协程队列
//!         while url!='':
//!             i += 1
//!             url_list.append(url)#每次读取出url，将url添加到队列
//!             if i == flag:#一定数量的url就启动一个进程并执行
//!                 p = Process(target=process_start,args=(url_list,))
//!                 p.start()
//!                 url_list = [] #重置url队列
//!                 i = 0 #重置计数器
//!             url = reader.readline().strip()
//!     if url_list not []:#若退出循环后任务队列里还有url剩余
//!         p = Process(target=process_start,args=(url_list,))#把剩余的url全都放到最后这个进程来执行
//!         p.start()
//!
//! if __name__ == '__main__':
//!     task_start('./testData.txt')#读取指定文件
//! ```
//!
//! aiolos needs no processes for this: its tasks already run on one worker
//! thread per CPU. So a batch ("process") is a task, each URL in it a task
//! of its own (`gevent.spawn`), and `gevent.joinall` is `gather`. The main
//! thread waits for every batch, as Python waits for its child processes
//! before it exits.
//!
//! Differences from the Python: no outside network is needed. The example
//! starts a tiny HTTP/1.0 server of its own on `127.0.0.1`, writes the URL
//! file (23 of its pages, [`FLAG`] = 10 per batch, so the last batch holds
//! the 3 left over) to the temp directory, and removes it at the end. One
//! page, `/slow`, never answers, so one request runs into the 1 s timeout
//! and `fetch` prints its error (`print e`); that is the only line the
//! Python would print. `fetch` returns the page (the seed returns `''`
//! either way) so that a last line can say how many pages were fetched.
//!
//! Run it with `cargo run --example crawler`.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use aiolos::net::{TcpListener, TcpStream};
use aiolos::{Handle, Runtime, Task};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// URLs per batch (the seed's `flag`).
const FLAG: usize = 10;
/// Pages in the URL file, the slow one included.
const PAGES: usize = 23;
/// Which page never answers.
const SLOW_PAGE: usize = 17;
/// The seed's `timeout=1`.
const TIMEOUT: Duration = Duration::from_secs(1);

// ------------------------------------------------------------ the server ----

/// Answers one request: a small page, or never, for `/slow`.
async fn serve_one(mut stream: TcpStream) -> io::Result<()> {
    // Read the request head (small: one read usually holds it all).
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    if path == "/slow" {
        // A server that hangs: the client's timeout has to deal with it.
        std::future::pending::<()>().await;
    }
    let body = format!("<html><title>{path}</title></html>\n");
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.close().await
}

/// Accepts connections until the runtime shuts down, one task each.
async fn server(listener: TcpListener) {
    while let Ok((stream, _peer)) = listener.accept().await {
        aiolos::spawn(async move {
            if let Err(e) = serve_one(stream).await {
                eprintln!("server: {e}");
            }
        })
        .detach();
    }
}

// ----------------------------------------------------------- the crawler ----

/// GETs `url` (`http://HOST:PORT/PATH`) and returns the body of a 200.
async fn get(url: &str) -> io::Result<String> {
    let bad_url = || io::Error::new(io::ErrorKind::InvalidInput, format!("bad URL {url}"));
    let rest = url.strip_prefix("http://").ok_or_else(bad_url)?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr: SocketAddr = host.parse().map_err(|_| bad_url())?;

    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    // HTTP/1.0: the server closes the connection after the response.
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of header"))?;
    match head.lines().next() {
        Some(status) if status.starts_with("HTTP/1.0 200") => Ok(body.to_owned()),
        status => Err(io::Error::other(format!("{url}: {status:?}"))),
    }
}

/// `fetch(url)`: the page, or `""` after printing why there is none.
async fn fetch(url: String) -> String {
    match aiolos::time::timeout(TIMEOUT, get(&url)).await {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => {
            println!("{url}: {e}");
            String::new()
        }
        Err(_elapsed) => {
            println!("{url}: read timed out (timeout={}s)", TIMEOUT.as_secs());
            String::new()
        }
    }
}

/// `process_start(url_list)`: one task per URL (`gevent.spawn`), all
/// awaited together (`gevent.joinall`).
async fn process_start(url_list: Vec<String>) -> Vec<String> {
    let tasks = url_list.into_iter().map(|url| aiolos::spawn(fetch(url)));
    aiolos::try_gather(tasks)
        .await
        .expect("fetch does not panic")
}

/// `task_start(filepath, flag)`: reads URLs from the file and starts a
/// batch task for every `flag` of them, then one for the rest.
fn task_start(handle: &Handle, filepath: &Path, flag: usize) -> io::Result<Vec<Task<Vec<String>>>> {
    let mut batches = Vec::new();
    let mut url_list = Vec::new();
    for line in BufReader::new(fs::File::open(filepath)?).lines() {
        let url = line?.trim().to_owned();
        if url.is_empty() {
            break;
        }
        url_list.push(url);
        if url_list.len() == flag {
            batches.push(handle.spawn(process_start(std::mem::take(&mut url_list))));
        }
    }
    // URLs left over after the loop: one last batch.
    if !url_list.is_empty() {
        batches.push(handle.spawn(process_start(url_list)));
    }
    Ok(batches)
}

fn main() -> io::Result<()> {
    let rt = Runtime::new()?;

    // The site to crawl.
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    rt.spawn(server(listener)).detach();

    // The URL file (the seed's ./testData.txt).
    let filepath = std::env::temp_dir().join(format!("aiolos-crawler-{}.txt", std::process::id()));
    let mut file = fs::File::create(&filepath)?;
    for page in 0..PAGES {
        if page == SLOW_PAGE {
            writeln!(file, "http://{addr}/slow")?;
        } else {
            writeln!(file, "http://{addr}/page/{page}")?;
        }
    }
    drop(file);

    let batches = task_start(&rt.handle(), &filepath, FLAG);
    fs::remove_file(&filepath)?;
    let batches = batches?;
    let n_batches = batches.len();

    // Wait for every batch, as Python waits for its child processes.
    let pages: Vec<String> = rt
        .block_on(aiolos::try_gather(batches))
        .expect("no batch panics")
        .into_iter()
        .flatten()
        .collect();
    let fetched = pages.iter().filter(|page| !page.is_empty()).count();
    println!(
        "fetched {fetched} of {} pages in {n_batches} batches",
        pages.len()
    );
    Ok(())
}
