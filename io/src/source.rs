//! I/O sources: file descriptors registered with the reactor, each with
//! separate waiters per direction, so a task reading and another writing the
//! same socket never take each other's wake-up, and several tasks waiting in
//! one direction (two acceptors on one listener) are all woken.
//!
//! # Protocol
//!
//! The fd is registered once, for both directions, in edge-triggered mode:
//! the interest list (`epoll.rs`) reports a direction when it *becomes* ready (new data, room
//! freed), and nothing has to be re-armed afterwards, so waiting costs no
//! `epoll_ctl`. Each direction keeps a `ready` flag and a `tick` that counts
//! the events seen for it.
//! 1. An operation notes the direction's tick, then tries the I/O.
//! 2. On `WouldBlock` it calls `clear_ready(dir, tick)`: readiness is
//!    forgotten only if no event arrived since the tick was noted. An event
//!    that came in between (an edge that will not be reported again) keeps
//!    the flag set, and the operation tries again instead of waiting for an
//!    edge that already passed.
//! 3. `poll_ready(dir)` returns `Ready` while the flag is set; otherwise it
//!    adds the waker to the direction's waiters (once per task) and returns
//!    `Pending`.
//! 4. Whoever takes an event (a worker or the reactor, see "I/O duty" in
//!    `driver.rs`) sets the flags of the reported directions,
//!    bumps their ticks and wakes all their waiters (each polls again; the
//!    ones that find nothing wait again).
//!
//! Keys carry a generation, so an event for a deregistered source can never
//! wake a new source that reuses its slot (or its fd number). Deregistering
//! marks the source unregistered and removes the fd from the interest list
//! under the source's lock; a dispatch that raced with it touches only the
//! old source's state (never the interest list), so a new socket that reuses the fd
//! number keeps its own registration.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use crate::epoll::{Interest, Ready};

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
    /// The event key: slot index in the low 32 bits, generation above.
    key: usize,
    /// The file descriptor (the owner keeps it open until deregistering).
    fd: RawFd,
    /// Events seen per direction (written under `state`'s lock, read
    /// without it).
    ticks: [AtomicU32; 2],
    /// Readiness and waiters of both directions, and whether the fd is
    /// still registered.
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Readiness and waiters, indexed by `Direction`.
    dirs: [DirState; 2],
    /// Cleared, under this lock, when the source is deregistered: from then
    /// on the fd number may name another file, so nothing re-arms it.
    registered: bool,
}

/// Distinct waiters kept per direction before they are all woken (see
/// `poll_ready`).
const MAX_WAITERS: usize = 64;

#[derive(Debug)]
struct DirState {
    /// An event arrived since the last successful `clear_ready`, or none
    /// was looked for yet (a new source is taken to be ready: its first
    /// operation is tried, and `WouldBlock` clears this).
    ready: bool,
    /// Read side only: the peer closed (or the socket failed); sticky, so
    /// a short read never makes a reader wait for an edge that came
    /// already (see `clear_ready_drained`).
    closed: bool,
    /// Who waits.
    waiters: Vec<Waker>,
}

impl Default for DirState {
    fn default() -> DirState {
        DirState {
            ready: true,
            closed: false,
            waiters: Vec::new(),
        }
    }
}

