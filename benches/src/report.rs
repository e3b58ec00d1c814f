//! What `compare` prints: machine facts, the date, per-runtime statistics and
//! the results table. No timing or process handling here.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Logical CPUs this process may run on (what `nproc` prints).
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU model from `/proc/cpuinfo`, or `"unknown CPU"`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Median, minimum and maximum of a set of measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The smallest measurement.
    pub min: f64,
    /// The largest measurement.
    pub max: f64,
}

impl Stats {
    /// Statistics of `xs`, or `None` when it is empty.
    pub fn of(xs: &[f64]) -> Option<Stats> {
        if xs.is_empty() {
            return None;
        }
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// A duration in nanoseconds with a unit that keeps 3–4 significant digits.
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// A rate per second with a unit that keeps 3–4 significant digits.
pub fn fmt_rate(per_s: f64) -> String {
    if per_s < 1e3 {
        format!("{per_s:.1} /s")
    } else if per_s < 1e6 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{:.2} M/s", per_s / 1e6)
    }
}

/// One runtime's line in one workload's block.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Every run passed its check.
    Measured(Stats),
    /// At least one run did not produce a valid time.
    Failed(String),
}

/// The median over rounds of `xs[i] / base[i]`, taking only rounds where
/// both produced a time (`None` when no round did): each round runs every
/// runtime back to back, so this ratio cancels drift in machine speed that
/// the ratio of the two medians does not.
pub fn paired_ratio(xs: &[Option<f64>], base: &[Option<f64>]) -> Option<f64> {
    let ratios: Vec<f64> = xs
        .iter()
        .zip(base)
        .filter_map(|(x, b)| Some(x.as_ref()? / b.as_ref()?))
        .collect();
    Stats::of(&ratios).map(|s| s.median)
}

/// The mean of some numbers, if every one is there (and there is one).
pub fn mean_of(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let xs: Vec<f64> = xs.collect::<Option<_>>()?;
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// One runtime's line of one workload: its name, its times, and its
/// [`paired_ratio`] against the baseline.
pub type Row = (String, Cell, Option<f64>);

/// Renders the results table: one block per workload, one line per runtime,
/// with each median divided by the `baseline` runtimes' median (the mean of
/// their medians, when several), and the median of the per-round ratios
/// ([`paired_ratio`]).
pub fn table(rows: &[(String, Vec<Row>)], baseline: &[String]) -> String {
    let mut out = String::new();
    // The runtime column fits the longest name (`aiolos-debug`, `--with`
    // columns), at least 8 wide.
    let rw = rows
        .iter()
        .flat_map(|(_, cells)| cells.iter().map(|(rt, ..)| rt.chars().count()))
        .fold(8, usize::max);
    let _ = writeln!(
        out,
        "{:<15} {:<rw$} {:>11} {:>11} {:>11} {:>9} {:>9}",
        "workload",
        "runtime",
        "median",
        "min",
        "max",
        format!("/{}", baseline.join("+")),
        "paired"
    );
    let _ = writeln!(out, "{}", "-".repeat(15 + 1 + rw + 3 * 12 + 20));
    for (workload, cells) in rows {
        let base = mean_of(baseline.iter().map(|b| {
            cells.iter().find_map(|(rt, c, _)| match c {
                Cell::Measured(s) if rt == b => Some(s.median),
                _ => None,
            })
        }));
        for (i, (rt, cell, paired)) in cells.iter().enumerate() {
            let name = if i == 0 { workload.as_str() } else { "" };
            match cell {
                Cell::Measured(s) => {
                    let ratio =
                        base.map_or_else(|| "n/a".to_string(), |b| format!("{:.3}x", s.median / b));
                    let paired = paired.map_or_else(|| "n/a".to_string(), |p| format!("{p:.3}x"));
                    let _ = writeln!(
                        out,
                        "{:<15} {:<rw$} {:>11} {:>11} {:>11} {:>9} {:>9}",
                        name,
                        rt,
                        fmt_ns(s.median),
                        fmt_ns(s.min),
                        fmt_ns(s.max),
                        ratio,
                        paired
                    );
                }
                Cell::Failed(why) => {
                    let _ = writeln!(out, "{name:<15} {rt:<rw$} FAILED: {why}");
                }
            }
        }
    }
    out
}

/// Metrics a child printed after its time: every line `NAME=NUMBER`; other
/// lines are ignored.
pub fn parse_metrics<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, f64)> {
    lines
        .filter_map(|l| {
            let (name, v) = l.trim().split_once('=')?;
            let v: f64 = v.trim().parse().ok()?;
            let name = name.trim();
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (valid && v.is_finite()).then(|| (name.to_string(), v))
        })
        .collect()
}

