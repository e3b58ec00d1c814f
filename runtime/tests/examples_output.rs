//! The examples in `examples/` run and print what their seeds print.
//!
//! Each test runs an example's binary, `<target>/<profile>/examples/NAME`,
//! found next to this test binary (`<target>/<profile>/deps/examples_output-HASH`).
//! A plain `cargo test` builds the examples first; when the binary is missing
//! or older than this test binary or than the example's source (e.g. under
//! `cargo test --test examples_output`, which builds no examples), the test
//! builds it with `cargo build --example NAME` in the same target directory,
//! profile and features.
//!
//! Every `[[example]]` of `runtime/Cargo.toml` has a test here (one test
//! checks that), and `http_server`'s needs `--features hyper`, like the
//! example itself.
//!
//! The seed ports print a `=== seed #n ===` line before each part; their
//! tests compare each part's lines with what the Python prints. Where the
//! output depends on timing (elapsed times, which of two parallel tasks
//! prints first) they check only what the program guarantees: counts, sets
//! of lines, and the order that awaits impose. No test asserts on how long
//! anything took.
//!
//! `echo_server` and `http_server` run until killed: their tests start them
//! on a free port, wait (by reading their output, with a timeout) until they
//! say they listen, talk to them, and kill them at the end.
//! `cancel_on_ctrl_c` is sent SIGINT the way a terminal's Ctrl-C would,
//! and must then print what the seed prints and exit successfully.

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

/// Whether `bin` is missing, or older than this test binary or than
/// `source`, the example's file.
fn is_stale(bin: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(bin) else {
        return true;
    };
    let this = std::env::current_exe().ok();
    for input in [this.as_deref(), Some(source)].into_iter().flatten() {
        if modified(input).is_some_and(|input| built < input) {
            return true;
        }
    }
    false
}

/// The path of example `name`'s binary, built if missing or stale.
fn example_bin(name: &str) -> PathBuf {
    let dir = profile_dir();
    let bin = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(format!("{name}.rs"));
    if !is_stale(&bin, &source) {
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
    // The features this test was built with (else the build would redo the
    // library without them, and `http_server` needs `hyper`).
    if cfg!(feature = "hyper") {
        cmd.args(["--features", "hyper"]);
    }
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

// ------------------------------------------------------------- helpers ----

/// The parts of a seed port's stdout: each `=== NAME ===` line starts one,
/// `(NAME, the lines after it)`. Lines before the first header are an error.
fn sections(stdout: &str) -> Vec<(String, Vec<String>)> {
    let mut parts: Vec<(String, Vec<String>)> = Vec::new();
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("=== ")
            .and_then(|l| l.strip_suffix(" ==="))
        {
            parts.push((name.to_owned(), Vec::new()));
        } else {
            let (_, lines) = parts
                .last_mut()
                .unwrap_or_else(|| panic!("a line before the first section: {line:?}\n{stdout}"));
            lines.push(line.to_owned());
        }
    }
    parts
}

/// Whether `line` matches `pattern`: `<seconds>` is a number of seconds
/// (a `time.time()` difference), `PREFIX*` is any line starting with
/// `PREFIX`, anything else must be equal.
fn line_matches(pattern: &str, line: &str) -> bool {
    if pattern == "<seconds>" {
        return line.parse::<f64>().is_ok_and(|s| s >= 0.0);
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => line.starts_with(prefix),
        None => line == pattern,
    }
}

/// Asserts that `stdout` has exactly the sections `want`, in order, each
/// with lines matching its patterns one to one (see [`line_matches`]).
fn assert_sections(stdout: &str, want: &[(&str, &[&str])]) {
    let got = sections(stdout);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want_names, "sections of:\n{stdout}");
    for ((name, lines), (_, patterns)) in got.iter().zip(want) {
        let ok = lines.len() == patterns.len()
            && lines.iter().zip(*patterns).all(|(l, p)| line_matches(p, l));
        assert!(
            ok,
            "section {name}: got\n{lines:#?}\nwant\n{patterns:#?}\nfull stdout:\n{stdout}"
        );
    }
}

