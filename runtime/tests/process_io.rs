//! `aiolos::process`: what reaches the child (arguments, environment,
//! working directory, stdin), what comes back (exit codes, stdout and
//! stderr through the pipes, `output()`), and the errors of spawning and
//! of writing to a child that is gone.

mod common;

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use aiolos::process::{Child, Command, Stdio};
use common::*;
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// Reads `child`'s stdout to its end.
async fn read_stdout(child: &mut Child) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stdout = child.stdout.take().expect("stdout was not piped");
    stdout.read_to_end(&mut out).await.unwrap();
    out
}

#[test]
fn cat_passes_8_mib_through_while_stdin_is_written_concurrently() {
    const LEN: u64 = 8 << 20;
    let _wd = watchdog("process_cat_8mib", 300);
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(child.stderr.is_none(), "stderr was not piped");
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // Far more than the two pipes hold: writing everything before
        // reading would deadlock.
        let write = aiolos::spawn(async move {
            let mut buf = vec![0; 100_000];
            let mut off = 0;
            while off < LEN {
                let n = (LEN - off).min(buf.len() as u64) as usize;
                fill_pattern(7, off, &mut buf[..n]);
                stdin.write_all(&buf[..n]).await.unwrap();
                off += n as u64;
            }
            stdin.close().await.unwrap();
        });
        let mut buf = vec![0; 50_000];
        let mut off = 0;
        loop {
            let n = stdout.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            check_pattern("cat's stdout", 7, off, &buf[..n]);
            off += n as u64;
        }
        assert_eq!(off, LEN, "cat's stdout ended early or ran long");
        write.await.unwrap();
        let status = child.wait().await.unwrap();
        assert!(status.success(), "cat failed: {status}");
    });
}

#[test]
fn exit_codes_come_back_from_status_wait_and_output() {
    let _wd = watchdog("process_exit_codes", 120);
    let rt = runtime(2);
    rt.block_on(async {
        for code in [0, 1, 2, 42, 255] {
            let script = format!("exit {code}");
            let status = Command::new("sh")
                .args(["-c", &script])
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(code), "status() of `{script}`");
            assert_eq!(status.success(), code == 0);
            assert_eq!(status.signal(), None);

            let mut child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(code), "wait()");

            let output = Command::new("sh")
                .args(["-c", &script])
                .output()
                .await
                .unwrap();
            assert_eq!(output.status.code(), Some(code), "output()");
        }
    });
}

#[test]
fn wait_twice_returns_the_same_status_and_id_is_gone_after_reaping() {
    let _wd = watchdog("process_wait_twice", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let pid = child.id().expect("a running child has a pid");
        assert!(pid > 0);
        let first = child.wait().await.unwrap();
        assert_eq!(first.code(), Some(7));
        assert_eq!(
            child.id(),
            None,
            "a reaped child's pid may name another process"
        );
        assert_eq!(child.wait().await.unwrap(), first);
        assert_eq!(child.try_wait().unwrap(), Some(first));
    });
}

#[test]
fn try_wait_is_none_while_the_child_runs_and_wait_closes_its_stdin() {
    let _wd = watchdog("process_try_wait", 120);
    let rt = runtime(2);
    rt.block_on(async {
        // `cat` runs until its stdin ends; only `wait` closing it ends it.
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        assert_eq!(child.try_wait().unwrap(), None);
        assert!(child.id().is_some());
        let status = child.wait().await.unwrap();
        assert!(status.success(), "cat: {status}");
        assert!(child.stdin.is_none(), "wait drops stdin");
        assert_eq!(child.try_wait().unwrap(), Some(status));
    });
}

#[test]
fn args_env_and_current_dir_reach_the_child() {
    let _wd = watchdog("process_env", 120);
    let rt = runtime(2);
    let dir = std::env::temp_dir().canonicalize().unwrap();
    rt.block_on(async {
        let script = r#"printf '%s|' "$@"; printf '%s|%s|%s|%s|' "$AIOLOS_A" "$AIOLOS_B" "${AIOLOS_GONE-unset}" "$(pwd -P)""#;
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .args(["sh", "one arg", "", "three"])
            .env("AIOLOS_A", "a value")
            .envs([("AIOLOS_B", "b"), ("AIOLOS_GONE", "x")])
            .env_remove("AIOLOS_GONE")
            .current_dir(&dir)
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{:?}", output);
        let text = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            text,
            format!("one arg||three|a value|b|unset|{}|", dir.display())
        );

        // `env_clear` leaves only what is set afterwards.
        let output = Command::new("/usr/bin/env")
            .env_clear()
            .env("ONLY", "1")
            .output()
            .await
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), "ONLY=1\n");
    });
}

