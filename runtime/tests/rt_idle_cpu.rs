//! An idle runtime does not burn CPU: its worker and reactor threads sleep
//! in the kernel while there is nothing to do, including while a task is
//! parked in a long `sleep` (the reactor waits for the timer's deadline, it
//! does not poll).
//!
//! One test alone in its own binary, so that no other test adds CPU time to
//! the threads being measured. Linux only: CPU time per thread comes from
//! `/proc/self/task/<tid>/schedstat` (first field: nanoseconds on CPU), or,
//! where the kernel lacks schedstat, from `utime + stime` in
//! `/proc/self/task/<tid>/stat`, counted in clock ticks that are assumed to
//! be 100 per second (USER_HZ on every mainstream Linux build; `libc` is not
//! a dependency, so `sysconf(_SC_CLK_TCK)` is not called).

mod common;

use aiolos::time::sleep;
use common::*;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

/// Thread-name prefix of the runtime under test; short because the kernel
/// cuts thread names at 15 bytes ("idl-reactor", "idl-worker-0").
const PREFIX: &str = "idl-";

/// What a measured second may cost, summed over the runtime's threads.
const BUDGET: Duration = Duration::from_millis(50);

/// Assumed USER_HZ for the `stat` fallback.
const CLOCK_TICKS_PER_SEC: u64 = 100;

/// CPU time consumed so far by one thread, or `None` if it is gone.
fn thread_cpu(tid: u32) -> Option<Duration> {
    let dir = format!("/proc/self/task/{tid}");
    if let Ok(s) = std::fs::read_to_string(format!("{dir}/schedstat")) {
        let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
        return Some(Duration::from_nanos(ns));
    }
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // Fields after "pid (comm) ": state is [0], utime [11], stime [12].
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1000 / CLOCK_TICKS_PER_SEC))
}

/// CPU time of every thread of the runtime, by tid and name.
fn runtime_threads_cpu() -> HashMap<u32, (String, Duration)> {
    process_threads()
        .into_iter()
        .filter(|(_, name)| name.starts_with(PREFIX))
        .filter_map(|(tid, name)| thread_cpu(tid).map(|cpu| (tid, (name, cpu))))
        .collect()
}

/// CPU used by the runtime's threads while this thread sleeps for 1 s.
fn cpu_over_one_idle_second() -> (Duration, Vec<(String, Duration)>) {
    let before = runtime_threads_cpu();
    std::thread::sleep(Duration::from_secs(1));
    let after = runtime_threads_cpu();
    let mut per_thread: Vec<(String, Duration)> = after
        .iter()
        .map(|(tid, (name, cpu))| {
            let base = before.get(tid).map_or(Duration::ZERO, |b| b.1);
            (name.clone(), cpu.saturating_sub(base))
        })
        .collect();
    per_thread.sort();
    (per_thread.iter().map(|p| p.1).sum(), per_thread)
}

#[test]
fn an_idle_runtime_uses_almost_no_cpu_even_with_a_task_parked_in_a_long_sleep() {
    let _wd = watchdog("idle_cpu", 120);
    let schedstat = std::path::Path::new("/proc/self/schedstat").exists();
    let rt = runtime_named(2, "idl");

    // Warm up every part once: tasks, timers, callbacks.
    rt.block_on(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                aiolos::spawn(async move {
                    aiolos::yield_now().await;
                    sleep(Duration::from_millis(1 + i % 5)).await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let (tx, rx) = mpsc::channel();
    rt.handle().call_soon(move || tx.send(()).unwrap());
    rx.recv_timeout(LONG).expect("callback never ran");

    let threads = runtime_threads_cpu();
    let mut names: Vec<_> = threads.values().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert!(
        names.len() >= 3 && names.iter().any(|n| n == "idl-reactor"),
        "expected 2 workers and a reactor named idl-*, found {names:?}"
    );
    // The counters are live: the warm-up cost the threads some CPU.
    let warm_up: Duration = threads.values().map(|(_, cpu)| *cpu).sum();
    assert!(
        warm_up > Duration::ZERO,
        "per-thread CPU counters read zero after the warm-up; the measurement is broken"
    );
    eprintln!("CPU used by the runtime's threads so far (warm-up): {warm_up:?}");

    // Let the workers finish searching and park.
    std::thread::sleep(Duration::from_millis(300));
    let (idle, per_thread) = cpu_over_one_idle_second();
    eprintln!("idle runtime, 1 s: {idle:?} of CPU {per_thread:?} (schedstat: {schedstat})");

    // Now with a task parked in a 10 s sleep: the reactor has a deadline.
    let (tx, rx) = mpsc::channel();
    let sleeper = rt.spawn(async move {
        let mut s = sleep(Duration::from_secs(10));
        let _ = poll_once(&mut s).await;
        tx.send(()).unwrap();
        s.await;
    });
    rx.recv_timeout(LONG).expect("sleeping task never ran");
    std::thread::sleep(Duration::from_millis(300));
    let (with_sleep, per_thread_sleep) = cpu_over_one_idle_second();
    eprintln!(
        "runtime with a task in sleep(10 s), 1 s: {with_sleep:?} of CPU {per_thread_sleep:?}"
    );

    assert!(
        idle < BUDGET,
        "an idle runtime used {idle:?} of CPU in 1 s (limit {BUDGET:?}): {per_thread:?}"
    );
    assert!(
        with_sleep < BUDGET,
        "a runtime whose only task sleeps 10 s used {with_sleep:?} of CPU in 1 s \
         (limit {BUDGET:?}): {per_thread_sleep:?}"
    );
    assert!(
        !sleeper.is_finished(),
        "a 10 s sleep finished within about 2 s"
    );
    assert!(sleeper.cancel());
    drop(rt);
}
