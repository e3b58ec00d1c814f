//! asyncio's debug mode: slow-poll warnings (`Builder::slow_poll_threshold`,
//! `Builder::debug`), the task panic hook (`Builder::on_task_panic`) and
//! the task dump (`Handle::dump`).
//!
//! The warnings go through the `log` facade; this binary installs one
//! capturing logger for all its tests (a logger is set once per process),
//! and each test picks out the lines about its own tasks by their ids,
//! which are unique in the process.
//!
//! No test depends on timing beyond this: a task that blocks its worker
//! for several times the threshold is reported, and tasks that do nothing
//! slow are not, with a threshold (200 ms) far above anything a trivial
//! poll takes even on a loaded machine.

mod common;

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::Duration;

use aiolos::task::{self, TaskState};
use aiolos::TaskId;
use common::*;

/// Every `aiolos` log line of this process, as `LEVEL message`.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Captures the records of target `aiolos` into [`LINES`].
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "aiolos"
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            LINES.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

/// Installs the capturing logger (once for the binary).
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).expect("the only logger of this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// The captured lines about task `id`.
fn lines_about(id: TaskId) -> Vec<String> {
    let tag = format!("<Task id={id} ");
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(&tag))
        .cloned()
        .collect()
}

/// The seconds in a `... took 1.002 seconds` line.
fn took_seconds(line: &str) -> f64 {
    let rest = line.rsplit_once(" took ").expect("a `took` part").1;
    let secs = rest.strip_suffix(" seconds").expect("ends with `seconds`");
    secs.parse().expect("a number of seconds")
}

/// A runtime with `workers` workers and slow-poll threshold `threshold`,
/// with this binary's logger installed.
fn timed_runtime(workers: usize, threshold: Duration) -> aiolos::Runtime {
    capture_logs();
    aiolos::Runtime::builder()
        .worker_threads(workers)
        .slow_poll_threshold(threshold)
        .build()
        .unwrap()
}

/// The seconds in the one warning about task `id` (fails unless there is
/// exactly one).
fn the_one_warning_about(id: TaskId) -> f64 {
    let lines = lines_about(id);
    assert_eq!(lines.len(), 1, "{lines:?}");
    took_seconds(&lines[0])
}

#[test]
fn slow_poll_warning_names_the_blocking_task_and_not_the_others() {
    let _wd = watchdog("slow_poll_names_blocker", 120);
    let rt = timed_runtime(2, Duration::from_millis(200));
    let handle = rt.handle();

    let first_line = line!();
    let blocker = task::Builder::new().name("blocker").spawn_on(
        async {
            // Five times the threshold, in one poll.
            std::thread::sleep(Duration::from_secs(1));
        },
        &handle,
    );
    let last_line = line!();
    let blocker_id = blocker.id();
    // Trivial tasks, several polls each, alongside.
    let others: Vec<_> = (0..20)
        .map(|i| {
            task::Builder::new().name(format!("quick-{i}")).spawn_on(
                async {
                    for _ in 0..3 {
                        aiolos::yield_now().await;
                    }
                },
                &handle,
            )
        })
        .collect();
    let other_ids: Vec<TaskId> = others.iter().map(|t| t.id()).collect();
    join_ok(blocker, "blocker");
    for t in others {
        join_ok(t, "quick task");
    }

    let about_blocker = lines_about(blocker_id);
    assert_eq!(about_blocker.len(), 1, "one slow poll: {about_blocker:?}");
    let line = &about_blocker[0];
    assert!(
        line.starts_with(&format!(
            "WARN Executing <Task id={blocker_id} name=\"blocker\" spawned at {}:",
            file!()
        )),
        "{line}"
    );
    let at_line: u32 = line
        .split(&format!("{}:", file!()))
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|l| l.parse().ok())
        .expect("a line number");
    assert!(
        (first_line..=last_line).contains(&at_line),
        "spawned at line {at_line}, expected {first_line}..={last_line}: {line}"
    );
    assert!(took_seconds(line) >= 1.0, "{line}");
    for id in other_ids {
        assert_eq!(lines_about(id), Vec::<String>::new(), "task {id}");
    }
    assert_eq!(handle.metrics().total_slow_polls(), 1);
}

