//! Tasks and done callbacks: wrap a coroutine in a task, look at the task
//! before and after it runs, take its result, and have a callback run when
//! it finishes, including the callback that stops the loop, which is all
//! `run_until_complete` adds to `run_forever`.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//!
//! **`000 #3`** (`seeds/000_*.txt`, "创建task"): a task is pending before
//! the loop runs it and finished after:
//!
//! ```python
//! now = lambda : time.time()
//!
//! async def MyCoroutine(x):
//!     print('Waiting', x)
//!
//! start = now()
//! loop = asyncio.get_event_loop()
//! task = loop.create_task(MyCoroutine(2))
//! print(task)       # <Task pending coro=<MyCoroutine() running at ...>>
//! loop.run_until_complete(task)
//! print(task)       # <Task finished coro=<MyCoroutine() done, ...> result=None>
//! print('TIME: ', now() - start)
//! ```
//!
//! **`000 #4`** (same seed, "绑定回调"):
//!
//! ```python
//! async def MyCoroutine(x):
//!     print('Waiting: ', x)
//!     return 'Done after {}s'.format(x)
//!
//! def callback(future):
//!     print('Callback: ', future.result())
//!
//! start = now()
//! loop = asyncio.get_event_loop()
//! task = asyncio.ensure_future(MyCoroutine(3))
//! task.add_done_callback(callback)
//! loop.run_until_complete(task)
//! print('Task ret: ', task.result())
//! print('TIME: ', now() - start)
//! ```
//!
//! **`001 #3`** and **`001 #4`** (`seeds/001_*.txt`, "如何獲得協程的返回值"):
//! the result of a task made with `asyncio.ensure_future`, then the same with
//! `loop.create_task` (the seed's "上面的代碼還可以這麼寫"); each prints
//! `start get url` and `紅燒肉`:
//!
//! ```python
//! async def get_html(url):
//!     print("start get url")
//!     await asyncio.sleep(2)
//!     return "紅燒肉"
//!
//! loop = asyncio.get_event_loop()
//! get_future = asyncio.ensure_future(get_html("http://www.imooc.com"))
//! loop.run_until_complete(get_future)
//! print(get_future.result())
//!
//! task = loop.create_task(get_html("http://www.imooc.com"))
//! loop.run_until_complete(task)
//! print(task.result())
//! ```
//!
//! **`001 #6`** (same seed): a callback with an extra argument bound by
//! `functools.partial` (here a closure does the binding):
//!
//! ```python
//! def callback(url, future):
//!     print(url)
//!     print("send email to 紅燒肉")
//!
//! task = loop.create_task(get_html("http://www.imooc.com"))
//! task.add_done_callback(partial(callback, "http://www.imooc.com"))
//! loop.run_until_complete(task)
//! print(task.result())
//! ```
//!
//! **`003 #4`** (`seeds/003_*.txt`, "回调方法"): the callback reads the
//! result. The seed's last line formats a string without a `{}`, so it
//! prints just `返回结果`; so does this port.
//!
//! ```python
//! async def hello(x):
//!     await asyncio.sleep(x)
//!     return x
//!
//! def callback(future):
//!     sum = 10 + future.result()
//!     print('回调返回值是', sum)
//!
//! task = asyncio.ensure_future(hello(3))
//! task.add_done_callback(callback)
//! loop.run_until_complete(task)
//! print('返回结果'.format(task.result()))
//! ```
//!
//! **`001 #10`** + **`002 P4`**: `run_until_complete` is `run_forever` plus
//! a done callback that stops the loop (`001 #10` is that callback in
//! asyncio's source, `_run_until_complete_cb`; `002 P4` describes the same
//! in prose: "为 task 对象添加回调方法，当协程执行结束时调用事件循环的 stop
//! 方法来结束整个循环"). Written out:
//!
//! ```python
//! async def do_some_work(x):
//!     print('Waiting', x)
//!     await asyncio.sleep(x)
//!     return 'Done after {}s'.format(x)
//!
//! def done_callback(loop, future):
//!     print('Task ret:', future.result())
//!     loop.stop()
//!
//! task = loop.create_task(do_some_work(2))
//! task.add_done_callback(functools.partial(done_callback, loop))
//! loop.run_forever()
//! ```
//!
//! Differences from the Python: every sleep is 100 ms per second of the
//! seed, and a time printed in seconds is printed in milliseconds (`Done
//! after 200ms`). asyncio's loop runs on one thread, and so does this
//! example's runtime (one worker): in `000 #3` the task is spawned from a
//! task on that worker, so it cannot start before its parent awaits it and
//! the first look at it always finds it pending. (On more workers it would
//! start at once on another one: aiolos's `spawn` does not wait for the
//! loop.) `print(task)` becomes a repr built from `Task::is_finished` and
//! `Task::name`.
//!
//! Run it with `cargo run --example tasks_and_callbacks`.

use std::io;
use std::time::{Duration, Instant};

use aiolos::task::{self, Task};
use aiolos::time::sleep;
use aiolos::{Runtime, TaskError};

/// One second of the seed's sleeps.
const SECOND: Duration = Duration::from_millis(100);

/// The URL the seed's `get_html` is given.
const URL: &str = "http://www.imooc.com";

/// A Python-like repr of a task: `<Task pending coro=<NAME>>`, or
/// `<Task finished coro=<NAME> result=RESULT>` once `result` is known.
fn task_repr<T>(task: &Task<T>, result: Option<&dyn std::fmt::Debug>) -> String {
    let coro = task.name().unwrap_or("?");
    match result {
        Some(result) if task.is_finished() => {
            format!("<Task finished coro=<{coro}> result={result:?}>")
        }
        _ => format!("<Task pending coro=<{coro}>>"),
    }
}

