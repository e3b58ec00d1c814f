//! I/O sources: file descriptors registered with the reactor, each with a
//! separate waker slot per direction, so a task reading and another writing
//! the same socket never take each other's wake-up.
//!
//! # Protocol
//!
//! The poller runs in oneshot, level-triggered mode: an event disarms the fd
//! until it is re-armed, and re-arming an fd that is already ready reports it
//! again at once. So:
//! 1. `poll_ready(dir)` returns `Ready` if an event for `dir` arrived since the
//!    last `clear_ready(dir)`; otherwise it stores the waker and, if `dir` is
//!    not armed, re-arms the fd for every direction that has a waiter.
//! 2. The reactor, on an event, marks the reported directions ready and
//!    disarmed, takes their wakers, and re-arms the fd for a direction that
//!    still has a waiter (an event disarms both).
//! 3. A user that got `WouldBlock` calls `clear_ready(dir)` and polls again.
//!    Readiness that arrived in between is not lost: re-arming a ready fd
//!    fires at once.
//!
//! Keys carry a generation, so an event for a deregistered source can never
//! wake a new source that reuses its slot (or its fd number).

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;
use polling::{Event, Poller};

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Readable (or closed for reading).
    Read,
    /// Writable.
    Write,
}

/// A registered file descriptor.
#[derive(Debug)]
pub struct Source {
    /// The poller key: slot index in the low 32 bits, generation above.
    key: usize,
    /// The file descriptor (the owner keeps it open until deregistering).
    fd: RawFd,
    /// Readiness and waiters of both directions.
    state: Mutex<[DirState; 2]>,
}

#[derive(Debug, Default)]
struct DirState {
    /// An event arrived since the last `clear_ready`.
    ready: bool,
    /// The fd is armed for this direction.
    armed: bool,
    /// Who waits.
    waker: Option<Waker>,
}

impl Source {
    /// Polls readiness in `dir` (protocol step 1).
    pub fn poll_ready(
        &self,
        poller: &Poller,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.state.lock();
        let d = &mut st[dir as usize];
        if d.ready {
            return Poll::Ready(Ok(()));
        }
        match &d.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => d.waker = Some(cx.waker().clone()),
        }
        if !d.armed {
            d.armed = true;
            if let Err(e) = self.rearm(poller, &st) {
                st[dir as usize].armed = false;
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }

    /// Forgets readiness in `dir` after the operation hit `WouldBlock`.
    pub fn clear_ready(&self, dir: Direction) {
        self.state.lock()[dir as usize].ready = false;
    }

    /// Arms the fd for the directions marked armed.
    fn rearm(&self, poller: &Poller, st: &[DirState; 2]) -> io::Result<()> {
        let ev = Event::new(
            self.key,
            st[Direction::Read as usize].armed,
            st[Direction::Write as usize].armed,
        );
        // SAFETY: the owner guarantees the fd stays open while registered.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        poller.modify(fd, ev)
    }

    /// The reactor's half (protocol step 2).
    pub(crate) fn dispatch(&self, poller: &Poller, ev: &Event, wakers: &mut Vec<Waker>) {
        let mut st = self.state.lock();
        let mut fired = false;
        for (dir, hit) in [
            (Direction::Read, ev.readable),
            (Direction::Write, ev.writable),
        ] {
            let d = &mut st[dir as usize];
            if hit {
                fired = true;
                d.ready = true;
                d.armed = false;
                if let Some(w) = d.waker.take() {
                    wakers.push(w);
                }
            }
        }
        if fired {
            // The event disarmed the fd as a whole: re-arm what still waits.
            for d in st.iter_mut() {
                d.armed = d.waker.is_some() && !d.ready;
            }
            if st.iter().any(|d| d.armed) {
                let _ = self.rearm(poller, &st);
            }
        }
    }
}

/// The registry of sources, indexed by the low half of their keys.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<(u32, Option<Arc<Source>>)>,
    free: Vec<u32>,
}

impl Sources {
    pub(crate) fn insert(&self, poller: &Poller, fd: RawFd) -> io::Result<Arc<Source>> {
        let mut slots = self.slots.lock();
        let index = match slots.free.pop() {
            Some(i) => i,
            None => {
                slots.entries.push((0, None));
                u32::try_from(slots.entries.len() - 1)
                    .map_err(|_| io::Error::other("too many registered I/O sources"))?
            }
        };
        let entry = &mut slots.entries[index as usize];
        entry.0 = entry.0.wrapping_add(1);
        let key = (entry.0 as usize) << 32 | index as usize;
        let source = Arc::new(Source {
            key,
            fd,
            state: Mutex::new(Default::default()),
        });
        // SAFETY: the caller of `Driver::register` keeps `fd` open until it
        // deregisters; it is added with no interest (armed on demand).
        if let Err(e) = unsafe { poller.add(fd, Event::none(key)) } {
            slots.free.push(index);
            return Err(e);
        }
        slots.entries[index as usize].1 = Some(source.clone());
        Ok(source)
    }

    pub(crate) fn remove(&self, poller: &Poller, source: &Source) -> io::Result<()> {
        let index = (source.key & 0xFFFF_FFFF) as u32;
        let mut slots = self.slots.lock();
        match slots.entries.get_mut(index as usize) {
            Some((_, slot @ Some(_))) if slot.as_ref().is_some_and(|s| s.key == source.key) => {
                *slot = None;
                slots.free.push(index);
            }
            _ => return Ok(()),
        }
        drop(slots);
        // SAFETY: the fd is still open (the owner deregisters before closing).
        poller.delete(unsafe { BorrowedFd::borrow_raw(source.fd) })
    }

    /// The source an event key names, unless it has been deregistered.
    pub(crate) fn get(&self, key: usize) -> Option<Arc<Source>> {
        let slots = self.slots.lock();
        let (_, slot) = slots.entries.get(key & 0xFFFF_FFFF)?;
        slot.as_ref().filter(|s| s.key == key).cloned()
    }
}
