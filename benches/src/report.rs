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

/// One runtime's line in one workload's block.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Every run passed its check.
    Measured(Stats),
    /// At least one run did not produce a valid time.
    Failed(String),
}

/// Renders the results table: one block per workload, one line per runtime,
/// with each median divided by the `baseline` runtime's median.
pub fn table(rows: &[(String, Vec<(String, Cell)>)], baseline: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<8} {:>11} {:>11} {:>11} {:>9}",
        "workload",
        "runtime",
        "median",
        "min",
        "max",
        format!("/{baseline}")
    );
    let _ = writeln!(out, "{}", "-".repeat(15 + 1 + 8 + 3 * 12 + 10));
    for (workload, cells) in rows {
        let base = cells.iter().find_map(|(rt, c)| match c {
            Cell::Measured(s) if rt == baseline => Some(s.median),
            _ => None,
        });
        for (i, (rt, cell)) in cells.iter().enumerate() {
            let name = if i == 0 { workload.as_str() } else { "" };
            match cell {
                Cell::Measured(s) => {
                    let ratio =
                        base.map_or_else(|| "n/a".to_string(), |b| format!("{:.2}x", s.median / b));
                    let _ = writeln!(
                        out,
                        "{:<15} {:<8} {:>11} {:>11} {:>11} {:>9}",
                        name,
                        rt,
                        fmt_ns(s.median),
                        fmt_ns(s.min),
                        fmt_ns(s.max),
                        ratio
                    );
                }
                Cell::Failed(why) => {
                    let _ = writeln!(out, "{name:<15} {rt:<8} FAILED: {why}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
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
    fn fmt_ns_picks_units() {
        assert_eq!(fmt_ns(512.0), "512 ns");
        assert_eq!(fmt_ns(1_500.0), "1.50 µs");
        assert_eq!(fmt_ns(2_340_000.0), "2.34 ms");
    }
}