/// The lines of section `name` of `stdout`.
fn section(stdout: &str, name: &str) -> Vec<String> {
    sections(stdout)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no section {name} in:\n{stdout}"))
        .1
}

/// `lines` sorted, to compare as a multiset.
fn sorted<S: AsRef<str>>(lines: &[S]) -> Vec<&str> {
    let mut v: Vec<&str> = lines.iter().map(AsRef::as_ref).collect();
    v.sort_unstable();
    v
}

/// Where `line` first occurs in `lines`; panics if it does not.
fn position(lines: &[&str], line: &str) -> usize {
    lines
        .iter()
        .position(|l| *l == line)
        .unwrap_or_else(|| panic!("no line {line:?} in {lines:#?}"))
}

/// Checks a part where `n` concurrent `get_html`s each print `start get
/// url`, sleep, and print `end get url`: n of each; the first is a start
/// (nothing ends before something started), the last an end.
fn assert_get_html_lines(lines: &[String], n: usize) {
    let starts = lines.iter().filter(|l| *l == "start get url").count();
    let ends = lines.iter().filter(|l| *l == "end get url").count();
    assert_eq!((starts, ends, lines.len()), (n, n, 2 * n), "{lines:#?}");
    assert_eq!(lines[0], "start get url", "{lines:#?}");
    assert_eq!(lines[2 * n - 1], "end get url", "{lines:#?}");
}

// --------------------------------------------------------- every example ----

/// The examples this file tests; each name has a test below.
const TESTED: &[&str] = &[
    "hello",
    "coroutines",
    "tasks_and_callbacks",
    "future_and_task",
    "sleep_many",
    "gather_and_wait",
    "cancel",
    "cancel_on_ctrl_c",
    "chain",
    "callbacks",
    "run_in_executor",
    "threadsafe",
    "producer_consumer",
    "crawler",
    "get_html",
    "echo_server",
    "echo_client",
    "http_server",
    "tls_echo",
    "debug_mode",
];

#[test]
fn every_example_in_cargo_toml_is_tested_and_in_the_readme() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("reading runtime/Cargo.toml");
    // The `name = "..."` line after each `[[example]]`.
    let examples: Vec<&str> = manifest
        .split("[[example]]")
        .skip(1)
        .filter_map(|block| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = "))
                .map(|n| n.trim_matches('"'))
        })
        .collect();
    assert_eq!(
        sorted(&examples),
        sorted(TESTED),
        "runtime/Cargo.toml vs TESTED"
    );

    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/README.md"),
    )
    .expect("reading examples/README.md");
    for name in examples {
        assert!(
            readme.contains(&format!("[`{name}`]({name}.rs)")),
            "examples/README.md does not link {name}.rs"
        );
    }
}

// ---------------------------------------------------------- seed ports ----

#[test]
fn coroutines_prints_what_each_seed_snippet_prints() {
    let out = run_example("coroutines");
    assert_sections(
        &out.stdout,
        &[
            ("000 #1 + #2", &["Hello, world"]),
            ("003 #1", &[]),
            ("003 #2", &["True", "False", "True"]),
            ("003 #3", &["hello world"]),
            ("002 P2", &["4", "<coroutine object add3 at 0x*", "5"]),
        ],
    );
}

