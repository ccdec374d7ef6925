//! `scale_mnt/*` and `concurrent/*`: how `unshare` cost grows with the mounts to copy and with
//! workers creating at once.

use std::os::fd::AsRawFd;
use std::time::Duration;

use nscore::raw;
use nscore::Kind;
use rustix::mount::{mount, mount_change, MountFlags, MountPropagationFlags};

use super::child::{
    check_differs, errno, in_child, measurer, ns_of, parent_ns, pipe, reap_report, self_ns_path, send, stat_ns,
};
use super::unshare::REPEATABLE;
use super::{MeasureError, Result};

/// Times `iters` calls of `unshare(CLONE_NEWNS)` in a child whose mount namespace holds
/// `mounts` extra tmpfs mounts: the child first makes a private scratch mount namespace
/// (`unshare`, `mount --make-rprivate /`), mounts `mounts` tmpfs stacked on `/tmp` there (not
/// timed), then loops. Each call copies every mount, and drops the previous copy.
pub fn mnt_scaling_loop(mounts: u32, iters: u64) -> Result<Duration> {
    let parent = parent_ns(Kind::Mnt)?;
    let path = self_ns_path(Kind::Mnt);
    let out = in_child(|out| {
        raw::unshare(Kind::Mnt.set()).map_err(|e| ("unshare", e))?;
        let private = MountPropagationFlags::REC | MountPropagationFlags::PRIVATE;
        mount_change(c"/", private).map_err(|e| ("mount", errno(e)))?;
        for _ in 0..mounts {
            mount(c"tmpfs", c"/tmp", c"tmpfs", MountFlags::empty(), None).map_err(|e| ("mount", errno(e)))?;
        }
        let mut total = 0u64;
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            raw::unshare(Kind::Mnt.set()).map_err(|e| ("unshare", e))?;
            total += raw::monotonic_ns() - t0;
        }
        out[0] = total;
        (out[1], out[2]) = stat_ns(&path)?;
        Ok(())
    })?;
    check_differs("unshare", Kind::Mnt, parent, (out[1], out[2]))?;
    Ok(ns_of(out[0]))
}

/// `workers` fresh children each time `iters` calls of `unshare(kind)` at the same moment
/// (they wait on one pipe, released together); returns the span from the first start to the
/// last end. With perfect scaling it equals the one-worker time; a global lock makes it grow
/// with the workers. Each worker's namespace is checked to differ from this process's.
pub fn concurrent_unshare(kind: Kind, workers: u32, iters: u64) -> Result<Duration> {
    if !REPEATABLE.contains(&kind) {
        return Err(MeasureError::Other(format!("{kind}: unshare cannot be repeated")));
    }
    let parent = parent_ns(kind)?;
    let path = self_ns_path(kind);
    let (go_r, go_w) = pipe()?;
    let mut pending = Vec::new();
    for _ in 0..workers {
        let (r, w) = pipe()?;
        let (wfd, gfd) = (w.as_raw_fd(), go_r.as_raw_fd());
        let path = &path;
        // SAFETY: the body runs raw, allocation-free system calls only (async-signal-safe),
        // on buffers made before the clone, and reports through a pipe.
        let child = unsafe {
            measurer().run(move || {
                let mut b = [0u8; 1];
                if raw::read_full(gfd, &mut b) != Ok(1) {
                    return 3;
                }
                let report = (|| {
                    let t0 = raw::monotonic_ns();
                    for _ in 0..iters {
                        raw::unshare(kind.set()).map_err(|e| ("unshare", e))?;
                    }
                    let t1 = raw::monotonic_ns();
                    let (dev, ino) = stat_ns(path)?;
                    Ok([t0, t1, dev, ino])
                })();
                if send(wfd, report) {
                    0
                } else {
                    125
                }
            })
        }?;
        drop(w);
        pending.push((child, r));
    }
    let go = vec![b'g'; workers as usize];
    raw::write_all(go_w.as_raw_fd(), &go).map_err(|errno| MeasureError::Child {
        what: "releasing the workers",
        errno,
    })?;
    let (mut start, mut end) = (u64::MAX, 0u64);
    for (mut child, r) in pending {
        let [t0, t1, dev, ino] = reap_report(&r, &mut child, "a worker")?;
        check_differs("unshare", kind, parent, (dev, ino))?;
        start = start.min(t0);
        end = end.max(t1);
    }
    Ok(ns_of(end.saturating_sub(start)))
}