// ---------------------------------------------------------------- 000 #3 ----

/// `async def MyCoroutine(x): print('Waiting', x)`.
async fn my_coroutine(x: u32) {
    println!("Waiting {x}");
}

// ---------------------------------------------------------------- 000 #4 ----

/// `MyCoroutine(x)` of `000 #4`: returns a string (it does not sleep).
async fn my_coroutine_ret(x: u32) -> String {
    println!("Waiting:  {x}");
    format!("Done after {x}s")
}

/// `def callback(future): print('Callback: ', future.result())`.
fn callback(future: &Result<String, TaskError>) {
    let result = future.as_ref().expect("MyCoroutine does not fail");
    println!("Callback:  {result}");
}

// --------------------------------------------------- 001 #3, #4 and #6 ----

/// `get_html` of `001 #3`: sleeps "2 s" and returns the dish.
async fn get_html(_url: &str) -> &'static str {
    println!("start get url");
    sleep(2 * SECOND).await;
    "紅燒肉"
}

/// `def callback(url, future)`: the bound argument first, the finished
/// task's result last, as `partial` passes them.
fn callback_with_url(url: &str, _future: &Result<&'static str, TaskError>) {
    println!("{url}");
    println!("send email to 紅燒肉");
}

// ---------------------------------------------------------------- 003 #4 ----

/// `async def hello(x)`: sleeps `x` "seconds" and returns `x`.
async fn hello(x: u64) -> u64 {
    sleep(SECOND * x as u32).await;
    x
}

/// `def callback(future)`: adds 10 to the result.
fn callback_sum(future: &Result<u64, TaskError>) {
    let sum = 10 + future.as_ref().expect("hello does not fail");
    println!("回调返回值是 {sum}");
}

// --------------------------------------------------- 001 #10 + 002 P4 ----

/// `async def do_some_work(x)`: sleeps `x` "seconds".
async fn do_some_work(x: u32) -> String {
    println!("Waiting {x}");
    let slept = SECOND * x;
    sleep(slept).await;
    format!("Done after {}ms", slept.as_millis())
}

fn main() -> io::Result<()> {
    // loop = asyncio.get_event_loop(): one worker thread, like asyncio's.
    let rt = Runtime::builder().worker_threads(1).build()?;

    println!("=== 000 #3 ===");
    let start = Instant::now();
    // The body runs as a task on the only worker (see the module docs).
    let body = rt.spawn(async {
        // task = loop.create_task(MyCoroutine(2)): queued behind us.
        let mut task = task::Builder::new()
            .name("MyCoroutine(2)")
            .spawn(my_coroutine(2));
        println!("{}", task_repr(&task, None));
        // run_until_complete(task): awaiting lets the worker run it. Await
        // through `&mut` to keep the handle for the second look.
        // MyCoroutine returns nothing: `()` is Python's `result=None`.
        let () = (&mut task).await.expect("MyCoroutine does not fail");
        println!("{}", task_repr(&task, Some(&())));
    });
    rt.block_on(body).expect("the body does not fail");
    println!("TIME:  {}", start.elapsed().as_secs_f64());

    println!("=== 000 #4 ===");
    let start = Instant::now();
    // task = asyncio.ensure_future(MyCoroutine(3))
    let task = rt.spawn(my_coroutine_ret(3));
    // The callback runs once the task is done: on the worker that finishes
    // it, or here and now if it already has. Either way, before awaiting
    // the task returns.
    task.add_done_callback(callback);
    let ret = rt.block_on(task).expect("MyCoroutine does not fail");
    println!("Task ret:  {ret}");
    println!("TIME:  {}", start.elapsed().as_secs_f64());

    println!("=== 001 #3 ===");
    // get_future = asyncio.ensure_future(get_html(...))
    let get_future = rt.spawn(get_html(URL));
    // run_until_complete(get_future), then get_future.result()
    println!(
        "{}",
        rt.block_on(get_future).expect("get_html does not fail")
    );

    println!("=== 001 #4 ===");
    // task = loop.create_task(get_html(...)): the loop's own method; in
    // aiolos the same spawn, through the runtime's handle.
    let task = rt.handle().spawn(get_html(URL));
    println!("{}", rt.block_on(task).expect("get_html does not fail"));

    println!("=== 001 #6 ===");
    let task = rt.spawn(get_html(URL));
    // task.add_done_callback(partial(callback, url)): a closure binds `url`.
    let url = URL.to_owned();
    task.add_done_callback(move |future| callback_with_url(&url, future));
    println!("{}", rt.block_on(task).expect("get_html does not fail"));

    println!("=== 003 #4 ===");
    let task = rt.spawn(hello(3));
    task.add_done_callback(callback_sum);
    let result = rt.block_on(task).expect("hello does not fail");
    assert_eq!(result, 3);
    // print('返回结果'.format(task.result())): no `{}` in the string.
    println!("返回结果");

    println!("=== 001 #10 + 002 P4 ===");
    let task = rt.spawn(do_some_work(2));
    // The done callback stops the loop (`_run_until_complete_cb`).
    let handle = rt.handle();
    task.add_done_callback(move |future| {
        let result = future.as_ref().expect("do_some_work does not fail");
        println!("Task ret: {result}");
        handle.stop();
    });
    // loop.run_forever(): returns once the callback has stopped the loop.
    rt.run_forever();
    // The callbacks run as the task finishes, so it may still be finishing
    // when run_forever returns; its result is there to take right after.
    rt.block_on(task).expect("do_some_work does not fail");
    Ok(())
}
