//! The reactor's I/O registration seam: readiness reaches the right waiter.

use std::future::{poll_fn, Future};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use aiolos_io::{Config, Direction, Driver, Reactor, Source};

/// A waker that counts wake-ups and unparks a condition variable.
#[derive(Default)]
struct Signal {
    woken: Mutex<usize>,
    cv: Condvar,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        *self.woken.lock().unwrap() += 1;
        self.cv.notify_all();
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    let signal = Arc::new(Signal::default());
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        let seen = *signal.woken.lock().unwrap();
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        let mut woken = signal.woken.lock().unwrap();
        while *woken == seen {
            woken = signal.cv.wait(woken).unwrap();
        }
    }
}

/// Runs `op` until it stops failing with `WouldBlock`, waiting for `dir`
/// readiness in between (the protocol a socket type implements).
fn poll_io<T>(
    driver: &Driver,
    source: &Source,
    dir: Direction,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> std::io::Result<T>,
) -> Poll<T> {
    loop {
        let tick = source.tick(dir);
        match op() {
            Ok(v) => return Poll::Ready(v),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                source.clear_ready(dir, tick);
                match driver.poll_ready(source, dir, cx) {
                    Poll::Ready(r) => r.unwrap(),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Err(e) => panic!("I/O failed: {e}"),
        }
    }
}

fn reactor() -> Reactor {
    Reactor::start(Config {
        thread_name: "io-test-reactor".into(),
        on_thread_start: None,
        on_thread_stop: None,
        wake_batch: Box::new(|w, _| w.drain(..).for_each(Waker::wake)),
        workers: 0,
        all_parked: Box::new(|| true),
        busy_tick: None,
    })
    .unwrap()
}

#[test]
fn readable_wakes_the_reader_and_wouldblock_rearms_without_losing_data() {
    let reactor = reactor();
    let driver = reactor.driver().clone();
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    // SAFETY: `b` outlives the registration (deregistered below).
    let source = unsafe { driver.register(b.as_raw_fd()) }.unwrap();

    let writer = thread::spawn(move || {
        for i in 0..100u8 {
            a.write_all(&[i; 100]).unwrap();
            thread::yield_now();
        }
        a
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    block_on(poll_fn(|cx| loop {
        match poll_io(&driver, &source, Direction::Read, cx, || {
            (&b).read(&mut buf)
        }) {
            Poll::Ready(0) => unreachable!("the writer keeps its end open"),
            Poll::Ready(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() == 10_000 {
                    return Poll::Ready(());
                }
            }
            Poll::Pending => return Poll::Pending,
        }
    }));
    let _a = writer.join().unwrap();
    let expected: Vec<u8> = (0..100u8).flat_map(|i| [i; 100]).collect();
    assert_eq!(got, expected);
    driver.deregister(&source).unwrap();
}

#[test]
fn reader_and_writer_of_one_socket_each_get_their_own_wakeup() {
    let reactor = reactor();
    let driver = reactor.driver().clone();
    let (mut peer, s) = UnixStream::pair().unwrap();
    s.set_nonblocking(true).unwrap();
    // SAFETY: `s` outlives the registration.
    let source = unsafe { driver.register(s.as_raw_fd()) }.unwrap();
    let s = Arc::new(s);

    // Fill the socket so the writer has to wait.
    let chunk = [7u8; 4096];
    let mut filled = 0usize;
    loop {
        match (&*s).write(&chunk) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    source.clear_ready(Direction::Write, source.tick(Direction::Write));

    // A reader waits for data, a writer waits for room, on two threads.
    let (d1, s1, src1) = (driver.clone(), s.clone(), source.clone());
    let reader = thread::spawn(move || {
        block_on(poll_fn(|cx| {
            let mut b = [0u8; 1];
            poll_io(&d1, &src1, Direction::Read, cx, || (&*s1).read(&mut b)).map(|_| b[0])
        }))
    });
    let (d2, s2, src2) = (driver.clone(), s.clone(), source.clone());
    let writer = thread::spawn(move || {
        block_on(poll_fn(|cx| {
            poll_io(&d2, &src2, Direction::Write, cx, || (&*s2).write(&[1u8]))
        }))
    });

    // Data for the reader; then drain the peer so the writer gets room.
    peer.write_all(&[42]).unwrap();
    assert_eq!(reader.join().unwrap(), 42);
    let mut sink = vec![0u8; filled + 1];
    let mut drained = 0;
    while drained < filled {
        drained += peer.read(&mut sink).unwrap();
    }
    assert_eq!(writer.join().unwrap(), 1);
    driver.deregister(&source).unwrap();
}

#[test]
fn reregistered_fd_delivers_readiness_to_the_new_source_only() {
    let reactor = reactor();
    let driver = reactor.driver().clone();
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();

    // The first registration waits for reading, then is removed.
    // SAFETY: `b` outlives both registrations.
    let first = unsafe { driver.register(b.as_raw_fd()) }.unwrap();
    // A new source is taken to be ready; a read's `WouldBlock` clears it.
    first.clear_ready(Direction::Read, first.tick(Direction::Read));
    let old = Arc::new(Signal::default());
    let old_waker = Waker::from(old.clone());
    assert!(driver
        .poll_ready(
            &first,
            Direction::Read,
            &mut Context::from_waker(&old_waker)
        )
        .is_pending());
    driver.deregister(&first).unwrap();

    // The same fd registers again (this fails if the old one was not removed
    // from the poller) and reuses the slot under a new generation.
    // SAFETY: as above.
    let second = unsafe { driver.register(b.as_raw_fd()) }.unwrap();
    a.write_all(b"x").unwrap();
    block_on(poll_fn(|cx| {
        driver.poll_ready(&second, Direction::Read, cx)
    }))
    .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!((&b).read(&mut byte).unwrap(), 1);
    assert_eq!(
        *old.woken.lock().unwrap(),
        0,
        "the removed source was woken"
    );
    driver.deregister(&second).unwrap();
}