#[test]
fn output_collects_megabytes_of_stdout_and_stderr_without_deadlock() {
    const OUT: usize = 4 << 20;
    const ERR: usize = 3 << 20;
    let _wd = watchdog("process_output_large", 300);
    let rt = runtime(2);
    rt.block_on(async {
        // Both streams at once, each far beyond a pipe's 64 KiB: reading
        // one to its end before the other would deadlock.
        let script = format!(
            "head -c {ERR} /dev/zero | tr '\\0' e >&2 & head -c {OUT} /dev/zero | tr '\\0' o; wait"
        );
        let output = Command::new("sh")
            .args(["-c", &script])
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{}", output.status);
        assert_eq!(output.stdout.len(), OUT);
        assert_eq!(output.stderr.len(), ERR);
        assert!(output.stdout.iter().all(|&b| b == b'o'), "stdout garbled");
        assert!(output.stderr.iter().all(|&b| b == b'e'), "stderr garbled");

        // The same through a spawned child's `wait_with_output`, stderr
        // first this time.
        let script = format!(
            "head -c {OUT} /dev/zero | tr '\\0' o & head -c {ERR} /dev/zero | tr '\\0' e >&2; wait"
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = child.wait_with_output().await.unwrap();
        assert!(output.status.success());
        assert_eq!((output.stdout.len(), output.stderr.len()), (OUT, ERR));
    });
}

#[test]
fn output_gives_the_child_an_empty_stdin_and_keeps_streams_that_were_set() {
    let _wd = watchdog("process_output_defaults", 120);
    let rt = runtime(2);
    rt.block_on(async {
        // stdin defaults to null for output(): `cat` ends at once.
        let output = Command::new("cat").output().await.unwrap();
        assert!(output.status.success());
        assert!(output.stdout.is_empty());

        // A stream set by the caller is not captured.
        let output = Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .stderr(Stdio::null())
            .output()
            .await
            .unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert!(output.stderr.is_empty());

        // And output()'s defaults do not stick to the builder: a later
        // spawn gets no pipes it did not ask for.
        let mut cmd = Command::new("true");
        cmd.output().await.unwrap();
        let mut child = cmd.spawn().unwrap();
        assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn writing_to_a_child_that_exits_without_reading_gives_broken_pipe() {
    let _wd = watchdog("process_broken_pipe", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "exit 0"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // Keep writing (far more than a pipe holds) until the error.
        let buf = vec![b'x'; 1 << 20];
        let err = loop {
            match stdin.write(&buf).await {
                Ok(n) => assert!(n > 0),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    });
}

#[test]
fn spawning_a_missing_program_is_not_found_and_names_it() {
    let _wd = watchdog("process_not_found", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let err = Command::new("aiolos-no-such-program").spawn().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string().contains("aiolos-no-such-program"),
            "the message names the program: {err}"
        );
        let err = Command::new("aiolos-no-such-program")
            .status()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = Command::new("aiolos-no-such-program")
            .output()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = Command::new("true")
            .current_dir("/aiolos/no/such/dir")
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    });
}

#[test]
fn a_childs_stdout_can_be_the_next_childs_stdin() {
    let _wd = watchdog("process_pipeline", 120);
    let rt = runtime(2);
    rt.block_on(async {
        // echo hello | tr a-z A-Z
        let mut echo = Command::new("echo")
            .arg("hello")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let fd = echo.stdout.take().unwrap().into_owned_fd().unwrap();
        let mut tr = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::from(fd))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(read_stdout(&mut tr).await, b"HELLO\n");
        assert!(echo.wait().await.unwrap().success());
        assert!(tr.wait().await.unwrap().success());
    });
}

#[test]
fn stdin_close_ends_the_childs_input_and_later_writes_fail() {
    let _wd = watchdog("process_stdin_close", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"abc").await.unwrap();
        stdin.close().await.unwrap();
        // cat saw the end of its input while `stdin` is still alive.
        assert_eq!(read_stdout(&mut child).await, b"abc");
        assert!(child.wait().await.unwrap().success());
        let err = stdin.write(b"more").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    });
}

#[test]
fn status_spawns_at_once_and_its_future_is_send_and_static() {
    fn is_send_static<T: Send + 'static>(_: &T) {}
    let _wd = watchdog("process_status_static", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let status = cmd.status();
        is_send_static(&status);
        drop(cmd);
        // Awaited on another task, after the builder is gone.
        let status = aiolos::spawn(status).await.unwrap().unwrap();
        assert_eq!(status.code(), Some(3));
        let output = Command::new("echo").arg("x").output();
        is_send_static(&output);
        let output = aiolos::time::timeout(Duration::from_secs(60), output).await;
        assert_eq!(output.unwrap().unwrap().stdout, b"x\n");
    });
}
