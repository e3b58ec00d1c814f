//! `aiolos::process`: reaping. Signals end children with a signal status,
//! `kill_on_drop` kills and reaps, a dropped running child is reaped once
//! it exits (the orphan list), and 500 concurrent children all report
//! their own exit codes and leave no zombie. Each runs twice: through
//! pidfds (the default on this kernel) and through the SIGCHLD fallback.

mod common;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use aiolos::process::{Child, Command, Stdio};
use common::*;

/// Which way the tests notice exits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Pidfd,
    Sigchld,
}

/// A builder for `program` whose children are watched the `mode` way.
fn command(mode: Mode, program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.sigchld_fallback(mode == Mode::Sigchld);
    cmd
}

/// Spawns and checks that the child is watched the `mode` way (pidfd
/// only where the kernel lets this process open one).
fn spawn(mode: Mode, cmd: &mut Command) -> Child {
    let child = cmd.spawn().unwrap();
    let want = match mode {
        Mode::Pidfd if pidfds_work() => "pidfd",
        _ => "sigchld",
    };
    assert_eq!(child.exit_watch(), want);
    child
}

/// Whether `pidfd_open` works here (our own pid is as good as any).
fn pidfds_work() -> bool {
    // SAFETY: `pidfd_open` takes a pid and flags; a returned fd is closed
    // right away.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0);
        if fd < 0 {
            return false;
        }
        libc::close(fd as libc::c_int);
    }
    true
}

/// `(state, ppid)` of process `pid` from `/proc/<pid>/stat`, or `None`
/// when there is no such process.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": the name may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` is a child of this process (running or zombie).
fn is_our_child(pid: u32) -> bool {
    matches!(proc_state(pid), Some((_, ppid)) if ppid == std::process::id())
}

/// Whether `pid` is a zombie child of this process.
fn is_our_zombie(pid: u32) -> bool {
    matches!(proc_state(pid), Some(('Z', ppid)) if ppid == std::process::id())
}

/// Polls `/proc` until `cond` holds, failing after [`LONG`]. (A pid may be
/// reused by another test's short-lived child in between, so a look that
/// fails once is not the answer.)
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < deadline, "after {LONG:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill_ends_a_sleeping_child_with_sigkill(mode: Mode) {
    let rt = runtime(2);
    rt.block_on(async {
        let started = Instant::now();
        let mut child = spawn(mode, command(mode, "sleep").arg("100"));
        assert_eq!(child.try_wait().unwrap(), None);
        child.kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
        assert_eq!(status.code(), None);
        // "Promptly": nowhere near the 100 s the child would sleep.
        assert!(started.elapsed() < Duration::from_secs(50));
        // Reaped: signalling again must not hit a reused pid.
        let err = child.kill().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn kill_ends_a_sleeping_child_with_sigkill_pidfd() {
    let _wd = watchdog("process_kill_pidfd", 120);
    kill_ends_a_sleeping_child_with_sigkill(Mode::Pidfd);
}

#[test]
fn kill_ends_a_sleeping_child_with_sigkill_sigchld() {
    let _wd = watchdog("process_kill_sigchld", 120);
    kill_ends_a_sleeping_child_with_sigkill(Mode::Sigchld);
}

fn terminate_and_send_signal_deliver_their_signals(mode: Mode) {
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = spawn(mode, command(mode, "sleep").arg("100"));
        child.terminate().unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGTERM));

        let mut child = spawn(mode, command(mode, "sleep").arg("100"));
        child.send_signal(libc::SIGUSR1).unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGUSR1));

        let mut child = spawn(mode, command(mode, "sleep").arg("100"));
        let err = child.send_signal(-1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        child.kill().unwrap();
        child.wait().await.unwrap();
    });
}

#[test]
fn terminate_and_send_signal_deliver_their_signals_pidfd() {
    let _wd = watchdog("process_signals_pidfd", 120);
    terminate_and_send_signal_deliver_their_signals(Mode::Pidfd);
}

#[test]
fn terminate_and_send_signal_deliver_their_signals_sigchld() {
    let _wd = watchdog("process_signals_sigchld", 120);
    terminate_and_send_signal_deliver_their_signals(Mode::Sigchld);
}

fn kill_after_exit_is_ok_until_the_child_is_reaped(mode: Mode) {
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = spawn(mode, command(mode, "sh").args(["-c", "exit 5"]));
        let pid = child.id().unwrap();
        // Exited, not reaped (nobody waits): a zombie, which takes signals.
        eventually("the child to exit", || is_our_zombie(pid));
        child.kill().unwrap();
        // The kill changed nothing: it had exited with 5.
        assert_eq!(child.wait().await.unwrap().code(), Some(5));
        assert!(child.kill().is_err(), "killing a reaped child must fail");
        assert!(child.terminate().is_err());
    });
}

#[test]
fn kill_after_exit_is_ok_until_the_child_is_reaped_pidfd() {
    let _wd = watchdog("process_kill_zombie_pidfd", 120);
    kill_after_exit_is_ok_until_the_child_is_reaped(Mode::Pidfd);
}

