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
use crate::kinds::KindSet;
use crate::sys;

pub use self::child::{Child, Output};
pub use self::spawn::{CloneMode, Propagation, Spawn};
pub use self::stdio::Redirect;
use crate::sys::child::Step;

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
    sys::unshare(kinds.clone_flags()).map_err(|e| Error::sys(Op::Unshare, kinds, e))
}
