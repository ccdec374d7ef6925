//! Measurement primitives: each runs the measured operation in a fresh, single-threaded child
//! made by nscore's child runner ([`nscore::Spawn::run`]), lets the child time `iters`
//! operations with its own clock ([`raw::monotonic_ns`] around each call), and returns the
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

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nscore::raw::{self, Stack};
use nscore::{Errno, Kind, KindSet, NsHandle, NsId, ProcessNamespaces, Spawn};

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
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() != 0 }
}

/// The builder for a measuring child: a plain child as root; otherwise a child in a new user
/// namespace with root mapped to the caller, and in a new PID namespace owned by it (so that
/// the PID loop may `setns` back to its own PID namespace).
fn measurer() -> Spawn {
    if rootless() {
        Spawn::new(Kind::User | Kind::Pid).map_root()
    } else {
        Spawn::new(KindSet::new())
    }
}

/// Number of `u64` values a measuring child reports.
const REPORT: usize = 4;

/// What a child body returns: on failure, the step (one of [`STEPS`]) and its errno.
type ChildResult = std::result::Result<(), (&'static str, Errno)>;

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

fn step_index(what: &str) -> u64 {
    STEPS.iter().position(|s| *s == what).unwrap_or(0) as u64
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array on success; we own them from then on.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if r < 0 {
        return Err(MeasureError::Child {
            what: "pipe2",
            errno: Errno::last(),
        });
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads a child's report of `N` native-endian words from `r` (the parent's read end, the
/// write end already closed here), then reaps the child; `who` names it in errors. A short
/// report or a failed child is an error: the figure is not reported.
fn read_report<const N: usize>(r: &OwnedFd, child: &mut nscore::Child, who: &str) -> Result<[u64; N]> {
    let mut buf = vec![0u8; 8 * N];
    let n = raw::read_full(r.as_raw_fd(), &mut buf).map_err(|errno| MeasureError::Child {
        what: "reading the child's report",
        errno,
    })?;
    let status = child.wait()?;
    if n != buf.len() || !status.success() {
        return Err(MeasureError::Other(format!(
            "{who} sent {n} of {} bytes and ended with {status}",
            buf.len()
        )));
    }
    let mut words = [0u64; N];
    for (w, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
        *w = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
    }
    Ok(words)
}

/// Runs `body` in a fresh measuring child; returns the four values it filled in.
///
/// The body runs between clone and `_exit` in a copy of this (possibly multithreaded)
/// process: it must be async-signal-safe. On failure it returns the step and errno, which
/// reach the parent as a [`MeasureError::Child`].
fn in_child<F>(mut body: F) -> Result<[u64; REPORT]>
where
    F: FnMut(&mut [u64; REPORT]) -> ChildResult,
{
    let (r, w) = pipe()?;
    let wfd = w.as_raw_fd();
    let mut child = measurer().run(move || {
        let mut out = [0u64; REPORT];
        let (flag, vals) = match body(&mut out) {
            Ok(()) => (0u64, out),
            Err((what, errno)) => (1 + step_index(what), [errno as i32 as u64, 0, 0, 0]),
        };
        let mut buf = [0u8; 8 * (REPORT + 1)];
        buf[..8].copy_from_slice(&flag.to_ne_bytes());
        for (i, v) in vals.iter().enumerate() {
            buf[8 * (i + 1)..8 * (i + 2)].copy_from_slice(&v.to_ne_bytes());
        }
        if raw::write_all(wfd, &buf).is_err() {
            return 125;
        }
        0
    })?;
    drop(w);
    let word: [u64; REPORT + 1] = read_report(&r, &mut child, "the measuring child")?;
    match word[0] {
        0 => Ok([word[1], word[2], word[3], word[4]]),
        s => Err(MeasureError::Child {
            what: STEPS.get((s - 1) as usize).copied().unwrap_or("?"),
            errno: Errno::from_raw(word[1] as i32),
        }),
    }
}

/// `/proc/self/ns/<kind>`, or `pid_for_children`/`time_for_children` for pid and time (what
/// `unshare` changes for those two).
fn self_ns_path(kind: Kind) -> CString {
    let name = kind.for_children_name().unwrap_or(kind.name());
    CString::new(format!("/proc/self/ns/{name}")).unwrap_or_default()
}

/// `stat(2)` of a namespace file in the child: (dev, ino).
fn stat_ns(path: &CStr) -> std::result::Result<(u64, u64), (&'static str, Errno)> {
    // SAFETY: an all-zero `struct stat` is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: stat is async-signal-safe; `path` is NUL-terminated and `st` a valid out pointer.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } < 0 {
        return Err(("stat", Errno::last()));
    }
    Ok((st.st_dev, st.st_ino))
}

/// The namespace of `kind` this process's next children would enter (`pid_for_children` and
/// `time_for_children` for pid and time).
fn parent_ns(kind: Kind) -> Result<NsId> {
    let ns = ProcessNamespaces::current()?;
    ns.for_children(kind)
        .ok_or_else(|| MeasureError::Other(format!("no /proc/self/ns entry for {kind}")))
}

fn check_differs(what: &str, kind: Kind, parent: NsId, child: (u64, u64)) -> Result<()> {
    if (parent.dev, parent.ino) == child {
        Err(MeasureError::NotDone(format!(
            "{what}: the child's {kind} namespace is still the parent's {kind}:{parent}"
        )))
    } else {
        Ok(())
    }
}

fn ns_of(ops: u64) -> Duration {
    Duration::from_nanos(ops)
}

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
    let flags = kind.map_or(KindSet::new(), Kind::set);
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
            clone_ok(KindSet::new(), None)?;
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
        for (path, text) in [
            (c"/proc/self/setgroups", &b"deny"[..]),
            (c"/proc/self/uid_map", &b"0 0 1\n"[..]),
            (c"/proc/self/gid_map", &b"0 0 1\n"[..]),
        ] {
            let fd = raw_open_write(path).map_err(|e| ("uid/gid map", e))?;
            let r = raw::write_all(fd, text);
            raw::close(fd);
            r.map_err(|e| ("uid/gid map", e))?;
        }
    }
    Ok(())
}

