//! Shared helpers for the `rt_*` behaviour tests.
//!
//! aiolos has no channels or timers yet, so the tests synchronise with std
//! primitives and with the small hand-rolled wake-up cells below. Nothing here
//! sleeps to synchronise: every wait is on a channel, a barrier, an atomic or a
//! `Task`, and every wait that could hang has a bound of seconds that turns a
//! hang into a failure with a message.
#![allow(dead_code)]

use std::any::Any;
use std::future::Future;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it counts as a hang.
/// Generous on purpose: the tests must pass on a loaded 2-core machine.
pub const LONG: Duration = Duration::from_secs(60);

/// The message `block_on` panics with when called on a worker thread.
pub const NESTED_BLOCK_ON_MSG: &str =
    "cannot call block_on from inside an aiolos runtime; use .await or spawn";

/// A runtime with `workers` worker threads.
pub fn runtime(workers: usize) -> aiolos::Runtime {
    aiolos::Runtime::builder()
        .worker_threads(workers)
        .build()
        .expect("building a runtime failed")
}

/// A runtime with `workers` worker threads named `{prefix}-worker-{i}`.
pub fn runtime_named(workers: usize, prefix: &str) -> aiolos::Runtime {
    aiolos::Runtime::builder()
        .worker_threads(workers)
        .thread_name(prefix)
        .build()
        .expect("building a runtime failed")
}

/// A shared counter.
#[derive(Clone, Default, Debug)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }

    /// Adds one and returns the new value.
    pub fn incr(&self) -> usize {
        self.0.fetch_add(1, SeqCst) + 1
    }
}

/// Adds one to its counter when dropped.
#[derive(Debug)]
pub struct DropGuard(Counter);

impl DropGuard {
    pub fn new(counter: &Counter) -> Self {
        DropGuard(counter.clone())
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.incr();
    }
}

/// A future that never completes and bumps `counter` when it is dropped
/// (whether or not it was ever polled).
pub fn pending_guarded(counter: &Counter) -> impl Future<Output = ()> + Send + 'static {
    let guard = DropGuard::new(counter);
    async move {
        let _guard = guard;
        std::future::pending::<()>().await
    }
}

/// Like [`pending_guarded`], but sends on `started` the first time it is polled.
pub fn pending_guarded_signalling(
    counter: &Counter,
    started: mpsc::Sender<()>,
) -> impl Future<Output = ()> + Send + 'static {
    let guard = DropGuard::new(counter);
    async move {
        let _guard = guard;
        started.send(()).expect("test receiver gone");
        std::future::pending::<()>().await
    }
}

/// A one-way async gate: `wait()` completes once `open()` has been called.
/// Any number of waiters, wakers fired from whichever thread opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<GateInner>);

#[derive(Default)]
struct GateInner {
    open: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        self.0.open.store(true, SeqCst);
        let wakers = std::mem::take(&mut *self.0.wakers.lock().unwrap());
        for w in wakers {
            w.wake();
        }
    }

    pub fn is_open(&self) -> bool {
        self.0.open.load(SeqCst)
    }

    pub fn wait(&self) -> GateWait {
        GateWait(self.clone())
    }
}

pub struct GateWait(Gate);

impl Future for GateWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_open() {
            return Poll::Ready(());
        }
        self.0 .0.wakers.lock().unwrap().push(cx.waker().clone());
        // Re-check after registering so an `open()` racing with us is not lost.
        if self.0.is_open() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The receiver's waker and the thread that registered it.
type Registered = Option<(Waker, thread::ThreadId)>;

/// A single-slot mailbox with one waiting receiver (an AtomicWaker-style cell
/// guarded by a mutex). `send` fires the stored waker from the sender's thread.
pub struct Mailbox<T> {
    /// The value, and the receiver's waker with the thread that registered it.
    inner: Mutex<(Option<T>, Registered)>,
    /// Wake-ups issued from a thread other than the one the receiver was last
    /// polled on (for reporting how often a wake crossed threads).
    cross_thread_wakes: AtomicUsize,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            inner: Mutex::new((None, None)),
            cross_thread_wakes: AtomicUsize::new(0),
        }
    }
}

