//! The three runtimes behind one small interface, so each workload is written
//! once and only the scheduler differs.
//!
//! - [`Aiolos`] runs `aiolos::Runtime::builder().worker_threads(n)`;
//!   [`AiolosDebug`] the same with `.debug(true)` (asyncio's debug mode:
//!   every poll timed against a 100 ms slow-poll threshold), to measure what
//!   leaving debug mode on costs.
//! - [`Tokio`] runs `tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all()`,
//!   the runtime tokio's own `benches/rt_multi_threaded.rs` builds.
//! - [`Smol`] is one `async_executor::Executor` run by `n` threads, each in
//!   `smol::block_on(ex.run(shutdown.recv()))` (smol's multi-thread recipe);
//!   blocking work goes to `smol::unblock` (the `blocking` crate's pool).
//!
//! Waiting from outside the runtime goes through [`Rt::block_on`]: aiolos's and
//! tokio's `Runtime::block_on`, and `smol::block_on` for smol.
//!
//! Timers are each runtime's own: `aiolos::time::{sleep, timeout}`,
//! `tokio::time::{sleep, timeout}`, and async-io's `Timer` (re-exported as
//! `smol::Timer`) for smol, which has no `timeout`: there it is
//! `futures_lite::future::or(fut, timer)`, polling `fut` first as the other
//! two do.
//!
//! Sockets are each runtime's own too: `aiolos::net::{TcpListener,
//! TcpStream}`, `tokio::net::{TcpListener, TcpStream}`, and async-io's
//! `Async<std::net::TcpListener>` / `Async<std::net::TcpStream>` (smol's
//! `smol::Async`) for smol, read and written with `futures_lite`'s
//! `AsyncReadExt` / `AsyncWriteExt` (tokio's own `AsyncReadExt` /
//! `AsyncWriteExt` for tokio). Every connected stream, accepted or
//! connected, has `TCP_NODELAY` set.
//!
//! So are the async mutexes (`aiolos::sync::Mutex`, `tokio::sync::Mutex`,
//! `async_lock::Mutex` for smol), the bounded multi-producer channels
//! (`aiolos::sync::mpsc::channel`, `tokio::sync::mpsc::channel`,
//! `async_channel::bounded` for smol) and task handles: a spawned task's handle is
//! `aiolos::Task`, `tokio::task::JoinHandle` or `async_task::Task` (smol's
//! `Task`, from `Executor::spawn`). Gathering many handles in order is
//! `aiolos::gather(tasks)` on aiolos; tokio and smol have no gather, so there
//! it is what their users write: await each handle in turn.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::DerefMut;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A runtime under test, owned by the thread that drives a workload.
pub trait Rt: Sized {
    /// Short name used on the command line and in tables.
    const NAME: &'static str;
    /// The handle tasks and outside threads spawn through.
    type Spawner: Spawner;

    /// Builds the runtime with `workers` worker threads.
    fn build(workers: usize) -> Result<Self, String>;
    /// A handle usable from any thread and from inside tasks.
    fn spawner(&self) -> Self::Spawner;
    /// Runs `fut` to completion on the calling (non-runtime) thread.
    fn block_on<F: Future>(&self, fut: F) -> F::Output;
}

