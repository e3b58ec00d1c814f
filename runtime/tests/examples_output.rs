//! The examples in `examples/` run and print what their seeds print.
//!
//! Each test runs an example's binary, `<target>/<profile>/examples/NAME`,
//! found next to this test binary (`<target>/<profile>/deps/examples_output-HASH`).
//! A plain `cargo test` builds the examples first; when the binary is missing
//! or older than this test binary (e.g. under `cargo test --test
//! examples_output`, which builds no examples), the test builds it with
//! `cargo build --example NAME` in the same target directory and profile.
//!
//! `echo_server` runs until killed: its test starts it on a free port, waits
//! (by reading its output, with a timeout) until it says it listens, runs
//! `echo_client` against it, and kills it at the end.

use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long an example may run before it is declared hung.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(60);

/// `<target>/<profile>`, the directory holding `deps/` and `examples/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let deps = exe.parent().expect("the test binary is in deps/");
    deps.parent()
        .expect("deps/ is inside the profile directory")
        .to_path_buf()
}

fn is_stale(bin: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let this = std::env::current_exe().ok();
    match (modified(bin), this.as_deref().and_then(modified)) {
        (None, _) => true,
        (Some(bin), Some(test)) => bin < test,
        (Some(_), None) => false,
    }
}

/// The path of example `name`'s binary, built if missing or stale.
fn example_bin(name: &str) -> PathBuf {
    let dir = profile_dir();
    let bin = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !is_stale(&bin) {
        return bin;
    }
    let profile = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("the profile directory has a name")
        .to_owned();
    let target_dir = dir
        .parent()
        .expect("the profile directory is in a target directory");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "aiolos", "--example", name])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run `cargo build --example {name}`: {e}"));
    assert!(
        status.success(),
        "`cargo build --example {name}` failed: {status}"
    );
    assert!(
        bin.exists(),
        "`cargo build --example {name}` succeeded but {} does not exist",
        bin.display()
    );
    bin
}

/// What an example printed.
struct Output {
    stdout: String,
    stderr: String,
}

/// Runs example `name` to completion; panics if it fails or hangs.
fn run_example(name: &str) -> Output {
    run_example_with_args(name, &[])
}

/// Runs example `name` with command-line `args` to completion; panics if it
/// fails or hangs.
fn run_example_with_args(name: &str, args: &[&str]) -> Output {
    let bin = example_bin(name);
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    // Drain the pipes on threads so a chatty example cannot block on a full pipe.
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out_t = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err_t = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + EXAMPLE_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for the example") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("example {name} still running after {EXAMPLE_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output {
        stdout: out_t.join().expect("stdout reader"),
        stderr: err_t.join().expect("stderr reader"),
    };
    assert!(
        status.success(),
        "example {name} exited with {status}\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout,
        out.stderr
    );
    out
}

#[test]
fn callbacks_prints_call_soon_first_then_by_deadline_twice() {
    let out = run_example("callbacks");
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("success time"))
        .collect();
    let once = [
        "success time 4",
        "success time 1",
        "success time 2",
        "success time 3",
    ];
    let want: Vec<&str> = once.iter().chain(&once).copied().collect();
    assert_eq!(lines, want, "full stdout:\n{}", out.stdout);
    // The call_later part comes before the call_at part.
    let headers: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("call_"))
        .collect();
    assert_eq!(headers, ["call_later:", "call_at:"]);
}

#[test]
fn sleep_many_finishes_every_coroutine_in_about_the_longest_sleep() {
    let out = run_example("sleep_many");
    // One line per coroutine, each id once.
    let mut ids: Vec<u32> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("协程:"))
        .map(|rest| {
            rest.split(',')
                .next()
                .and_then(|id| id.trim().parse().ok())
                .unwrap_or_else(|| panic!("unparsable coroutine line: {rest}"))
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..100).collect::<Vec<u32>>(),
        "stdout:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gathered 100 results"),
        "stdout:\n{}",
        out.stdout
    );

    // "TIME: 0.503 s for 29.912 s of sleeping (longest 0.501 s): ..."
    let time_line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("TIME: "))
        .unwrap_or_else(|| panic!("no TIME line in:\n{}", out.stdout));
    let numbers: Vec<f64> = time_line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    let [total, sum, longest] = numbers[..] else {
        panic!("TIME line does not hold three numbers: {time_line}");
    };
    // 100 sleeps of 0.1..=0.5 s: their sum is tens of seconds.
    assert!(sum >= 10.0, "sum of sleeps {sum} s: {time_line}");
    assert!(longest >= 0.5, "no sleep ends early: {time_line}");
    // They overlapped: the run took about the longest, far below the sum.
    assert!(total >= longest, "{time_line}");
    assert!(total < sum / 5.0, "the sleeps did not overlap: {time_line}");
}