#[test]
fn debug_mode_reports_polls_over_100_ms_and_no_threshold_reports_none() {
    let _wd = watchdog("debug_mode_default", 120);
    capture_logs();
    let blocking = async {
        std::thread::sleep(Duration::from_millis(500));
    };

    let debug = aiolos::Runtime::builder()
        .worker_threads(1)
        .debug(true)
        .build()
        .unwrap();
    let t = debug.spawn(blocking);
    let id = t.id();
    join_ok(t, "blocking task in debug mode");
    assert!(the_one_warning_about(id) >= 0.5);
    assert_eq!(debug.handle().metrics().total_slow_polls(), 1);

    // No threshold, no debug mode: nothing is timed.
    let plain = runtime(1);
    let t = plain.spawn(async {
        std::thread::sleep(Duration::from_millis(500));
    });
    let id = t.id();
    join_ok(t, "blocking task without debug mode");
    assert_eq!(lines_about(id), Vec::<String>::new());
    assert_eq!(plain.handle().metrics().total_slow_polls(), 0);
}

#[test]
fn a_task_blocking_a_runtime_that_was_idle_is_reported() {
    // Thresholds from 16 ms up are timed by the coarse clock, which nobody
    // moves while every worker sleeps: the worker that wakes for the task
    // must set it going again (the reactor's busy tick) before it blocks.
    let _wd = watchdog("blocking_after_idle", 120);
    let rt = timed_runtime(2, Duration::from_millis(200));
    // Idle for a while (every worker parks; not needed for the assertions,
    // which hold either way, but the case this test is about).
    std::thread::sleep(Duration::from_millis(300));
    let t = rt.spawn(async {
        std::thread::sleep(Duration::from_millis(800));
    });
    let id = t.id();
    join_ok(t, "blocking task after idle");
    assert!(the_one_warning_about(id) >= 0.8);
}

#[test]
fn a_poll_under_the_threshold_and_the_one_after_it_are_not_reported() {
    // One worker, so the polls follow each other on it: a long poll (under
    // the threshold) must leave neither itself nor the next, quick, poll
    // reported, and a poll over the threshold after them still is.
    let _wd = watchdog("under_threshold", 120);
    let rt = timed_runtime(1, Duration::from_secs(1));
    let handle = rt.handle();
    let (long, quick, slow) = rt.block_on(async {
        let long = aiolos::spawn(async {
            std::thread::sleep(Duration::from_millis(400));
        });
        let quick = aiolos::spawn(async {
            aiolos::yield_now().await;
        });
        let slow = aiolos::spawn(async {
            std::thread::sleep(Duration::from_millis(1500));
        });
        let ids = (long.id(), quick.id(), slow.id());
        let _ = aiolos::gather!(long, quick, slow).await;
        ids
    });
    assert_eq!(lines_about(long), Vec::<String>::new());
    assert_eq!(lines_about(quick), Vec::<String>::new());
    assert!(the_one_warning_about(slow) >= 1.5);
    assert_eq!(handle.metrics().total_slow_polls(), 1);
}

#[test]
fn thresholds_under_16_ms_are_timed_by_the_real_clock() {
    let _wd = watchdog("precise_threshold", 120);
    let rt = timed_runtime(1, Duration::from_millis(10));
    let t = rt.spawn(async {
        std::thread::sleep(Duration::from_millis(200));
    });
    let id = t.id();
    join_ok(t, "blocking task, precise timing");
    assert!(the_one_warning_about(id) >= 0.2);
    assert!(rt.handle().metrics().total_slow_polls() >= 1);
}

#[test]
fn a_slow_poll_that_leaves_its_task_waiting_names_it() {
    // The worker judges a poll after it returns, when the task may be
    // anywhere; one still waiting (here on a channel) is named from the
    // owned list. Coarse and precise timing both.
    let _wd = watchdog("slow_poll_then_pending", 120);
    for (threshold, blocks) in [(200, 600), (10, 200)] {
        let rt = timed_runtime(2, Duration::from_millis(threshold));
        let (tx, rx) = aiolos::sync::oneshot::channel::<u32>();
        let t = task::Builder::new()
            .name(format!("waits-after-{threshold}"))
            .spawn_on(
                async move {
                    std::thread::sleep(Duration::from_millis(blocks));
                    rx.await.expect("a value")
                },
                &rt.handle(),
            );
        let id = t.id();
        // The task stays alive (waiting for the value) until its warning
        // is out.
        wait_until("the slow poll's warning", || !lines_about(id).is_empty());
        tx.send(7).expect("the task still waits");
        assert_eq!(rt.block_on(t).expect("the task's value"), 7);
        // The first warning about it is the blocking poll's. (Its second
        // poll is quick, but at 10 ms a loaded machine may preempt it for
        // longer: only the 200 ms threshold counts warnings exactly.)
        let lines = lines_about(id);
        assert!(
            lines[0].starts_with(&format!(
                "WARN Executing <Task id={id} name=\"waits-after-{threshold}\" spawned at {}:",
                file!()
            )),
            "{lines:?}"
        );
        assert!(
            took_seconds(&lines[0]) >= blocks as f64 / 1000.0,
            "{lines:?}"
        );
        if threshold == 200 {
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert_eq!(rt.handle().metrics().total_slow_polls(), 1);
        }
    }
}

