//! `unshare/*` and `scale_user/*`: repeated `unshare(2)` in one child, and the one-per-process
//! user namespace.

use std::time::Duration;

use nscore::raw;
use nscore::{Kind, KindSet};

use super::child::{check_differs, clone_ok, in_child, map_root, ns_of, parent_ns, self_ns_path, stat_ns, ChildResult};
use super::{MeasureError, Result};

/// The kinds whose `unshare` can be repeated in one process (each call makes a new namespace
/// and drops the previous one): measured by [`unshare_loop`].
pub const REPEATABLE: [Kind; 6] = [Kind::Uts, Kind::Ipc, Kind::Net, Kind::Cgroup, Kind::Mnt, Kind::Time];

/// Times `iters` calls of `unshare(2)` in one fresh child and returns their summed duration
/// (each call timed alone with `CLOCK_MONOTONIC`).
///
/// - `None`: `unshare(0)`, a bare system call, the floor.
/// - A kind in [`REPEATABLE`]: `unshare(CLONE_NEW<kind>)`, repeated.
/// - `Kind::Pid`: a second `unshare(CLONE_NEWPID)` fails until `pid_for_children` is reset, so
///   each iteration first `setns`es back to the child's own PID namespace (not timed), then
///   times the `unshare`. For the check, a child is cloned into the last one after the loop
///   (`pid_for_children` cannot be opened before a first process is inside).
/// - `Kind::User`: can be created only once per process; see [`unshare_user_once`].
///
/// Checks that after the loop the child's namespace (`*_for_children` for pid and time)
/// differs from this process's.
pub fn unshare_loop(kind: Option<Kind>, iters: u64) -> Result<Duration> {
    if kind == Some(Kind::User) {
        return unshare_user_once(iters, 1);
    }
    let flags = kind.map_or(KindSet::EMPTY, Kind::set);
    let path = kind.map(self_ns_path);
    let pid_ns = c"/proc/self/ns/pid";
    let is_pid = kind == Some(Kind::Pid);
    let parent = kind.map(parent_ns).transpose()?;
    let out = in_child(|out| {
        let own_pid = if is_pid {
            raw::open(pid_ns).map_err(|e| ("open", e))?
        } else {
            -1
        };
        let mut total = 0u64;
        for _ in 0..iters {
            if is_pid {
                raw::setns(own_pid, Kind::Pid.set()).map_err(|e| ("setns", e))?;
            }
            let t0 = raw::monotonic_ns();
            raw::unshare(flags).map_err(|e| ("unshare", e))?;
            total += raw::monotonic_ns() - t0;
        }
        out[0] = total;
        if is_pid {
            // pid_for_children reads as ENOENT until a first process is inside.
            clone_ok(KindSet::EMPTY, None)?;
        }
        if let Some(p) = &path {
            (out[1], out[2]) = stat_ns(p)?;
        }
        Ok(())
    })?;
    if let (Some(k), Some(p)) = (kind, parent) {
        check_differs("unshare", k, p, (out[1], out[2]))?;
    }
    Ok(ns_of(out[0]))
}

/// Nests the child `depth - 1` user namespaces deep (each one `unshare(CLONE_NEWUSER)` and
/// maps its root to the one outside), so that the next user namespace is at `depth`.
fn nest_users(depth: u32) -> ChildResult {
    for _ in 1..depth {
        raw::unshare(Kind::User.set()).map_err(|e| ("unshare", e))?;
        map_root(b"0 0 1\n", b"0 0 1\n").map_err(|e| ("uid/gid map", e))?;
    }
    Ok(())
}

/// The cost of creating a user namespace. A process can make only one by `unshare` (it is
/// unmapped afterwards), so each of the `iters` iterations is a fresh child that first nests
/// `depth - 1` user namespaces (not timed; each with root mapped to the one outside), then
/// times its single `unshare(CLONE_NEWUSER)`, which makes a user namespace at nesting level
/// `depth` (1: a child of the initial one; the kernel allows 32 below the initial one, 33
/// from the initial one). Returns the summed time of the timed calls.
///
/// Checks in the first child that its user namespace changed. The wall-clock cost of one
/// iteration is a whole fork of this process, far more than the reported time.
pub fn unshare_user_once(iters: u64, depth: u32) -> Result<Duration> {
    if !(1..=32).contains(&depth) {
        return Err(MeasureError::Other(format!(
            "user namespace depth {depth} is outside 1..=32"
        )));
    }
    let parent = parent_ns(Kind::User)?;
    let path = self_ns_path(Kind::User);
    let mut total = 0u64;
    for i in 0..iters {
        let out = in_child(|out| {
            nest_users(depth)?;
            let before = stat_ns(&path)?;
            let t0 = raw::monotonic_ns();
            raw::unshare(Kind::User.set()).map_err(|e| ("unshare", e))?;
            out[0] = raw::monotonic_ns() - t0;
            let after = stat_ns(&path)?;
            out[3] = u64::from(before != after);
            (out[1], out[2]) = after;
            Ok(())
        })?;
        if i == 0 {
            check_differs("unshare", Kind::User, parent, (out[1], out[2]))?;
            if out[3] != 1 {
                return Err(MeasureError::NotDone(
                    "unshare(CLONE_NEWUSER) left the child in the same user namespace".into(),
                ));
            }
        }
        total += out[0];
    }
    Ok(ns_of(total))
}