/// How workloads spawn, yield, offload blocking work, use timers and
/// sockets.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// The runtime's own TCP listener.
    type TcpListener: Send + Sync + 'static;
    /// The runtime's own TCP stream.
    type TcpStream: Send + 'static;
    /// The runtime's async mutex.
    type Mutex<T: Send + 'static>: Send + Sync + 'static;
    /// What locking [`Self::Mutex`] gives: the value, until dropped.
    type MutexGuard<'a, T: Send + 'static>: DerefMut<Target = T> + Send + 'a;
    /// The handle of a task spawned with [`spawn_task`](Spawner::spawn_task).
    type Task<T: Send + 'static>: Send + 'static;
    /// The sending half of the runtime's bounded multi-producer channel.
    type Sender<T: Send + 'static>: Clone + Send + 'static;
    /// The receiving half of the runtime's bounded multi-producer channel.
    type Receiver<T: Send + 'static>: Send + 'static;

    /// Spawns a detached task from *inside* a task of this runtime, the way
    /// user code does it (the ambient `spawn` where the runtime has one, so a
    /// worker can use its local queue).
    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a detached task from any thread through the handle
    /// (`call_soon_threadsafe`).
    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a task from inside a task of this runtime, as
    /// [`spawn`](Spawner::spawn) does, and returns its handle.
    fn spawn_task<F>(&self, fut: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Waits for every task of `tasks` and gives their outputs in input
    /// order, or a description of the first task that did not finish. Call
    /// it inside a task of this runtime.
    fn gather<T: Send + 'static>(
        tasks: Vec<Self::Task<T>>,
    ) -> impl Future<Output = Result<Vec<T>, String>> + Send;

    /// A new, unlocked mutex of the runtime's kind holding `value`.
    fn mutex<T: Send + 'static>(value: T) -> Self::Mutex<T>;

    /// Waits for the lock on `m`.
    fn lock<T: Send + 'static>(
        m: &Self::Mutex<T>,
    ) -> impl Future<Output = Self::MutexGuard<'_, T>> + Send + '_;

    /// A bounded channel of the runtime's kind holding at most `capacity`
    /// messages.
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Sender<T>, Self::Receiver<T>);

    /// Sends `value`, waiting for room; gives it back if the receiver is
    /// gone.
    fn send<T: Send + 'static>(
        tx: &Self::Sender<T>,
        value: T,
    ) -> impl Future<Output = Result<(), T>> + Send + '_;

    /// The next message, or `None` once every sender is gone and the channel
    /// is empty.
    fn recv<T: Send + 'static>(
        rx: &mut Self::Receiver<T>,
    ) -> impl Future<Output = Option<T>> + Send + '_;

    /// Runs `f` on the runtime's blocking pool; the future resolves to its
    /// result, or to a description of why there is none.
    fn spawn_blocking<F, R>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<R, String>> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static;

    /// The runtime's own `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// The runtime's own `sleep(d)`: the timer is created (its deadline
    /// fixed) now and registered with the runtime's timers when first
    /// polled. Call it inside a task of this runtime.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static;

    /// The runtime's own `timeout(d, fut)`: polls `fut` first, and fails
    /// with [`TimedOut`] if it is not done after `d`. Call it inside a task
    /// of this runtime.
    fn timeout<F>(d: Duration, fut: F) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send;

    /// Binds the runtime's own TCP listener to `addr`. Call it inside a task
    /// of this runtime.
    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send;

    /// The address `listener` is bound to.
    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr>;

    /// Accepts one connection and sets `TCP_NODELAY` on it.
    fn tcp_accept(
        listener: &Self::TcpListener,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + '_;

    /// Connects to `addr` and sets `TCP_NODELAY`. Call it inside a task of
    /// this runtime.
    fn tcp_connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;

    /// Reads what is there (waiting for at least one byte) into `buf`;
    /// `Ok(0)` at end of stream.
    fn tcp_read<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Writes all of `buf`.
    fn tcp_write_all<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// A [`Spawner::timeout`] that ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for TimedOut {}

/// The aiolos runtime.
#[derive(Debug)]
pub struct Aiolos {
    /// The runtime; dropped (shut down) with this value.
    rt: aiolos::Runtime,
}

impl Aiolos {
    /// Builds the runtime, in debug mode if `debug`.
    fn build_with(workers: usize, debug: bool) -> Result<Self, String> {
        let rt = aiolos::Runtime::builder()
            .worker_threads(workers)
            .debug(debug)
            .build()
            .map_err(|e| format!("aiolos runtime build failed: {e}"))?;
        Ok(Aiolos { rt })
    }
}

impl Rt for Aiolos {
    const NAME: &'static str = "aiolos";
    type Spawner = aiolos::Handle;

    fn build(workers: usize) -> Result<Self, String> {
        Aiolos::build_with(workers, false)
    }

    fn spawner(&self) -> aiolos::Handle {
        self.rt.handle()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

/// The aiolos runtime in debug mode (`Builder::debug(true)`): what the
/// slow-poll check costs when left on.
#[derive(Debug)]
pub struct AiolosDebug(Aiolos);

impl Rt for AiolosDebug {
    const NAME: &'static str = "aiolos-debug";
    type Spawner = aiolos::Handle;

    fn build(workers: usize) -> Result<Self, String> {
        Aiolos::build_with(workers, true).map(AiolosDebug)
    }

    fn spawner(&self) -> aiolos::Handle {
        self.0.spawner()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.0.block_on(fut)
    }
}

impl Spawner for aiolos::Handle {
    type TcpListener = aiolos::net::TcpListener;
    type TcpStream = aiolos::net::TcpStream;
    type Mutex<T: Send + 'static> = aiolos::sync::Mutex<T>;
    type MutexGuard<'a, T: Send + 'static> = aiolos::sync::MutexGuard<'a, T>;
    type Task<T: Send + 'static> = aiolos::Task<T>;
    type Sender<T: Send + 'static> = aiolos::sync::mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = aiolos::sync::mpsc::Receiver<T>;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping the `Task` detaches it.
        drop(aiolos::spawn(fut));
    }

    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(aiolos::Handle::spawn(self, fut));
    }

    fn spawn_task<F>(&self, fut: F) -> aiolos::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        aiolos::spawn(fut)
    }

    async fn gather<T: Send + 'static>(tasks: Vec<aiolos::Task<T>>) -> Result<Vec<T>, String> {
        aiolos::gather(tasks)
            .await
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.map_err(|e| format!("aiolos task {i}: {e}")))
            .collect()
    }

    fn mutex<T: Send + 'static>(value: T) -> aiolos::sync::Mutex<T> {
        aiolos::sync::Mutex::new(value)
    }

    fn lock<T: Send + 'static>(
        m: &aiolos::sync::Mutex<T>,
    ) -> impl Future<Output = aiolos::sync::MutexGuard<'_, T>> + Send + '_ {
        m.lock()
    }

    fn channel<T: Send + 'static>(
        capacity: usize,
    ) -> (
        aiolos::sync::mpsc::Sender<T>,
        aiolos::sync::mpsc::Receiver<T>,
    ) {
        aiolos::sync::mpsc::channel(capacity)
    }

    async fn send<T: Send + 'static>(
        tx: &aiolos::sync::mpsc::Sender<T>,
        value: T,
    ) -> Result<(), T> {
        tx.send(value).await.map_err(|e| e.0)
    }

    fn recv<T: Send + 'static>(
        rx: &mut aiolos::sync::mpsc::Receiver<T>,
    ) -> impl Future<Output = Option<T>> + Send + '_ {
        rx.recv()
    }

    fn spawn_blocking<F, R>(&self, f: F) -> impl Future<Output = Result<R, String>> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let task = aiolos::Handle::spawn_blocking(self, f);
        async move {
            task.await
                .map_err(|e| format!("aiolos spawn_blocking task: {e}"))
        }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        aiolos::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
        aiolos::time::sleep(d)
    }

    fn timeout<F>(d: Duration, fut: F) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let t = aiolos::time::timeout(d, fut);
        async move { t.await.map_err(|_| TimedOut) }
    }

    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send {
        aiolos::net::TcpListener::bind(addr)
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn tcp_connect(addr: SocketAddr) -> io::Result<Self::TcpStream> {
        let stream = aiolos::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn tcp_read<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stream, buf)
    }

    fn tcp_write_all<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stream, buf)
    }
}

