//! `setns/*`: join a held namespace and go back, in one child.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::time::Duration;

use nscore::raw;
use nscore::{Kind, NsHandle};

use super::child::{in_child, ns_of, self_ns_path, stat_ns};
use super::{MeasureError, Result};

/// The kinds [`setns_loop`] covers: every kind but user. A process cannot go back to an
/// ancestor user namespace (`EPERM`), so a join-and-return loop is impossible for user.
pub const SETNS_KINDS: [Kind; 7] = [
    Kind::Uts,
    Kind::Ipc,
    Kind::Net,
    Kind::Cgroup,
    Kind::Mnt,
    Kind::Time,
    Kind::Pid,
];

/// Times `iters` rounds of `setns(target)` + `setns(own)` (join a namespace held by an fd and
/// go back) in one fresh child; returns the summed time of the pairs.
///
/// For pid and time `setns` changes `*_for_children` (time also moves the caller when it is
/// single-threaded). Checks that after one more `setns(target)` the child's namespace equals
/// the target's. Needs root in the target's owning user namespace: not available rootless.
pub fn setns_loop(target: &NsHandle, iters: u64) -> Result<Duration> {
    let kind = target.kind();
    if kind == Kind::User {
        return Err(MeasureError::Other(
            "setns to a user namespace cannot be undone (joining an ancestor is EPERM)".into(),
        ));
    }
    let want = target.inode()?;
    let tfd = target.as_raw_fd();
    let path = self_ns_path(kind);
    let own_path = CString::new(format!("/proc/self/ns/{}", kind.name())).unwrap_or_default();
    let out = in_child(|out| {
        let own = raw::open(&own_path).map_err(|e| ("open", e))?;
        let mut total = 0u64;
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            raw::setns(tfd, kind.set()).map_err(|e| ("setns", e))?;
            raw::setns(own, kind.set()).map_err(|e| ("setns", e))?;
            total += raw::monotonic_ns() - t0;
        }
        raw::setns(tfd, kind.set()).map_err(|e| ("setns", e))?;
        (out[1], out[2]) = stat_ns(&path)?;
        out[0] = total;
        Ok(())
    })?;
    if (out[1], out[2]) != (want.dev, want.ino) {
        return Err(MeasureError::NotDone(format!(
            "after setns the child's {kind} namespace is [{}], not the target {kind}:{want}",
            out[2]
        )));
    }
    Ok(ns_of(out[0]))
}
