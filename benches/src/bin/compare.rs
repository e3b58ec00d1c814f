//! `compare`: the same workloads on aiolos, tokio and smol.
//!
//! ```text
//! cargo run --release -p aiolos-benches --bin compare -- [--workers N] [--runs R] [--only a,b]
//!     [--runtimes aiolos,tokio,smol,aiolos-debug|none] [--with NAME=PATH]... [--pool NAME=COL,..]...
//!     [--baseline NAME,..]
//!     [--iters K] [--timeout SECS]
//! ```
//!
//! `aiolos-debug` is aiolos with `Builder::debug(true)` (not run unless
//! named). `--with NAME=PATH` adds a column NAME measured by another build
//! of this binary at PATH (its `aiolos` runtime): aiolos at another commit,
//! say, run interleaved with this one so both see the same machine, for a
//! before/after comparison of a change (`--baseline NAME` divides by its
//! medians instead of tokio's). `--baseline A,B` divides by the mean of
//! several columns: with A and B two copies of one binary, each ratio is
//! less at the mercy of one column's luck, and A against B shows how far
//! the same build wanders (an A/A comparison). `--pool NAME=A,B,C` adds a
//! line NAME whose time in each round is the mean of those columns' (a
//! round where one of them failed is left out); a pool may be the
//! baseline. Pools of builds that differ only in code
//! layout (`benches/layout-ab.sh`) measure a change without the few
//! percent that one particular layout can add or take away.
//!
//! # Protocol
//!
//! The parent never builds a runtime. Each measurement is a fresh child
//! process, the binary re-executed as
//! `compare --child RUNTIME WORKLOAD --workers N [--iters K]`, so no runtime
//! inherits another's threads, allocator state or warmed caches. Children run
//! one at a time, interleaved: round 1 runs every workload on aiolos, tokio,
//! smol; round 2 again, starting with the next runtime (tokio, smol,
//! aiolos); and so on for R rounds, so drift in machine load spreads over
//! all runtimes and none always runs first.
//!
//! A child:
//! 1. builds the runtime with N workers (exit 3 if that fails);
//! 2. runs one warm-up iteration, then `iters` timed ones, checking every
//!    iteration's counts (exit 2 with the reason on stderr at the first wrong
//!    count, before printing any time);
//! 3. prints one line on stdout: the nanoseconds per iteration; then, for a
//!    workload that measures more than time (`timers_sleep`: how late its
//!    sleeps woke), one `NAME=VALUE` line per metric, each the mean over the
//!    timed iterations (e.g. `lateness_mean_ns=612345`; `tcp_echo` reports
//!    `echo_rps`, `echo_rtt_mean_ns` and `echo_rtt_p99_ns`);
//! 4. drops the runtime and exits 0.
//!
//! The parent accepts a time only from a child that printed it AND exited 0.
//! It reads the time from the first line and metrics from later lines of the
//! form `NAME=NUMBER`, ignoring any other line.
//! A child still running after `--timeout` seconds (default 120) is killed and
//! reported as hung: during the workload if it printed nothing, during
//! runtime shutdown if it had printed its time. A runtime with any failed run
//! gets `FAILED: reason` for that workload instead of a time.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aiolos_benches::report::{self, mean_of, Cell, Stats};
use aiolos_benches::rt::{Aiolos, AiolosDebug, Rt, Smol, Tokio};
use aiolos_benches::workloads::{Metrics, Workload};

/// Runtimes run when `--runtimes` is not given, in the order the first
/// round runs them (each later round starts one further along).
const DEFAULT_RUNTIMES: [&str; 3] = [Aiolos::NAME, Tokio::NAME, Smol::NAME];
/// Every runtime this binary can measure itself.
const KNOWN_RUNTIMES: [&str; 4] = [Aiolos::NAME, AiolosDebug::NAME, Tokio::NAME, Smol::NAME];
/// The runtime every median is divided by, unless `--baseline` names another.
const DEFAULT_BASELINE: &str = Tokio::NAME;
/// Child exit code: a workload's check failed.
const EXIT_CHECK_FAILED: u8 = 2;
/// Child exit code: the runtime could not be built.
const EXIT_BUILD_FAILED: u8 = 3;