/// tokio's multi-thread runtime.
#[derive(Debug)]
pub struct Tokio {
    /// The runtime; dropped (shut down) with this value.
    rt: tokio::runtime::Runtime,
}

impl Rt for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = tokio::runtime::Handle;

    fn build(workers: usize) -> Result<Self, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime build failed: {e}"))?;
        Ok(Tokio { rt })
    }

    fn spawner(&self) -> tokio::runtime::Handle {
        self.rt.handle().clone()
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }
}

impl Spawner for tokio::runtime::Handle {
    type TcpListener = tokio::net::TcpListener;
    type TcpStream = tokio::net::TcpStream;
    type Mutex<T: Send + 'static> = tokio::sync::Mutex<T>;
    type MutexGuard<'a, T: Send + 'static> = tokio::sync::MutexGuard<'a, T>;
    type Task<T: Send + 'static> = tokio::task::JoinHandle<T>;
    type Sender<T: Send + 'static> = tokio::sync::mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = tokio::sync::mpsc::Receiver<T>;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(fut));
    }

    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::runtime::Handle::spawn(self, fut));
    }

    fn spawn_task<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(fut)
    }

    async fn gather<T: Send + 'static>(
        tasks: Vec<tokio::task::JoinHandle<T>>,
    ) -> Result<Vec<T>, String> {
        // tokio has no gather: await each handle in turn, as its docs do.
        let mut out = Vec::with_capacity(tasks.len());
        for (i, task) in tasks.into_iter().enumerate() {
            out.push(task.await.map_err(|e| format!("tokio task {i}: {e}"))?);
        }
        Ok(out)
    }

    fn mutex<T: Send + 'static>(value: T) -> tokio::sync::Mutex<T> {
        tokio::sync::Mutex::new(value)
    }

    fn lock<T: Send + 'static>(
        m: &tokio::sync::Mutex<T>,
    ) -> impl Future<Output = tokio::sync::MutexGuard<'_, T>> + Send + '_ {
        m.lock()
    }

    fn channel<T: Send + 'static>(
        capacity: usize,
    ) -> (tokio::sync::mpsc::Sender<T>, tokio::sync::mpsc::Receiver<T>) {
        tokio::sync::mpsc::channel(capacity)
    }

    async fn send<T: Send + 'static>(tx: &tokio::sync::mpsc::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value).await.map_err(|e| e.0)
    }

    fn recv<T: Send + 'static>(
        rx: &mut tokio::sync::mpsc::Receiver<T>,
    ) -> impl Future<Output = Option<T>> + Send + '_ {
        rx.recv()
    }

    fn spawn_blocking<F, R>(&self, f: F) -> impl Future<Output = Result<R, String>> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let task = tokio::runtime::Handle::spawn_blocking(self, f);
        async move {
            task.await
                .map_err(|e| format!("tokio spawn_blocking task: {e}"))
        }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(d)
    }

    fn timeout<F>(d: Duration, fut: F) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        let t = tokio::time::timeout(d, fut);
        async move { t.await.map_err(|_| TimedOut) }
    }

    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send {
        tokio::net::TcpListener::bind(addr)
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn tcp_connect(addr: SocketAddr) -> io::Result<Self::TcpStream> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn tcp_read<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(stream, buf)
    }

    fn tcp_write_all<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(stream, buf)
    }
}