fn raw_open_write(path: &CStr) -> std::result::Result<RawFd, Errno> {
    // SAFETY: open is async-signal-safe; `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(Errno::last())
    } else {
        Ok(fd)
    }
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

/// Times `iters` alternating pairs of clones in one child: with the flags of `kinds`, and
/// with none; returns (summed time with, summed time without). Their difference is the
/// marginal cost of the kinds, less exposed to drift than two separate runs.
pub fn clone_pair_loop(kinds: KindSet, vfork: bool, iters: u64) -> Result<(Duration, Duration)> {
    let stack = Stack::new(64 * 1024).map_err(|errno| MeasureError::Child {
        what: "mmap of the clone stack",
        errno,
    })?;
    let out = in_child(|out| {
        let stack = vfork.then_some(&stack);
        let (mut with, mut without) = (0u64, 0u64);
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            clone_ok(kinds, stack)?;
            let t1 = raw::monotonic_ns();
            clone_ok(KindSet::new(), stack)?;
            let t2 = raw::monotonic_ns();
            with += t1 - t0;
            without += t2 - t1;
        }
        (out[0], out[1]) = (with, without);
        Ok(())
    })?;
    Ok((ns_of(out[0]), ns_of(out[1])))
}

fn clone_ok(kinds: KindSet, stack: Option<&Stack>) -> ChildResult {
    match raw::clone_exit(kinds, stack) {
        Ok(0) => Ok(()),
        Ok(_) => Err(("child exit code", Errno::EIO)),
        Err(e) => Err(("clone3", e)),
    }
}

/// Times `iters` rounds of `clone3` with the flags of `kinds` + child `_exit(0)` + reap, in one
/// fresh child ([`raw::clone_exit`]). `vfork` makes it `CLONE_VM|CLONE_VFORK` on a small
/// stack (no address-space copy); otherwise the clone is fork-like. An empty set is the
/// baseline (`clone/none`).
///
/// The clone's success says that the namespaces were made (`clone3` fails rather than
/// ignore a flag); [`verify_clone`] checks it on a living child.
pub fn clone_loop(kinds: KindSet, vfork: bool, iters: u64) -> Result<Duration> {
    let stack = Stack::new(64 * 1024).map_err(|errno| MeasureError::Child {
        what: "mmap of the clone stack",
        errno,
    })?;
    let out = in_child(|out| {
        let stack = vfork.then_some(&stack);
        let mut total = 0u64;
        for _ in 0..iters {
            let t0 = raw::monotonic_ns();
            clone_ok(kinds, stack)?;
            total += raw::monotonic_ns() - t0;
        }
        out[0] = total;
        Ok(())
    })?;
    Ok(ns_of(out[0]))
}