/// Command-line options.
#[derive(Debug)]
struct Opts {
    /// Worker threads per runtime.
    workers: usize,
    /// Measurements per runtime and workload.
    runs: usize,
    /// Workloads to run.
    workloads: Vec<Workload>,
    /// Columns to measure, in the order the first round runs them.
    runtimes: Vec<Column>,
    /// Pooled rows: a name and the columns whose per-round mean it shows
    /// (see the module docs).
    pools: Vec<(String, Vec<String>)>,
    /// The columns or pools every median is divided by (the mean of theirs,
    /// when there are several: see the module docs).
    baseline: Vec<String>,
    /// Overrides every workload's timed iteration count.
    iters: Option<u32>,
    /// Seconds before a child is declared hung.
    timeout: Duration,
    /// `--child RUNTIME WORKLOAD`: run one measurement.
    child: Option<(String, Workload)>,
}

/// One column of the table: a runtime, measured by a child of some build
/// of this binary.
#[derive(Debug, Clone)]
struct Column {
    /// The column's name in the table.
    name: String,
    /// The binary to run as the child (`None`: this one).
    exe: Option<PathBuf>,
    /// The runtime the child is asked for.
    runtime: &'static str,
}

impl Column {
    /// A runtime this binary measures itself.
    fn own(runtime: &'static str) -> Column {
        Column {
            name: runtime.to_owned(),
            exe: None,
            runtime,
        }
    }
}

const USAGE: &str = "usage: compare [--workers N] [--runs R] [--only WORKLOAD,..] \
[--runtimes aiolos,tokio,smol,aiolos-debug|none] [--with NAME=PATH].. [--pool NAME=COL,..].. \
[--baseline NAME,..] [--iters K] [--timeout SECS]
  --with NAME=PATH   also measure the aiolos of another build of compare (e.g. another commit)
  --pool NAME=COL,.. add a line NAME: in each round, the mean of these columns' times
  --baseline NAME,.. divide medians by this column's (or pool's), or by the mean of these
                     (default tokio, else the first column)
workloads: spawn_local, spawn_remote, yield_many, ping_pong, chained_spawn, spawn_blocking,
           timers_churn, timers_sleep, tcp_echo, mutex_contended, mpsc_fanin, gather_many";

