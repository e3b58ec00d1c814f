//! Defining coroutines and running them on the loop: an `async fn` is a
//! coroutine function, calling it gives a coroutine object (a future) that
//! does nothing until the loop runs it.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//!
//! **`000 #1` + `000 #2`** (`seeds/000_*.txt`, "定义协程"): define a
//! coroutine, then register it on the loop with `run_until_complete`:
//!
//! ```python
//! async def MyCoroutine():
//!     print("Hello, world")
//!
//! import asyncio
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(MyCoroutine())
//! ```
//!
//! **`003 #1`** (`seeds/003_*.txt`, "使用asyncio来定义协程"): the old
//! decorator-based coroutines, two of them run with `wait`; prints nothing.
//!
//! ```python
//! @asyncio.coroutine
//! def hello():
//!     pass
//!
//! loop = asyncio.get_event_loop()
//! tasks = [hello(), hello()]
//! loop.run_until_complete(asyncio.wait(tasks))
//! loop.close()
//! ```
//!
//! **`003 #2`** (same seed, "使用 asyncio 原生协议定义"): a decorator
//! coroutine is a generator, an `async def` one is a native coroutine, and
//! calling `hello2()` does not run it (it never prints `hello`):
//!
//! ```python
//! @asyncio.coroutine
//! def hello():
//!     pass
//!
//! async def hello2():
//!     print('hello')
//!
//! coro = hello() # 协程对象
//! coro2 = hello2() # 协程对象
//!
//! print(isinstance(coro, Generator))    # True
//! print(isinstance(coro, Coroutine))    # False
//! print(isinstance(coro2, Coroutine))   # True
//! ```
//!
//! **`003 #3`** (same seed, "asyncio协程的调用逻辑"): coroutine object →
//! task → loop; prints `hello world`:
//!
//! ```python
//! async def hello(name):
//!     print('hello',name)
//!
//! coro = hello("world") # 协程对象
//! loop = asyncio.get_event_loop()
//! task = asyncio.ensure_future(coro)
//! loop.run_until_complete(task)
//! ```
//!
//! **`002 P2`** (`seeds/002_*.txt`, "如何调用协程并获得结果", described in
//! prose only): `add2(2)` returns 4, `add3(2)` returns a coroutine object,
//! not 5; awaiting it inside a coroutine gives 5. Written out:
//!
//! ```python
//! def add2(x):
//!     return x + 2
//!
//! async def add3(x):
//!     return x + 3
//!
//! async def main():
//!     print(add2(2))        # 4
//!     print(add3(2))        # <coroutine object add3 at 0x7f...>
//!     print(await add3(2))  # 5
//!
//! asyncio.run(main())
//! ```
//!
//! Differences from the Python: Rust has no generator-based coroutines, so
//! `003 #1`'s `hello` is an `async fn`, and in `003 #2` the decorator's
//! "generator" is an `Iterator` (`std::iter::from_fn`), Rust's stand-in for
//! a generator. `isinstance` becomes a compile-time question (does the type
//! implement `Iterator`? `Future`?) answered by the `implements!` macro
//! below. Booleans print the Python way (`True`), and the unawaited
//! coroutine's address is the future's own.
//!
//! Run it with `cargo run --example coroutines`.

use std::future::Future;
use std::io;
use std::marker::PhantomData;

use aiolos::{ReturnWhen, Runtime};

/// Python's spelling of a boolean, as `print(True)` shows it.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

// ------------------------------------------------ 000 #1 + #2: Hello, world ----

/// `async def MyCoroutine(): print("Hello, world")`.
async fn my_coroutine() {
    println!("Hello, world");
}

// ----------------------------------------------------- 003 #1: two `hello`s ----

/// The decorator-based `hello`: an `async fn` that does nothing.
async fn hello_pass() {}

// ------------------------------------------------------ 003 #2: isinstance ----

/// `@asyncio.coroutine def hello(): pass` called: a generator, which Rust
/// spells as an iterator. It yields nothing, like `pass`.
fn hello_generator() -> impl Iterator<Item = ()> {
    std::iter::from_fn(|| None)
}

/// `async def hello2(): print('hello')`. Calling it only builds the future;
/// the `println!` runs when (if ever) it is polled.
async fn hello2() {
    println!("hello");
}

