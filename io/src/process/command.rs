//! `Command`: the builder, a thin layer over `std::process::Command` that
//! spawns on the calling thread and hands the child to a [`Reaper`].

use std::ffi::OsStr;
use std::future::Future;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};

use super::child::Child;
use super::orphan;
use super::pipe::{ChildStderr, ChildStdin, ChildStdout};
use super::reaper::Reaper;
use crate::context;

/// A process builder, mirroring [`std::process::Command`]; its children
/// are waited for without blocking a thread.
///
/// Like asyncio's `create_subprocess_exec`, the program is run directly
/// (no shell): use `Command::new("sh").arg("-c").arg(script)` for one.
/// The builder can spawn any number of children.
///
/// The standard streams default to [`Stdio::inherit`] for
/// [`spawn`](Command::spawn) and [`status`](Command::status), and, for
/// [`output`](Command::output), to [`Stdio::null`] for stdin and
/// [`Stdio::piped`] for stdout and stderr (as in the standard library);
/// a stream set with [`stdin`](Command::stdin) and friends keeps that
/// setting for every spawn.
#[derive(Debug)]
pub struct Command {
    /// The standard library's builder, which does the spawning.
    std: std::process::Command,
    /// Whether the caller chose stdin, stdout, stderr (the others get the
    /// default of the method that spawns).
    chosen: [bool; 3],
    /// Whether children are killed when their `Child` is dropped unreaped.
    kill_on_drop: bool,
    /// Skip the pidfd and notice exits through SIGCHLD (tests).
    force_sigchld: bool,
}

/// Index of stdin, stdout, stderr in `Command::chosen`.
const STDIN: usize = 0;
const STDOUT: usize = 1;
const STDERR: usize = 2;

impl Command {
    /// A builder for running `program` (found through `PATH` unless it
    /// contains a `/`), with no arguments, the parent's environment and
    /// working directory.
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds one argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets several environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds
    /// afterwards).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory. (A relative program path is
    /// looked up before the change, as in the standard library: use an
    /// absolute one to be sure.)
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's stdin: [`Stdio::piped`] gives
    /// [`Child::stdin`](Child#structfield.stdin), [`Stdio::inherit`],
    /// [`Stdio::null`], or any `OwnedFd`/`File` through `Stdio::from`.
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdin(cfg);
        self.chosen[STDIN] = true;
        self
    }

    /// Sets the child's stdout (see [`stdin`](Command::stdin)).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stdout(cfg);
        self.chosen[STDOUT] = true;
        self
    }

    /// Sets the child's stderr (see [`stdin`](Command::stdin)).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.std.stderr(cfg);
        self.chosen[STDERR] = true;
        self
    }

    /// Whether dropping a [`Child`] that has not been reaped sends it
    /// SIGKILL (default `false`: it keeps running). Either way the child
    /// is reaped once it exits ("Orphans" in the module docs).
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Tests only: notice this command's children exiting through SIGCHLD
    /// even where pidfds work (the fallback for old kernels and seccomp).
    #[doc(hidden)]
    pub fn sigchld_fallback(&mut self, force: bool) -> &mut Command {
        self.force_sigchld = force;
        self
    }

    /// The standard library's builder inside, for what this one does not
    /// mirror (its getters; `std::os::unix::process::CommandExt`'s `uid`,
    /// `process_group`, `pre_exec`). Set the standard streams through
    /// this `Command`, not through it.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The standard library's builder inside, mutably (see
    /// [`as_std`](Command::as_std)).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child, on this thread (the standard library's `spawn`
    /// returns once the program has been exec'd, or failed to be). Streams
    /// not set default to [`Stdio::inherit`].
    ///
    /// # Errors
    ///
    /// The OS error of starting the program, kind kept (`NotFound` for a
    /// missing program or working directory, `PermissionDenied`), with
    /// the program in the message.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_with([Stdio::inherit, Stdio::inherit, Stdio::inherit])
    }

    /// Starts the child and waits for it to exit (the child is spawned
    /// when this is called, not when it is first polled). Streams not set
    /// default to [`Stdio::inherit`].
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn) and [`Child::wait`].
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + Send + 'static {
        let child = self.spawn();
        async move { child?.wait().await }
    }

    /// Starts the child, collects everything it writes to stdout and
    /// stderr, and waits for it to exit (spawned when this is called).
    /// Streams not set default to [`Stdio::null`] for stdin and
    /// [`Stdio::piped`] for stdout and stderr.
    ///
    /// # Errors
    ///
    /// Those of [`spawn`](Command::spawn) and
    /// [`Child::wait_with_output`].
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + Send + 'static {
        let child = self.spawn_with([Stdio::null, Stdio::piped, Stdio::piped]);
        async move { child?.wait_with_output().await }
    }

    /// Spawns with `defaults` for the streams the caller did not choose.
    #[track_caller]
    fn spawn_with(&mut self, defaults: [fn() -> Stdio; 3]) -> io::Result<Child> {
        // Before the fork: a child must never exist without a runtime to
        // watch it.
        let driver = context::current_driver("spawning a child process");
        orphan::reap();
        if !self.chosen[STDIN] {
            self.std.stdin(defaults[STDIN]());
        }
        if !self.chosen[STDOUT] {
            self.std.stdout(defaults[STDOUT]());
        }
        if !self.chosen[STDERR] {
            self.std.stderr(defaults[STDERR]());
        }
        let mut child = self.std.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("could not spawn {:?}: {e}", self.std.get_program()),
            )
        })?;
        // From here on the reaper owns the pid: whatever fails below, the
        // child is killed (we cannot hand it out) and reaped, not leaked.
        let mut reaper = Reaper::new(child.id() as libc::pid_t, self.kill_on_drop);
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let pipes = (|| {
            reaper.watch(driver, self.force_sigchld)?;
            Ok::<_, io::Error>((
                stdin.map(ChildStdin::from_std).transpose()?,
                stdout.map(ChildStdout::from_std).transpose()?,
                stderr.map(ChildStderr::from_std).transpose()?,
            ))
        })();
        match pipes {
            Ok((stdin, stdout, stderr)) => Ok(Child::new(stdin, stdout, stderr, reaper)),
            Err(e) => {
                reaper.set_kill_on_drop(true);
                Err(e)
            }
        }
    }
}

impl From<std::process::Command> for Command {
    /// Takes over a standard library builder (its stdio settings are not
    /// visible, so the streams count as not set).
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            chosen: [false; 3],
            kill_on_drop: false,
            force_sigchld: false,
        }
    }
}