#[test]
fn kill_after_exit_is_ok_until_the_child_is_reaped_sigchld() {
    let _wd = watchdog("process_kill_zombie_sigchld", 120);
    kill_after_exit_is_ok_until_the_child_is_reaped(Mode::Sigchld);
}

fn kill_on_drop_kills_and_reaps_the_child(mode: Mode) {
    let rt = runtime(2);
    let pid = rt.block_on(async {
        let child = spawn(mode, command(mode, "sleep").arg("100").kill_on_drop(true));
        let pid = child.id().unwrap();
        assert!(is_our_child(pid));
        drop(child);
        pid
    });
    // Neither running (it would sleep 100 s) nor a zombie: killed and reaped.
    eventually("the dropped child to be killed and reaped", || {
        !is_our_child(pid)
    });
    drop(rt);
}

#[test]
fn kill_on_drop_kills_and_reaps_the_child_pidfd() {
    // In a process of its own, so no other test's spawn reaps it: the
    // orphan's own exit event must.
    run_child_test("kill_on_drop_child_pidfd");
}

#[test]
#[ignore = "runs in its own process, see kill_on_drop_kills_and_reaps_the_child_pidfd"]
fn kill_on_drop_child_pidfd() {
    if !is_child_for("kill_on_drop_child_pidfd") {
        return;
    }
    let _wd = watchdog("process_kill_on_drop_pidfd", 120);
    kill_on_drop_kills_and_reaps_the_child(Mode::Pidfd);
}

#[test]
fn kill_on_drop_kills_and_reaps_the_child_sigchld() {
    run_child_test("kill_on_drop_child_sigchld");
}

#[test]
#[ignore = "runs in its own process, see kill_on_drop_kills_and_reaps_the_child_sigchld"]
fn kill_on_drop_child_sigchld() {
    if !is_child_for("kill_on_drop_child_sigchld") {
        return;
    }
    let _wd = watchdog("process_kill_on_drop_sigchld", 120);
    kill_on_drop_kills_and_reaps_the_child(Mode::Sigchld);
}

#[test]
fn kill_on_drop_off_leaves_the_child_running() {
    let _wd = watchdog("process_no_kill_on_drop", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let child = Command::new("sleep").arg("100").spawn().unwrap();
        let pid = child.id().unwrap();
        drop(child);
        // Still our running child (it would be gone, or a zombie, if
        // killed); end it by pid, then it is reaped as an orphan.
        let (state, _) = proc_state(pid).expect("the child is gone");
        assert_ne!(state, 'Z', "dropping the Child killed it");
        assert!(is_our_child(pid));
        // SAFETY: `kill` sends a signal; the pid is our unreaped child
        // (the orphan list has not reaped it: it still runs).
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        eventually("the killed orphan to be reaped", || !is_our_child(pid));
    });
}

