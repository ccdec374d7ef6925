//! User and group id maps of a user namespace (`user_namespaces(7)`).
//!
//! A new user namespace starts with no maps: its processes see every id as the overflow id
//! (65534, "nobody"). A map is written once to `/proc/[pid]/uid_map` and `gid_map`, usually by
//! the parent while the child waits (this is what [`crate::Spawn::uid_map`] does). Before an
//! unprivileged process may write `gid_map`, `/proc/[pid]/setgroups` must say `deny`.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;

use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::kinds::Kind;

/// One line of `uid_map`/`gid_map`: ids `inside..inside+count` in the namespace are
/// `outside..outside+count` in the writer's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMap {
    /// First id inside the user namespace.
    pub inside: u32,
    /// First id in the parent user namespace (as the writer sees it).
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

impl IdMap {
    /// A map of `count` ids starting at `inside` onto `outside`.
    pub const fn new(inside: u32, outside: u32, count: u32) -> IdMap {
        IdMap { inside, outside, count }
    }

    /// Maps id `inside` onto `outside`, one id.
    pub const fn single(inside: u32, outside: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count: 1,
        }
    }

    /// The map `unshare --map-root-user` writes for uids: root inside is the caller's
    /// effective uid outside.
    pub fn root_to_current_uid() -> IdMap {
        IdMap::single(0, nix::unistd::geteuid().as_raw())
    }

    /// The same for gids: root inside is the caller's effective gid outside.
    pub fn root_to_current_gid() -> IdMap {
        IdMap::single(0, nix::unistd::getegid().as_raw())
    }
}

/// The text written to a map file: one `inside outside count` line per map.
pub fn format_maps(maps: &[IdMap]) -> String {
    let mut s = String::new();
    for m in maps {
        let _ = writeln!(s, "{} {} {}", m.inside, m.outside, m.count);
    }
    s
}

/// What `/proc/[pid]/setgroups` says: whether `setgroups(2)` is allowed in the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setgroups {
    /// `allow` (the default for a namespace whose gid map was written by a privileged process).
    Allow,
    /// `deny`: required before an unprivileged writer may write `gid_map`.
    Deny,
}

impl Setgroups {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Setgroups::Allow => "allow",
            Setgroups::Deny => "deny",
        }
    }
}

fn write_proc(pid: Pid, file: &str, text: &str, op: Op) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    let mut f = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(op, Kind::User.into(), &path, e))?;
    // These files must be written in one write(2).
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(op, Kind::User.into(), &path, e))
}

/// Writes `/proc/[pid]/uid_map` (`user_namespaces(7)`). Can succeed only once per namespace.
///
/// Errors: `EPERM` when the maps were already written, or the writer lacks `CAP_SETUID` over
/// the parent namespace and maps anything but its own uid; `EINVAL` for overlapping ranges.
pub fn write_uid_map(pid: Pid, maps: &[IdMap]) -> Result<()> {
    write_proc(pid, "uid_map", &format_maps(maps), Op::WriteIdMap)
}

/// Writes `/proc/[pid]/gid_map` (`user_namespaces(7)`). An unprivileged writer must first
/// call [`write_setgroups`] with [`Setgroups::Deny`].
pub fn write_gid_map(pid: Pid, maps: &[IdMap]) -> Result<()> {
    write_proc(pid, "gid_map", &format_maps(maps), Op::WriteIdMap)
}

/// Writes `/proc/[pid]/setgroups` (Linux 3.19). Only possible before `gid_map` is written;
/// `allow` after `deny` is refused with `EPERM`.
pub fn write_setgroups(pid: Pid, value: Setgroups) -> Result<()> {
    write_proc(pid, "setgroups", value.as_str(), Op::WriteSetgroups)
}

/// Reads a process's uid map (as the caller's user namespace sees it).
pub fn read_uid_map(pid: Pid) -> Result<Vec<IdMap>> {
    read_map(pid, "uid_map")
}

/// Reads a process's gid map.
pub fn read_gid_map(pid: Pid) -> Result<Vec<IdMap>> {
    read_map(pid, "gid_map")
}

fn read_map(pid: Pid, file: &str) -> Result<Vec<IdMap>> {
    let path = format!("/proc/{pid}/{file}");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(Op::ReadProc, Kind::User.into(), &path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<u32> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            match v[..] {
                [inside, outside, count] => Ok(IdMap { inside, outside, count }),
                _ => Err(Error::invalid(Op::Parse, format!("bad line {l:?} in {path}"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_lines() {
        assert_eq!(
            format_maps(&[IdMap::single(0, 1000), IdMap::new(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
    }
}
