//! Running many coroutines at once with `wait` and `gather`: ten 2-second
//! "downloads" take about 2 seconds, not 20, because their sleeps overlap.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//! The seeds' `get_html` (`seeds/001_*.txt`):
//!
//! ```python
//! async def get_html(url):
//!     print("start get url")
//!     await asyncio.sleep(2)
//!     print("end get url")
//! ```
//!
//! **`001 #1`**: one coroutine, `run_until_complete`, then the elapsed time:
//!
//! ```python
//! start_time = time.time()
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(get_html("http://www.imooc.com"))
//! print(time.time()-start_time)
//! ```
//!
//! **`001 #2`**: ten at once with `asyncio.wait` (about 2 s in all). The
//! `get_html` example does the same with real HTTP requests to a local
//! server.
//!
//! ```python
//! tasks = [get_html("http://www.imooc.com") for i in range(10)]
//! loop.run_until_complete(asyncio.wait(tasks))
//! print(time.time()-start_time)
//! ```
//!
//! **`001 #7`**: asyncio's source of `wait(fs, *, loop=None, timeout=None,
//! return_when=ALL_COMPLETED)`: it returns `(done, pending)`, returns early
//! on `FIRST_COMPLETED` or `FIRST_EXCEPTION`, and a timeout is not an
//! error. The seed shows only the source; this part shows that behaviour:
//!
//! ```python
//! quick = asyncio.ensure_future(asyncio.sleep(1))
//! stuck = asyncio.ensure_future(asyncio.sleep(3600))
//! done, pending = await asyncio.wait([quick, stuck], return_when=asyncio.FIRST_COMPLETED)
//! print(len(done), len(pending))             # 1 1
//! done, pending = await asyncio.wait(pending, timeout=1)
//! print(len(done), len(pending))             # 0 1
//! stuck.cancel()
//! ```
//!
//! **`001 #8`**: the same ten with `gather` ("我們將wait直接修改為gather然後
//! 可迭代對象加上*即可"):
//!
//! ```python
//! tasks = [get_html("http://www.imooc.com") for i in range(10)]
//! loop.run_until_complete(asyncio.gather(*tasks))
//! print(time.time()-start_time)
//! ```
//!
//! **`001 #9`**, first two forms (the third, `group2.cancel()`, is in the
//! `cancel` example): `gather` takes groups, and gathers nest:
//!
//! ```python
//! group1 = [get_html("http://projectsedu.com") for i in range(2)]
//! group2 = [get_html("http://www.imooc.com") for i in range(2)]
//! loop.run_until_complete(asyncio.gather(*group1, *group2))
//!
//! group1 = asyncio.gather(*group1)
//! group2 = asyncio.gather(*group2)
//! loop.run_until_complete(asyncio.gather(group1, group2))
//! ```
//!
//! **`003 #5`** (`seeds/003_*.txt`, "在协程中的并发"): tasks in a list, `wait`,
//! then each task's result:
//!
//! ```python
//! async def do_some_work(x):
//!     print("等待", x)
//!     await asyncio.sleep(x) # 模拟一个等待耗时操作
//!     return "Done after {}s".format(x)
//!
//! coro1 = do_some_work(1)
//! coro2 = do_some_work(2)
//! coro3 = do_some_work(3)
//! tasks = [asyncio.ensure_future(coro1), asyncio.ensure_future(coro2), asyncio.ensure_future(coro3)]
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(asyncio.wait(tasks))
//! for task in tasks:
//!     print('任务返回的结果是', task.result())
//! ```
//!
//! **`002 P1`**, **`002 P3`**, **`002 P8`** (`seeds/002_*.txt`, three
//! sections that describe this in prose only): two coroutines awaited one
//! after the other take the sum of their times; `await asyncio.gather(a(),
//! b())` runs them together and returns their results in order. Written
//! out:
//!
//! ```python
//! async def a():
//!     print('a start'); await asyncio.sleep(1); print('a end'); return 'a'
//!
//! async def b():
//!     print('b start'); await asyncio.sleep(2); print('b end'); return 'b'
//!
//! async def main():
//!     start = time.time()
//!     await a()
//!     await b()
//!     print(time.time() - start)                 # about 3 s
//!     start = time.time()
//!     print(await asyncio.gather(a(), b()))      # ['a', 'b']
//!     print(time.time() - start)                 # about 2 s
//!
//! asyncio.run(main())
//! ```
//!
//! Differences from the Python: a second of the seeds is 100 ms here, and a
//! time printed in seconds is printed in milliseconds (`Done after 100ms`);
//! the elapsed times are still printed in seconds, as `time.time()`
//! differences are. The runtime has one worker thread, like asyncio's one
//! thread, so tasks start in the order they were spawned (`等待 1, 2, 3`).
//! `aiolos::wait` takes spawned tasks (asyncio's `wait` wraps coroutines in
//! tasks itself); `gather` takes any futures and runs them inside the
//! awaiting task. Lists print the Python way (`['a', 'b']`).
//!
//! Run it with `cargo run --example gather_and_wait`.

