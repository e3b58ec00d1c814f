//! asyncio's debug mode in aiolos: the slow-poll warning, the task dump,
//! runtime metrics and the exception handler.
//!
//! The seed warns against calling `time.sleep(2)` inside a coroutine: it
//! blocks the event loop, and ten such coroutines take twenty seconds
//! instead of two. asyncio's debug mode names the culprit:
//!
//! ```text
//! Executing <Task pending name='Task-2' coro=<get_html() running at seed.py:5>> took 2.002 seconds
//! ```
//!
//! Here a task named `sleepy` calls `std::thread::sleep(150 ms)` inside its
//! future, which blocks its worker the same way. With
//! `Builder::debug(true)` (a slow-poll threshold of 100 ms, asyncio's
//! default) the runtime logs a warning naming it, through the `log` facade;
//! a ten-line logger below prints it to stderr. Meanwhile `main` prints
//! `Handle::dump()`, the table of every live task, then a summary of
//! `Handle::metrics()`. A task that panics goes to the exception handler
//! (`Builder::on_task_panic`).
//!
//! Run it with `cargo run --example debug_mode`.

use std::time::Duration;

use aiolos::task;

/// A minimal `log` backend: warnings and worse, to stderr. (A real program
/// would use `env_logger` or `tracing-subscriber`'s `log` bridge.)
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// The seed's mistake: a blocking sleep inside a coroutine.
async fn get_html_blocking(url: &str) {
    println!("start get {url} (with a blocking sleep)");
    std::thread::sleep(Duration::from_millis(150)); // time.sleep(0.15)
    println!("end get {url}");
}

/// The right way: the sleep lets the worker run other tasks meanwhile.
async fn get_html(url: &str) {
    println!("start get {url}");
    aiolos::time::sleep(Duration::from_millis(150)).await; // await asyncio.sleep(0.15)
    println!("end get {url}");
}

fn main() -> std::io::Result<()> {
    log::set_logger(&LOGGER).expect("no other logger is installed");
    log::set_max_level(log::LevelFilter::Warn);

    let rt = aiolos::Runtime::builder()
        .worker_threads(2)
        .debug(true)
        .on_task_panic(|p| println!("exception handler: {p}"))
        .build()?;
    let handle = rt.handle();
    rt.block_on(async {
        let sleepy = task::Builder::new()
            .name("sleepy")
            .spawn(get_html_blocking("http://www.imooc.com"));
        let polite = task::Builder::new()
            .name("polite")
            .spawn(get_html("http://www.imooc.com"));
        // A task that waits for a message that comes only at the end.
        let (tx, rx) = aiolos::sync::oneshot::channel::<()>();
        let waiting = task::Builder::new().name("waiting").spawn(async move {
            let _ = rx.await;
        });

        // While `sleepy` holds its worker: what is everyone doing?
        aiolos::time::sleep(Duration::from_millis(50)).await;
        println!("--- Handle::dump() ---");
        print!("{}", aiolos::Handle::current().dump());
        println!("---");

        sleepy.await.unwrap();
        polite.await.unwrap();
        let _ = tx.send(());
        waiting.await.unwrap();

        // The exception handler hears of a panic before the awaiter does.
        let doomed = task::Builder::new().name("doomed").spawn(async {
            panic!("page not found");
        });
        let err = doomed.await.unwrap_err();
        println!("awaiting doomed gave: {err}");
    });

    let m = handle.metrics();
    println!(
        "metrics: {} workers, {} polls, {} steals, {} parks, {} LIFO hits; \
         {} tasks spawned, {} alive; {} slow poll(s)",
        m.num_workers(),
        m.total_polls(),
        m.total_steals(),
        m.total_parks(),
        m.workers.iter().map(|w| w.lifo_hits).sum::<u64>(),
        m.tasks_spawned,
        m.tasks_alive,
        m.total_slow_polls(),
    );
    Ok(())
}
