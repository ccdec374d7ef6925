//! The raw system-call layer: the only `unsafe` code in the crate, one file per family.
//!
//! - [`clone3`](mod@clone3): `clone3(2)` on a child stack (no crate has it; a few lines of
//!   assembly), and that stack with its guard page.
//! - [`nsfs`]: the `ioctl_ns(2)` and pidfd namespace requests, typed, and `listns(2)`.
//! - [`process`]: `pidfd_open(2)`, `pidfd_send_signal(2)`, the signal mask around a clone.
//! - [`raw`]: async-signal-safe reads, writes, opens and waits for the child side.
//! - [`child`]: the code that runs between `clone3` and `execve`.
//! - [`launcher`]: the pool's launcher processes, which start a command in pre-made namespaces.
//! - [`mount`]: a detached copy of a mount tree, and the child's entry into it as the root of
//!   an empty mount namespace.
//!
//! `unshare(2)` and `setns(2)` are here as plain system calls on raw flags and a raw fd, because
//! the child side calls them, where only raw, allocation-free calls may run.

pub(crate) mod child;
pub(crate) mod clone3;
pub(crate) mod launcher;
pub(crate) mod mount;
pub(crate) mod nsfs;
pub(crate) mod process;
pub(crate) mod raw;

use std::os::fd::RawFd;

use nix::errno::Errno;

pub use clone3::Stack;
pub(crate) use clone3::{clone3, CloneArgs, CLONE_EMPTY_MNTNS, CLONE_INTO_CGROUP, CLONE_PIDFD};
pub(crate) use process::{block_all_signals, own_fd, pidfd_open, pidfd_send_signal, restore_signals};

fn cvt(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `unshare(2)` with raw flags. Async-signal-safe.
pub(crate) fn unshare(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall with an integer argument.
    cvt(unsafe { libc::syscall(libc::SYS_unshare, flags as libc::c_long) }).map(drop)
}

/// `setns(2)` with a raw fd and flags. Async-signal-safe.
pub(crate) fn setns(fd: RawFd, nstype: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall with integer arguments; a bad fd gives EBADF.
    cvt(unsafe { libc::syscall(libc::SYS_setns, fd as libc::c_long, nstype as libc::c_long) }).map(drop)
}