#[test]
fn tasks_and_callbacks_prints_what_each_seed_snippet_prints() {
    let out = run_example("tasks_and_callbacks");
    assert_sections(
        &out.stdout,
        &[
            (
                "000 #3",
                &[
                    "<Task pending coro=<MyCoroutine(2)>>",
                    "Waiting 2",
                    "<Task finished coro=<MyCoroutine(2)> result=()>",
                    "TIME:  *",
                ],
            ),
            (
                "000 #4",
                &[
                    "Waiting:  3",
                    "Callback:  Done after 3s",
                    "Task ret:  Done after 3s",
                    "TIME:  *",
                ],
            ),
            ("001 #3", &["start get url", "紅燒肉"]),
            ("001 #4", &["start get url", "紅燒肉"]),
            (
                "001 #6",
                &[
                    "start get url",
                    "http://www.imooc.com",
                    "send email to 紅燒肉",
                    "紅燒肉",
                ],
            ),
            ("003 #4", &["回调返回值是 13", "返回结果"]),
            (
                "001 #10 + 002 P4",
                &["Waiting 2", "Task ret: Done after 200ms"],
            ),
        ],
    );
    // The TIME lines hold a number of seconds.
    for line in out.stdout.lines().filter(|l| l.starts_with("TIME:  ")) {
        assert!(
            line_matches("<seconds>", &line["TIME:  ".len()..]),
            "{line}"
        );
    }
}

#[test]
fn future_and_task_prints_what_each_book_example_prints() {
    let out = run_example("future_and_task");
    assert_sections(
        &out.stdout,
        &[
            ("002 P6 (3-15)", &["False", "True", "I have finished."]),
            (
                "002 P6 (3-16)",
                &[
                    "False",
                    "No longer allowed: Task does not support set_result operation",
                    "True",
                    "True",
                ],
            ),
            ("002 P6 (3-17) + 001 #5", &[]),
        ],
    );
}

#[test]
fn sleep_many_reports_every_coroutine_once_with_its_sleep() {
    let out = run_example("sleep_many");
    // "协程:17, 执行完毕。用时:300毫秒", one per coroutine.
    let mut ids: Vec<u32> = Vec::new();
    for line in out.stdout.lines() {
        let (id, ms) = line
            .strip_prefix("协程:")
            .and_then(|rest| rest.strip_suffix("毫秒"))
            .and_then(|rest| rest.split_once(", 执行完毕。用时:"))
            .unwrap_or_else(|| panic!("not a coroutine line: {line:?}\n{}", out.stdout));
        let ms: u32 = ms.parse().unwrap_or_else(|_| panic!("{line:?}"));
        assert!(
            ms.is_multiple_of(100) && (100..=500).contains(&ms),
            "randint(1, 5) tenths of a second: {line:?}"
        );
        ids.push(id.parse().unwrap_or_else(|_| panic!("{line:?}")));
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..100).collect::<Vec<u32>>(), "{}", out.stdout);
}

#[test]
fn gather_and_wait_prints_what_each_seed_snippet_prints() {
    let out = run_example("gather_and_wait");
    let s = &out.stdout;
    let names: Vec<String> = sections(s).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "001 #1",
            "001 #2",
            "001 #7",
            "001 #8",
            "001 #9 (a)",
            "001 #9 (b)",
            "003 #5",
            "002 P1 + P3 + P8"
        ],
        "{s}"
    );

    // One get_html, then the time.
    let one = section(s, "001 #1");
    assert_eq!(one[..2], ["start get url", "end get url"], "{s}");
    assert!(one.len() == 3 && line_matches("<seconds>", &one[2]), "{s}");

    // Ten at once (wait, then gather), each followed by the time.
    for name in ["001 #2", "001 #8"] {
        let mut lines = section(s, name);
        let time = lines.pop().expect("a time line");
        assert!(line_matches("<seconds>", &time), "{name}: {time:?}\n{s}");
        assert_get_html_lines(&lines, 10);
    }

    // wait(FIRST_COMPLETED) with one task that never ends, then a timeout.
    assert_eq!(section(s, "001 #7"), ["1 1", "0 1"], "{s}");

    // Two groups of two, gathered flat and nested.
    assert_get_html_lines(&section(s, "001 #9 (a)"), 4);
    assert_get_html_lines(&section(s, "001 #9 (b)"), 4);

    // One worker: the tasks start in the order they were spawned; the
    // results are printed in list order.
    assert_eq!(
        section(s, "003 #5"),
        [
            "等待 1",
            "等待 2",
            "等待 3",
            "任务返回的结果是 Done after 100ms",
            "任务返回的结果是 Done after 200ms",
            "任务返回的结果是 Done after 300ms",
        ],
        "{s}"
    );

    // One after the other, then gathered: both start before either ends,
    // and the results come in argument order.
    let ab = section(s, "002 P1 + P3 + P8");
    assert_eq!(ab.len(), 11, "{s}");
    assert_eq!(ab[..4], ["a start", "a end", "b start", "b end"], "{s}");
    assert!(line_matches("<seconds>", &ab[4]), "{s}");
    assert_eq!(ab[5..7], ["a start", "b start"], "{s}");
    assert_eq!(sorted(&ab[7..9]), ["a end", "b end"], "{s}");
    assert_eq!(ab[9], "['a', 'b']", "{s}");
    assert!(line_matches("<seconds>", &ab[10]), "{s}");
}

