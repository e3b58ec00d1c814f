//! `Handle::dump`: every live task as a text table, for a person to read
//! (a debugger's "what is everyone doing"), built from `all_tasks()`.
//!
//! ```text
//! 3 tasks
//! id  state    polls  since spawn  since poll  name    spawned at
//!  2  Running      1       0.151s      0.151s  sleepy  examples/debug_mode.rs:50:10
//!  5  Idle         1       0.151s      0.150s  -       examples/debug_mode.rs:58:18
//!  9  Idle         0       0.000s           -  ticker  src/main.rs:12:5
//! ```
//!
//! Times are coarse (see `task/info.rs`). The format is for reading, not
//! parsing: columns may change; use `all_tasks()` in programs.

use std::fmt::Write as _;
use std::time::Duration;

use crate::task::TaskInfo;

/// The column titles.
const TITLES: [&str; 7] = [
    "id",
    "state",
    "polls",
    "since spawn",
    "since poll",
    "name",
    "spawned at",
];

/// Which columns are right-aligned (the numbers).
const RIGHT: [bool; 7] = [true, false, true, true, true, false, false];

/// Formats `tasks` as a table, sorted by id.
pub(crate) fn format(mut tasks: Vec<TaskInfo>) -> String {
    tasks.sort_by_key(|t| t.id);
    let rows: Vec<[String; 7]> = tasks
        .iter()
        .map(|t| {
            [
                t.id.to_string(),
                format!("{:?}", t.state),
                t.polls.to_string(),
                seconds(t.since_spawn),
                t.since_last_poll.map_or_else(|| "-".to_owned(), seconds),
                t.name.clone().unwrap_or_else(|| "-".to_owned()),
                t.spawned_at.to_string(),
            ]
        })
        .collect();
    let mut widths = TITLES.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!(
        "{} task{}\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    let titles = TITLES.map(str::to_owned);
    for row in std::iter::once(&titles).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let w = widths[i];
            // The last column is left-aligned and not padded.
            let _ = match (RIGHT[i], i + 1 == row.len()) {
                (_, true) => write!(line, "{cell}"),
                (true, false) => write!(line, "{cell:>w$}"),
                (false, false) => write!(line, "{cell:<w$}"),
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `1.204s`.
fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}