impl<T> Mailbox<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `v` in the slot (which must be empty) and wakes the receiver.
    pub fn send(&self, v: T) {
        let waker = {
            let mut g = self.inner.lock().unwrap();
            assert!(g.0.is_none(), "mailbox overwritten: protocol error in test");
            g.0 = Some(v);
            g.1.take()
        };
        if let Some((w, polled_on)) = waker {
            if polled_on != thread::current().id() {
                self.cross_thread_wakes.fetch_add(1, SeqCst);
            }
            w.wake();
        }
    }

    /// How many wake-ups were issued from another thread than the receiver's.
    pub fn cross_thread_wakes(&self) -> usize {
        self.cross_thread_wakes.load(SeqCst)
    }

    /// Waits for the slot to be filled and takes the value.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv(self)
    }

    /// Takes the value if there is one, else registers `cx`'s waker.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = self.inner.lock().unwrap();
        match g.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some((cx.waker().clone(), thread::current().id()));
                Poll::Pending
            }
        }
    }

    /// Takes the value if there is one (leaves any registered waker alone).
    pub fn try_take(&self) -> Option<T> {
        self.inner.lock().unwrap().0.take()
    }
}

pub struct Recv<'a, T>(&'a Mailbox<T>);

impl<T> Future for Recv<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.0.poll_recv(cx)
    }
}

struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor independent of aiolos: polls `fut` on this thread and
/// parks between wake-ups.
pub fn simple_block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Like [`simple_block_on`], but gives up after `limit`: `None` if `fut` was
/// still pending then (a hang or a lost wake-up), instead of parking forever.
/// Needs no runtime, so it can await a `Task` after its runtime is gone.
pub fn block_on_within<F: Future>(fut: F, limit: Duration) -> Option<F::Output> {
    let deadline = Instant::now() + limit;
    let mut fut = pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::park_timeout(deadline - now);
    }
}

/// Awaits `task` on a helper thread (with [`simple_block_on`]) and fails the
/// test with `what` if it has not completed within [`LONG`], instead of hanging.
pub fn join_timeout<T: Send + 'static>(
    task: aiolos::Task<T>,
    what: &str,
) -> Result<T, aiolos::TaskError> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("test-join".into())
        .spawn(move || {
            let _ = tx.send(simple_block_on(task));
        })
        .expect("spawning a helper thread failed");
    match rx.recv_timeout(LONG) {
        Ok(r) => r,
        Err(_) => panic!("{what}: task did not complete within {LONG:?} (hang or lost wake-up)"),
    }
}

/// Spins (yielding the CPU) until `cond` holds; fails after [`LONG`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {LONG:?} waiting for {what}"
        );
        thread::yield_now();
    }
}

/// Aborts the whole test binary with a message if it is still alive after
/// `secs` seconds: a deadlock shows up as a loud failure, never as a CI hang.
/// Bind it first in a test (`let _wd = watchdog(..)`) so it outlives the runtime.
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

pub fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    thread::Builder::new()
        .name(format!("watchdog-{name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs))
            {
                // Straight to the process's stderr: `eprintln!` output of a
                // test's threads is captured and would die with the process.
                let _ = writeln!(
                    std::io::stderr(),
                    "WATCHDOG: test `{name}` still running after {secs}s; \
                     aborting the test binary (deadlock or lost wake-up?)"
                );
                std::process::abort();
            }
        })
        .expect("spawning the watchdog failed");
    Watchdog { _disarm: tx }
}

/// The text of a panic payload (`panic!("lit")` gives `&str`, `panic!("{x}")` a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`, expecting it to panic, and returns the panic message
/// (`None` if it returned normally).
pub fn catch_panic_message<R>(f: impl FnOnce() -> R) -> Option<String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => None,
        Err(p) => Some(panic_message(&*p)),
    }
}

/// The current thread's name, or "<unnamed>".
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_string()
}

// ---- Helpers for the time_* / rt_callbacks / rt_reactor / rt_idle_cpu tests ----

/// Polls `fut` exactly once with the caller's task context and returns what
/// that poll gave (so a test can tell "ready at once" from "had to wait").
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Deterministic pseudo-random numbers (SplitMix64 of `i`), so that a failing
/// run reproduces exactly.
pub fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Linux only: `(tid, comm)` of every live thread of this process, from
/// `/proc/self/task/*/comm` (the kernel truncates names to 15 bytes).
pub fn process_threads() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let dir = std::fs::read_dir("/proc/self/task").expect("cannot list /proc/self/task");
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // A thread may exit between the listing and this read: skip it.
        if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) {
            out.push((tid, comm.trim_end().to_string()));
        }
    }
    out
}

