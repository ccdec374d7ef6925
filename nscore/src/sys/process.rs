//! Process-side calls: pidfds, and the signal mask around a clone.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};

use super::cvt;

/// `pidfd_send_signal(2)` (Linux 5.1). By hand: rustix's takes a `Signal`, which cannot be 0,
/// the "is it still there" probe that `Child::signal(None)` sends.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall; no siginfo is passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd() as libc::c_long,
            sig as libc::c_long,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// `pidfd_open(2)` (Linux 5.3), through rustix.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd, Errno> {
    let pid = rustix::process::Pid::from_raw(pid).ok_or(Errno::EINVAL)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

/// Wraps a raw fd returned by `clone3(CLONE_PIDFD)` or `pipe2`.
///
/// # Safety
/// `fd` must be open and owned by nobody else.
pub(crate) unsafe fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Blocks every signal in the calling thread (nix's `pthread_sigmask`); returns the previous
/// mask.
pub(crate) fn block_all_signals() -> SigSet {
    let mut old = SigSet::empty();
    // Cannot fail with a valid `how` and sets.
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), Some(&mut old));
    old
}

/// Restores a mask saved by [`block_all_signals`].
pub(crate) fn restore_signals(old: &SigSet) {
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
}