/// What the panic hook saw: id → (name, message, times seen).
type Seen = Arc<Mutex<HashMap<TaskId, (Option<String>, Option<String>, usize)>>>;

/// A runtime whose panic hook records into `seen`.
fn runtime_recording_panics(workers: usize, seen: &Seen) -> aiolos::Runtime {
    let seen = seen.clone();
    aiolos::Runtime::builder()
        .worker_threads(workers)
        .on_task_panic(move |p| {
            let mut seen = seen.lock().unwrap();
            let entry = seen.entry(p.id()).or_insert_with(|| {
                (
                    p.name().map(str::to_owned),
                    p.message().map(str::to_owned),
                    0,
                )
            });
            entry.2 += 1;
        })
        .build()
        .unwrap()
}

/// A future that is ready on its second poll and whose destructor panics
/// with `drop {n}`: its task panics after it returned.
struct PanicsWhenDropped {
    n: usize,
    polled: bool,
}

impl std::future::Future for PanicsWhenDropped {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.polled, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("drop {}", self.n);
    }
}

#[test]
fn panic_hook_sees_every_panic_exactly_once_before_the_handle_does() {
    let _wd = watchdog("panic_hook_once", 120);
    let seen: Seen = Arc::default();
    let rt = runtime_recording_panics(2, &seen);
    let handle = rt.handle();

    // id → the message it must panic with (None: it must not panic).
    let mut expected: HashMap<TaskId, Option<String>> = HashMap::new();
    let mut tasks = Vec::new();
    for i in 0..60usize {
        let builder = task::Builder::new().name(format!("t{i}"));
        let task = match i % 4 {
            // Panics in a later poll.
            0 => builder.spawn_on(
                async move {
                    aiolos::yield_now().await;
                    panic!("poll {i}");
                },
                &handle,
            ),
            // Returns, then its future panics while being dropped.
            1 => builder.spawn_on(
                PanicsWhenDropped {
                    n: i,
                    polled: false,
                },
                &handle,
            ),
            // A blocking job that panics.
            2 => handle
                .block_on(async move {
                    // (In an `Option`: a task handle is itself awaitable.)
                    Some(builder.spawn_blocking::<_, ()>(move || panic!("blocking {i}")))
                })
                .unwrap(),
            // Fine.
            _ => builder.spawn_on(
                async {
                    aiolos::yield_now().await;
                },
                &handle,
            ),
        };
        let message = match i % 4 {
            0 => Some(format!("poll {i}")),
            1 => Some(format!("drop {i}")),
            2 => Some(format!("blocking {i}")),
            _ => None,
        };
        expected.insert(task.id(), message);
        tasks.push((i, task));
    }
    // One more, detached: nobody awaits it, the hook still hears of it.
    let (done_tx, done_rx) = mpsc::channel();
    let detached = task::Builder::new().name("detached").spawn_on(
        async move {
            struct Signal(mpsc::Sender<()>);
            impl Drop for Signal {
                fn drop(&mut self) {
                    let _ = self.0.send(());
                }
            }
            let _signal = Signal(done_tx);
            panic!("nobody is listening");
        },
        &handle,
    );
    let detached_id = detached.id();
    drop(detached);

    for (i, task) in tasks {
        let id = task.id();
        let result = join_timeout(task, "a task");
        let want = &expected[&id];
        match (result, want) {
            (Ok(()), None) => {}
            (Err(e), Some(m)) if e.is_panic() => {
                // The hook ran before the output was published.
                let entry = seen.lock().unwrap().get(&id).cloned();
                let (name, message, count) = entry.expect("the hook ran before the handle saw it");
                assert_eq!(name.as_deref(), Some(format!("t{i}").as_str()));
                assert_eq!(message.as_deref(), Some(m.as_str()));
                assert_eq!(count, 1, "task t{i}");
                assert_eq!(e.to_string(), format!("task panicked: {m}"));
            }
            (r, want) => panic!("task t{i}: got {r:?}, wanted a panic {want:?}"),
        }
    }
    done_rx.recv_timeout(LONG).expect("the detached task ran");
    wait_until("the hook to hear of the detached task", || {
        seen.lock().unwrap().contains_key(&detached_id)
    });
    drop(rt);

    // Exactly the panicking tasks, each once.
    let seen = seen.lock().unwrap();
    let panicked: usize = expected.values().filter(|m| m.is_some()).count() + 1;
    assert_eq!(seen.len(), panicked, "{seen:?}");
    assert!(seen.values().all(|(_, _, count)| *count == 1), "{seen:?}");
    let (name, message, _) = &seen[&detached_id];
    assert_eq!(name.as_deref(), Some("detached"));
    assert_eq!(message.as_deref(), Some("nobody is listening"));
}

