//! A child that keeps namespaces alive: the target of `setns` and the population of scaling
//! and memory runs.

use std::os::fd::{AsRawFd, OwnedFd};

use nscore::raw;
use nscore::{Kind, KindSet, NsHandle};

use super::child::{clone_ok, clone_stack, live_report, measurer, pipe, self_ns_path, send, ChildResult};
use super::{MeasureError, Result};

/// A child that holds `count` namespaces of one kind alive (by open fds on their nsfs files)
/// until dropped: the target of `setns` benchmarks and the population of scaling runs.
///
/// It makes them by repeated `unshare` (pid: with `setns` back in between, and a child that
/// exits at once cloned into each, since `pid_for_children` cannot be opened before a first
/// process has been inside: the held PID namespaces have a dead init); the last one is
/// also the child's own (or its `*_for_children` for pid and time). User namespaces cannot be
/// made this way.
#[derive(Debug)]
pub struct Holder {
    child: nscore::Child,
    kind: Kind,
    _hold: OwnedFd,
}

impl Holder {
    /// Starts the holder and waits until it holds `count` namespaces of `kind`.
    pub fn new(kind: Kind, count: u32) -> Result<Holder> {
        if kind == Kind::User {
            return Err(MeasureError::Other(
                "a process can create only one user namespace by unshare; no holder for user".into(),
            ));
        }
        let (ready_r, ready_w) = pipe()?;
        let (hold_r, hold_w) = pipe()?;
        let (wfd, rfd) = (ready_w.as_raw_fd(), hold_r.as_raw_fd());
        let path = self_ns_path(kind);
        let pid_ns = c"/proc/self/ns/pid";
        let stack = clone_stack()?;
        // SAFETY: the body runs raw, allocation-free system calls only (async-signal-safe),
        // on buffers made before the clone, and reports through a pipe.
        let child = unsafe {
            measurer().run(move || {
                let res = (|| -> ChildResult {
                    let own_pid = if kind == Kind::Pid {
                        raw::open(pid_ns).map_err(|e| ("open", e))?
                    } else {
                        -1
                    };
                    for _ in 0..count {
                        if kind == Kind::Pid {
                            raw::setns(own_pid, Kind::Pid.set()).map_err(|e| ("setns", e))?;
                        }
                        raw::unshare(kind.set()).map_err(|e| ("unshare", e))?;
                        if kind == Kind::Pid {
                            // pid_for_children opens (ENOENT before) once a first process
                            // has been inside: a child that exits at once.
                            clone_ok(KindSet::EMPTY, Some(&stack))?;
                        }
                        // The fd keeps the namespace alive; deliberately never closed.
                        raw::open(&path).map_err(|e| ("open", e))?;
                    }
                    Ok(())
                })();
                send(wfd, res.map(|()| [0; 4]));
                let mut b = [0u8; 1];
                let _ = raw::read_full(rfd, &mut b);
                0
            })
        }?;
        drop(ready_w);
        drop(hold_r);
        live_report(&ready_r, "the holder")?;
        Ok(Holder {
            child,
            kind,
            _hold: hold_w,
        })
    }

    /// The last namespace the holder made (for pid and time: its `*_for_children`).
    pub fn handle(&self) -> Result<NsHandle> {
        Ok(NsHandle::for_children(self.child.pid(), self.kind)?)
    }
}