impl Source {
    /// Polls readiness in `dir` (protocol step 3).
    pub fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.state.lock();
        if !st.registered {
            return Poll::Ready(Err(io::Error::other(
                "this I/O source was deregistered from the reactor; register the fd again",
            )));
        }
        let d = &mut st.dirs[dir as usize];
        if d.ready {
            return Poll::Ready(Ok(()));
        }
        let mut stale = Vec::new();
        if !d.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            if d.waiters.len() == MAX_WAITERS {
                // Waiters that gave up (their futures were dropped) stay
                // until the next event; before the list grows further, wake
                // them all: the live ones poll again and come back.
                stale = std::mem::take(&mut d.waiters);
            }
            d.waiters.push(cx.waker().clone());
        }
        // Wake outside the lock: a waker may poll this source again.
        drop(st);
        stale.into_iter().for_each(Waker::wake);
        Poll::Pending
    }

    /// Whether the fd is ready in `dir` right now, asked of the kernel
    /// (`poll(2)` without waiting): the `ready` flag only says an edge came
    /// since the last `WouldBlock`.
    pub fn is_ready_now(&self, dir: Direction) -> io::Result<bool> {
        let events = match dir {
            Direction::Read => libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP,
            Direction::Write => libc::POLLOUT,
        };
        let mut fd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n > 0 && fd.revents != 0)
    }

    /// The number of events seen in `dir` so far (protocol step 1).
    pub fn tick(&self, dir: Direction) -> u32 {
        self.ticks[dir as usize].load(Ordering::Acquire)
    }

    /// Forgets readiness in `dir` after an operation begun at `tick` hit
    /// `WouldBlock`, unless an event arrived since (protocol step 2).
    pub fn clear_ready(&self, dir: Direction, tick: u32) {
        let mut st = self.state.lock();
        if self.ticks[dir as usize].load(Ordering::Relaxed) == tick {
            st.dirs[dir as usize].ready = false;
        }
    }

    /// Whether `dir` is taken to be ready (an event came since the last
    /// clear): when not, an operation can wait without trying.
    pub fn is_ready(&self, dir: Direction) -> bool {
        self.state.lock().dirs[dir as usize].ready
    }

    /// Forgets read readiness after a short read begun at `tick` drained
    /// a stream socket's receive queue, unless an event arrived since or
    /// the peer has closed (then reads return at once: the next one must
    /// see the end of the stream without waiting for an edge).
    pub fn clear_ready_drained(&self, tick: u32) {
        let mut st = self.state.lock();
        let d = &mut st.dirs[Direction::Read as usize];
        if !d.closed && self.ticks[Direction::Read as usize].load(Ordering::Relaxed) == tick {
            d.ready = false;
        }
    }

    /// Marks the source deregistered and removes its fd from the interest
    /// list, both under the state lock, so no dispatch touches it afterwards.
    fn deregister(&self, interest: &Interest) -> io::Result<()> {
        let mut st = self.state.lock();
        if !st.registered {
            return Ok(());
        }
        st.registered = false;
        // The fd is still open: the owner deregisters before closing.
        interest.delete(self.fd)
    }

    /// The event side (protocol step 4), run by whichever thread took
    /// the event (a worker or the reactor).
    pub(crate) fn dispatch(&self, ev: Ready, wakers: &mut Vec<Waker>) {
        let mut st = self.state.lock();
        if !st.registered {
            // Deregistered after the reactor looked it up: its owner is gone.
            return;
        }
        for (dir, hit) in [
            (Direction::Read, ev.readable),
            (Direction::Write, ev.writable),
        ] {
            if hit {
                self.ticks[dir as usize].fetch_add(1, Ordering::Release);
                let d = &mut st.dirs[dir as usize];
                d.ready = true;
                d.closed |= dir == Direction::Read && ev.read_closed;
                wakers.append(&mut d.waiters);
            }
        }
    }
}

/// The registry of sources, indexed by the low half of their keys.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    slots: Mutex<Slots>,
    /// How many sources are registered (so a runtime without any skips
    /// the `epoll_wait` of its workers' polls).
    live: AtomicUsize,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<(u32, Option<Arc<Source>>)>,
    free: Vec<u32>,
}

impl Sources {
    /// How many sources are registered.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, interest: &Interest, fd: RawFd) -> io::Result<Arc<Source>> {
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
            ticks: [AtomicU32::new(0), AtomicU32::new(0)],
            state: Mutex::new(State {
                dirs: Default::default(),
                registered: true,
            }),
        });
        // Both directions, edge-triggered, once for all (the caller of
        // `Driver::register` keeps `fd` open until it deregisters).
        if let Err(e) = interest.add(fd, key) {
            slots.free.push(index);
            return Err(e);
        }
        slots.entries[index as usize].1 = Some(source.clone());
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(source)
    }

    pub(crate) fn remove(&self, interest: &Interest, source: &Source) -> io::Result<()> {
        let index = (source.key & 0xFFFF_FFFF) as u32;
        let mut slots = self.slots.lock();
        match slots.entries.get_mut(index as usize) {
            Some((_, slot @ Some(_))) if slot.as_ref().is_some_and(|s| s.key == source.key) => {
                *slot = None;
                slots.free.push(index);
                self.live.fetch_sub(1, Ordering::Relaxed);
            }
            _ => return Ok(()),
        }
        drop(slots);
        source.deregister(interest)
    }

    /// Whether no source is registered (a hint: one may be registering).
    pub(crate) fn is_empty(&self) -> bool {
        self.live.load(Ordering::Relaxed) == 0
    }

    /// The source an event key names, unless it has been deregistered.
    pub(crate) fn get(&self, key: usize) -> Option<Arc<Source>> {
        let slots = self.slots.lock();
        let (_, slot) = slots.entries.get(key & 0xFFFF_FFFF)?;
        slot.as_ref().filter(|s| s.key == key).cloned()
    }
}