/// The comm names of this process's threads that start with `prefix`, sorted.
pub fn thread_names_with_prefix(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = process_threads()
        .into_iter()
        .filter(|(_, comm)| comm.starts_with(prefix))
        .map(|(_, comm)| comm)
        .collect();
    names.sort();
    names
}

/// Like [`join_timeout`], but unwraps the task's result; a panic inside the
/// task fails the test with the task's own panic message.
pub fn join_ok<T: Send + 'static>(task: aiolos::Task<T>, what: &str) -> T {
    match join_timeout(task, what) {
        Ok(v) => v,
        Err(e) if e.is_panic() => {
            panic!(
                "{what}: the task panicked: {}",
                panic_message(&*e.into_panic())
            )
        }
        Err(e) => panic!("{what}: the task failed: {e}"),
    }
}

// ---- Helpers for the net_* tests ----

/// The byte at `offset` of the pseudo-random stream `seed` (SplitMix64 of
/// the 8-byte word index): a misplaced, lost or duplicated chunk of a
/// transfer shows up as a mismatch at a known offset.
pub fn pattern_byte(seed: u64, offset: u64) -> u8 {
    (splitmix64(seed ^ (offset / 8).wrapping_mul(0x2545_F491_4F6C_DD1D)) >> (8 * (offset % 8)))
        as u8
}

/// Fills `buf` with the stream `seed` starting at `offset`.
pub fn fill_pattern(seed: u64, offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(seed, offset + i as u64);
    }
}

/// Panics, naming `what` and the first differing offset, unless `buf` is the
/// stream `seed` starting at `offset`.
pub fn check_pattern(what: &str, seed: u64, offset: u64, buf: &[u8]) {
    for (i, &b) in buf.iter().enumerate() {
        let at = offset + i as u64;
        let want = pattern_byte(seed, at);
        assert_eq!(
            b, want,
            "{what}: byte {at} of stream {seed:#x} is {b:#04x}, expected {want:#04x}"
        );
    }
}

/// How many file descriptors this process has open (entries of
/// `/proc/self/fd`; the directory's own descriptor is counted every time,
/// so counts compare exactly).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("cannot list /proc/self/fd")
        .count()
}

/// Sets `SO_LINGER` to zero seconds on `fd`: closing it then sends a reset
/// (RST) instead of a FIN.
pub fn set_linger_zero(fd: std::os::fd::RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid `struct linger` that outlives the call, and
    // the length passed is its size; a bad fd gives an error, not UB.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
}

/// A path in the temp dir that no other test (of this or another process)
/// uses: `aiolos-{tag}-{pid}-{n}`. Removed first if a crashed run left it.
pub fn unique_temp_path(tag: &str) -> std::path::PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, SeqCst);
    let path = std::env::temp_dir().join(format!("aiolos-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Removes the file at its path when dropped (socket files of a test).
#[derive(Debug)]
pub struct RemoveOnDrop(pub std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The environment variable that tells a re-executed test binary which
/// child-only test may run.
pub const CHILD_ENV: &str = "AIOLOS_TEST_CHILD";

/// Whether this process was started by [`run_child_test`] to run `name`.
/// Child-only tests are `#[ignore]`d and return at once unless this holds,
/// so `cargo test -- --ignored` cannot run them inside the shared process.
pub fn is_child_for(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Re-executes this test binary to run only the `#[ignore]`d test `name`
/// (which checks [`is_child_for`]), in its own process, and fails with the
/// child's output unless it exits successfully within [`LONG`].
pub fn run_child_test(name: &str) {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("cannot find the test binary");
    let child = Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot re-execute the test binary");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(LONG) {
        Ok(out) => out.expect("waiting for the child failed"),
        Err(_) => {
            // SAFETY: `kill` only sends a signal; `pid` is our own child,
            // which has not been reaped (its waiter is still blocked).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("child test `{name}` still running after {LONG:?}: killed");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child test `{name}` failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // A filter that matched nothing also exits successfully: insist on it.
    assert!(
        stdout.contains("1 passed"),
        "child test `{name}` did not run:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}
