//! The mount calls of an empty mount namespace's root ([`crate::Spawn::empty_mntns`] with
//! [`crate::Spawn::root`]): the parent clones the tree to be the child's root, detached, and
//! the child attaches it over its empty root and enters it. On rustix (raw system calls, no
//! allocation): [`enter_tree`] runs in the child between `clone3` and `execve`.

use std::ffi::CStr;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use rustix::fs::CWD;
use rustix::mount::{mount_change, move_mount, open_tree, MountPropagationFlags, MoveMountFlags, OpenTreeFlags};

use super::raw::errno;

/// A detached copy of the mount tree at `path`: the mount there and every mount below it
/// (`open_tree(2)` with `OPEN_TREE_CLONE|AT_RECURSIVE`, close-on-exec). Unmounted when the last
/// fd on it is closed without it being attached.
///
/// Errors: `EPERM` without `CAP_SYS_ADMIN` over the caller's mount namespace, `ENOENT`,
/// `ENOTDIR`, `EINVAL` (an unbindable mount).
pub(crate) fn clone_tree(path: &CStr) -> Result<OwnedFd, Errno> {
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE;
    open_tree(CWD, path, flags).map_err(errno)
}

/// In the child, in its new empty mount namespace: makes the namespace's root mount private
/// (so that attaching to it propagates to no peer outside), attaches the detached tree `tree`
/// over it (`move_mount(2)`), makes the tree's root the caller's root and working directory
/// (`fchdir`, `chroot(".")`), and closes `tree`. Async-signal-safe.
///
/// Errors: from `mount(2)`, `move_mount(2)`, `fchdir(2)` or `chroot(2)`.
///
/// # Safety
/// `tree` must be an open fd of the calling process (a detached tree from [`clone_tree`]),
/// used by nothing else afterwards: it is closed here.
pub(crate) unsafe fn enter_tree(tree: RawFd) -> Result<(), Errno> {
    // SAFETY: the caller passes an open fd that nothing else uses or closes before the close
    // below.
    let fd = unsafe { BorrowedFd::borrow_raw(tree) };
    mount_change(c"/", MountPropagationFlags::PRIVATE).map_err(errno)?;
    move_mount(fd, c"", CWD, c"/", MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH).map_err(errno)?;
    rustix::process::fchdir(fd).map_err(errno)?;
    rustix::process::chroot(c".").map_err(errno)?;
    // SAFETY: the caller's fd, used by nothing else afterwards (this function's contract).
    unsafe { super::raw::close(tree) };
    Ok(())
}
