//! Future and Task: a future whose result someone else sets, a task whose
//! result only its own coroutine can set (though it can be cancelled), and
//! `ensure_future`, which makes a task of a coroutine and leaves a task as
//! it is.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//!
//! The seed `seeds/002_*.txt` P6 ("在Python中使用Asyncio系统(3-4)Task 和
//! Future", from the book *Using Asyncio in Python*) walks through its
//! examples 3-15 to 3-18 line by line but leaves out their code; here it is.
//!
//! **`002 P6` (3-15)**: a `Future` is done once someone sets its result:
//!
//! ```python
//! async def main(f: asyncio.Future):
//!     await asyncio.sleep(1)
//!     f.set_result('I have finished.')
//!
//! loop = asyncio.get_event_loop()
//! fut = asyncio.Future()
//! print(fut.done())                 # False
//! loop.create_task(main(fut))
//! loop.run_until_complete(fut)
//! print(fut.done())                 # True
//! print(fut.result())               # I have finished.
//! ```
//!
//! **`002 P6` (3-16)**: a `Task` refuses `set_result` (since Python 3.8) but
//! can still be cancelled:
//!
//! ```python
//! async def main(f: asyncio.Future):
//!     await asyncio.sleep(1)
//!     try:
//!         f.set_result('I have finished.')
//!     except RuntimeError as e:
//!         print(f'No longer allowed: {e}')
//!         f.cancel()
//!
//! loop = asyncio.get_event_loop()
//! fut = asyncio.Task(asyncio.sleep(1_000_000))
//! print(fut.done())                 # False
//! loop.create_task(main(fut))
//! with suppress(asyncio.CancelledError):
//!     loop.run_until_complete(fut)
//! print(fut.done())                 # True
//! print(fut.cancelled())            # True
//! ```
//!
//! **`002 P6` (3-17)** + **`001 #5`**: `ensure_future` on a coroutine is
//! `create_task`; on a task it returns that very task (`001 #5` is the
//! source of `ensure_future` doing just this). Prints nothing:
//!
//! ```python
//! async def f():
//!     pass
//!
//! coro = f()
//! loop = asyncio.get_event_loop()
//! task = loop.create_task(coro)
//! assert isinstance(task, asyncio.Task)
//! new_task = asyncio.ensure_future(coro)
//! assert isinstance(new_task, asyncio.Task)
//! mystery_meat = asyncio.ensure_future(task)
//! assert mystery_meat is task
//! ```
//!
//! (3-18, `listify`, is a plain-Python helper that coerces its argument to a
//! list, the book's analogy for `ensure_future`; Rust does such coercions
//! with traits such as `IntoFuture`, used by `ensure_future` below.)
//!
//! Differences from the Python: an asyncio `Future` that someone else
//! completes is a [`oneshot`](aiolos::sync::oneshot) channel: the `Sender`
//! is `set_result`, the `Receiver` is the awaitable. A [`Task`]'s output can
//! only come from its own future: a `set_result` on it does not compile, so
//! the refusal happens at compile time and `main` prints the line the
//! Python prints where asyncio would raise. A Rust future already is an
//! awaitable, so `ensure_future` is `IntoFuture::into_future`, which leaves a
//! `Task` as it is; making a task is always an explicit `spawn`. The sleeps
//! are 100 ms per second, and booleans print the Python way.
//!
//! Run it with `cargo run --example future_and_task`.

use std::future::IntoFuture;
use std::io;
use std::time::Duration;

use aiolos::sync::oneshot;
use aiolos::time::sleep;
use aiolos::{Runtime, Task};

/// One second of the Python's sleeps.
const SECOND: Duration = Duration::from_millis(100);

/// Python's spelling of a boolean, as `print(True)` shows it.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// 3-15's `main(f)`: sets the future's result after a "second".
async fn set_later(f: oneshot::Sender<&'static str>) {
    sleep(SECOND).await;
    // f.set_result(...); the receiver may be gone, which is fine.
    let _ = f.send("I have finished.");
}

/// 3-16's `main(f)`: a task's result cannot be set, so it cancels the task
/// instead. Returns the handle it was lent.
async fn cancel_later(f: Task<()>) -> Task<()> {
    sleep(SECOND).await;
    // f.set_result('I have finished.') would not compile: `Task` has no
    // such method. The Python's RuntimeError says:
    println!("No longer allowed: Task does not support set_result operation");
    f.cancel();
    f
}

/// 3-17's `f`: does nothing.
async fn f() {}

/// `asyncio.ensure_future(aw)`: whatever can be awaited, as a future. A
/// `Task` or any other future comes back unchanged.
fn ensure_future<A: IntoFuture>(aw: A) -> A::IntoFuture {
    aw.into_future()
}

fn main() -> io::Result<()> {
    // loop = asyncio.get_event_loop()
    let rt = Runtime::new()?;

    println!("=== 002 P6 (3-15) ===");
    // fut = asyncio.Future(): the setting half and the awaiting half.
    let (set_result, mut fut) = oneshot::channel();
    // fut.done(): nothing to take yet.
    println!("{}", py_bool(fut.try_recv().is_ok()));
    rt.spawn(set_later(set_result)).detach();
    // loop.run_until_complete(fut)
    let result = rt.block_on(fut);
    println!("{}", py_bool(result.is_ok()));
    println!("{}", result.expect("set_later sets a result"));

    println!("=== 002 P6 (3-16) ===");
    // fut = asyncio.Task(asyncio.sleep(1_000_000))
    let fut = rt.spawn(async { sleep(Duration::from_secs(1_000_000)).await });
    println!("{}", py_bool(fut.is_finished()));
    // loop.create_task(main(fut)): it borrows the handle and gives it back.
    let mut fut = rt
        .block_on(rt.spawn(cancel_later(fut)))
        .expect("cancel_later does not fail");
    // with suppress(CancelledError): loop.run_until_complete(fut)
    let outcome = rt.block_on(&mut fut);
    println!("{}", py_bool(fut.is_finished()));
    println!("{}", py_bool(outcome.is_err_and(|e| e.is_cancelled())));

    println!("=== 002 P6 (3-17) + 001 #5 ===");
    let coro = f();
    // task = loop.create_task(coro): a task is made by spawning, always.
    let task: Task<()> = rt.spawn(coro);
    let id = task.id();
    // mystery_meat = asyncio.ensure_future(task): the very same task.
    let mystery_meat: Task<()> = ensure_future(task);
    assert_eq!(mystery_meat.id(), id);
    // ensure_future(coro) of another coroutine: just that future, unspawned
    // (asyncio would make a task of it); awaiting it runs it in place.
    rt.block_on(ensure_future(f()));
    rt.block_on(mystery_meat).expect("f does not fail");
    Ok(())
}
