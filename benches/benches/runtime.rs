//! Criterion benches of the `compare` workloads on aiolos alone.
//!
//! `cargo bench -p aiolos-benches --bench runtime [-- FILTER]`; the worker
//! count is `AIOLOS_BENCH_WORKERS` (default: the number of CPUs). For aiolos
//! against tokio and smol, run the `compare` binary instead.

use std::time::Duration;

use aiolos_benches::rt::{Aiolos, Rt};
use aiolos_benches::workloads::Workload;
use criterion::{criterion_group, criterion_main, Criterion};

fn workers() -> usize {
    std::env::var("AIOLOS_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(aiolos_benches::report::nproc)
}

fn rt_multi(c: &mut Criterion) {
    let workers = workers();
    let rt = Aiolos::build(workers).expect("cannot build the aiolos runtime");
    let mut group = c.benchmark_group(format!("aiolos_{workers}w"));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(5));
    for w in Workload::ALL {
        group.bench_function(w.name(), |b| {
            // A failed check panics: a broken runtime must not post a time.
            b.iter(|| w.run(&rt).unwrap_or_else(|f| panic!("{f}")));
        });
    }
    group.finish();
}

criterion_group!(benches, rt_multi);
criterion_main!(benches);
