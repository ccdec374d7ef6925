//! `teardown/*`: creation and the kernel's deferred destruction of net and ipc namespaces.

use std::os::fd::AsRawFd;
use std::time::Duration;

use nscore::raw;
use nscore::{Errno, Kind, Spawn};

use super::child::{
    check_differs, ns_of, parent_ns, pipe, reap_report, self_ns_path, send, stat_ns, write_file, ChildResult, Report,
};
use super::{MeasureError, Result};

/// Backlog allowed by [`teardown_loop`]: the limit written to `max_<kind>_namespaces`.
pub const TEARDOWN_LIMIT: u64 = 16;

/// Creation *and destruction* throughput of net or ipc namespaces, asynchronous cleanup
/// included.
///
/// The child runs in a new user namespace where it sets `/proc/sys/user/max_<kind>_namespaces`
/// to [`TEARDOWN_LIMIT`]. That count drops only when the kernel's deferred cleanup of a
/// namespace has finished (`cleanup_net` on a workqueue for net, `free_ipc` work for ipc), so
/// a loop of `unshare(kind)` (each call drops the previous namespace) that retries on `ENOSPC`
/// can never run more than `TEARDOWN_LIMIT - 1` namespaces ahead of the cleanup. After the
/// `iters` calls it waits until the backlog is empty (it holds `TEARDOWN_LIMIT - 1` fresh
/// ones). The time of all that, scaled by `iters / (iters + TEARDOWN_LIMIT - 1)`, is returned.
pub fn teardown_loop(kind: Kind, iters: u64) -> Result<Duration> {
    let limit_file = match kind {
        Kind::Net => c"/proc/sys/user/max_net_namespaces",
        Kind::Ipc => c"/proc/sys/user/max_ipc_namespaces",
        _ => {
            return Err(MeasureError::Other(format!(
                "teardown is measured for net and ipc, not {kind}"
            )))
        }
    };
    let parent = parent_ns(kind)?;
    let path = self_ns_path(kind);
    let (r, w) = pipe()?;
    let wfd = w.as_raw_fd();
    let limit_text = format!("{TEARDOWN_LIMIT}\n").into_bytes();
    // SAFETY: the body runs raw, allocation-free system calls only (async-signal-safe),
    // on buffers made before the clone, and reports through a pipe.
    let mut child = unsafe {
        Spawn::new(Kind::User).map_root().run(move || {
            let report = (|| -> Report {
                write_file(limit_file, &limit_text).map_err(|e| ("limit file", e))?;
                let create = || -> ChildResult {
                    loop {
                        match raw::unshare(kind.set()) {
                            Ok(()) => return Ok(()),
                            Err(Errno::ENOSPC) => rustix::thread::sched_yield(),
                            Err(e) => return Err(("unshare", e)),
                        }
                    }
                };
                let t0 = raw::monotonic_ns();
                for _ in 0..iters {
                    create()?;
                }
                for _ in 1..TEARDOWN_LIMIT {
                    // Hold the current one (fd never closed), then make the next.
                    raw::open(&path).map_err(|e| ("open", e))?;
                    create()?;
                }
                let total = raw::monotonic_ns() - t0;
                let (dev, ino) = stat_ns(&path)?;
                Ok([total, dev, ino, 0])
            })();
            if send(wfd, report) {
                0
            } else {
                125
            }
        })
    }?;
    drop(w);
    let [total, dev, ino, _] = reap_report(&r, &mut child, "the teardown child")?;
    check_differs("unshare", kind, parent, (dev, ino))?;
    let scaled = total as u128 * iters as u128 / (iters + TEARDOWN_LIMIT - 1) as u128;
    Ok(ns_of(scaled as u64))
}
