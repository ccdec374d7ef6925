//! # nscore — Linux namespaces of every kind, from Rust
//!
//! Create ([`unshare`], [`Spawn`]; ahead of time: [`Pool`]), join ([`join`]), inspect
//! ([`NsHandle`], [`ProcessNamespaces`], [`inspect::list`]), persist ([`persist`]) and limit
//! ([`limits`]) the eight kinds of Linux namespace: cgroup, ipc, net, mnt, pid, time, user and
//! uts (`namespaces(7)`).
//!
//! ```no_run
//! use nscore::{Kind, ProcessNamespaces, Spawn};
//! let mut child = Spawn::new(Kind::Uts | Kind::Ipc | Kind::Net).hostname("box").spawn("sleep", ["1"])?;
//! let mine = ProcessNamespaces::current()?;
//! assert_eq!(child.namespaces()?.differing(&mine).to_string(), "ipc,net,uts");
//! child.wait()?;
//! # Ok::<(), nscore::Error>(())
//! ```
//!
//! ## Rules the kernel imposes (and this crate follows)
//! - Namespaces belong to a *thread*. [`unshare`] and [`join::setns`] change the calling
//!   thread; in a multithreaded program (a test harness, criterion) create and join in a child
//!   with [`Spawn`], whose child side is async-signal-safe.
//! - Only a single-threaded caller can create or join a user namespace.
//! - `unshare(CLONE_NEWPID)` and `unshare(CLONE_NEWTIME)` act on the caller's *children*.
//! - The `unsafe` code is in one small private module, the system-call layer: rustix's and
//!   nix's calls on raw fds and memory, and by hand what no crate has (`clone3`, the nsfs
//!   ioctls, `listns`). The public `unsafe fn`s ([`Spawn::run`], [`raw::fork`],
//!   [`raw::close`]) only pass their callers' contracts on to it.

pub mod create;
pub mod error;
pub mod idmap;
pub mod inspect;
pub mod join;
pub mod kinds;
pub mod limits;
pub mod persist;
pub mod pool;
pub mod raw;
mod sys;
pub mod timens;

pub use create::{unshare, Child, CloneMode, Output, Propagation, Redirect, Spawn};
pub use error::{Error, Op, Result};
pub use idmap::{IdMap, Setgroups};
pub use inspect::list::{NsEntry, NsList};
pub use inspect::{MntNsInfo, NsHandle, NsInode, ProcessNamespaces};
pub use kinds::{Kind, KindSet};
pub use limits::Limits;
pub use persist::Persisted;
pub use pool::{Pool, PoolBuilder, PoolStats, WhenEmpty};
pub use timens::TimeOffsets;

/// Re-exported so callers can name pids and errnos without depending on `nix` themselves.
pub use nix::{errno::Errno, unistd::Pid};

/// The README's code, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
