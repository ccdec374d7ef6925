//! The measuring child and what every primitive shares: the builder of the child, the pipe it
//! reports over, the table of steps it can fail in, and the namespace identity checks.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use rustix::pipe::{pipe_with, PipeFlags};
use std::time::Duration;

use nscore::raw::{self, Stack};
use nscore::{Errno, Kind, KindSet, NsInode, ProcessNamespaces, Spawn};

use super::{rootless, MeasureError, Result};

/// The builder for a measuring child: a plain child as root; otherwise a child in a new user
/// namespace with root mapped to the caller, and in a new PID namespace owned by it (so that
/// the PID loop may `setns` back to its own PID namespace).
pub(super) fn measurer() -> Spawn {
    if rootless() {
        Spawn::new(Kind::User | Kind::Pid).map_root()
    } else {
        Spawn::new(KindSet::EMPTY)
    }
}

/// Number of `u64` values a measuring child reports.
pub(super) const REPORT: usize = 4;

/// What a child body returns: on failure, the step (one of [`STEPS`]) and its errno.
pub(super) type ChildResult = std::result::Result<(), (&'static str, Errno)>;

/// Names of the steps a child body can fail in; the child sends `1 + index` into this table
/// and the errno over its report pipe.
const STEPS: [&str; 12] = [
    "unshare",
    "setns",
    "clone3",
    "open",
    "stat",
    "mount",
    "write",
    "read",
    "uid/gid map",
    "limit file",
    "child exit code",
    "clock",
];

/// The number a child sends for the step `what`: its index in [`STEPS`] (0 when unknown).
fn step_index(what: &str) -> u64 {
    STEPS.iter().position(|s| *s == what).unwrap_or(0) as u64
}

/// nscore's `Errno` (what a child reports) of rustix's.
pub(super) fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// A close-on-exec pipe: (read end, write end).
pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    pipe_with(PipeFlags::CLOEXEC).map_err(|e| MeasureError::Child {
        what: "pipe2",
        errno: errno(e),
    })
}