/// A type to ask "does `T` implement this trait?" about, without a value.
struct Probe<T>(PhantomData<T>);

impl<T> Probe<T> {
    /// A probe for the type of `value`.
    fn of(_value: &T) -> Probe<T> {
        Probe(PhantomData)
    }
}

/// The answer when `T: Iterator` (`isinstance(x, Generator)`). Called on a
/// `&&Probe<T>`, method lookup finds this impl's `&self` (a `&&Probe<T>`)
/// before it dereferences once and finds the fallback's.
trait IsIterator {
    fn is_iterator(&self) -> bool {
        true
    }
}
impl<T: Iterator> IsIterator for &Probe<T> {}

/// The answer for every other `T` (this example only asks about an
/// iterator, so the compiler never picks it here).
#[allow(dead_code)]
trait NotIterator {
    fn is_iterator(&self) -> bool {
        false
    }
}
impl<T> NotIterator for Probe<T> {}

/// The answer when `T: Future` (`isinstance(x, Coroutine)`).
trait IsFuture {
    fn is_future(&self) -> bool {
        true
    }
}
impl<T: Future> IsFuture for &Probe<T> {}

/// The answer for every other `T`.
trait NotFuture {
    fn is_future(&self) -> bool {
        false
    }
}
impl<T> NotFuture for Probe<T> {}

/// `implements!(value, Iterator)` / `implements!(value, Future)`: whether
/// the type of `value` implements the trait, decided at compile time
/// ("autoref specialization": the impl for `&Probe` wins when its bound
/// holds).
macro_rules! implements {
    ($value:expr, Iterator) => {
        (&&Probe::of(&$value)).is_iterator()
    };
    ($value:expr, Future) => {
        (&&Probe::of(&$value)).is_future()
    };
}

// -------------------------------------------------- 003 #3: hello('world') ----

/// `async def hello(name): print('hello', name)`.
async fn hello(name: &str) {
    println!("hello {name}");
}

// ---------------------------------------------------------- 002 P2: add3 ----

/// An ordinary function: calling it computes the result.
fn add2(x: i32) -> i32 {
    x + 2
}

/// A coroutine function: calling it returns a future; awaiting that
/// computes the result.
async fn add3(x: i32) -> i32 {
    x + 3
}

fn main() -> io::Result<()> {
    // loop = asyncio.get_event_loop()
    let rt = Runtime::new()?;

    println!("=== 000 #1 + #2 ===");
    // loop.run_until_complete(MyCoroutine()): poll it here until it is done.
    rt.block_on(my_coroutine());

    println!("=== 003 #1 ===");
    // tasks = [hello(), hello()]; run_until_complete(asyncio.wait(tasks)).
    // asyncio.wait wraps each coroutine in a task; aiolos::wait takes tasks.
    let tasks = [rt.spawn(hello_pass()), rt.spawn(hello_pass())];
    let (done, pending) = rt.block_on(aiolos::wait(tasks, ReturnWhen::AllCompleted, None));
    assert_eq!((done.len(), pending.len()), (2, 0));

    println!("=== 003 #2 ===");
    let coro = hello_generator();
    let coro2 = hello2();
    println!("{}", py_bool(implements!(coro, Iterator)));
    println!("{}", py_bool(implements!(coro, Future)));
    println!("{}", py_bool(implements!(coro2, Future)));
    // Neither is run: Python warns "coroutine 'hello2' was never awaited";
    // Rust's `#[must_use]` on futures warns at compile time when one is
    // dropped unused on the spot (here it was bound, so dropping is quiet).
    drop((coro, coro2));

    println!("=== 003 #3 ===");
    let coro = hello("world");
    // task = asyncio.ensure_future(coro): the task starts on a worker.
    let task = rt.spawn(coro);
    // loop.run_until_complete(task)
    rt.block_on(task).expect("hello does not panic");

    println!("=== 002 P2 ===");
    rt.block_on(async {
        println!("{}", add2(2));
        let result = add3(2);
        println!("<coroutine object add3 at {:p}>", &result);
        println!("{}", add3(2).await);
        drop(result);
    });
    Ok(())
}
