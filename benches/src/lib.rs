//! Benchmarks for aiolos: the workloads shared by the `compare` binary
//! (aiolos vs tokio vs smol, one fresh process per measurement) and the
//! criterion benches (`cargo bench -p aiolos-benches`, aiolos alone).
//!
//! ```no_run
//! use aiolos_benches::rt::{Aiolos, Rt};
//! use aiolos_benches::workloads::Workload;
//!
//! let rt = Aiolos::build(2).unwrap();
//! Workload::SpawnLocal.run(&rt).unwrap(); // one checked iteration
//! ```
//!
//! See `benches/README.md` for how to run both and what each workload does.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]

pub mod report;
pub mod rt;
pub mod workloads;
