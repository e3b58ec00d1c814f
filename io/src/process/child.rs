//! `Child`: a spawned process, its pipes, waiting and signalling.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::process::{ExitStatus, Output};
use std::task::{Context, Poll};

use futures_io::AsyncRead;

use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::reaper::Reaper;

/// A child process started by [`Command`](super::Command): asyncio's
/// `Process`.
///
/// Dropping it does not kill the child (unless
/// [`kill_on_drop`](super::Command::kill_on_drop) was set) and leaves no
/// zombie for good: an unreaped child goes to the process's orphan list
/// and is reaped when it exits ("Orphans" in the module docs).
#[derive(Debug)]
pub struct Child {
    /// Our end of the child's stdin, when it was [`Stdio::piped`]
    /// (take it to write while waiting; [`wait`](Child::wait) drops it).
    ///
    /// [`Stdio::piped`]: std::process::Stdio::piped
    pub stdin: Option<ChildStdin>,
    /// Our end of the child's stdout, when it was piped.
    pub stdout: Option<ChildStdout>,
    /// Our end of the child's stderr, when it was piped.
    pub stderr: Option<ChildStderr>,
    /// The pid, the status once reaped, and the exit watch.
    reaper: Reaper,
}

impl Child {
    pub(crate) fn new(
        stdin: Option<ChildStdin>,
        stdout: Option<ChildStdout>,
        stderr: Option<ChildStderr>,
        reaper: Reaper,
    ) -> Child {
        Child {
            stdin,
            stdout,
            stderr,
            reaper,
        }
    }

    /// The child's pid (asyncio's `Process.pid`), or `None` once it has
    /// been reaped (its pid may belong to another process by then).
    pub fn id(&self) -> Option<u32> {
        self.reaper.id()
    }

    /// The exit status if the child has exited, without waiting
    /// (asyncio's `Process.returncode`). Once it returns a status, every
    /// later call (and [`wait`](Child::wait)) returns the same one.
    ///
    /// # Errors
    ///
    /// When the status was taken by someone else's `waitpid` (SIGCHLD
    /// set to be ignored, or code that waits for any child).
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.reaper.try_wait()
    }

    /// Waits for the child to exit and returns its status, reaping it
    /// (asyncio's `Process.wait()`). No thread blocks meanwhile.
    ///
    /// Drops [`stdin`](Child#structfield.stdin) first, so a child reading
    /// its input to the end sees it and cannot deadlock the wait. Does not
    /// read stdout or stderr: a child writing more than a pipe holds
    /// (64 KiB on Linux) waits for a reader, so read them concurrently or
    /// use [`wait_with_output`](Child::wait_with_output).
    ///
    /// Cancel-safe: dropping the future loses nothing, and waiting again
    /// (or after the child was reaped) returns the same status.
    ///
    /// # Errors
    ///
    /// Those of [`try_wait`](Child::try_wait), and waiting after the
    /// runtime that spawned the child shut down.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        poll_fn(|cx| self.reaper.poll_wait(cx)).await
    }

    /// Drops stdin, reads stdout and stderr to their ends while waiting
    /// for the child (all three at once, so a child filling both pipes
    /// cannot deadlock), and returns all of it (asyncio's
    /// `Process.communicate()` without input). A stream that was not
    /// piped gives an empty vector.
    ///
    /// # Errors
    ///
    /// The first error of reading or waiting.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let mut stdout = Drain::new(self.stdout.take());
        let mut stderr = Drain::new(self.stderr.take());
        let mut status = None;
        poll_fn(|cx| {
            let out = stdout.poll(cx)?;
            let err = stderr.poll(cx)?;
            if status.is_none() {
                if let Poll::Ready(s) = self.reaper.poll_wait(cx) {
                    status = Some(s?);
                }
            }
            match (out, err, status) {
                (Poll::Ready(()), Poll::Ready(()), Some(status)) => Poll::Ready(Ok(Output {
                    status,
                    stdout: std::mem::take(&mut stdout.buf),
                    stderr: std::mem::take(&mut stderr.buf),
                })),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Sends SIGKILL (asyncio's `Process.kill()`); does not wait.
    ///
    /// # Errors
    ///
    /// `InvalidInput` once the child has been reaped (by
    /// [`wait`](Child::wait) or [`try_wait`](Child::try_wait)); a child
    /// that exited but was not reaped yet takes the signal, `Ok`.
    pub fn kill(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGKILL)
    }

    /// Sends SIGTERM (asyncio's `Process.terminate()`); does not wait.
    ///
    /// # Errors
    ///
    /// As [`kill`](Child::kill).
    pub fn terminate(&mut self) -> io::Result<()> {
        self.send_signal(libc::SIGTERM)
    }

    /// Sends `signal` (a `libc::SIG*` number; asyncio's
    /// `Process.send_signal()`), through the child's pidfd when it has
    /// one. Does not wait.
    ///
    /// # Errors
    ///
    /// As [`kill`](Child::kill), and `InvalidInput` for a number that is
    /// not a signal.
    pub fn send_signal(&mut self, signal: i32) -> io::Result<()> {
        self.reaper.send_signal(signal)
    }

    /// Tests only: how the child's exit is noticed (`"pidfd"`,
    /// `"sigchld"`, or `"reaped"`).
    #[doc(hidden)]
    pub fn exit_watch(&self) -> &'static str {
        self.reaper.watch_kind()
    }
}

/// One pipe read to its end into a buffer.
struct Drain<R> {
    /// The pipe, until it reports its end.
    pipe: Option<R>,
    /// What was read so far.
    buf: Vec<u8>,
}

/// Bytes read per call at most (a Linux pipe holds 64 KiB by default).
const CHUNK: usize = 64 * 1024;

impl<R: AsyncRead + Unpin> Drain<R> {
    fn new(pipe: Option<R>) -> Drain<R> {
        Drain {
            pipe,
            buf: Vec::new(),
        }
    }

    /// Reads until the end (`Ready(Ok)`, also on every later call), an
    /// error, or `Pending`.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(pipe) = &mut self.pipe {
            // Grow into initialised space one chunk at a time (zeroing
            // only what the read may fill).
            let start = self.buf.len();
            self.buf.resize(start + CHUNK, 0);
            let read = Pin::new(&mut *pipe).poll_read(cx, &mut self.buf[start..]);
            let n = match read {
                Poll::Ready(Ok(0)) => {
                    self.pipe = None;
                    0
                }
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => 0,
                Poll::Ready(Err(e)) => {
                    self.buf.truncate(start);
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    self.buf.truncate(start);
                    return Poll::Pending;
                }
            };
            self.buf.truncate(start + n);
        }
        Poll::Ready(Ok(()))
    }
}