/// Checks that a child cloned with the flags of `kinds` is in new namespaces of each of those
/// kinds (its `/proc/PID/ns` entries differ from this process's).
pub fn verify_clone(kinds: KindSet) -> Result<()> {
    let (r, w) = pipe()?;
    let rfd = r.as_raw_fd();
    let child = measurer_with(kinds).run(move || {
        let mut b = [0u8; 1];
        let _ = raw::read_full(rfd, &mut b);
        0
    })?;
    let mine = ProcessNamespaces::current()?;
    let theirs = child.namespaces()?;
    drop(w);
    let differ = mine.differing(&theirs);
    for k in kinds.iter() {
        if !differ.contains(k) {
            return Err(MeasureError::NotDone(format!(
                "a child cloned with {} is still in the parent's {k} namespace",
                k.flag_name()
            )));
        }
    }
    drop(child);
    Ok(())
}

fn measurer_with(kinds: KindSet) -> Spawn {
    if rootless() {
        Spawn::new(kinds.with(Kind::User)).map_root()
    } else {
        Spawn::new(kinds)
    }
}

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
        let stack = Stack::new(64 * 1024).map_err(|errno| MeasureError::Child {
            what: "mmap of the clone stack",
            errno,
        })?;
        let child = measurer().run(move || {
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
                        clone_ok(KindSet::new(), Some(&stack))?;
                    }
                    // The fd keeps the namespace alive; deliberately never closed.
                    raw::open(&path).map_err(|e| ("open", e))?;
                }
                Ok(())
            })();
            let word: u64 = match res {
                Ok(()) => 0,
                Err((w, e)) => (1 + step_index(w)) << 32 | e as i32 as u64,
            };
            let _ = raw::write_all(wfd, &word.to_ne_bytes());
            let mut b = [0u8; 1];
            let _ = raw::read_full(rfd, &mut b);
            0
        })?;
        drop(ready_w);
        drop(hold_r);
        let mut b = [0u8; 8];
        let n = raw::read_full(ready_r.as_raw_fd(), &mut b).map_err(|errno| MeasureError::Child {
            what: "reading the holder's report",
            errno,
        })?;
        let word = u64::from_ne_bytes(b);
        if n != 8 {
            return Err(MeasureError::Other("the holder died before reporting".into()));
        }
        if word != 0 {
            return Err(MeasureError::Child {
                what: STEPS.get(((word >> 32) - 1) as usize).copied().unwrap_or("?"),
                errno: Errno::from_raw((word & 0xffff_ffff) as i32),
            });
        }
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
    let want = target.id()?;
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

/// The kinds of the spawn benchmarks: what `unshare --fork --uts --ipc --net --mount --pid`
/// makes.
pub const SPAWN_KINDS: KindSet = KindSet::new()
    .with(Kind::Uts)
    .with(Kind::Ipc)
    .with(Kind::Net)
    .with(Kind::Mnt)
    .with(Kind::Pid);

/// How a program is started in new uts+ipc+net+mnt+pid namespaces ([`SPAWN_KINDS`]).
///
/// Rootless (every method): a new user namespace with root mapped to the caller is made in the
/// same step (`map_root`, `--map-root-user`, or `CLONE_NEWUSER` with the maps written by the
/// `pre_exec` hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnMethod {
    /// `nscore::Spawn::new(..).spawn(program)`: `clone3` with the namespace flags (and
    /// `CLONE_VM|CLONE_VFORK` when nothing must happen between clone and exec), `/` made
    /// private, then `execve`.
    Nscore,
    /// `std::process::Command` with `pre_exec(unshare(flags); mount --make-rprivate /)`: a
    /// fork (a `pre_exec` hook rules out `posix_spawn`), then `unshare`. The program itself is
    /// not in the new PID namespace (only its children would be): `unshare(CLONE_NEWPID)` acts
    /// on `pid_for_children`.
    CommandPreExec,
    /// util-linux `unshare --fork --uts --ipc --net --mount --pid PROGRAM` started with
    /// `std::process::Command` (`posix_spawn`): exec of `unshare`, its `unshare(2)`, a fork,
    /// and the exec of the program.
    UtilLinux,
}

impl SpawnMethod {
    /// All three, in the order of the benchmark ids.
    pub const ALL: [SpawnMethod; 3] = [SpawnMethod::Nscore, SpawnMethod::CommandPreExec, SpawnMethod::UtilLinux];