/// What a child reports to its parent: up to [`REPORT`] values, or the step it failed in and
/// the errno.
pub(super) type Report = std::result::Result<[u64; REPORT], (&'static str, Errno)>;

/// Length in bytes of a report on the pipe: a status word, then the values.
const REPORT_BYTES: usize = 8 * (REPORT + 1);

/// In a child: writes `report` to `fd` in one write, as native-endian words: a status (0, or
/// 1 + the index of the failing step in [`STEPS`]), then the values (on failure, the errno).
/// Allocation-free. False when the write failed.
pub(super) fn send(fd: RawFd, report: Report) -> bool {
    let (status, values) = match report {
        Ok(values) => (0, values),
        Err((what, errno)) => (1 + step_index(what), [errno as i32 as u64, 0, 0, 0]),
    };
    let mut buf = [0u8; REPORT_BYTES];
    for (chunk, word) in buf.chunks_exact_mut(8).zip(std::iter::once(status).chain(values)) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    raw::write_all(fd, &buf).is_ok()
}

/// Reads what a child [`send`]s from `r`, the parent's read end (the write end already closed
/// here): the bytes and how many came.
fn read_report(r: &OwnedFd) -> Result<(usize, [u8; REPORT_BYTES])> {
    let mut buf = [0u8; REPORT_BYTES];
    let n = raw::read_full(r.as_raw_fd(), &mut buf).map_err(|errno| MeasureError::Child {
        what: "reading the child's report",
        errno,
    })?;
    Ok((n, buf))
}

/// The values of a whole report, or the child's failure as a [`MeasureError::Child`].
fn decode(buf: &[u8; REPORT_BYTES]) -> Result<[u64; REPORT]> {
    let word = |i: usize| u64::from_ne_bytes(buf[8 * i..8 * i + 8].try_into().unwrap_or_default());
    match word(0) {
        0 => Ok(std::array::from_fn(|i| word(i + 1))),
        s => Err(MeasureError::Child {
            what: STEPS.get((s - 1) as usize).copied().unwrap_or("?"),
            errno: Errno::from_raw(word(1) as i32),
        }),
    }
}

/// Reads the report of a child that exits after sending it, then reaps the child; `who` names
/// it in errors. A short report or a failed child is an error: the figure is not reported.
pub(super) fn reap_report(r: &OwnedFd, child: &mut nscore::Child, who: &str) -> Result<[u64; REPORT]> {
    let (n, buf) = read_report(r)?;
    let status = child.wait()?;
    if n != buf.len() || !status.success() {
        return Err(MeasureError::Other(format!(
            "{who} sent {n} of {} bytes and ended with {status}",
            buf.len()
        )));
    }
    decode(&buf)
}

/// Reads the report of a child that lives on after sending it; `who` names it in errors.
pub(super) fn live_report(r: &OwnedFd, who: &str) -> Result<[u64; REPORT]> {
    let (n, buf) = read_report(r)?;
    if n != buf.len() {
        return Err(MeasureError::Other(format!("{who} died before reporting")));
    }
    decode(&buf)
}

/// Runs `body` in a fresh measuring child; returns the four values it filled in.
///
/// The body runs between clone and `_exit` in a copy of this (possibly multithreaded)
/// process: it must be async-signal-safe. On failure it returns the step and errno, which
/// reach the parent as a [`MeasureError::Child`].
pub(super) fn in_child<F>(mut body: F) -> Result<[u64; REPORT]>
where
    F: FnMut(&mut [u64; REPORT]) -> ChildResult,
{
    let (r, w) = pipe()?;
    let wfd = w.as_raw_fd();
    // SAFETY: the body runs raw, allocation-free system calls only (async-signal-safe),
    // on buffers made before the clone, and reports through a pipe.
    let mut child = unsafe {
        measurer().run(move || {
            let mut out = [0u64; REPORT];
            let report = body(&mut out).map(|()| out);
            if send(wfd, report) {
                0
            } else {
                125
            }
        })
    }?;
    drop(w);
    reap_report(&r, &mut child, "the measuring child")
}

/// `/proc/self/ns/<kind>`, or `pid_for_children`/`time_for_children` for pid and time (what
/// `unshare` changes for those two).
pub(super) fn self_ns_path(kind: Kind) -> CString {
    let name = kind.for_children_name().unwrap_or(kind.name());
    CString::new(format!("/proc/self/ns/{name}")).unwrap_or_default()
}

/// `stat(2)` of a namespace file in the child: (dev, ino).
pub(super) fn stat_ns(path: &CStr) -> std::result::Result<(u64, u64), (&'static str, Errno)> {
    let st = rustix::fs::stat(path).map_err(|e| ("stat", errno(e)))?;
    Ok((st.st_dev, st.st_ino))
}

/// The namespace of `kind` this process's next children would enter (`pid_for_children` and
/// `time_for_children` for pid and time).
pub(super) fn parent_ns(kind: Kind) -> Result<NsInode> {
    let ns = ProcessNamespaces::current()?;
    ns.for_children(kind)
        .ok_or_else(|| MeasureError::Other(format!("no /proc/self/ns entry for {kind}")))
}

/// `NotDone` unless the child's namespace `child` (dev, ino) differs from `parent`.
pub(super) fn check_differs(what: &str, kind: Kind, parent: NsInode, child: (u64, u64)) -> Result<()> {
    if (parent.dev, parent.ino) == child {
        Err(MeasureError::NotDone(format!(
            "{what}: the child's {kind} namespace is still the parent's {kind}:{parent}"
        )))
    } else {
        Ok(())
    }
}

/// The summed nanoseconds a child reported, as a duration.
pub(super) fn ns_of(ops: u64) -> Duration {
    Duration::from_nanos(ops)
}

/// [`measurer`] cloned straight into new namespaces of `kinds` (plus user, rootless).
pub(super) fn measurer_with(kinds: KindSet) -> Spawn {
    if rootless() {
        Spawn::new(kinds.with(Kind::User)).map_root()
    } else {
        Spawn::new(kinds)
    }
}

/// A 64 KiB stack for the `CLONE_VM|CLONE_VFORK` clones of a measuring child, mapped before
/// the child is made (the child allocates nothing).
pub(super) fn clone_stack() -> Result<Stack> {
    Stack::new(64 * 1024).map_err(|errno| MeasureError::Child {
        what: "mmap of the clone stack",
        errno,
    })
}

/// In a child: one `clone3` with the flags of `kinds` whose child exits 0 at once, reaped.
pub(super) fn clone_ok(kinds: KindSet, stack: Option<&Stack>) -> ChildResult {
    match raw::clone_exit(kinds, stack) {
        Ok(0) => Ok(()),
        Ok(_) => Err(("child exit code", Errno::EIO)),
        Err(e) => Err(("clone3", e)),
    }
}

/// In a child just unshared into a new user namespace: maps its root to the ids of the
/// `uid_map` and `gid_map` lines (`0 <outside> 1\n`), `setgroups` denied first, as `unshare
/// --map-root-user` does. Allocation-free.
pub(super) fn map_root(uid_map: &[u8], gid_map: &[u8]) -> std::result::Result<(), Errno> {
    write_file(c"/proc/self/setgroups", b"deny")?;
    write_file(c"/proc/self/uid_map", uid_map)?;
    write_file(c"/proc/self/gid_map", gid_map)
}

/// In a child: writes `text` to the existing file `path` (a /proc file), without allocating.
pub(super) fn write_file(path: &CStr, text: &[u8]) -> std::result::Result<(), Errno> {
    raw::write_file(path, text)
}