/// Drops a child that still runs (a `cat` whose stdin we hold), then ends
/// it by closing that stdin, and waits for it to be reaped. With
/// `respawn`, keeps spawning (and waiting for) `true` meanwhile: the
/// SIGCHLD fallback reaps orphans on spawns and child exits.
fn a_dropped_running_child_is_reaped_after_it_exits(mode: Mode, respawn: bool) {
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = spawn(
            mode,
            command(mode, "cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        );
        let stdin = child.stdin.take().unwrap();
        let pid = child.id().unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        drop(child);
        // The orphan still runs: its stdin is open.
        assert!(is_our_child(pid) && !is_our_zombie(pid));
        drop(stdin);
        let deadline = Instant::now() + LONG;
        while is_our_child(pid) {
            assert!(
                Instant::now() < deadline,
                "the orphan {pid} was not reaped within {LONG:?}"
            );
            if respawn {
                let status = command(mode, "true").status().await.unwrap();
                assert!(status.success());
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
}

#[test]
fn a_dropped_running_child_is_reaped_after_it_exits_pidfd() {
    // In a process of its own: no other test's spawn may do the reaping.
    run_child_test("orphan_child_pidfd");
}

#[test]
#[ignore = "runs in its own process, see a_dropped_running_child_is_reaped_after_it_exits_pidfd"]
fn orphan_child_pidfd() {
    if !is_child_for("orphan_child_pidfd") {
        return;
    }
    let _wd = watchdog("process_orphan_pidfd", 120);
    a_dropped_running_child_is_reaped_after_it_exits(Mode::Pidfd, false);
}

#[test]
fn a_dropped_running_child_is_reaped_after_it_exits_sigchld() {
    // In a process of its own: the list's SIGCHLD listener must do it.
    run_child_test("orphan_child_sigchld");
}

#[test]
#[ignore = "runs in its own process, see a_dropped_running_child_is_reaped_after_it_exits_sigchld"]
fn orphan_child_sigchld() {
    if !is_child_for("orphan_child_sigchld") {
        return;
    }
    let _wd = watchdog("process_orphan_sigchld", 120);
    a_dropped_running_child_is_reaped_after_it_exits(Mode::Sigchld, false);
}

#[test]
fn a_dropped_running_child_is_reaped_after_it_exits_while_others_spawn() {
    let _wd = watchdog("process_orphan_respawn", 120);
    a_dropped_running_child_is_reaped_after_it_exits(Mode::Sigchld, true);
    a_dropped_running_child_is_reaped_after_it_exits(Mode::Pidfd, true);
}

#[test]
fn an_orphan_of_a_runtime_that_shut_down_is_reaped_by_the_next_spawn() {
    // In a process of its own, so that nothing but that spawn reaps it.
    run_child_test("orphan_of_dead_runtime_child");
}

#[test]
#[ignore = "runs in its own process, see an_orphan_of_a_runtime_that_shut_down_is_reaped_by_the_next_spawn"]
fn orphan_of_dead_runtime_child() {
    if !is_child_for("orphan_of_dead_runtime_child") {
        return;
    }
    let _wd = watchdog("process_orphan_dead_runtime", 120);
    let rt = runtime(2);
    let (pid, stdin) = rt.block_on(async {
        let mut child = spawn(
            Mode::Pidfd,
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        );
        let stdin = child.stdin.take().unwrap();
        (child.id().unwrap(), stdin)
    });
    // The orphan's pidfd watch is armed on `rt`'s reactor, which stops.
    drop(rt);
    drop(stdin);
    eventually("the orphan to exit (and stay a zombie)", || {
        is_our_zombie(pid)
    });
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("true").spawn().unwrap();
        // The spawn scanned the orphan list before it forked.
        assert!(!is_our_child(pid), "the zombie {pid} is still there");
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn an_orphan_dropped_by_a_task_out_of_budget_is_still_reaped_sigchld() {
    // In a process of its own: the list's SIGCHLD listener must do it,
    // though its first poll runs out of budget.
    run_child_test("orphan_out_of_budget_child");
}

#[test]
#[ignore = "runs in its own process, see an_orphan_dropped_by_a_task_out_of_budget_is_still_reaped_sigchld"]
fn orphan_out_of_budget_child() {
    if !is_child_for("orphan_out_of_budget_child") {
        return;
    }
    let _wd = watchdog("process_orphan_budget", 120);
    let rt = runtime(2);
    let (pid, stdin) = rt.block_on(async {
        aiolos::spawn(async {
            let mut child = spawn(
                Mode::Sigchld,
                command(Mode::Sigchld, "cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null()),
            );
            let stdin = child.stdin.take().unwrap();
            let pid = child.id().unwrap();
            // Spend this turn's whole budget without yielding.
            loop {
                let mut spend = Box::pin(aiolos::task::consume_budget());
                if poll_once(&mut spend).await.is_pending() {
                    break;
                }
            }
            // The orphan list's first poll of its listener happens now.
            drop(child);
            (pid, stdin)
        })
        .await
        .unwrap()
    });
    assert!(is_our_child(pid) && !is_our_zombie(pid));
    drop(stdin);
    eventually("the orphan to be reaped", || !is_our_child(pid));
    drop(rt);
}

fn five_hundred_concurrent_children_report_their_codes_and_leave_no_zombie(mode: Mode) {
    const N: usize = 500;
    let rt = runtime(2);
    let pids = rt.block_on(async {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                aiolos::spawn(async move {
                    let code = (i * 7 % 256) as i32;
                    let script = format!("exit {code}");
                    let mut child = spawn(mode, command(mode, "sh").args(["-c", &script]));
                    let pid = child.id().unwrap();
                    let status = child.wait().await.unwrap();
                    assert_eq!(status.code(), Some(code), "child {i} (pid {pid})");
                    assert_eq!(child.id(), None);
                    pid
                })
            })
            .collect();
        let mut pids = Vec::new();
        for t in tasks {
            pids.push(t.await.unwrap());
        }
        pids
    });
    let mut sorted = pids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), N, "pids repeat: a child was reused or lost");
    for pid in pids {
        eventually(&format!("pid {pid} not to be our zombie"), || {
            !is_our_zombie(pid)
        });
    }
}

#[test]
fn five_hundred_concurrent_children_report_their_codes_and_leave_no_zombie_pidfd() {
    let _wd = watchdog("process_500_pidfd", 300);
    five_hundred_concurrent_children_report_their_codes_and_leave_no_zombie(Mode::Pidfd);
}

#[test]
fn five_hundred_concurrent_children_report_their_codes_and_leave_no_zombie_sigchld() {
    let _wd = watchdog("process_500_sigchld", 300);
    five_hundred_concurrent_children_report_their_codes_and_leave_no_zombie(Mode::Sigchld);
}

#[test]
fn a_wait_cancelled_midway_loses_nothing() {
    let _wd = watchdog("process_wait_cancel", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        {
            // The child runs until `stdin` closes: this wait times out.
            let wait = aiolos::time::timeout(Duration::from_millis(20), child.wait());
            assert!(wait.await.is_err(), "cat ended with its stdin open");
        }
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    });
}