#[test]
fn cancel_cancels_a_gathered_group() {
    let out = run_example("cancel");
    assert_sections(
        &out.stdout,
        &[(
            "001 #9 (c)",
            &[
                "start get url",
                "start get url",
                "end get url",
                "end get url",
            ],
        )],
    );
}

#[test]
fn chain_prints_compute_then_the_sum() {
    let out = run_example("chain");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["Compute 1 + 2 ...", "1 + 2 = 3"],
        "{}",
        out.stdout
    );
}

#[test]
fn callbacks_run_call_soon_first_then_by_deadline() {
    let out = run_example("callbacks");
    let by_deadline: &[&str] = &["success time 1", "success time 2", "success time 3"];
    let soon_first: &[&str] = &[
        "success time 4",
        "success time 1",
        "success time 2",
        "success time 3",
    ];
    assert_sections(
        &out.stdout,
        &[
            ("001 #13", &["success time 2"]),
            ("001 #14", by_deadline),
            ("001 #15", soon_first),
            ("001 #16", soon_first),
        ],
    );
}

#[test]
fn run_in_executor_runs_the_three_calls_and_gathers_in_order() {
    let out = run_example("run_in_executor");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    // The three calls run on three threads: any order.
    assert_eq!(
        sorted(&lines[..3]),
        ["正在执行name: A", "正在执行name: B", "正在执行name: C"],
        "{}",
        out.stdout
    );
    assert_eq!(lines[3], "['返回结果:A', '返回结果:B', '返回结果:C']");
    let time = lines[4].strip_prefix("TIME: ").expect("a TIME line");
    assert!(line_matches("<seconds>", time), "{}", out.stdout);
}

#[test]
fn threadsafe_runs_the_callback_the_coroutines_and_the_blocking_call() {
    let out = run_example("threadsafe");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{}", out.stdout);
    assert_eq!(
        sorted(&lines[..6]),
        sorted(&[
            "callback A",
            "正在执行name: B",
            "返回结果:B",
            "正在执行name: C",
            "正在执行name: D",
            "['返回结果:C', '返回结果:D']",
        ]),
        "{}",
        out.stdout
    );
    // The order the main thread imposes by waiting: B is started and
    // finished before C and D are started, and the list comes after both.
    let at = |line| position(&lines, line);
    assert!(at("正在执行name: B") < at("返回结果:B"));
    assert!(at("返回结果:B") < at("正在执行name: C"));
    assert!(at("返回结果:B") < at("正在执行name: D"));
    assert_eq!(at("['返回结果:C', '返回结果:D']"), 5);
    let time = lines[6].strip_prefix("TIME: ").expect("a TIME line last");
    assert!(line_matches("<seconds>", time), "{}", out.stdout);
}

#[test]
fn producer_consumer_consumes_every_item_in_order_after_it_was_produced() {
    let out = run_example("producer_consumer");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let produced: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("producing "))
        .collect();
    let consumed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("consuming "))
        .collect();
    assert_eq!(
        produced,
        [
            "producing 1/5",
            "producing 2/5",
            "producing 3/5",
            "producing 4/5",
            "producing 5/5"
        ],
        "{}",
        out.stdout
    );
    assert_eq!(
        consumed,
        [
            "consuming 1...",
            "consuming 2...",
            "consuming 3...",
            "consuming 4...",
            "consuming 5..."
        ],
        "{}",
        out.stdout
    );
    assert_eq!(lines.len(), 10, "{}", out.stdout);
    for x in 1..=5 {
        assert!(
            position(&lines, &format!("producing {x}/5"))
                < position(&lines, &format!("consuming {x}...")),
            "item {x} consumed before it was produced:\n{}",
            out.stdout
        );
    }
}