use std::time::{Duration, Instant};

use aiolos::time::sleep;
use aiolos::{gather, ReturnWhen};

/// One second of the seeds' sleeps.
const SECOND: Duration = Duration::from_millis(100);

/// How long it has been since `start`, in seconds, as Python prints
/// `time.time() - start_time`.
fn seconds_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// A list of strings as Python prints it: `['a', 'b']`.
fn py_list(items: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// The seeds' `get_html`: pretends to download `url` for two "seconds".
async fn get_html(_url: &str) {
    println!("start get url");
    sleep(2 * SECOND).await;
    println!("end get url");
}

/// `003 #5`'s `do_some_work`: sleeps `x` "seconds".
async fn do_some_work(x: u32) -> String {
    println!("等待 {x}");
    let slept = SECOND * x;
    sleep(slept).await; // 模拟一个等待耗时操作
    format!("Done after {}ms", slept.as_millis())
}

/// `002 P1`'s `a`: one "second".
async fn a() -> &'static str {
    println!("a start");
    sleep(SECOND).await;
    println!("a end");
    "a"
}

/// `002 P1`'s `b`: two "seconds".
async fn b() -> &'static str {
    println!("b start");
    sleep(2 * SECOND).await;
    println!("b end");
    "b"
}

#[aiolos::main(worker_threads = 1)]
async fn main() {
    println!("=== 001 #1 ===");
    let start_time = Instant::now();
    get_html("http://www.imooc.com").await;
    println!("{}", seconds_since(start_time));

    println!("=== 001 #2 ===");
    let start_time = Instant::now();
    let tasks: Vec<_> = (0..10)
        .map(|_| aiolos::spawn(get_html("http://www.imooc.com")))
        .collect();
    // asyncio.wait(tasks): returns (done, pending) once all are done.
    let (done, pending) = aiolos::wait(tasks, ReturnWhen::AllCompleted, None).await;
    assert_eq!((done.len(), pending.len()), (10, 0));
    println!("{}", seconds_since(start_time));

    println!("=== 001 #7 ===");
    let quick = aiolos::spawn(sleep(SECOND));
    // Never finishes by itself (the seed's hour-long sleep, made certain).
    let stuck = aiolos::spawn(std::future::pending::<()>());
    let (done, pending) = aiolos::wait([quick, stuck], ReturnWhen::FirstCompleted, None).await;
    println!("{} {}", done.len(), pending.len());
    // A timeout returns what finished so far; it is not an error.
    let (done, pending) = aiolos::wait(pending, ReturnWhen::AllCompleted, Some(SECOND)).await;
    println!("{} {}", done.len(), pending.len());
    // stuck.cancel(): `wait` gave the handle back in `pending`.
    for task in pending {
        task.cancel();
    }

    println!("=== 001 #8 ===");
    let start_time = Instant::now();
    let tasks = (0..10).map(|_| get_html("http://www.imooc.com"));
    // asyncio.gather(*tasks): the coroutines run inside this task.
    gather(tasks).await;
    println!("{}", seconds_since(start_time));

    println!("=== 001 #9 (a) ===");
    let group1 = (0..2).map(|_| get_html("http://projectsedu.com"));
    let group2 = (0..2).map(|_| get_html("http://www.imooc.com"));
    // asyncio.gather(*group1, *group2): one gather of both groups.
    gather(group1.chain(group2)).await;

    println!("=== 001 #9 (b) ===");
    let group1 = gather((0..2).map(|_| get_html("http://projectsedu.com")));
    let group2 = gather((0..2).map(|_| get_html("http://www.imooc.com")));
    // asyncio.gather(group1, group2): a gather of gathers.
    aiolos::gather!(group1, group2).await;

    println!("=== 003 #5 ===");
    let tasks: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|x| aiolos::spawn(do_some_work(x)))
        .collect();
    let (done, _pending) = aiolos::wait(tasks, ReturnWhen::AllCompleted, None).await;
    // `done` keeps the input order; each task is finished, so awaiting it
    // only takes its result (task.result()).
    for task in done {
        let result = task.await.expect("do_some_work does not fail");
        println!("任务返回的结果是 {result}");
    }

    println!("=== 002 P1 + P3 + P8 ===");
    let start = Instant::now();
    a().await;
    b().await;
    println!("{}", seconds_since(start));
    let start = Instant::now();
    let (ra, rb) = aiolos::gather!(a(), b()).await;
    println!("{}", py_list(&[ra, rb]));
    println!("{}", seconds_since(start));
}