fn parse_args() -> Result<Opts, String> {
    let mut opts = Opts {
        workers: report::nproc(),
        runs: 7,
        workloads: Workload::ALL.to_vec(),
        runtimes: DEFAULT_RUNTIMES.map(Column::own).to_vec(),
        pools: Vec::new(),
        baseline: Vec::new(),
        iters: None,
        timeout: Duration::from_secs(120),
        child: None,
    };
    let mut extra = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{arg} needs {what}"));
        match arg.as_str() {
            "--workers" => opts.workers = number(&value("a number")?)?,
            "--runs" => opts.runs = number(&value("a number")?)?,
            "--iters" => opts.iters = Some(number(&value("a number")?)?),
            "--timeout" => opts.timeout = Duration::from_secs(number(&value("seconds")?)?),
            "--only" => {
                opts.workloads = value("workload names")?
                    .split(',')
                    .map(|n| Workload::from_name(n.trim()).ok_or(format!("unknown workload `{n}`")))
                    .collect::<Result<_, _>>()?;
            }
            "--runtimes" => {
                // `none`: only the `--with` columns.
                opts.runtimes = value("runtime names")?
                    .split(',')
                    .filter(|n| *n != "none")
                    .map(|n| {
                        KNOWN_RUNTIMES
                            .into_iter()
                            .find(|r| *r == n.trim())
                            .map(Column::own)
                            .ok_or(format!("unknown runtime `{n}`"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--with" => {
                let (name, path) = name_eq(&value("NAME=PATH")?, "--with", "PATH")?;
                let path = PathBuf::from(path);
                if !path.is_file() {
                    return Err(format!("--with {name}: no file at {}", path.display()));
                }
                extra.push(Column {
                    name: name.to_owned(),
                    exe: Some(path),
                    runtime: Aiolos::NAME,
                });
            }
            "--pool" => {
                let (name, cols) = name_eq(&value("NAME=COLUMN,..")?, "--pool", "COLUMN,..")?;
                let cols = cols.split(',').map(str::to_owned).collect();
                opts.pools.push((name, cols));
            }
            "--baseline" => {
                opts.baseline = value("column names")?
                    .split(',')
                    .map(str::to_owned)
                    .collect()
            }
            "--child" => {
                let rt = value("a runtime")?;
                let w = value("a workload")?;
                let w = Workload::from_name(&w).ok_or(format!("unknown workload `{w}`"))?;
                opts.child = Some((rt, w));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if opts.workers == 0 || opts.runs == 0 || opts.iters == Some(0) {
        return Err("--workers, --runs and --iters must be at least 1".into());
    }
    opts.runtimes.extend(extra);
    if opts.runtimes.is_empty() {
        return Err("no columns: name a runtime or add one with --with".into());
    }
    for (i, c) in opts.runtimes.iter().enumerate() {
        if opts.runtimes[..i].iter().any(|d| d.name == c.name) {
            return Err(format!("two columns are named `{}`", c.name));
        }
    }
    if opts.baseline.is_empty() {
        let default = opts
            .runtimes
            .iter()
            .find(|c| c.name == DEFAULT_BASELINE)
            .or(opts.runtimes.first());
        opts.baseline = default.map(|c| c.name.clone()).into_iter().collect();
    }
    for (i, (name, cols)) in opts.pools.iter().enumerate() {
        if opts.runtimes.iter().any(|c| &c.name == name)
            || opts.pools[..i].iter().any(|p| &p.0 == name)
        {
            return Err(format!("--pool {name}: the name is taken"));
        }
        for (j, col) in cols.iter().enumerate() {
            if !opts.runtimes.iter().any(|c| &c.name == col) {
                return Err(format!("--pool {name}: `{col}` is not a column"));
            }
            if cols[..j].contains(col) {
                return Err(format!("--pool {name}: `{col}` is named twice"));
            }
        }
    }
    for (i, b) in opts.baseline.iter().enumerate() {
        if !opts.runtimes.iter().any(|c| &c.name == b) && !opts.pools.iter().any(|p| &p.0 == b) {
            return Err(format!("--baseline `{b}` is not a column or pool"));
        }
        if opts.baseline[..i].contains(b) {
            return Err(format!("--baseline names `{b}` twice"));
        }
    }
    Ok(opts)
}

/// `NAME=VALUE`, both non-empty, for option `opt`.
fn name_eq(spec: &str, opt: &str, value: &str) -> Result<(String, String), String> {
    spec.split_once('=')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or(format!("{opt} takes NAME={value}, not `{spec}`"))
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("compare: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 64 });
        }
    };
    match &opts.child {
        Some((rt, w)) => {
            let iters = opts.iters.unwrap_or(w.iters());
            match rt.as_str() {
                "aiolos" => child::<Aiolos>(*w, opts.workers, iters),
                "aiolos-debug" => child::<AiolosDebug>(*w, opts.workers, iters),
                "tokio" => child::<Tokio>(*w, opts.workers, iters),
                "smol" => child::<Smol>(*w, opts.workers, iters),
                other => {
                    eprintln!("compare: unknown runtime `{other}`");
                    ExitCode::from(64)
                }
            }
        }
        None => parent(&opts),
    }
}

// ---------------------------------------------------------------- child ----

/// One measurement in this process; see the protocol in the module docs.
fn child<R: Rt>(w: Workload, workers: usize, iters: u32) -> ExitCode {
    let rt = match R::build(workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_BUILD_FAILED);
        }
    };
    // Warm up: thread start-up, first allocations, blocking-pool growth.
    if let Err(f) = w.run(&rt) {
        eprintln!("warm-up iteration: {f}");
        return ExitCode::from(EXIT_CHECK_FAILED);
    }
    // Sums of each metric over the timed iterations, in first-seen order.
    let mut sums: Vec<(&'static str, f64)> = Vec::new();
    let start = Instant::now();
    for i in 0..iters {
        match w.run(&rt) {
            Ok(m) => add_metrics(&mut sums, &m),
            Err(f) => {
                eprintln!("iteration {}/{iters}: {f}", i + 1);
                return ExitCode::from(EXIT_CHECK_FAILED);
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iters);
    println!("{ns:.0}");
    for (name, sum) in sums {
        println!("{name}={:.0}", sum / f64::from(iters));
    }
    // Shutdown is part of what must work: a hang here is caught by the parent.
    drop(rt);
    ExitCode::SUCCESS
}

/// Adds one iteration's metrics to the running sums.
fn add_metrics(sums: &mut Vec<(&'static str, f64)>, m: &Metrics) {
    for (name, v) in m.iter() {
        match sums.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 += v,
            None => sums.push((name, v)),
        }
    }
}

// --------------------------------------------------------------- parent ----

/// What one child produced.
#[derive(Debug)]
enum Outcome {
    /// A checked time in ns per iteration, and the child's other metrics.
    Time(f64, Vec<(String, f64)>),
    /// No valid time, and why.
    Failed(String),
}

fn parent(opts: &Opts) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("compare: cannot find my own executable to re-run: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", header(opts));

    // results[w][r] = outcomes over runs.
    let mut results: Vec<Vec<Vec<Outcome>>> = opts
        .workloads
        .iter()
        .map(|_| opts.runtimes.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 1..=opts.runs {
        for (wi, w) in opts.workloads.iter().enumerate() {
            // Each round starts with the next column (round 1 with the
            // first): a column always run first would carry whatever that
            // position costs into every paired ratio. (Which column runs
            // just before another stays the same; with two columns, as in
            // a with/without comparison, that is the same thing.)
            let n = opts.runtimes.len();
            for ri in (0..n).map(|k| (k + round - 1) % n) {
                let rt = &opts.runtimes[ri];
                let out = run_child(rt.exe.as_ref().unwrap_or(&exe), rt.runtime, *w, opts);
                let rt = &rt.name;
                match &out {
                    Outcome::Time(ns, metrics) => eprintln!(
                        "[round {round}/{}] {w:<15} {rt:<7} {}{}",
                        opts.runs,
                        report::fmt_ns(*ns),
                        report::fmt_metrics_inline(metrics)
                    ),
                    Outcome::Failed(why) => eprintln!(
                        "[round {round}/{}] {w:<15} {rt:<7} FAILED: {why}",
                        opts.runs
                    ),
                }
                results[wi][ri].push(out);
            }
        }
    }

    let mut any_failed = false;
    // The table's lines: the columns, then the pools.
    let names: Vec<&str> = opts
        .runtimes
        .iter()
        .map(|c| c.name.as_str())
        .chain(opts.pools.iter().map(|p| p.0.as_str()))
        .collect();
    let index_of = |name: &str| names.iter().position(|n| *n == name);
    let base_indexes: Vec<usize> = opts.baseline.iter().filter_map(|b| index_of(b)).collect();
    let pool_indexes: Vec<Vec<usize>> = opts
        .pools
        .iter()
        .map(|(_, cols)| cols.iter().filter_map(|c| index_of(c)).collect())
        .collect();
    let rows: Vec<(String, Vec<report::Row>)> = opts
        .workloads
        .iter()
        .zip(&results)
        .map(|(w, per_col)| {
            // Each line's cell and its time in each round (`None`: none
            // that round). A column's cell fails with any failed run; a
            // pool's leaves out the rounds where a member failed (the
            // member's own line shows the failure), so one failure does
            // not hide the pool's result.
            let mut lines: Vec<(Cell, Vec<Option<f64>>)> = per_col
                .iter()
                .map(|outs| (summarize(outs), times(outs)))
                .collect();
            for members in &pool_indexes {
                let pooled: Vec<Option<f64>> = (0..opts.runs)
                    .map(|r| mean_of(members.iter().map(|&i| lines[i].1[r])))
                    .collect();
                let measured: Vec<f64> = pooled.iter().flatten().copied().collect();
                let cell = match Stats::of(&measured) {
                    Some(s) => Cell::Measured(s),
                    None => Cell::Failed("no round in which every member produced a time".into()),
                };
                lines.push((cell, pooled));
            }
            // Per round, the mean of the baseline lines' times (none if
            // one of them has none that round).
            let base_times = (!base_indexes.is_empty()).then(|| {
                (0..opts.runs)
                    .map(|r| mean_of(base_indexes.iter().map(|&i| lines[i].1[r])))
                    .collect::<Vec<_>>()
            });
            let cells = names
                .iter()
                .zip(lines)
                .map(|(name, (cell, ts))| {
                    any_failed |= matches!(cell, Cell::Failed(_));
                    let paired = base_times
                        .as_ref()
                        .and_then(|b| report::paired_ratio(&ts, b));
                    (name.to_string(), cell, paired)
                })
                .collect();
            (w.name().to_string(), cells)
        })
        .collect();
    println!();
    print!("{}", report::table(&rows, &opts.baseline));
    let extra = extra_metrics(opts, &results);
    if !extra.is_empty() {
        println!();
        print!("{extra}");
    }
    println!();
    println!("time per iteration (one iteration = one whole workload); median/min/max over runs;");
    let base = opts.baseline.join("+");
    println!("/{base} = median divided by {base}'s median (lower is faster); paired = median over");
    println!(
        "rounds of the time divided by {base}'s in the same round (steadier on a noisy machine)."
    );
    if opts.baseline.len() > 1 {
        println!("  {base}: the mean of those columns' medians, and of their times in each round");
    }
    for (name, cols) in &opts.pools {
        println!(
            "  {name}: in each round, the mean of {}'s times",
            cols.join(", ")
        );
    }
    for c in &opts.runtimes {
        if let Some(exe) = &c.exe {
            println!("  {}: the aiolos of {}", c.name, exe.display());
        }
    }
    for w in &opts.workloads {
        let iters = opts.iters.unwrap_or(w.iters());
        println!(
            "  {:<15} {} ({iters} timed iterations)",
            w.name(),
            w.about()
        );
    }
    if any_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The one-line header: settings, date, machine, aiolos's task header size.
fn header(opts: &Opts) -> String {
    format!(
        "compare: workers={} runs={} date={} | machine: nproc={}, {} | aiolos task header: {} bytes",
        opts.workers,
        opts.runs,
        report::utc_now(),
        report::nproc(),
        report::cpu_model(),
        aiolos::task::HEADER_SIZE,
    )
}

/// The lines under the table for workloads whose children reported
/// metrics: per workload and runtime, the median over successful runs of
/// each metric (each run's value being the mean over its timed iterations).
fn extra_metrics(opts: &Opts, results: &[Vec<Vec<Outcome>>]) -> String {
    let mut out = String::new();
    for (w, per_rt) in opts.workloads.iter().zip(results) {
        let per_runtime: Vec<(String, Vec<(String, Stats)>)> = opts
            .runtimes
            .iter()
            .zip(per_rt)
            .map(|(rt, outs)| {
                let runs: Vec<&[(String, f64)]> = outs
                    .iter()
                    .filter_map(|o| match o {
                        Outcome::Time(_, m) => Some(m.as_slice()),
                        Outcome::Failed(_) => None,
                    })
                    .collect();
                (rt.name.clone(), report::metric_stats(&runs))
            })
            .collect();
        out.push_str(&report::metrics_lines(w.name(), &per_runtime));
    }
    out
}

/// Each run's time, `None` for a failed one.
fn times(outs: &[Outcome]) -> Vec<Option<f64>> {
    outs.iter()
        .map(|o| match o {
            Outcome::Time(t, _) => Some(*t),
            Outcome::Failed(_) => None,
        })
        .collect()
}

/// A time for the table only if every run produced one.
fn summarize(outs: &[Outcome]) -> Cell {
    let times: Vec<f64> = outs
        .iter()
        .filter_map(|o| match o {
            Outcome::Time(t, _) => Some(*t),
            Outcome::Failed(_) => None,
        })
        .collect();
    let first_failure = outs.iter().find_map(|o| match o {
        Outcome::Failed(why) => Some(why.as_str()),
        Outcome::Time(..) => None,
    });
    match (first_failure, Stats::of(&times)) {
        (None, Some(s)) => Cell::Measured(s),
        (Some(why), _) => Cell::Failed(format!(
            "{}/{} runs failed; first: {why}",
            outs.len() - times.len(),
            outs.len()
        )),
        (None, None) => Cell::Failed("no runs".into()),
    }
}

/// Runs one child to completion or timeout and interprets what it left.
fn run_child(exe: &std::path::Path, rt: &str, w: Workload, opts: &Opts) -> Outcome {
    let mut cmd = Command::new(exe);
    cmd.args(["--child", rt, w.name(), "--workers"])
        .arg(opts.workers.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = opts.iters {
        cmd.arg("--iters").arg(k.to_string());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot start child: {e}")),
    };
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out_t = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err_t = drain(child.stderr.take().map(|p| Box::new(p) as _));

    let deadline = Instant::now() + opts.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Outcome::Failed(format!("waiting for child: {e}")),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let time: Option<f64> = stdout.lines().next().and_then(|l| l.trim().parse().ok());
    let metrics = report::parse_metrics(stdout.lines().skip(1));
    let why = tail(&stderr);

    match (status, time) {
        (Some(st), Some(ns)) if st.success() => Outcome::Time(ns, metrics),
        (Some(st), Some(ns)) => Outcome::Failed(format!(
            "measured {} but then exited with {st} (shutdown failed){why}",
            report::fmt_ns(ns)
        )),
        (Some(st), None) => {
            let kind = match st.code().map(|c| c as u8) {
                Some(EXIT_CHECK_FAILED) => "check failed",
                Some(EXIT_BUILD_FAILED) => "runtime build failed",
                Some(101) => "panicked",
                _ => "crashed",
            };
            Outcome::Failed(format!("{kind} ({st}){why}"))
        }
        (None, Some(ns)) => Outcome::Failed(format!(
            "measured {} but HUNG in runtime shutdown (killed after {}s){why}",
            report::fmt_ns(ns),
            opts.timeout.as_secs()
        )),
        (None, None) => Outcome::Failed(format!(
            "HUNG: no result after {}s, killed{why}",
            opts.timeout.as_secs()
        )),
    }
}

/// The last few stderr lines, joined, as `: ...` (or nothing).
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    if lines.is_empty() {
        String::new()
    } else {
        format!(": {}", lines[start..].join(" | "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_has_no_time() {
        let outs = [Outcome::Time(5.0, Vec::new()), Outcome::Failed("x".into())];
        assert_eq!(times(&outs), vec![Some(5.0), None]);
    }
}
