//! A running child made by [`Spawn`](super::Spawn), and how it ended.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::inspect::{NsHandle, ProcessNamespaces};
use crate::kinds::{Kind, KindSet};
use crate::sys::{self};

use super::stdio::read_both;

/// What [`Spawn::output`](super::Spawn::output) collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How the child ended (std's type: `code()`, `success()`, and `signal()` through
    /// `std::os::unix::process::ExitStatusExt`).
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
    /// The parent's end of the child's stdin, with [`Redirect::Piped`](super::Redirect::Piped).
    pub stdin: Option<File>,
    /// The parent's end of the child's stdout, with [`Redirect::Piped`](super::Redirect::Piped).
    pub stdout: Option<File>,
    /// The parent's end of the child's stderr, with [`Redirect::Piped`](super::Redirect::Piped).
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

    /// Sends `signal` through the pidfd (`pidfd_send_signal(2)`); `None` sends none but checks
    /// that the child is still there (`ESRCH` once it was reaped), as `kill(pid, 0)` does.
    pub fn signal(&self, signal: impl Into<Option<Signal>>) -> Result<()> {
        // None: signal 0, which only checks that the child is there (as nix's kill)
        let signal = signal.into().map_or(0, |s| s as libc::c_int);
        if self.status.is_some() {
            return Err(Error::sys(Op::Kill, self.kinds, Errno::ESRCH).with_detail("the child was already reaped"));
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal).map_err(|e| Error::sys(Op::Kill, self.kinds, e))
    }

    /// Sends `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::SIGKILL)
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
                // std's status from the wait(2) encoding: code << 8, or the signal (+ 0x80 with core)
                Ok(WaitStatus::Exited(_, code)) => self.status = Some(ExitStatus::from_raw((code & 0xff) << 8)),
                Ok(WaitStatus::Signaled(_, sig, core)) => {
                    self.status = Some(ExitStatus::from_raw(sig as i32 | if core { 0x80 } else { 0 }))
                }
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(Op::Wait, self.kinds, e)),
            }
            return Ok(self.status);
        }
    }
}

/// The child's pidfd: readable when the child has ended, so that an event loop (tokio's
/// `AsyncFd`, `poll(2)`) can wait for it without a thread.
impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
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
