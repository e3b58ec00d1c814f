//! Every workload passes its own check once on every runtime, so the
//! `compare` harness is known to measure working code (and a broken aiolos
//! scheduler shows up here as a failed test, not only as a failed benchmark).

use aiolos_benches::rt::{Aiolos, Rt, Smol, Tokio};
use aiolos_benches::workloads::Workload;

fn all_workloads_pass<R: Rt>(workers: usize) {
    let rt = R::build(workers).unwrap_or_else(|e| panic!("{}: {e}", R::NAME));
    for w in Workload::ALL {
        let m = w.run(&rt).unwrap_or_else(|f| panic!("{}: {f}", R::NAME));
        if w == Workload::TimersSleep {
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
