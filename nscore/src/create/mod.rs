//! Creating namespaces: [`unshare`] for the calling thread, and [`Spawn`], the child-process
//! builder that clones a child into new namespaces (`clone3(2)`).
//!
//! [`Spawn`] is the one child runner of the project: the tests and benchmarks use it too.
//! Its child runs only async-signal-safe code between `clone3` and `execve` (raw system calls
//! on buffers prepared before the clone), so it is safe to use from a multithreaded parent
//! such as a test harness. Each set-up step that fails is reported to the parent with its
//! errno and turned into an [`Error`]; the half-made child is killed and reaped.
//!
//! ```no_run
//! use nscore::{Kind, Spawn};
//! // Like `unshare --uts --net --fork hostname` with a hostname set first.
//! let out = Spawn::new(Kind::Uts | Kind::Net)
//!     .hostname("box")
//!     .output("hostname", ["-s"])?;
//! assert_eq!(out.stdout, b"box\n");
//! # Ok::<(), nscore::Error>(())
//! ```
//!
//! # Mount propagation
//! As util-linux `unshare(1)` does, a child in a new mount namespace first makes every mount
//! private (`mount --make-rprivate /`), so that nothing it mounts propagates back to the host
//! where `/` is shared (systemd makes it so). Choose otherwise with [`Spawn::propagation`].
//!
//! # How the child is made
//! To run a command, when the parent need not act between the clone and the exec (no id maps
//! to write), the child is cloned with `CLONE_VM|CLONE_VFORK` on a small stack of its own, as
//! `posix_spawn(3)` does: the cost does not grow with the parent's memory. Otherwise (id maps,
//! a function to run, time offsets) it is a fork-like clone.
//!
//! The module's files: `spawn` (the builder and its options), `plan` (checking the options and
//! compiling them into the child's plan, the clone, the parent's side of the set-up), `child`
//! (the handle on a running child and how it ended), `stdio` (the child's standard streams),
//! `pooled` (a spawn whose namespaces come from a [`crate::pool::Pool`]).

mod child;
mod plan;
mod pooled;
mod spawn;
mod stdio;

use crate::error::{Error, Op, Result};
use crate::kinds::{Kind, KindSet};
use crate::sys;

pub use self::child::{Child, Output};
pub use self::spawn::{CloneMode, Propagation, Spawn};
pub use self::stdio::Redirect;
use crate::sys::child::Step;
use nix::errno::Errno;

/// Moves the calling *thread* into new namespaces of the given kinds (`unshare(2)`).
///
/// `Kind::Pid` and `Kind::Time` do not move the caller: they set `pid_for_children` /
/// `time_for_children`, and the next child is the first process inside.
///
/// Do not call this from a thread of a multithreaded program that must keep its namespaces
/// (a test harness, criterion): use [`Spawn`] instead. A user namespace can only be created by
/// a single-threaded caller (`EINVAL` otherwise, with the hint "caller is multithreaded").
///
/// Errors: `EPERM` without `CAP_SYS_ADMIN`, `EINVAL` (multithreaded caller for user; a second
/// PID unshare before a child), `ENOSPC` at a limit or nesting depth, `ENOMEM`.
pub fn unshare(kinds: KindSet) -> Result<()> {
    sys::unshare(kinds).map_err(|e| Error::sys(Op::Unshare, kinds, e))
}

/// Whether this kernel can make an empty mount namespace (`CLONE_EMPTY_MNTNS`, Linux 7.1; see
/// [`Spawn::empty_mntns`]): a child is cloned with that flag alone and exits at once (where the
/// kernel has the flag and the caller may, that child had a new empty mount namespace).
///
/// `Ok` when the kernel knows the flag, also when it refused the clone for want of
/// `CAP_SYS_ADMIN` (`EPERM` comes after the flags were accepted). Otherwise the error that
/// [`Spawn::empty_mntns`] gives: `clone3(2)` with `EINVAL` (or `ENOSYS`), for which
/// [`Error::is_unsupported`] is true and whose hint says "needs Linux 7.1 or newer:
/// CLONE_EMPTY_MNTNS".
pub fn probe_empty_mntns() -> Result<()> {
    let _lock = sys::child::spawn_lock();
    empty_mntns_known()
}

/// [`probe_empty_mntns`] for a caller that holds the spawn lock already.
fn empty_mntns_known() -> Result<()> {
    match sys::child::clone_exit(sys::CLONE_EMPTY_MNTNS, None) {
        Ok(pid) => {
            let _ = sys::raw::reap(pid);
            Ok(())
        }
        Err(e @ (Errno::EINVAL | Errno::ENOSYS)) => Err(Error::unsupported(Op::Clone3, Kind::Mnt.into(), e, "7.1")
            .with_detail("the kernel refused CLONE_EMPTY_MNTNS (an empty mount namespace, Spawn::empty_mntns)")
            .with_hint(
                "needs Linux 7.1 or newer: CLONE_EMPTY_MNTNS; without Spawn::empty_mntns the child gets a copy of the parent's mount namespace",
            )),
        Err(_) => Ok(()),
    }
}