#[test]
fn a_panicking_panic_hook_does_not_take_the_worker_down() {
    let _wd = watchdog("panicking_hook", 120);
    let rt = aiolos::Runtime::builder()
        .worker_threads(1)
        .on_task_panic(|_| panic!("the hook itself panics"))
        .build()
        .unwrap();
    let t = rt.spawn(async { panic!("first") });
    assert!(join_timeout(t, "panicking task").unwrap_err().is_panic());
    // The only worker still runs tasks.
    assert_eq!(join_ok(rt.spawn(async { 7 }), "a task after"), 7);
}

/// The dump's row for the task named `name`, split into columns.
fn row<'a>(dump: &'a str, name: &str) -> Vec<&'a str> {
    dump.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.contains(&name))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{dump}"))
}

#[test]
fn dump_lists_tasks_by_name_with_their_states() {
    let _wd = watchdog("dump_states", 120);
    let rt = runtime(1);
    let handle = rt.handle();
    let state_of = |name: &str| {
        handle
            .all_tasks()
            .into_iter()
            .find(|t| t.name.as_deref() == Some(name))
            .map(|t| t.state)
    };

    // Idle: polled once, waiting for a message.
    let (idle_tx, idle_rx) = aiolos::sync::oneshot::channel::<()>();
    let idle = task::Builder::new().name("idle-one").spawn_on(
        async move {
            let _ = idle_rx.await;
        },
        &handle,
    );
    wait_until("idle-one to wait", || {
        state_of("idle-one") == Some(TaskState::Idle)
    });
    // Running: holds the only worker inside its poll.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let running = task::Builder::new().name("running-one").spawn_on(
        async move {
            let _ = release_rx.recv();
        },
        &handle,
    );
    wait_until("running-one to run", || {
        state_of("running-one") == Some(TaskState::Running)
    });
    // Scheduled: queued behind it.
    let queued = task::Builder::new()
        .name("queued-one")
        .spawn_on(async {}, &handle);

    let dump = handle.dump();
    let first = dump.lines().next().unwrap();
    assert_eq!(first, "3 tasks", "{dump}");
    let titles: Vec<&str> = dump
        .lines()
        .nth(1)
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        titles,
        [
            "id",
            "state",
            "polls",
            "since spawn",
            "since poll",
            "name",
            "spawned at"
        ],
        "{dump}"
    );
    let idle_row = row(&dump, "idle-one");
    assert_eq!(idle_row[0], idle.id().to_string(), "{dump}");
    assert_eq!(idle_row[1], "Idle", "{dump}");
    assert_eq!(idle_row[2], "1", "polled once: {dump}");
    let running_row = row(&dump, "running-one");
    assert_eq!(running_row[1], "Running", "{dump}");
    let queued_row = row(&dump, "queued-one");
    assert_eq!(queued_row[1], "Scheduled", "{dump}");
    assert_eq!(queued_row[2], "0", "never polled: {dump}");
    assert_eq!(queued_row[4], "-", "no last poll: {dump}");
    assert!(
        queued_row[6].starts_with(&format!("{}:", file!())),
        "spawned here: {dump}"
    );

    release_tx.send(()).unwrap();
    let _ = idle_tx.send(());
    for t in [idle, running, queued] {
        join_ok(t, "a dumped task");
    }
    assert_eq!(
        handle.dump(),
        "0 tasks\nid  state  polls  since spawn  since poll  name  spawned at\n"
    );
}
