//! The process-wide side of signal handling: one handler per signal,
//! installed once, and the self-pipe it writes to.
//!
//! # Protocol
//!
//! 1. The first listener of a signal installs its handler through
//!    `signal-hook-registry` (other handlers of the same signal keep
//!    running). The handler does only async-signal-safe work: it sets the
//!    signal's `pending` flag, then writes one byte to the pipe (a full pipe
//!    already holds a wake-up, so a failed write loses nothing).
//! 2. Every listener watches a `dup` of the pipe's read end on its own
//!    runtime's reactor. Whoever finds it readable dispatches: it drains the
//!    pipe, then, for each signal whose `pending` flag it swaps from `true`,
//!    bumps the signal's delivery count and wakes every listener parked on
//!    that signal, whichever runtime it belongs to.
//! 3. A listener reports a delivery when the count differs from the one it
//!    saw last; it parks its waker before looking again, so a dispatch that
//!    lands between its look and its park still wakes it.
//!
//! A signal that arrives while the pipe is being drained is not lost: its
//! flag is set before its byte is written, so either the swap in step 2
//! sees the flag, or the byte stays in the pipe and makes the next edge.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::Waker;

use parking_lot::Mutex;

/// The highest signal number a slot exists for (Linux's `SIGRTMAX` is 64).
const MAX_SIGNAL: usize = 64;

/// What the process keeps for one signal number.
#[derive(Debug, Default)]
struct Slot {
    /// Set by the handler, taken by the dispatcher.
    pending: AtomicBool,
    /// How many times the dispatcher has seen the signal (coalesced).
    deliveries: AtomicU64,
    /// Whether installing the handler succeeded (the error's text if not);
    /// set once by the first listener.
    installed: OnceLock<Result<(), String>>,
    /// The wakers of the listeners waiting for the next delivery, by
    /// listener id.
    waiters: Mutex<HashMap<u64, Waker>>,
}

/// The self-pipe and the slots, created by the first listener.
#[derive(Debug)]
pub(crate) struct Globals {
    /// The handler's end (non-blocking).
    sender: UnixStream,
    /// The listeners' end (non-blocking); each listener watches a `dup`.
    receiver: UnixStream,
    /// One slot per signal number, index 0 unused.
    slots: Box<[Slot]>,
    /// The next listener id.
    next_id: AtomicU64,
}

/// The globals once created; read (a plain atomic load) by the handler.
static GLOBALS: OnceLock<Globals> = OnceLock::new();

/// The globals, created on first use.
pub(crate) fn globals() -> io::Result<&'static Globals> {
    if let Some(g) = GLOBALS.get() {
        return Ok(g);
    }
    let (sender, receiver) = UnixStream::pair()?;
    sender.set_nonblocking(true)?;
    receiver.set_nonblocking(true)?;
    let slots = (0..=MAX_SIGNAL).map(|_| Slot::default()).collect();
    // Another thread may have won the race; its pair is as good as ours.
    Ok(GLOBALS.get_or_init(|| Globals {
        sender,
        receiver,
        slots,
        next_id: AtomicU64::new(0),
    }))
}

/// Checks that `signum` can be listened to, with an error that says why
/// not.
pub(crate) fn check(signum: i32) -> io::Result<()> {
    if signum <= 0 || signum as usize > MAX_SIGNAL {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signum} is not a signal number (1 to {MAX_SIGNAL} on this system)"),
        ));
    }
    if signal_hook_registry::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} cannot be listened to: SIGKILL and SIGSTOP cannot be caught, \
                 and SIGILL, SIGFPE and SIGSEGV mean the program itself is broken"
            ),
        ));
    }
    Ok(())
}

impl Globals {
    /// The slot of a checked signal number.
    fn slot(&self, signum: i32) -> &Slot {
        &self.slots[signum as usize]
    }

    /// Installs the handler of `signum` (checked) once per process.
    pub(crate) fn install(&'static self, signum: i32) -> io::Result<()> {
        let slot = self.slot(signum);
        let result = slot.installed.get_or_init(|| {
            let action = move || self.on_signal(signum);
            // SAFETY: `on_signal` is async-signal-safe: it stores to an
            // atomic, and `write(2)`s to a socket that lives as long as the
            // process (`GLOBALS` is never dropped), allocating nothing and
            // taking no lock. `signum` was checked, so `register` does not
            // panic on a forbidden signal.
            unsafe { signal_hook_registry::register(signum, action) }
                .map(drop)
                .map_err(|e| e.to_string())
        });
        result.clone().map_err(|e| {
            io::Error::other(format!(
                "could not install a handler for signal {signum}: {e}"
            ))
        })
    }

    /// The handler (step 1): runs in signal context.
    fn on_signal(&self, signum: i32) {
        self.slot(signum).pending.store(true, Ordering::SeqCst);
        // A full pipe already holds a wake-up; nothing else can fail here
        // that we could do anything about. (`signal-hook-registry` saves
        // and restores errno around us.)
        let _ = (&self.sender).write(&[signum as u8]);
    }

    /// A `dup` of the read end, for one listener's registration.
    pub(crate) fn receiver(&self) -> io::Result<UnixStream> {
        self.receiver.try_clone()
    }

    /// A fresh listener id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// How many deliveries of `signum` have been dispatched so far.
    pub(crate) fn deliveries(&self, signum: i32) -> u64 {
        self.slot(signum).deliveries.load(Ordering::SeqCst)
    }

    /// Parks listener `id`'s waker until the next dispatch of `signum`.
    pub(crate) fn park(&self, signum: i32, id: u64, waker: &Waker) {
        let mut waiters = self.slot(signum).waiters.lock();
        match waiters.get_mut(&id) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => w.clone_from(waker),
            None => {
                waiters.insert(id, waker.clone());
            }
        }
    }

    /// Forgets listener `id` (it is being dropped).
    pub(crate) fn unpark(&self, signum: i32, id: u64) {
        self.slot(signum).waiters.lock().remove(&id);
    }

    /// Step 2: drains the pipe and dispatches every pending signal.
    pub(crate) fn dispatch(&self) {
        // Drain the pipe.
        let mut buf = [0u8; 64];
        loop {
            match (&self.receiver).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Then take the flags: a signal that came after the drain either
        // left its flag for this loop or its byte for the next edge.
        for slot in self.slots.iter() {
            if slot.pending.swap(false, Ordering::SeqCst) {
                slot.deliveries.fetch_add(1, Ordering::SeqCst);
                // Wake outside the lock.
                let waiters = std::mem::take(&mut *slot.waiters.lock());
                waiters.into_values().for_each(Waker::wake);
            }
        }
    }
}