#[test]
fn crawler_fetches_every_page_but_the_one_that_times_out() {
    let out = run_example("crawler");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert!(
        lines[0].starts_with("http://127.0.0.1:")
            && lines[0].ends_with("/slow: read timed out (timeout=1s)"),
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "fetched 22 of 23 pages in 3 batches");
}

// ------------------------------------------------------- other examples ----

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

impl Running {
    /// Sends SIGINT, as Ctrl-C at a terminal does.
    fn interrupt(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pids fit pid_t");
        // SAFETY: `kill(2)` only sends a signal; the child has not been
        // reaped (we hold it), so the pid is still ours.
        let r = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(r, 0, "kill failed: {}", std::io::Error::last_os_error());
    }

    /// Reads the rest of stdout until the example closes it, then reaps it:
    /// every line it printed and how it exited. Panics if it is still
    /// running after `timeout`.
    fn finish(&mut self, timeout: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "still running after {timeout:?}; printed:\n{}",
                    self.seen.join("\n")
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = self.child.wait().expect("waiting for the example");
        (status, self.seen.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts server example `name` on a free port and waits until it prints
/// the line `listening(addr)`; returns it and its address. `args(addr,
/// port)` are the command-line arguments that tell it where to listen.
///
/// The port is one the OS picked for a listener we then closed, so another
/// process may take it before the server binds it: then the server exits
/// with an error, and we try again with another port.
fn start_server(
    name: &str,
    args: impl Fn(&str, u16) -> Vec<String>,
    listening: impl Fn(&str) -> String,
) -> (Running, String) {
    const ATTEMPTS: usize = 3;
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding 127.0.0.1:0")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let want = listening(&addr);
        let args = args(&addr, port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Running::start(name, &args);
        match server.wait_for_line_or_exit("saying it listens", EXAMPLE_TIMEOUT, |l| l == want) {
            Ok(_) => return (server, addr),
            Err(exited) => failures.push(format!("on {addr}: {exited}")),
        }
    }
    panic!(
        "{name} did not start in {ATTEMPTS} attempts:\n{}",
        failures.join("\n")
    );
}

/// Starts the `echo_server` example on a free port.
fn start_echo_server() -> (Running, String) {
    start_server(
        "echo_server",
        |addr, _port| vec![addr.to_owned()],
        |addr| format!("echo server listening on {addr}"),
    )
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

/// Starts the `http_server` example on a free port, with a grace period
/// of `grace_secs` for its shutdown.
#[cfg(feature = "hyper")]
fn start_http_server(grace_secs: u32) -> (Running, String) {
    start_server(
        "http_server",
        |_addr, port| vec![port.to_string(), grace_secs.to_string()],
        |addr| format!("listening on http://{addr}"),
    )
}

/// Reads one whole `Hello, world` response from a keep-alive connection.
#[cfg(feature = "hyper")]
fn read_hello_response(stream: &mut std::net::TcpStream) {
    let mut response = Vec::new();
    let mut buf = [0; 1024];
    while !response.ends_with(b"\r\n\r\nHello, world") {
        let n = stream.read(&mut buf).expect("reading the response");
        assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buf[..n]);
    }
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

/// Whether the peer has closed `stream` (EOF or reset); panics if it sends
/// anything or stays open past the read timeout.
#[cfg(feature = "hyper")]
fn assert_closed_by_server(stream: &mut std::net::TcpStream, what: &str) {
    let mut buf = [0; 64];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{what}: got {:?} instead of EOF", &buf[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: {e} instead of EOF"),
    }
}

#[cfg(feature = "hyper")]
#[test]
fn http_server_answers_hello_world() {
    use std::io::Write as _;

    let (server, addr) = start_http_server(5);
    let mut stream = std::net::TcpStream::connect(&addr).expect("connecting to http_server");
    stream
        .set_read_timeout(Some(EXAMPLE_TIMEOUT))
        .expect("setting a read timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nHello, world"), "{response}");
    drop(server);
}

#[test]
fn cancel_on_ctrl_c_cancels_every_task_on_sigint_and_exits_cleanly() {
    let mut example = Running::start("cancel_on_ctrl_c", &[]);
    // The user sees the three coroutines wait, then presses Ctrl-C (the
    // shortest sleep is 2 s: seconds of margin).
    for _ in 0..3 {
        example.wait_for_line("`waiting`", EXAMPLE_TIMEOUT, |l| l == "waiting");
    }
    example.interrupt();
    let (status, lines) = example.finish(EXAMPLE_TIMEOUT);
    assert!(status.success(), "{status}; printed:\n{}", lines.join("\n"));
    assert_eq!(
        lines,
        [
            "waiting",
            "waiting",
            "waiting",
            "cancel task",
            "True",
            "cancel task",
            "True",
            "cancel task",
            "True",
        ],
    );
}

#[test]
fn cancel_on_ctrl_c_without_ctrl_c_lets_every_task_finish() {
    let out = run_example("cancel_on_ctrl_c");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        [
            "waiting",
            "waiting",
            "waiting",
            "done after 2s",
            "done after 3s",
            "done after 3s",
        ],
        "{}",
        out.stdout
    );
}