    /// The last part of the criterion id (`spawn/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            SpawnMethod::Nscore => "nscore",
            SpawnMethod::CommandPreExec => "command_pre_exec",
            SpawnMethod::UtilLinux => "util_linux",
        }
    }

    /// Whether it can run here (util-linux `unshare` on `PATH`).
    pub fn available(self) -> bool {
        match self {
            SpawnMethod::UtilLinux => std::process::Command::new("unshare")
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            _ => true,
        }
    }

    /// Runs `program args...` this way, waits for it, and returns its stdout when `capture`.
    /// A failing exit status is an error.
    pub fn run(self, program: &str, args: &[&str], capture: bool) -> Result<Vec<u8>> {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let out = match self {
            SpawnMethod::Nscore => {
                let sp = if rootless() {
                    Spawn::new(SPAWN_KINDS).map_root()
                } else {
                    Spawn::new(SPAWN_KINDS)
                };
                if capture {
                    let o = sp.output(program, args)?;
                    if !o.status.success() {
                        return Err(MeasureError::Other(format!("{program}: {}", o.status)));
                    }
                    return Ok(o.stdout);
                }
                let st = sp.spawn(program, args)?.wait()?;
                if !st.success() {
                    return Err(MeasureError::Other(format!("{program}: {st}")));
                }
                return Ok(Vec::new());
            }
            SpawnMethod::CommandPreExec => {
                let user = rootless();
                let flags = SPAWN_KINDS.clone_flags() | if user { libc::CLONE_NEWUSER } else { 0 };
                // Rootless: the hook maps root to the caller itself (prepared here: the hook
                // must not allocate).
                // SAFETY: getuid/getgid cannot fail.
                let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
                let uid_map = format!("0 {uid} 1\n").into_bytes();
                let gid_map = format!("0 {gid} 1\n").into_bytes();
                let mut cmd = Command::new(program);
                cmd.args(args);
                // SAFETY: the hook runs between fork and exec and only makes system calls
                // (unshare, open, write, close, mount) on buffers prepared before the fork:
                // async-signal-safe, no allocation.
                unsafe {
                    cmd.pre_exec(move || {
                        let err = std::io::Error::last_os_error;
                        if libc::unshare(flags) < 0 {
                            return Err(err());
                        }
                        if user {
                            for (path, text) in [
                                (c"/proc/self/setgroups", &b"deny"[..]),
                                (c"/proc/self/uid_map", &uid_map[..]),
                                (c"/proc/self/gid_map", &gid_map[..]),
                            ] {
                                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                                if fd < 0 {
                                    return Err(err());
                                }
                                let n = libc::write(fd, text.as_ptr().cast(), text.len());
                                libc::close(fd);
                                if n < 0 {
                                    return Err(err());
                                }
                            }
                        }
                        if libc::mount(
                            std::ptr::null(),
                            c"/".as_ptr(),
                            std::ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            std::ptr::null(),
                        ) < 0
                        {
                            return Err(err());
                        }
                        Ok(())
                    });
                }
                cmd.stdout(if capture { Stdio::piped() } else { Stdio::inherit() })
                    .output()
            }
            SpawnMethod::UtilLinux => Command::new("unshare")
                .args(["--fork", "--uts", "--ipc", "--net", "--mount", "--pid"])
                .args(if rootless() { &["--map-root-user"][..] } else { &[][..] })
                .arg(program)
                .args(args)
                .stdout(if capture { Stdio::piped() } else { Stdio::inherit() })
                .output(),
        };
        let out = out.map_err(|e| MeasureError::Other(format!("{}: {program}: {e}", self.name())))?;
        if !out.status.success() {
            return Err(MeasureError::Other(format!(
                "{}: {program}: {} {}",
                self.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out.stdout)
    }

    /// Checks that a program started this way, and its children, are in new uts, ipc, net,
    /// mnt and PID namespaces: `sh -c 'readlink /proc/self/ns/...; true'` (readlink runs as a
    /// child of the shell, so it shows the new PID namespace even with
    /// [`SpawnMethod::CommandPreExec`], where only children enter it), compared with this
    /// process's links.
    pub fn verify(self) -> Result<()> {
        let names = ["uts", "ipc", "net", "mnt", "pid"];
        let paths: Vec<String> = names.iter().map(|n| format!("/proc/self/ns/{n}")).collect();
        let script = format!("readlink {}; true", paths.join(" "));
        let out = self.run("/bin/sh", &["-c", &script], true)?;
        let text = String::from_utf8_lossy(&out);
        let theirs: Vec<&str> = text.lines().collect();
        for (i, p) in paths.iter().enumerate() {
            let mine = std::fs::read_link(p).map_err(|e| MeasureError::Other(format!("{p}: {e}")))?;
            let mine = mine.to_string_lossy();
            match theirs.get(i) {
                Some(t) if *t != mine => {}
                other => {
                    return Err(MeasureError::NotDone(format!(
                        "{}: the child's {} is {other:?}, this process's is {mine}",
                        self.name(),
                        names[i]
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Allocates `bytes` and writes to every page, so that the memory is really mapped (the
/// parent of the `spawn_1g` benchmarks).
pub fn touched_memory(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&mut v);
    v
}

/// Times `iters` calls of `unshare(CLONE_NEWNS)` in a child whose mount namespace holds
/// `mounts` extra tmpfs mounts: the child first makes a private scratch mount namespace
/// (`unshare`, `mount --make-rprivate /`), mounts `mounts` tmpfs stacked on `/tmp` there (not
/// timed), then loops. Each call copies every mount, and drops the previous copy.
pub fn mnt_scaling_loop(mounts: u32, iters: u64) -> Result<Duration> {
    let parent = parent_ns(Kind::Mnt)?;
    let path = self_ns_path(Kind::Mnt);
    let out = in_child(|out| {
        raw::unshare(Kind::Mnt.set()).map_err(|e| ("unshare", e))?;
        mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE)?;
        for _ in 0..mounts {
            mount(Some(c"tmpfs"), c"/tmp", Some(c"tmpfs"), 0)?;
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

fn mount(src: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: libc::c_ulong) -> ChildResult {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: mount(2) is a plain system call; every string is NUL-terminated or null.
    let r = unsafe { libc::mount(p(src), target.as_ptr(), p(fstype), flags, std::ptr::null()) };
    if r < 0 {
        Err(("mount", Errno::last()))
    } else {
        Ok(())
    }
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
        let child = measurer().run(move || {
            let mut b = [0u8; 1];
            if raw::read_full(gfd, &mut b) != Ok(1) {
                return 3;
            }
            let t0 = raw::monotonic_ns();
            let mut err = 0u64;
            for _ in 0..iters {
                if let Err(e) = raw::unshare(kind.set()) {
                    err = e as i32 as u64;
                    break;
                }
            }
            let t1 = raw::monotonic_ns();
            let (dev, ino) = stat_ns(path).unwrap_or((0, 0));
            let mut buf = [0u8; 40];
            for (i, v) in [t0, t1, err, dev, ino].into_iter().enumerate() {
                buf[8 * i..8 * i + 8].copy_from_slice(&v.to_ne_bytes());
            }
            let _ = raw::write_all(wfd, &buf);
            0
        })?;
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
        let words: [u64; 5] = read_report(&r, &mut child, "a worker")?;
        let w = |i: usize| words[i];
        if w(2) != 0 {
            return Err(MeasureError::Child {
                what: "unshare",
                errno: Errno::from_raw(w(2) as i32),
            });
        }
        if w(4) == 0 {
            return Err(MeasureError::Other(format!(
                "a worker could not stat its {kind} namespace"
            )));
        }
        check_differs("unshare", kind, parent, (w(3), w(4)))?;
        start = start.min(w(0));
        end = end.max(w(1));
    }
    Ok(ns_of(end.saturating_sub(start)))
}

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
    let mut child = Spawn::new(Kind::User).map_root().run(move || {
        let res = (|| -> std::result::Result<[u64; 3], (&'static str, Errno)> {
            let fd = raw_open_write(limit_file).map_err(|e| ("limit file", e))?;
            let wr = raw::write_all(fd, &limit_text);
            raw::close(fd);
            wr.map_err(|e| ("limit file", e))?;
            let create = || -> ChildResult {
                loop {
                    match raw::unshare(kind.set()) {
                        Ok(()) => return Ok(()),
                        Err(Errno::ENOSPC) => {
                            // SAFETY: sched_yield has no arguments and cannot fail.
                            unsafe { libc::sched_yield() };
                        }
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
            Ok([total, dev, ino])
        })();
        let mut buf = [0u8; 32];
        match res {
            Ok(v) => {
                for (i, x) in v.iter().enumerate() {
                    buf[8 * (i + 1)..8 * (i + 2)].copy_from_slice(&x.to_ne_bytes());
                }
            }
            Err((what, e)) => {
                buf[..8].copy_from_slice(&(1 + step_index(what)).to_ne_bytes());
                buf[8..16].copy_from_slice(&(e as i32 as u64).to_ne_bytes());
            }
        }
        let _ = raw::write_all(wfd, &buf);
        0
    })?;
    drop(w);
    let words: [u64; 4] = read_report(&r, &mut child, "the teardown child")?;
    let word = |i: usize| words[i];
    if word(0) != 0 {
        return Err(MeasureError::Child {
            what: STEPS.get((word(0) - 1) as usize).copied().unwrap_or("?"),
            errno: Errno::from_raw(word(1) as i32),
        });
    }
    check_differs("unshare", kind, parent, (word(2), word(3)))?;
    let scaled = word(1) as u128 * iters as u128 / (iters + TEARDOWN_LIMIT - 1) as u128;
    Ok(ns_of(scaled as u64))
}

/// System-wide kernel memory before and while a [`Holder`] keeps `count` namespaces of one
/// kind alive, from `/proc/meminfo` (`SUnreclaim`, `Slab` and `Percpu`). Noisy on a busy
/// machine: everything else running changes these too; `SUnreclaim` (where namespace
/// structures live) is the least noisy, `Slab` also counts the reclaimable dentry and inode
/// caches, which other work churns.
#[derive(Debug, Clone, Copy)]
pub struct KernelMemory {
    /// The kind.
    pub kind: Kind,
    /// How many were held.
    pub count: u32,
    /// `SUnreclaim` growth in bytes per namespace.
    pub unreclaimable_per_ns: f64,
    /// `Slab` growth in bytes per namespace.
    pub slab_per_ns: f64,
    /// `Percpu` growth in bytes per namespace.
    pub percpu_per_ns: f64,
}

fn meminfo_kb(field: &str) -> Result<i64> {
    let text =
        std::fs::read_to_string("/proc/meminfo").map_err(|e| MeasureError::Other(format!("/proc/meminfo: {e}")))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| MeasureError::Other(format!("no {field} in /proc/meminfo")))
}

/// Measures [`KernelMemory`] for `count` namespaces of `kind` (not user: see [`Holder`]):
/// `rounds` times (before, while held), keeping the median growth of each field.
pub fn kernel_memory(kind: Kind, count: u32, rounds: u32) -> Result<KernelMemory> {
    if count == 0 || rounds == 0 {
        return Err(MeasureError::Other("count and rounds must be at least 1".into()));
    }
    const FIELDS: [&str; 3] = ["SUnreclaim", "Slab", "Percpu"];
    let read = || -> Result<[i64; 3]> { Ok([meminfo_kb(FIELDS[0])?, meminfo_kb(FIELDS[1])?, meminfo_kb(FIELDS[2])?]) };
    let mut growth: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        settle(Duration::from_secs(4))?;
        let before = read()?;
        let holder = Holder::new(kind, count)?;
        let during = read()?;
        drop(holder);
        for i in 0..3 {
            growth[i].push((during[i] - before[i]) as f64 * 1024.0 / count as f64);
        }
    }
    let mut median = |i: usize| {
        let v = &mut growth[i];
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(KernelMemory {
        kind,
        count,
        unreclaimable_per_ns: median(0),
        slab_per_ns: median(1),
        percpu_per_ns: median(2),
    })
}

/// Waits (at most `max`) until `SUnreclaim` stops moving: the deferred teardown of earlier
/// namespaces (network namespaces above all) frees memory for a while after they are dropped,
/// and would make the next reading come out negative.
pub fn settle(max: Duration) -> Result<()> {
    let start = std::time::Instant::now();
    let mut last = meminfo_kb("SUnreclaim")?;
    while start.elapsed() < max {
        std::thread::sleep(Duration::from_millis(250));
        let now = meminfo_kb("SUnreclaim")?;
        if (now - last).abs() < 256 {
            return Ok(());
        }
        last = now;
    }
    Ok(())
}

/// The soft limit on open files (`RLIMIT_NOFILE`): a [`Holder`] needs one fd per namespace.
pub fn open_files_limit() -> u64 {
    // SAFETY: an all-zero rlimit is valid; getrlimit fills it in.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit writes into `r`, a valid out pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } < 0 {
        return 1024;
    }
    r.rlim_cur
}
