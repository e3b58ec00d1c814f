//! Synchronisation between tasks: [`oneshot`] and [`mpsc`] channels.

pub mod mpsc;
pub mod oneshot;