#[cfg(feature = "hyper")]
#[test]
fn http_server_on_sigterm_closes_idle_connections_and_exits_cleanly() {
    use std::io::Write as _;

    let (mut server, addr) = start_http_server(30);
    let mut keep_alive = std::net::TcpStream::connect(&addr).expect("connecting");
    keep_alive
        .set_read_timeout(Some(EXAMPLE_TIMEOUT))
        .expect("setting a read timeout");
    keep_alive
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("sending the request");
    read_hello_response(&mut keep_alive);

    let pid = libc::pid_t::try_from(server.child.id()).unwrap();
    // SAFETY: `kill(2)` only sends a signal to our unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    server.wait_for_line("about shutting down", EXAMPLE_TIMEOUT, |l| {
        l == "shutting down: 1 open connection(s), 30s to finish"
    });
    // The idle keep-alive connection is closed at once, not after 30 s.
    assert_closed_by_server(&mut keep_alive, "the idle keep-alive connection");
    let (status, lines) = server.finish(EXAMPLE_TIMEOUT);
    assert!(status.success(), "{status}; printed:\n{}", lines.join("\n"));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("every connection finished")
    );
}

#[cfg(feature = "hyper")]
#[test]
fn http_server_on_ctrl_c_stops_accepting_and_cancels_what_outlives_the_grace_period() {
    use std::io::Write as _;

    let (mut server, addr) = start_http_server(1);
    // A client stuck halfway through its request: it never finishes.
    let mut stuck = std::net::TcpStream::connect(&addr).expect("connecting");
    stuck
        .set_read_timeout(Some(EXAMPLE_TIMEOUT))
        .expect("setting a read timeout");
    stuck
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .expect("sending half a request");
    // A served client after it: once it has its answer, the stuck one
    // (accepted first) is open in the server too.
    let mut served = std::net::TcpStream::connect(&addr).expect("connecting");
    served
        .set_read_timeout(Some(EXAMPLE_TIMEOUT))
        .expect("setting a read timeout");
    served
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("sending the request");
    read_hello_response(&mut served);

    server.interrupt();
    server.wait_for_line("about shutting down", EXAMPLE_TIMEOUT, |l| {
        l == "shutting down: 2 open connection(s), 1s to finish"
    });
    // 1. It no longer accepts.
    let refused = std::net::TcpStream::connect(&addr).expect_err("the listener is closed");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // 2. The served client's idle connection closes at once.
    assert_closed_by_server(&mut served, "the idle keep-alive connection");
    // 3. The stuck one is cancelled when the grace period is over.
    server.wait_for_line("about the grace period", EXAMPLE_TIMEOUT, |l| {
        l == "grace period over: cancelled the connections still open"
    });
    assert_closed_by_server(&mut stuck, "the stuck connection");
    let (status, lines) = server.finish(EXAMPLE_TIMEOUT);
    assert!(status.success(), "{status}; printed:\n{}", lines.join("\n"));
}

