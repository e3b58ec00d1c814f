//! The examples in `examples/` run and print what their seeds print.
//!
//! Each test runs an example's binary, `<target>/<profile>/examples/NAME`,
//! found next to this test binary (`<target>/<profile>/deps/examples_output-HASH`).
//! A plain `cargo test` builds the examples first; when the binary is missing
//! or older than this test binary (e.g. under `cargo test --test
//! examples_output`, which builds no examples), the test builds it with
//! `cargo build --example NAME` in the same target directory and profile.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    let bin = example_bin(name);
    let mut child = Command::new(&bin)
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