/// A metric's value with its unit, from the unit suffix of its name
/// (`_ns` is shown with [`fmt_ns`], `_rps` as a rate per second).
pub fn fmt_metric(name: &str, v: f64) -> String {
    if name.ends_with("_ns") {
        fmt_ns(v)
    } else if name.ends_with("_rps") {
        fmt_rate(v)
    } else {
        format!("{v:.3}")
    }
}

/// `" (lateness_mean_ns 612.35 µs, ..)"` for a progress line, or nothing.
pub fn fmt_metrics_inline(metrics: &[(String, f64)]) -> String {
    if metrics.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = metrics
        .iter()
        .map(|(n, v)| format!("{n} {}", fmt_metric(n, *v)))
        .collect();
    format!(" ({})", parts.join(", "))
}

/// Per metric name (in first-seen order), statistics over the runs that
/// reported it.
pub fn metric_stats(runs: &[&[(String, f64)]]) -> Vec<(String, Stats)> {
    let mut names: Vec<&str> = Vec::new();
    for (n, _) in runs.iter().flat_map(|r| r.iter()) {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let xs: Vec<f64> = runs
                .iter()
                .flat_map(|r| r.iter())
                .filter(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .collect();
            Stats::of(&xs).map(|s| (name.to_string(), s))
        })
        .collect()
}

/// Splits `GROUP_STAT_UNIT` (e.g. `lateness_mean_ns`) into the group
/// (`lateness`) and the statistic (`mean`); a name without `_` is its own
/// group.
fn split_metric(name: &str) -> (&str, &str) {
    let base = name.strip_suffix("_ns").unwrap_or(name);
    base.split_once('_').unwrap_or((base, ""))
}

