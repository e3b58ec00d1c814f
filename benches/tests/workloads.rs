//! Every workload passes its own check once on every runtime, so the
//! `compare` harness is known to measure working code (and a broken aiolos
//! scheduler shows up here as a failed test, not only as a failed benchmark).
//!
//! `tcp_echo` runs with its full 50 connections but fewer round trips each
//! ([`TEST_ECHO_ROUNDS`]), through the same function the benchmark calls.

use aiolos_benches::rt::{Aiolos, AiolosDebug, Rt, Smol, Tokio};
use aiolos_benches::workloads::{self, Workload, ECHO_CONNS};

/// Round trips per `tcp_echo` connection here (the benchmark makes 2 000).
const TEST_ECHO_ROUNDS: usize = 200;

fn all_workloads_pass<R: Rt>(workers: usize) {
    let rt = R::build(workers).unwrap_or_else(|e| panic!("{}: {e}", R::NAME));
    for w in Workload::ALL {
        let m = if w == Workload::TcpEcho {
            workloads::tcp_echo(&rt, ECHO_CONNS, TEST_ECHO_ROUNDS)
                .unwrap_or_else(|e| panic!("{}: {w} check failed: {e}", R::NAME))
        } else {
            w.run(&rt).unwrap_or_else(|f| panic!("{}: {f}", R::NAME))
        };
        if w == Workload::TcpEcho {
            let get = |n: &str| {
                m.get(n)
                    .unwrap_or_else(|| panic!("{}: {w} did not report {n}", R::NAME))
            };
            let (rps, mean, p99) = (
                get("echo_rps"),
                get("echo_rtt_mean_ns"),
                get("echo_rtt_p99_ns"),
            );
            assert!(
                rps > 0.0 && rps.is_finite() && mean > 0.0 && p99 > 0.0,
                "{}: {m:?}",
                R::NAME
            );
        } else if w == Workload::TimersSleep {
            // Lateness is measured and ordered; its size is for `compare`.
            let get = |n: &str| {
                m.get(n)
                    .unwrap_or_else(|| panic!("{}: {w} did not report {n}", R::NAME))
            };
            let (mean, p99, max) = (
                get("lateness_mean_ns"),
                get("lateness_p99_ns"),
                get("lateness_max_ns"),
            );
            assert!(
                0.0 <= mean && mean <= max && p99 <= max,
                "{}: {m:?}",
                R::NAME
            );
        } else {
            assert!(m.is_empty(), "{}: {w} reported {m:?}", R::NAME);
        }
    }
}

#[test]
fn workloads_pass_on_tokio() {
    all_workloads_pass::<Tokio>(2);
}

#[test]
fn workloads_pass_on_smol() {
    all_workloads_pass::<Smol>(2);
}

#[test]
fn workloads_pass_on_aiolos() {
    all_workloads_pass::<Aiolos>(2);
}

#[test]
fn workloads_pass_on_aiolos_in_debug_mode() {
    all_workloads_pass::<AiolosDebug>(2);
}

#[test]
fn workloads_pass_on_aiolos_with_one_worker() {
    all_workloads_pass::<Aiolos>(1);
}

#[test]
fn workload_names_round_trip() {
    for w in Workload::ALL {
        assert_eq!(Workload::from_name(w.name()), Some(w));
    }
    assert_eq!(Workload::from_name("nope"), None);
}
