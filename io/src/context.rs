//! How I/O types find their runtime's reactor and its cooperative budget.
//!
//! The runtime (`aiolos`) installs two hooks once, when its first runtime
//! starts: one returns the [`Driver`] of the runtime entered on the calling
//! thread (a worker, a blocking thread, or inside `block_on`), the other
//! spends one unit of the current task's cooperative budget. Sockets take
//! the driver when they are created and keep it.

use std::io;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use crate::Driver;

/// What the runtime provides to this crate's I/O types.
#[derive(Debug, Clone, Copy)]
pub struct Hooks {
    /// The driver of the runtime entered on this thread, if any.
    pub current: fn() -> Option<Arc<Driver>>,
    /// Spends one unit of the current task's budget; `Pending` (with the
    /// task woken) when the task should yield first.
    pub coop: fn(&mut Context<'_>) -> Poll<()>,
}

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs the runtime's hooks (the first installation wins).
pub fn install(hooks: Hooks) {
    let _ = HOOKS.set(hooks);
}

/// The current runtime's driver.
///
/// # Panics
///
/// Outside an aiolos runtime, with a message naming `what` and the fix.
#[track_caller]
pub(crate) fn current_driver(what: &str) -> Arc<Driver> {
    match HOOKS.get().and_then(|h| (h.current)()) {
        Some(driver) if !driver.is_shutdown() => driver,
        Some(_) => panic!("{what} was called after its aiolos runtime shut down"),
        None => panic!(
            "{what} was called outside an aiolos runtime; create sockets in a task or inside \
             Runtime::block_on"
        ),
    }
}

/// Spends budget before an I/O operation (never yields outside a task).
pub(crate) fn poll_coop(cx: &mut Context<'_>) -> Poll<()> {
    match HOOKS.get() {
        Some(h) => (h.coop)(cx),
        None => Poll::Ready(()),
    }
}

/// The error for an I/O type used after its runtime shut down.
pub(crate) fn shut_down() -> io::Error {
    io::Error::other("the aiolos runtime this socket belongs to has shut down")
}