// Not under loom: these open and `dup2` real fds, which the loom models'
// drivers (opening fds on parallel threads) would race with.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use std::task::Wake;

    struct Noop;

    fn readable(key: usize) -> Ready {
        Ready {
            key,
            readable: true,
            writable: false,
            read_closed: false,
        }
    }

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just created and are owned by no one.
        unsafe {
            use std::os::fd::FromRawFd;
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    /// The reactor takes a source out of the registry, then the owner
    /// deregisters it and closes its fd, and a new socket gets the same fd
    /// number. The reactor's dispatch of the old event must not re-arm the
    /// fd under the old key: the new source would never hear of its events.
    #[test]
    fn a_stale_dispatch_does_not_rearm_a_reused_fd_number() {
        let _fds = crate::TEST_FDS.lock().unwrap_or_else(|e| e.into_inner());
        let interest = Interest::new().unwrap();
        let sources = Sources::default();
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);

        let (old_r, _old_w) = pipe();
        let fd = old_r.as_raw_fd();
        let old = sources.insert(&interest, fd).unwrap();
        // Waiting in both directions (after a `WouldBlock` each: a new
        // source is taken to be ready); the reactor picks up a read event.
        old.clear_ready(Direction::Read, old.tick(Direction::Read));
        old.clear_ready(Direction::Write, old.tick(Direction::Write));
        assert!(old.poll_ready(Direction::Read, &mut cx).is_pending());
        assert!(old.poll_ready(Direction::Write, &mut cx).is_pending());
        let stale = sources.get(old.key).unwrap();

        // The owner deregisters and closes; a new pipe reuses the number.
        sources.remove(&interest, &old).unwrap();
        drop(old_r);
        let (new_r, mut new_w) = pipe();
        let reused = if new_r.as_raw_fd() == fd {
            new_r
        } else {
            // SAFETY: `fd` is free (just closed); `dup2` makes it a copy of
            // `new_r`, which is then closed, so `reused` owns `fd` alone.
            unsafe {
                use std::os::fd::FromRawFd;
                assert_eq!(libc::dup2(new_r.as_raw_fd(), fd), fd);
                std::fs::File::from_raw_fd(fd)
            }
        };
        let new = sources.insert(&interest, reused.as_raw_fd()).unwrap();
        new.clear_ready(Direction::Read, new.tick(Direction::Read));
        assert!(new.poll_ready(Direction::Read, &mut cx).is_pending());

        // The reactor now dispatches the event it read before the removal.
        let mut wakers = Vec::new();
        stale.dispatch(readable(stale.key), &mut wakers);

        // The new source still hears of its data.
        std::io::Write::write_all(&mut new_w, b"x").unwrap();
        let mut keys = Vec::new();
        interest.poll_now(|ev| keys.push(ev.key));
        assert_eq!(keys, [new.key], "the event went to the wrong key");
        sources.remove(&interest, &new).unwrap();
    }

    /// Waiters that pile up past the bound are all woken (the live ones
    /// come back), and an event wakes every waiter of its direction.
    #[test]
    fn every_waiter_is_woken_and_the_list_stays_bounded() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, SeqCst);
            }
        }

        let _fds = crate::TEST_FDS.lock().unwrap_or_else(|e| e.into_inner());
        let interest = Interest::new().unwrap();
        let sources = Sources::default();
        let (r, _w) = pipe();
        let source = sources.insert(&interest, r.as_raw_fd()).unwrap();
        source.clear_ready(Direction::Read, source.tick(Direction::Read));
        let counts: Vec<Arc<Count>> = (0..MAX_WAITERS + 2)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for c in &counts {
            let waker = Waker::from(c.clone());
            let mut cx = Context::from_waker(&waker);
            assert!(source.poll_ready(Direction::Read, &mut cx).is_pending());
        }
        // The first MAX_WAITERS were woken when the next one came.
        let woken = |i: usize| counts[i].0.load(SeqCst);
        assert!((0..MAX_WAITERS).all(|i| woken(i) == 1));
        assert_eq!(woken(MAX_WAITERS), 0);
        assert_eq!(woken(MAX_WAITERS + 1), 0);
        // An event wakes the two still waiting.
        let mut wakers = Vec::new();
        source.dispatch(readable(source.key), &mut wakers);
        assert_eq!(wakers.len(), 2);
        wakers.into_iter().for_each(Waker::wake);
        assert_eq!(woken(MAX_WAITERS), 1);
        assert_eq!(woken(MAX_WAITERS + 1), 1);
        sources.remove(&interest, &source).unwrap();
    }
}