/// smol: one shared executor run by `n` threads.
#[derive(Debug)]
pub struct Smol {
    /// The executor every thread runs.
    ex: Arc<async_executor::Executor<'static>>,
    /// Dropping it ends `ex.run(..)` on every thread.
    stop: Option<async_channel::Sender<()>>,
    /// The executor threads, joined on drop.
    threads: Vec<thread::JoinHandle<()>>,
}

impl Rt for Smol {
    const NAME: &'static str = "smol";
    type Spawner = SmolSpawner;

    fn build(workers: usize) -> Result<Self, String> {
        if workers == 0 {
            return Err("smol: --workers must be at least 1".into());
        }
        let ex = Arc::new(async_executor::Executor::new());
        let (stop, shutdown) = async_channel::bounded::<()>(1);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let ex = ex.clone();
            let shutdown = shutdown.clone();
            let t = thread::Builder::new()
                .name(format!("smol-worker-{i}"))
                .spawn(move || {
                    // `recv` fails once `stop` is dropped, which ends `run`.
                    let _ = smol::block_on(ex.run(shutdown.recv()));
                })
                .map_err(|e| format!("smol: cannot start a thread: {e}"))?;
            threads.push(t);
        }
        Ok(Smol {
            ex,
            stop: Some(stop),
            threads,
        })
    }

    fn spawner(&self) -> SmolSpawner {
        SmolSpawner(self.ex.clone())
    }

    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        smol::block_on(fut)
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// smol has no ambient spawn: tasks carry the executor.
#[derive(Debug, Clone)]
pub struct SmolSpawner(Arc<async_executor::Executor<'static>>);

impl Spawner for SmolSpawner {
    type TcpListener = async_io::Async<std::net::TcpListener>;
    type TcpStream = async_io::Async<std::net::TcpStream>;
    type Mutex<T: Send + 'static> = async_lock::Mutex<T>;
    type MutexGuard<'a, T: Send + 'static> = async_lock::MutexGuard<'a, T>;
    type Task<T: Send + 'static> = async_executor::Task<T>;
    type Sender<T: Send + 'static> = async_channel::Sender<T>;
    type Receiver<T: Send + 'static> = async_channel::Receiver<T>;

    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // A smol `Task` cancels on drop, so detach it explicitly.
        self.0.spawn(fut).detach();
    }

    fn spawn_remote<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(fut).detach();
    }

    fn spawn_task<F>(&self, fut: F) -> async_executor::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(fut)
    }

    async fn gather<T: Send + 'static>(
        tasks: Vec<async_executor::Task<T>>,
    ) -> Result<Vec<T>, String> {
        // smol has no gather: await each task in turn. A smol `Task` gives
        // its output directly (a panic in the task resumes in the awaiter).
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await);
        }
        Ok(out)
    }

    fn mutex<T: Send + 'static>(value: T) -> async_lock::Mutex<T> {
        async_lock::Mutex::new(value)
    }

    fn lock<T: Send + 'static>(
        m: &async_lock::Mutex<T>,
    ) -> impl Future<Output = async_lock::MutexGuard<'_, T>> + Send + '_ {
        m.lock()
    }

    fn channel<T: Send + 'static>(
        capacity: usize,
    ) -> (async_channel::Sender<T>, async_channel::Receiver<T>) {
        async_channel::bounded(capacity)
    }

    async fn send<T: Send + 'static>(tx: &async_channel::Sender<T>, value: T) -> Result<(), T> {
        tx.send(value).await.map_err(|e| e.0)
    }

    async fn recv<T: Send + 'static>(rx: &mut async_channel::Receiver<T>) -> Option<T> {
        // Fails only once every sender is gone and the channel is empty.
        rx.recv().await.ok()
    }

    fn spawn_blocking<F, R>(&self, f: F) -> impl Future<Output = Result<R, String>> + Send + 'static
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let task = smol::unblock(f);
        async move { Ok(task.await) }
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
        let timer = smol::Timer::after(d);
        async move {
            timer.await;
        }
    }

    fn timeout<F>(d: Duration, fut: F) -> impl Future<Output = Result<F::Output, TimedOut>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        // smol has no `timeout`; `or` polls the first future first.
        let timer = smol::Timer::after(d);
        futures_lite::future::or(async move { Ok(fut.await) }, async move {
            timer.await;
            Err(TimedOut)
        })
    }
    fn tcp_bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpListener>> + Send {
        // async-io binds synchronously; the future only keeps the interface.
        std::future::ready(async_io::Async::<std::net::TcpListener>::bind(addr))
    }

    fn tcp_local_addr(listener: &Self::TcpListener) -> io::Result<SocketAddr> {
        listener.get_ref().local_addr()
    }

    async fn tcp_accept(listener: &Self::TcpListener) -> io::Result<Self::TcpStream> {
        let (stream, _) = listener.accept().await?;
        stream.get_ref().set_nodelay(true)?;
        Ok(stream)
    }

    async fn tcp_connect(addr: SocketAddr) -> io::Result<Self::TcpStream> {
        let stream = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
        stream.get_ref().set_nodelay(true)?;
        Ok(stream)
    }

    fn tcp_read<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        futures_lite::AsyncReadExt::read(stream, buf)
    }

    fn tcp_write_all<'a>(
        stream: &'a mut Self::TcpStream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        futures_lite::AsyncWriteExt::write_all(stream, buf)
    }
}
