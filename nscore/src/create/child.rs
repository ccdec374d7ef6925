//! A running child made by [`Spawn`](super::Spawn), and how it ended.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::inspect::{NsHandle, ProcessNamespaces};
use crate::kinds::{Kind, KindSet};
use crate::sys::{self};

use super::stdio::read_both;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled(_) => None,
        }
    }

    /// The signal that ended it, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signaled(s) => Some(s),
            ExitStatus::Exited(_) => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str())
                    .unwrap_or("?");
                write!(f, "killed by signal {s} ({name})")
            }
        }
    }
}

/// What [`Spawn::output`](super::Spawn::output) collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// A child made by [`Spawn`](super::Spawn). Dropping it kills (`SIGKILL`) and reaps the child if it has not
/// been waited for.
#[derive(Debug)]
pub struct Child {
    pub(super) pid: Pid,
    pub(super) pidfd: OwnedFd,
    pub(super) kinds: KindSet,
    pub(super) status: Option<ExitStatus>,
    /// The parent's end of the child's stdin, with [`Stdio::Piped`](super::Stdio::Piped).
    pub stdin: Option<File>,
    /// The parent's end of the child's stdout, with [`Stdio::Piped`](super::Stdio::Piped).
    pub stdout: Option<File>,
    /// The parent's end of the child's stderr, with [`Stdio::Piped`](super::Stdio::Piped).
    pub stderr: Option<File>,
}

impl Child {
    /// The child's pid, as the parent's PID namespace sees it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// A pidfd for the child (`CLONE_PIDFD`): it cannot be confused with a reused pid.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The kinds the child got new namespaces of.
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// A handle on the child's namespace of `kind` (through the pidfd where the kernel allows,
    /// else `/proc/[pid]/ns`). It keeps the namespace alive after the child is gone.
    pub fn ns(&self, kind: Kind) -> Result<NsHandle> {
        NsHandle::from_pidfd(self.pidfd.as_fd(), kind)
    }

    /// The identities of all the child's namespaces.
    pub fn namespaces(&self) -> Result<ProcessNamespaces> {
        ProcessNamespaces::of(self.pid)
    }

    /// Sends `signal` through the pidfd (`pidfd_send_signal(2)`).
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.status.is_some() {
            return Err(Error::sys(Op::Kill, self.kinds, Errno::ESRCH).with_detail("the child was already reaped"));
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal).map_err(|e| Error::sys(Op::Kill, self.kinds, e))
    }

    /// Sends `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Waits for the child to end (`waitid(P_PIDFD)`) and returns how it ended.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        self.reap(WaitPidFlag::WEXITED)?
            .ok_or_else(|| Error::sys(Op::Wait, self.kinds, Errno::ECHILD))
    }

    /// Returns how the child ended if it has, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.reap(WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG)
    }

    /// Waits at most `timeout` (polling the pidfd); `None` if the child is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) if left.is_zero() => return Ok(None),
                Ok(0) => continue,
                Ok(_) => return self.try_wait(),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(Op::Wait, self.kinds, e)),
            }
        }
    }

    /// Waits for the child and collects what remains of its piped stdout and stderr.
    pub fn wait_with_output(&mut self) -> Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) =
            read_both(self.stdout.take(), self.stderr.take()).map_err(|e| Error::sys(Op::Wait, self.kinds, e))?;
        let status = self.wait()?;
        Ok(Output { status, stdout, stderr })
    }

    fn reap(&mut self, flags: WaitPidFlag) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        loop {
            match waitid(Id::PIDFd(self.pidfd.as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => self.status = Some(ExitStatus::Exited(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => self.status = Some(ExitStatus::Signaled(sig as i32)),
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(Op::Wait, self.kinds, e)),
            }
            return Ok(self.status);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = sys::pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
            let _ = self.reap(WaitPidFlag::WEXITED);
        }
    }
}