#[test]
fn hello_runs_and_exits_zero() {
    let out = run_example("hello");
    for name in ["fetch", "parse", "store", "block", "spin", "total"] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(name)),
            "no `{name}` line in:\n{}\n--- stderr\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn get_html_fetches_all_ten_pages_with_status_200() {
    let out = run_example("get_html");
    let ctx = || format!("stdout:\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    let count = |prefix: &str| out.stdout.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("start get http://127.0.0.1:"), 10, "{}", ctx());
    assert_eq!(count("end get http://127.0.0.1:"), 10, "{}", ctx());

    // "GOT http://127.0.0.1:PORT/page/3: 200 OK, 141 bytes, title "aiolos page /page/3", in 201.2ms"
    let mut pages: Vec<u32> = Vec::new();
    for line in out.stdout.lines().filter(|l| l.starts_with("GOT ")) {
        let (url, rest) = line[4..]
            .split_once(": ")
            .unwrap_or_else(|| panic!("unparsable GOT line {line:?}\n{}", ctx()));
        let page: u32 = url
            .rsplit_once("/page/")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or_else(|| panic!("no page number in {line:?}"));
        assert!(rest.starts_with("200 OK, "), "not a 200: {line:?}");
        assert!(
            rest.contains(&format!("title \"aiolos page /page/{page}\"")),
            "wrong or missing title: {line:?}"
        );
        let bytes: usize = rest["200 OK, ".len()..]
            .split_once(" bytes")
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in {line:?}"));
        assert!(bytes > 0, "empty body: {line:?}");
        pages.push(page);
    }
    pages.sort_unstable();
    assert_eq!(pages, (0..10).collect::<Vec<u32>>(), "{}", ctx());
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("TIME: ") && l.ends_with("10 of 10 returned 200")),
        "{}",
        ctx()
    );
}

/// A running example, killed (and reaped) when dropped, so a failing
/// assertion does not leave it behind.
struct Running {
    /// The example's process.
    child: Child,
    /// Its stdout, one line per message, sent by a reader thread.
    lines: mpsc::Receiver<String>,
    /// Every line received so far, for failure messages.
    seen: Vec<String>,
}

impl Running {
    /// Starts example `name` with `args`, its stdout read line by line.
    fn start(name: &str, args: &[&str]) -> Running {
        let bin = example_bin(name);
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until the example prints a line for which `pred` holds and
    /// returns it; panics if it exits first or `timeout` passes.
    fn wait_for_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        self.wait_for_line_or_exit(what, timeout, pred)
            .unwrap_or_else(|exited| panic!("{exited}"))
    }

    /// Like [`wait_for_line`](Self::wait_for_line), but an example that
    /// exits first is an `Err` saying how, not a panic.
    fn wait_for_line_or_exit(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Ok(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line {what} after {timeout:?}; printed:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().expect("waiting for the example");
                    return Err(format!(
                        "the example exited ({status}) before printing a line {what}; printed:\n{}",
                        self.seen.join("\n")
                    ));
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `echo_server` example on a free port and waits until it says
/// it listens; returns it and its address.
///
/// The port is one the OS picked for a listener we then closed, so another
/// process may take it before the server binds it: then the server exits
/// with an error, and we try again with another port.
fn start_echo_server() -> (Running, String) {
    const ATTEMPTS: usize = 3;
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding 127.0.0.1:0")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut server = Running::start("echo_server", &[&addr]);
        match server.wait_for_line_or_exit("saying it listens", EXAMPLE_TIMEOUT, |l| {
            l.starts_with("echo server listening on ")
        }) {
            Ok(line) => {
                assert_eq!(line, format!("echo server listening on {addr}"));
                return (server, addr);
            }
            Err(exited) => failures.push(format!("on {addr}: {exited}")),
        }
    }
    panic!(
        "echo_server did not start in {ATTEMPTS} attempts:\n{}",
        failures.join("\n")
    );
}

#[test]
fn echo_client_gets_every_line_back_from_echo_server() {
    // Build the client before starting the server, so the server's timeouts
    // do not include a build.
    example_bin("echo_client");
    let (mut server, addr) = start_echo_server();

    let out = run_example_with_args("echo_client", &[&addr]);
    let echoed: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("echoed: "))
        .collect();
    assert_eq!(
        echoed,
        [
            "hello, echo server",
            "aiolos speaks TCP",
            "协程 and sockets",
            "a line with trailing spaces   ",
            "bye",
        ],
        "stdout:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l == format!("OK: 5 lines echoed back by {addr}")),
        "stdout:\n{}",
        out.stdout
    );

    // The server saw the connection open, then close after echoing every
    // byte of the five lines (and their newlines).
    server.wait_for_line("about an opened connection", EXAMPLE_TIMEOUT, |l| {
        l.starts_with("connection from 127.0.0.1:") && l.ends_with(" opened")
    });
    let closed = server.wait_for_line("about a closed connection", EXAMPLE_TIMEOUT, |l| {
        l.starts_with("connection from 127.0.0.1:") && l.contains(" closed")
    });
    let sent: usize = echoed.iter().map(|l| l.len() + 1).sum();
    assert!(
        closed.ends_with(&format!(" closed ({sent} bytes echoed)")),
        "{closed}"
    );
    drop(server);
}
