//! The per-user-namespace limits on how many namespaces of each kind may be created:
//! `/proc/sys/user/max_<kind>_namespaces` (`namespaces(7)`, section "The /proc/sys/user
//! directory").
//!
//! Each user namespace has its own copy of these files; a limit counts, per user, the
//! namespaces created in that user namespace and its descendants. At the limit, `clone(2)` and
//! `unshare(2)` fail with `ENOSPC`.
//!
//! Setting a limit on the host (the initial user namespace) changes it for the whole machine.
//! [`set`] is meant for a fresh user namespace that the caller made itself (a child of
//! [`crate::Spawn`] with [`crate::Spawn::map_root`]), where the file is that namespace's own.
//!
//! ```no_run
//! use nscore::{limits, Kind};
//! let all = limits::Limits::read()?;
//! println!("max net namespaces: {:?}", all.get(Kind::Net));
//! # Ok::<(), nscore::Error>(())
//! ```

use std::fmt;
use std::io::Write as _;

use nix::errno::Errno;

use crate::error::{Error, Op, Result};
use crate::kinds::Kind;

/// The largest value the kernel accepts (the files are `int` sysctls, range `0..=INT_MAX`).
pub const MAX_LIMIT: u64 = i32::MAX as u64;

fn limit_error(op: Op, kind: Kind, errno: Errno) -> Error {
    let e = Error::sys(op, kind.into(), errno).with_path(kind.limit_file());
    match errno {
        Errno::ENOENT => e.with_hint(format!(
            "this kernel has no {} (per-user namespace limits came in Linux 4.9; the {kind} kind \
             may be missing from this kernel)",
            kind.limit_file()
        )),
        Errno::EPERM | Errno::EACCES if op == Op::WriteLimit => e.with_hint(
            "needs CAP_SYS_RESOURCE (root) over the user namespace that owns the file; \
             set it in a user namespace the caller created, never on the host",
        ),
        _ => e,
    }
}

/// Reads `/proc/sys/user/max_<kind>_namespaces` of the caller's user namespace.
///
/// Errors: `ENOENT` on a kernel without the file (before Linux 4.9, or without the kind).
pub fn read(kind: Kind) -> Result<u64> {
    let text = std::fs::read_to_string(kind.limit_file())
        .map_err(|e| limit_error(Op::ReadProc, kind, crate::error::errno_of(&e)))?;
    text.trim().parse::<u64>().map_err(|_| {
        Error::invalid(
            Op::Parse,
            format!("{} holds {:?}, not a number", kind.limit_file(), text.trim()),
        )
        .with_path(kind.limit_file())
    })
}

/// Writes `/proc/sys/user/max_<kind>_namespaces` of the caller's user namespace
/// (`namespaces(7)`).
///
/// In the initial user namespace this changes the limit for the whole machine: call it in a
/// child that made its own user namespace, where the file belongs to that namespace. Once the
/// count of existing namespaces of `kind` reaches `value`, creating another fails with
/// `ENOSPC`.
///
/// Errors: `EPERM`/`EACCES` without `CAP_SYS_RESOURCE` over the owning user namespace,
/// `ENOENT` on a kernel without the file, a [`Op::Validate`] error for a value above
/// [`MAX_LIMIT`].
pub fn set(kind: Kind, value: u64) -> Result<()> {
    if value > MAX_LIMIT {
        return Err(Error::invalid(
            Op::Validate,
            format!("limit {value} for {kind} is above the kernel's maximum {MAX_LIMIT}"),
        ));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(kind.limit_file())
        .map_err(|e| limit_error(Op::WriteLimit, kind, crate::error::errno_of(&e)))?;
    // A sysctl file takes the value in one write(2).
    f.write_all(format!("{value}\n").as_bytes())
        .map_err(|e| limit_error(Op::WriteLimit, kind, crate::error::errno_of(&e)))
}

/// The eight limits of the caller's user namespace, as [`Limits::read`] found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    values: [Option<u64>; 8],
}

impl Limits {
    /// Reads all eight `/proc/sys/user/max_*_namespaces` files. A file the kernel lacks
    /// (`ENOENT`) gives `None` for that kind; any other failure is an error.
    pub fn read() -> Result<Limits> {
        let mut values = [None; 8];
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            values[i] = match read(kind) {
                Ok(v) => Some(v),
                Err(e) if e.errno() == Some(Errno::ENOENT) => None,
                Err(e) => return Err(e),
            };
        }
        Ok(Limits { values })
    }

    /// The limit for `kind`, or `None` if this kernel has no file for it.
    pub fn get(&self, kind: Kind) -> Option<u64> {
        self.values[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)]
    }

    /// `(kind, limit)` for every kind, in [`Kind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, Option<u64>)> + '_ {
        Kind::ALL.into_iter().zip(self.values)
    }
}

impl fmt::Display for Limits {
    /// One `max_<kind>_namespaces = N` line per kind (`-` where the kernel has no file).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (kind, v) in self.iter() {
            match v {
                Some(v) => writeln!(f, "max_{kind}_namespaces = {v}")?,
                None => writeln!(f, "max_{kind}_namespaces = -")?,
            }
        }
        Ok(())
    }
}