#[test]
fn tls_echo_echoes_for_the_trusted_client_and_refuses_the_other() {
    let out = run_example("tls_echo");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let want: &[&str] = &[
        "server: generated a self-signed certificate for \"localhost\"",
        "server: listening on 127.0.0.1 (a port the OS picked)",
        "client 1: trusts only the server's certificate",
        // The version and suite the ring provider prefers; only TLS 1.3 is
        // pinned here.
        "client 1: handshake done: TLSv1_3, *",
        "client 1: echoed: hello over TLS",
        "client 1: echoed: aiolos speaks rustls",
        "client 1: echoed: 协程 and certificates",
        "client 1: closed; the server closed too",
        // 15 + 21 + 24 bytes: the three lines and their newlines.
        "server: connection 1: echoed 60 bytes, closed after the client's close_notify",
        "client 2: trusts only an unrelated CA",
        "client 2: refused (InvalidData): invalid peer certificate: UnknownIssuer",
        "server: connection 2: handshake failed: received fatal alert: UnknownCA",
    ];
    let ok = lines.len() == want.len() && lines.iter().zip(want).all(|(l, p)| line_matches(p, l));
    assert!(
        ok,
        "got\n{lines:#?}\nwant\n{want:#?}\n--- stderr\n{}",
        out.stderr
    );
}

#[test]
fn debug_mode_names_the_blocking_task_dumps_the_tasks_and_sums_the_metrics() {
    let out = run_example("debug_mode");
    // The slow-poll warning (the example's logger writes to stderr) names
    // the task that called `std::thread::sleep(150 ms)`, with its spawn
    // location and how long its poll took.
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("name=\"sleepy\""))
        .unwrap_or_else(|| panic!("no warning about sleepy in:\n{}", out.stderr));
    assert!(
        warning.starts_with("WARN aiolos: Executing <Task id=")
            && warning.contains(" spawned at ")
            && warning.contains("debug_mode.rs:"),
        "{warning}"
    );
    let took: f64 = warning
        .rsplit_once(" took ")
        .and_then(|(_, s)| s.strip_suffix(" seconds"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {warning}"));
    // (That the other tasks are not reported is `rt_debug`'s job, with a
    // threshold no trivial poll reaches on a loaded machine.)
    assert!(took >= 0.15, "{warning}");

    let lines: Vec<&str> = out.stdout.lines().collect();
    let start = position(&lines, "--- Handle::dump() ---");
    let end = start + 1 + position(&lines[start + 1..], "---");
    let dump = &lines[start + 1..end];
    assert_eq!(dump[0], "3 tasks", "{}", out.stdout);
    assert!(dump[1].starts_with("id  state"), "{}", out.stdout);
    for name in ["sleepy", "polite", "waiting"] {
        assert!(
            dump.iter()
                .any(|l| l.split_whitespace().any(|w| w == name) && l.contains("debug_mode.rs:")),
            "no dump row for {name}:\n{}",
            out.stdout
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("exception handler: <Task id=")
                && l.contains("name=\"doomed\"")
                && l.ends_with("panicked: page not found")),
        "{}",
        out.stdout
    );
    assert!(lines.contains(&"awaiting doomed gave: task panicked: page not found"));
    let metrics = lines
        .iter()
        .find(|l| l.starts_with("metrics: 2 workers, "))
        .unwrap_or_else(|| panic!("no metrics line in:\n{}", out.stdout));
    assert!(metrics.contains("4 tasks spawned, 0 alive"), "{metrics}");
}