/// The lines under the table for one workload's metrics: per group
/// (`lateness`), a heading, then one line per runtime with each statistic's
/// median over runs. Empty when no runtime reported a metric.
pub fn metrics_lines(workload: &str, per_runtime: &[(String, Vec<(String, Stats)>)]) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for (name, _) in per_runtime.iter().flat_map(|(_, ms)| ms) {
        let g = split_metric(name).0;
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let rw = per_runtime
        .iter()
        .map(|(rt, _)| rt.chars().count())
        .fold(8, usize::max);
    let mut out = String::new();
    for group in groups {
        let _ = writeln!(
            out,
            "{workload} {group} (median over runs of each run's mean over its iterations):"
        );
        for (rt, metrics) in per_runtime {
            let parts: Vec<String> = metrics
                .iter()
                .filter(|(n, _)| split_metric(n).0 == group)
                .map(|(n, s)| {
                    let stat = split_metric(n).1;
                    format!("{stat} {:>10}", fmt_metric(n, s.median))
                })
                .collect();
            let line = if parts.is_empty() {
                "no data (failed runs)".to_string()
            } else {
                parts.join("   ")
            };
            let _ = writeln!(out, "{:<15} {rt:<rw$} {line}", "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_needs_every_member() {
        assert_eq!(mean_of([Some(1.0), Some(3.0)].into_iter()), Some(2.0));
        assert_eq!(mean_of([Some(1.0), None].into_iter()), None);
        assert_eq!(mean_of(std::iter::empty()), None);
    }

    #[test]
    fn table_divides_by_the_mean_of_several_baselines() {
        let m = |median| Cell::Measured(Stats::of(&[median]).unwrap());
        let rows = vec![(
            "yield_many".to_string(),
            vec![
                ("aiolos".to_string(), m(22.0), Some(1.05)),
                ("without".to_string(), m(10.0), Some(1.0)),
                ("without2".to_string(), m(30.0), Some(0.95)),
            ],
        )];
        let base = ["without".to_string(), "without2".to_string()];
        let out = table(&rows, &base);
        assert!(out.contains("/without+without2"), "{out}");
        // 22 over the mean of 10 and 30.
        let aiolos = out.lines().find(|l| l.contains("aiolos")).unwrap();
        assert!(
            aiolos.contains("1.100x") && aiolos.contains("1.050x"),
            "{out}"
        );
        // One baseline column alone divides by its own median.
        let out = table(&rows, &base[..1]);
        let aiolos = out.lines().find(|l| l.contains("aiolos")).unwrap();
        assert!(aiolos.contains("2.200x"), "{out}");
    }

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }

    #[test]
    fn paired_ratio_is_the_median_of_per_round_ratios_over_rounds_both_measured() {
        // Round 2 ran slow for both: the per-round ratios stay 1.1.
        let x = [Some(11.0), Some(22.0), None, Some(11.0)];
        let b = [Some(10.0), Some(20.0), Some(10.0), Some(10.0)];
        let p = paired_ratio(&x, &b).unwrap();
        assert!((p - 1.1).abs() < 1e-9, "{p}");
        assert_eq!(paired_ratio(&[None], &[Some(1.0)]), None);
    }

    #[test]
    fn stats_median_of_even_and_odd_counts() {
        let s = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn metrics_parse_skips_junk_and_render_grouped() {
        let out = "12345\nlateness_mean_ns=600000\nnoise\nx=nan\nlateness_p99_ns=1200000\n";
        let m = parse_metrics(out.lines().skip(1));
        assert_eq!(
            m,
            vec![
                ("lateness_mean_ns".to_string(), 600_000.0),
                ("lateness_p99_ns".to_string(), 1_200_000.0)
            ]
        );
        let runs: Vec<&[(String, f64)]> = vec![&m, &m[..1]];
        let stats = metric_stats(&runs);
        assert_eq!(stats.len(), 2);
        assert_eq!(stats[0].1.median, 600_000.0);
        let text = metrics_lines(
            "timers_sleep",
            &[("aiolos".into(), stats), ("smol".into(), Vec::new())],
        );
        assert!(text.starts_with("timers_sleep lateness"), "{text}");
        assert!(
            text.contains("aiolos   mean  600.00 µs   p99    1.20 ms"),
            "{text}"
        );
        assert!(text.contains("smol     no data"), "{text}");
        assert_eq!(
            metrics_lines("spawn_local", &[("aiolos".into(), Vec::new())]),
            ""
        );
    }

    #[test]
    fn fmt_ns_picks_units() {
        assert_eq!(fmt_ns(512.0), "512 ns");
        assert_eq!(fmt_ns(1_500.0), "1.50 µs");
        assert_eq!(fmt_ns(2_340_000.0), "2.34 ms");
    }

    #[test]
    fn rates_and_echo_metrics_render_in_one_group() {
        assert_eq!(fmt_rate(512.0), "512.0 /s");
        assert_eq!(fmt_rate(152_345.0), "152.3 k/s");
        assert_eq!(fmt_rate(2_500_000.0), "2.50 M/s");
        let out = "2000000\necho_rps=152345\necho_rtt_mean_ns=300000\necho_rtt_p99_ns=1200000\n";
        let m = parse_metrics(out.lines().skip(1));
        let runs: Vec<&[(String, f64)]> = vec![&m];
        let text = metrics_lines("tcp_echo", &[("tokio".into(), metric_stats(&runs))]);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.starts_with("tcp_echo echo "), "{text}");
        assert!(
            text.contains("tokio    rps  152.3 k/s   rtt_mean  300.00 µs   rtt_p99    1.20 ms"),
            "{text}"
        );
    }
}
