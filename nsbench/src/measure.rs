//! Measurement primitives: each runs the measured operation in a fresh, single-threaded child
//! made by nscore's child runner ([`nscore::Spawn::run`]), lets the child time `iters`
//! operations with its own clock ([`nscore::raw::monotonic_ns`] around each call), and returns the
//! nanoseconds it sent back over a pipe. The child allocates nothing after the clone: every
//! path and buffer is prepared before it.
//!
//! Each primitive also checks that the operation really did what it is named after (the
//! child's namespace differs from the parent's, or equals the target's) and returns
//! [`MeasureError::NotDone`] otherwise, so that a benchmark never reports a number for an
//! operation that silently did nothing.
//!
//! Without root, the measuring child is first put in a new user namespace with root mapped to
//! the caller (like `unshare --map-root-user`), where it may create every other kind: see
//! [`rootless`].

mod child;
mod clone;
mod cold;
mod fastpath;
mod holder;
mod memory;
mod scaling;
mod setns;
mod spawn;
mod teardown;
mod unshare;

use std::fmt;

use nscore::Errno;

pub use clone::{clone_loop, clone_pair_loop, verify_clone};
pub use cold::{cold_unshare, COLD_SETTLE};
pub use fastpath::{cgroup_spawns, clone_mntns_spawns, mntns_loop, probe_empty_mntns, ScratchCgroup};
pub use holder::Holder;
pub use memory::{kernel_memory, open_files_limit, settle, KernelMemory};
pub use scaling::{concurrent_unshare, mnt_scaling_loop};
pub use setns::{setns_loop, SETNS_KINDS};
pub use spawn::{
    burst_spawns, settled_spawns, shared_pool, spawn_rate, touched_memory, SpawnMethod, POOL_SIZE, SETTLE, SPAWN_KINDS,
};
pub use teardown::{teardown_loop, TEARDOWN_LIMIT};
pub use unshare::{unshare_loop, unshare_user_once, REPEATABLE};

/// Why a measurement could not be made.
#[derive(Debug)]
pub enum MeasureError {
    /// Setting up or running the child failed (nscore's error names the step and errno).
    Spawn(nscore::Error),
    /// A system call failed in the measuring child.
    Child {
        /// What the child was doing.
        what: &'static str,
        /// The errno it got.
        errno: Errno,
    },
    /// The operation ran but did not create or join the namespace it is named after.
    NotDone(String),
    /// Anything else (a command missing, a short report).
    Other(String),
}

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasureError::Spawn(e) => write!(f, "{e}"),
            MeasureError::Child { what, errno } => {
                write!(f, "in the measuring child: {what}: {errno} ({})", errno.desc())
            }
            MeasureError::NotDone(s) => write!(f, "refusing to report: {s}"),
            MeasureError::Other(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for MeasureError {}

impl From<nscore::Error> for MeasureError {
    fn from(e: nscore::Error) -> Self {
        MeasureError::Spawn(e)
    }
}

impl MeasureError {
    /// True when the error means "not allowed here" (no privilege, or a kind the kernel lacks),
    /// as opposed to a bug: the benchmark is skipped with a message.
    pub fn is_permission(&self) -> bool {
        match self {
            MeasureError::Spawn(e) => e.is_permission() || e.is_unsupported(),
            MeasureError::Child { errno, .. } => {
                matches!(errno, Errno::EPERM | Errno::EACCES | Errno::ENOSYS)
            }
            _ => false,
        }
    }
}

/// Result of a measurement.
pub type Result<T> = std::result::Result<T, MeasureError>;

/// True when this process is not root: measuring children then run in a new user namespace
/// with root mapped to the caller (rootless), where every kind can be created. Joining the
/// host's namespaces back (`setns` benchmarks) is not possible there.
pub fn rootless() -> bool {
    !rustix::process::geteuid().is_root()
}
