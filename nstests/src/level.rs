//! Where the tests run in the trees of PID and user namespaces: the caller's level below the
//! initial namespace, as far as the kernel lets it be known from where the caller is.
//!
//! The kernel's nesting limits count from the top (a new PID namespace may be at most at
//! level 32, a new user namespace at most at level 33), so a test of those limits must know
//! its own level. The kernel hides what is above the caller: `NS_GET_PARENT` stops at the
//! caller's own PID and user namespace (EPERM), and `/proc/<pid>/status` `NSpid` lists only the
//! levels from the PID namespace of the mounted `/proc` down. The level is exact when the chain
//! can be followed to the initial namespace (whose inode numbers are fixed,
//! `PROC_PID_INIT_INO` and `PROC_USER_INIT_INO`); in a container it is only a lower bound.
//! Test thread only (allocates).

use std::os::unix::fs::MetadataExt as _;

use nscore::Kind;

pub use nscore::inspect::{INIT_PID_INO, INIT_USER_INO};

/// A level in a namespace tree (0: the initial namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Known exactly.
    Exact(i64),
    /// Not known exactly (the initial namespace is not visible from here): at least this.
    AtLeast(i64),
}

impl Level {
    /// The level when it is known exactly.
    pub fn exact(self) -> Option<i64> {
        match self {
            Level::Exact(n) => Some(n),
            Level::AtLeast(_) => None,
        }
    }

    /// The level, or its lower bound.
    pub fn min(self) -> i64 {
        match self {
            Level::Exact(n) | Level::AtLeast(n) => n,
        }
    }

    /// The level `n` below this one.
    pub fn below(self, n: i64) -> Level {
        match self {
            Level::Exact(l) => Level::Exact(l + n),
            Level::AtLeast(l) => Level::AtLeast(l + n),
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Level::Exact(n) => write!(f, "{n}"),
            Level::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

/// The inode of the namespace that `path` (an nsfs link such as `/proc/self/ns/pid`) names.
fn ns_ino(path: &str) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The inode of the namespace of `kind` that the process outside the wall (nswall) was in,
/// from the wall's `NSWALL_OUTER` (`pid:[4026531836] ...`); `None` outside the wall.
fn outer_ino(kind: Kind) -> Option<u64> {
    let outer = std::env::var(nswall::OUTER_VAR).ok()?;
    let prefix = format!("{}:[", kind.name());
    outer
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&prefix)?.strip_suffix(']')?.parse().ok())
}

/// The caller's level in the PID namespace tree.
///
/// Exact when the caller is in the initial PID namespace, when the mounted `/proc` belongs to
/// the initial one (then `NSpid` lists every level), or inside the wall when the wall was
/// built from the initial one (the wall's PID namespace is one level below it and mounts its
/// own `/proc`). Otherwise a lower bound.
pub fn pid_level() -> Level {
    if ns_ino("/proc/self/ns/pid") == Some(INIT_PID_INO) {
        return Level::Exact(0);
    }
    // levels between the PID namespace of the mounted /proc and ours
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).expect("NSpid line");
    let visible = nspid.split_whitespace().count() as i64 - 2;
    // the /proc's own PID namespace is that of its PID 1 (readable as root)
    if ns_ino("/proc/1/ns/pid") == Some(INIT_PID_INO) {
        return Level::Exact(visible);
    }
    match outer_ino(Kind::Pid) {
        // the wall's PID namespace (that of its /proc) is one level below the outer one
        Some(INIT_PID_INO) => Level::Exact(1 + visible),
        Some(_) => Level::AtLeast(2 + visible),
        None => Level::AtLeast(1 + visible),
    }
}

/// The caller's level in the user namespace tree: exact (0) in the initial user namespace;
/// exact (1) in a rootless wall built from the initial one (nswall records the outer user
/// namespace); otherwise at least 1 (the kernel shows no user namespace above the caller's own).
pub fn user_level() -> Level {
    let own = ns_ino("/proc/self/ns/user");
    if own == Some(INIT_USER_INO) {
        Level::Exact(0)
    } else if outer_ino(Kind::User) == Some(INIT_USER_INO) && own != Some(INIT_USER_INO) {
        Level::Exact(1)
    } else {
        Level::AtLeast(1)
    }
}

/// The deepest level a PID namespace may be at (`MAX_PID_NS_LEVEL`): creating one deeper gives
/// ENOSPC.
pub const PID_DEEPEST: i64 = 32;
/// The deepest level a user namespace may be at: creating one below a namespace at level 32
/// gives ENOSPC.
pub const USER_DEEPEST: i64 = 33;
/// How many levels a nesting test makes at most before it stops and fails: well above the
/// kernel's limits, so that a kernel that does not refuse cannot make a test run away.
pub const NESTING_CAP: i64 = 64;

/// Checks what a nesting test saw: from `start`, it made `depth` levels of `what` namespaces
/// (stopping at [`NESTING_CAP`]) until the kernel refused with errno `refused`. The kernel
/// must refuse, with ENOSPC, exactly below level `deepest`; where `start` is only a lower
/// bound, only `start + depth <= deepest` is checked and a `SKIPPED` line says why.
pub fn check_nesting(test: &str, what: &str, start: Level, depth: i64, refused: i64, deepest: i64, report: &str) {
    assert!(
        depth < NESTING_CAP,
        "the kernel did not enforce the {what} namespace nesting limit: reached {depth} levels \
         below level {start} (the test stops at {NESTING_CAP})\n{report}"
    );
    assert_eq!(
        refused,
        libc::ENOSPC as i64,
        "{what} nesting ended {depth} levels below level {start} with errno {refused}, not ENOSPC\n{report}"
    );
    match start.exact() {
        Some(level) => assert_eq!(
            level + depth,
            deepest,
            "{what} namespaces nest down to level {deepest}; from level {level} the kernel allowed {depth}\n{report}"
        ),
        None => {
            assert!(
                start.min() + depth <= deepest,
                "{what} namespaces nest down to level {deepest} at most; from level {start} the kernel \
                 allowed {depth}\n{report}"
            );
            crate::skip(
                &format!("{test} (exact depth)"),
                &format!(
                    "the level where the nesting starts is unknown here ({start}: the kernel shows \
                     no {what} namespace above the tests' own, as in a container); checked only \
                     that {depth} more levels stay within level {deepest}"
                ),
            );
        }
    }
}
