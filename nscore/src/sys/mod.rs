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
//! The system calls go through rustix (allocation-free and async-signal-safe, so fit for the
//! child side) or nix wherever one of them has the call. What is by hand here has a comment
//! that says why: `clone3(2)` (no crate has it), the nsfs requests and `listns(2)` (no crate
//! has them), `pidfd_send_signal(2)` with signal 0 and `prctl(PR_SET_PDEATHSIG)` with any signal
//! (rustix's `Signal` names neither 0 nor the realtime signals), and in the child `_exit(2)`,
//! the signal dispositions, `execve(2)` and a vDSO clock read.
//!
//! `unshare(2)` and `setns(2)` are here as plain system calls on a set of kinds and a raw
//! nstype, because the child side calls them, where only raw, allocation-free calls may run.

pub(crate) mod child;
pub(crate) mod clone3;
pub(crate) mod launcher;
pub(crate) mod mount;
pub(crate) mod nsfs;
pub(crate) mod process;
pub(crate) mod raw;

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use rustix::thread::{ThreadNameSpaceType, UnshareFlags};

use crate::kinds::KindSet;

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

/// `unshare(2)` of new namespaces of `kinds`. Async-signal-safe.
pub(crate) fn unshare(kinds: KindSet) -> Result<(), Errno> {
    let flags = UnshareFlags::from_bits_retain(kinds.clone_flags() as u32);
    // SAFETY: rustix's `unshare` is unsafe for `CLONE_FILES` alone (other threads' fds would
    // vanish from this thread's table); a `KindSet` holds namespace flags only.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(raw::errno)
}

/// `setns(2)` with a raw nstype: 0 or one `CLONE_NEW*` flag for a namespace fd, any of them
/// for a pidfd. rustix names the two forms apart (`move_into_link_name_space`,
/// `move_into_thread_name_spaces`); both are this one system call, which the second makes with
/// the flags as given. Async-signal-safe.
pub(crate) fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> Result<(), Errno> {
    let flags = ThreadNameSpaceType::from_bits_retain(nstype as u32);
    rustix::thread::move_into_thread_name_spaces(fd, flags).map_err(raw::errno)
}
