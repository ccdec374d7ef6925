//! Joining existing namespaces (`setns(2)`): by handle, by path, by pidfd, several at once,
//! or every namespace of a process that the caller does not share (`nsenter --all`).
//!
//! `setns` moves the calling *thread*. Joining a user namespace, and joining a mount
//! namespace, need a single-threaded caller (the kernel says `EINVAL` otherwise); never call
//! these from a test harness thread: join in a child with [`crate::Spawn::join`].

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::inspect::{NsHandle, ProcessNamespaces};
use crate::kinds::{Kind, KindSet};
use crate::sys;

/// Joins the namespace behind `ns` (`setns(fd, CLONE_NEW<kind>)`, the kind checked by the
/// kernel).
///
/// Errors: `EPERM` without `CAP_SYS_ADMIN` over the target (or its owner), `EINVAL` when the
/// caller is multithreaded (user, mnt), joins its own user namespace, or the kind differs.
pub fn setns(ns: &NsHandle) -> Result<()> {
    setns_fd(ns.as_fd(), ns.kind().into())
}

/// `setns(2)` on any fd: a namespace fd with `kinds` empty (any kind) or one kind to check,
/// or a pidfd with the kinds to join from that process (Linux 5.8).
///
/// Errors: `EBADF` (not an open fd), `EINVAL` (not a namespace or pidfd, or another kind than
/// `kinds`), `EPERM`.
pub fn setns_fd(fd: BorrowedFd<'_>, kinds: KindSet) -> Result<()> {
    sys::setns(fd, kinds.clone_flags()).map_err(|e| Error::sys(Op::Setns, kinds, e))
}

/// Opens `path` (`/proc/[pid]/ns/<kind>`, `/run/netns/NAME`, ...) and joins it, checking that
/// it is a namespace of `kind`.
pub fn setns_path(path: impl AsRef<Path>, kind: Kind) -> Result<()> {
    let ns = NsHandle::open(path.as_ref())?;
    if ns.kind() != kind {
        return Err(Error::sys(Op::Setns, kind.into(), Errno::EINVAL)
            .with_path(path.as_ref())
            .with_detail(format!("it is a {} namespace, not {kind}", ns.kind())));
    }
    setns(&ns).map_err(|e| e.with_path(path.as_ref()))
}

/// Joins several namespaces of one process at once through its pidfd
/// (`setns(pidfd, flags)`, Linux 5.8): all or none are joined.
pub fn setns_pidfd(pidfd: BorrowedFd<'_>, kinds: KindSet) -> Result<()> {
    if kinds.is_empty() {
        return Err(Error::invalid(Op::Setns, "no kinds given to join from the pidfd"));
    }
    setns_fd(pidfd, kinds)
}

/// The order in which to join several namespaces, as runc and nsenter do: a privileged
/// caller (euid 0) joins the others with its current rights and the user namespace last (its
/// rights would be limited to the target's owner afterwards); an unprivileged caller joins
/// the user namespace first, to gain the rights the others need. The mount namespace comes
/// after the other non-user kinds.
pub fn setns_order(handles: &[NsHandle]) -> Vec<&NsHandle> {
    let rank = |k: Kind| match k {
        Kind::Cgroup => 1,
        Kind::Ipc => 2,
        Kind::Uts => 3,
        Kind::Net => 4,
        Kind::Pid => 5,
        Kind::Time => 6,
        Kind::Mnt => 7,
        Kind::User => {
            if nix::unistd::geteuid().is_root() {
                8
            } else {
                0
            }
        }
    };
    let mut v: Vec<&NsHandle> = handles.iter().collect();
    v.sort_by_key(|h| rank(h.kind()));
    v
}

/// Joins all `handles` (they may come from different processes) in the order of
/// [`setns_order`]; a join refused with `EPERM` before the user namespace is joined is
/// retried after it (nsenter's two passes).
pub fn setns_all(handles: &[NsHandle]) -> Result<()> {
    let order = setns_order(handles);
    let mut retry = Vec::new();
    let mut user_done = false;
    for h in order {
        match setns(h) {
            Ok(()) => user_done |= h.kind() == Kind::User,
            Err(e) if e.errno() == Some(Errno::EPERM) && !user_done && h.kind() != Kind::User => retry.push(h),
            Err(e) => return Err(e),
        }
    }
    for h in retry {
        setns(h)?;
    }
    Ok(())
}

/// Joins every namespace of process `pid` that the caller is not already in, as
/// `nsenter --all --target PID` does, and returns the kinds it joined. For pid and time the
/// target's own namespace is compared with the caller's `*_for_children` (joining them
/// changes what the caller's next children get). A user namespace the caller already shares
/// must be skipped: joining it again is `EINVAL`.
///
/// Through the target's pidfd (`setns(pidfd, flags)`, Linux 5.8), the kernel joins all of them
/// or none; on older kernels (`EINVAL` for a pidfd) it falls back to one `setns` per namespace
/// in [`setns_order`], which can stop half-way. The caller must be single-threaded to join a
/// user or mount namespace (never a test harness thread: do it in a child).
///
/// Errors: `ESRCH` (no such process), `EPERM` (no rights over a target namespace), `EINVAL`
/// (multithreaded caller for user or mnt).
pub fn setns_process(pid: Pid) -> Result<KindSet> {
    let theirs = ProcessNamespaces::of(pid)?;
    // the calling thread's: setns moves it alone
    let ours = ProcessNamespaces::current_thread()?;
    let kinds: KindSet = Kind::ALL
        .into_iter()
        .filter(|&k| match (theirs.get(k), ours.for_children(k)) {
            (Some(t), Some(o)) => t != o,
            _ => false,
        })
        .collect();
    if kinds.is_empty() {
        return Ok(kinds);
    }
    let pidfd = sys::pidfd_open(pid.as_raw())
        .map_err(|e| Error::sys(Op::Open, kinds, e).with_detail(format!("pidfd of {pid}")))?;
    match setns_fd(pidfd.as_fd(), kinds) {
        Err(e) if e.errno() == Some(Errno::EINVAL) && !pidfd_setns_supported() => {
            let handles = kinds
                .iter()
                .map(|k| NsHandle::of_process(pid, k))
                .collect::<Result<Vec<_>>>()?;
            setns_all(&handles)?;
            Ok(kinds)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(kinds),
    }
}

/// Whether the running kernel takes a pidfd in `setns(2)` (Linux 5.8): from `uname -r`, since
/// the call itself answers `EINVAL` for other reasons too (an unreadable release counts as yes).
fn pidfd_setns_supported() -> bool {
    let v = crate::inspect::kernel_version();
    v == (0, 0) || v >= (5, 8)
}
