//! The one copy of the child-side helpers the isolation tests share.
//!
//! Everything here is async-signal-safe, for use in a child body after `clone` in the
//! multithreaded test harness: raw system calls on buffers the caller owns, no allocation, no
//! locks. Grandchildren are made by nscore's fork-like [`raw::fork`] (one `clone3(2)`, no glibc
//! `fork` handlers), never by a clone of the tests' own. Files and mounts ([`crate::fs`]) and
//! the nsfs requests ([`crate::nsfs`]) are re-exported here.

use std::ffi::CStr;
use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};

use rustix::process::{Pid, Signal};

use nscore::{raw, Errno, Kind, KindSet};

use crate::{Mode, Probe};

pub use crate::fs::*;
pub use crate::nsfs::*;

/// Closes a pipe end that the child body made itself ([`pipe`]) or that its test made for it
/// before the spawn.
///
/// # Safety
/// As for [`raw::close`]: the calling process owns `fd` (no `OwnedFd`, `File` or other part of
/// it holds it) and does not use it again.
pub unsafe fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it again (this function's contract).
    unsafe { raw::close(fd) }
}

/// A fork-like grandchild in new namespaces of `kinds` (empty: a plain fork), made by
/// [`raw::fork`]. The grandchild gets `SIGKILL` when its parent dies, runs `f` and exits with
/// its result. Returns the pid in the caller, or -1.
///
/// # Safety
/// As for [`raw::fork`]: when the caller is multithreaded, `f` must only do async-signal-safe
/// work (system calls on memory made before the fork; no allocation, no lock, no panic), and
/// it must close only fds the grandchild owns.
pub unsafe fn fork_with(kinds: KindSet, f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: `f`, the only code the grandchild runs before it exits, is async-signal-safe by
    // this function's contract; setting the death signal is one raw prctl(2).
    match unsafe { raw::fork(kinds) } {
        Ok(0) => {
            let _ = raw::set_death_signal(libc::SIGKILL);
            raw::exit(f())
        }
        Ok(pid) => pid,
        Err(_) => -1,
    }
}

/// A plain fork-like child ([`raw::fork`] with no new namespace): 0 in the child, its pid in
/// the caller.
///
/// # Safety
/// As for [`raw::fork`]: when the caller is multithreaded, the child must run only
/// async-signal-safe code until it calls [`raw::exit`] or `execve`.
pub unsafe fn fork() -> Result<libc::pid_t, Errno> {
    // SAFETY: what the child runs is the caller's to keep async-signal-safe (this function's
    // contract).
    unsafe { raw::fork(KindSet::EMPTY) }
}

/// Makes a fork-like child that lives in new namespaces of `kinds` as `mode` says, from a
/// single-threaded caller: `None` forks, `Clone` clones into `kinds`, `Unshare` forks, calls
/// `unshare(kinds)` in the child and, for pid and time (which act on the caller's children),
/// forks once more; that middle process waits and exits with the grandchild's code.
///
/// Returns 0 in the process inside, the pid of the first child in the caller.
///
/// # Safety
/// As for [`fork`]: when the caller is multithreaded, the process inside must run only
/// async-signal-safe code until it calls [`raw::exit`] or `execve`.
pub unsafe fn nsfork(mode: Mode, kinds: KindSet) -> Result<libc::pid_t, Errno> {
    match mode {
        // SAFETY: the child's code is the caller's to keep async-signal-safe (contract above).
        Mode::None => unsafe { fork() },
        // SAFETY: as above. No pool in a child (it would allocate): `Pool` clones here as
        // `Clone` does.
        Mode::Clone | Mode::Pool => unsafe { raw::fork(kinds) },
        Mode::Unshare => {
            // SAFETY: the child makes only raw unshare(2) and fork calls, then runs the
            // caller's code, async-signal-safe by the contract above.
            let pid = unsafe { fork() }?;
            if pid > 0 {
                return Ok(pid);
            }
            if let Err(e) = raw::unshare(kinds) {
                raw::exit(100 + e as i32 % 100);
            }
            if kinds.contains(Kind::Pid) || kinds.contains(Kind::Time) {
                // SAFETY: as above; the middle process only reaps and exits.
                match unsafe { fork() } {
                    Ok(0) => return Ok(0),
                    Ok(g) => raw::exit(raw::reap(g).unwrap_or(99)),
                    Err(_) => raw::exit(98),
                }
            }
            Ok(0)
        }
    }
}

/// Makes a process as [`nsfork`] does (in new namespaces of `kinds` as `mode` says) that runs
/// `inside` and exits with what it returns. Returns its pid in the caller, without waiting;
/// when the fork fails, reports `fork_errno=<errno>` and returns `None`.
///
/// # Safety
/// As for [`nsfork`]: when the caller is multithreaded, `inside` must only do async-signal-safe
/// work (system calls on memory made before the fork; no allocation, no lock, no panic), and
/// it must close only fds the new process owns.
pub unsafe fn nsfork_with(p: &Probe, mode: Mode, kinds: KindSet, inside: impl FnOnce() -> i32) -> Option<libc::pid_t> {
    // SAFETY: the new process runs only `inside`, async-signal-safe by this function's
    // contract, and exits.
    match unsafe { nsfork(mode, kinds) } {
        Ok(0) => raw::exit(inside()),
        Ok(pid) => Some(pid),
        Err(e) => {
            p.line_num(b"fork_errno", e as i64);
            None
        }
    }
}

/// [`nsfork_with`] with a pipe from the new process to the caller: `inside` gets the write
/// end (the process's copy of the read end is closed first), the caller gets the pid and the
/// read end (its copy of the write end is closed), on which [`get_i64`] reads what `inside`
/// wrote with [`put_i64`] until end of file. `None` when the pipe or the fork fails (the fork's
/// errno reported as `fork_errno`).
///
/// # Safety
/// As for [`nsfork_with`].
pub unsafe fn nsfork_reporting(
    p: &Probe,
    mode: Mode,
    kinds: KindSet,
    inside: impl FnOnce(RawFd) -> i32,
) -> Option<(libc::pid_t, RawFd)> {
    let [rd, wr] = pipe();
    if rd < 0 {
        return None;
    }
    let inside = || {
        // SAFETY: the new process owns its copy of `rd`, made just above, and does not use it.
        unsafe { close(rd) };
        inside(wr)
    };
    // SAFETY: `inside` is async-signal-safe by this function's contract; the wrapper adds one
    // close(2) of the process's own copy of a pipe end.
    let pid = unsafe { nsfork_with(p, mode, kinds, inside) };
    // SAFETY: the caller owns its copy of `wr`, made above, and does not use it again (the
    // new process has its own).
    unsafe { close(wr) };
    match pid {
        Some(pid) => Some((pid, rd)),
        None => {
            // SAFETY: as above, for `rd`: nobody reads from it now.
            unsafe { close(rd) };
            None
        }
    }
}

/// A grandchild in a new namespace of its own, made by [`Peer::start`], that waits for the
/// caller's [`Peer::go`] before it runs its body; and the caller's fd on that namespace, to
/// hand to the kernel (a veth peer's `IFLA_NET_NS_FD`, `setns`).
#[derive(Debug)]
pub struct Peer {
    /// The grandchild's pid (the caller reaps it).
    pub pid: libc::pid_t,
    /// The caller's fd on the grandchild's namespace, -1 if it could not be opened; the
    /// caller owns it (and closes it with [`close`]).
    pub ns: RawFd,
    /// The write end of the go pipe, -1 once used.
    go: RawFd,
}

impl Peer {
    /// Forks a grandchild in a new namespace of `kind` ([`fork_with`]) and returns once it
    /// runs there, with an fd on that namespace. The grandchild then waits for [`Peer::go`]
    /// and runs `body`, exiting with what it returns (with 3, without running it, when the
    /// caller goes away first). `None` when the fork fails or the grandchild ends before.
    ///
    /// # Safety
    /// As for [`fork_with`]: when the caller is multithreaded, `body` must be async-signal-safe
    /// and close only fds the grandchild owns.
    pub unsafe fn start(kind: Kind, body: impl FnOnce() -> i32) -> Option<Peer> {
        let (mut ready, go) = (pipe(), pipe());
        let peer = || {
            signal(ready[1]);
            // SAFETY: the grandchild owns its copy of `go[1]` (made above) and does not use it:
            // the caller's copy alone says go, and end of file when it is gone.
            unsafe { close(go[1]) };
            if !wait(go[0]) {
                return 3;
            }
            body()
        };
        // SAFETY: `peer` adds pipe writes, a read and a close of its own copy of a pipe end
        // to `body`, which is async-signal-safe by this function's contract.
        let pid = unsafe { fork_with(kind.into(), peer) };
        // SAFETY: the caller owns its copies of `ready`'s ends and of `go[0]` (made above) and
        // uses none of them again: `wait_ready` closes the write end (and sets it to -1), the
        // rest is closed here.
        let there = pid > 0 && unsafe { wait_ready(&mut ready) };
        // SAFETY: as above.
        unsafe {
            close(ready[0]);
            if ready[1] >= 0 {
                close(ready[1]);
            }
            close(go[0]);
        }
        if !there {
            // SAFETY: as above, for the write end of the go pipe, which nobody writes now.
            unsafe { close(go[1]) };
            return None;
        }
        let mut path = [0u8; 64];
        let mut digits = [0u8; 24];
        let ns = path_in(
            &mut path,
            &[
                b"/proc/",
                decimal(pid as i64, &mut digits),
                b"/ns/",
                kind.name().as_bytes(),
            ],
        );
        let ns = raw::open(ns).unwrap_or(-1);
        Some(Peer { pid, ns, go: go[1] })
    }

    /// Lets the grandchild run its body (once).
    pub fn go(&mut self) {
        if self.go >= 0 {
            signal(self.go);
            // SAFETY: `go` is this value's own copy of the pipe end, used no more (set to -1).
            unsafe { close(self.go) };
            self.go = -1;
        }
    }
}

/// The namespaces of a grandchild made by [`fork_with`] in `mode`: `kinds` in `Clone` mode
/// (the clone makes them; in `Unshare` mode the grandchild calls [`enter`] instead), plus
/// `always` in every mode.
pub fn kinds_for(mode: Mode, kinds: KindSet, always: KindSet) -> KindSet {
    if mode == Mode::Clone {
        always | kinds
    } else {
        always
    }
}

/// In a grandchild made with [`kinds_for`]: `unshare(kinds)` in `Unshare` mode (nothing in the
/// others). On error reports `unshare_errno=<errno>` and returns `false`.
pub fn enter(mode: Mode, kinds: KindSet, p: &Probe) -> bool {
    if mode == Mode::Unshare {
        if let Err(e) = raw::unshare(kinds) {
            p.line_num(b"unshare_errno", e as i64);
            return false;
        }
    }
    true
}

/// The errno of a failed rustix call, as nscore's [`Errno`].
pub fn errno_of(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// 0 when `r` is `Ok`, else its errno: what a body reports of an nscore or nix call.
pub fn err_of<T>(r: Result<T, Errno>) -> i64 {
    r.err().map_or(0, |e| e as i64)
}

/// 0 when `r` is `Ok`, else its errno: what a body reports of a rustix call.
pub fn err_code<T>(r: rustix::io::Result<T>) -> i64 {
    r.err().map_or(0, |e| e.raw_os_error() as i64)
}

/// Borrows a raw fd of the caller's for one call (rustix takes fds as `AsFd`).
///
/// # Safety
/// As for [`BorrowedFd::borrow_raw`]: `fd` is open, and stays open while the borrow lives.
pub unsafe fn borrow<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: `fd` is open while the borrow lives (this function's contract).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// A pipe `[read, write]`, both ends close-on-exec, or `[-1, -1]` on error (then every
/// [`wait`] on it fails). The caller owns both ends (they are closed with [`close`]).
pub fn pipe() -> [RawFd; 2] {
    match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
        Ok((r, w)) => [r.into_raw_fd(), w.into_raw_fd()],
        Err(_) => [-1, -1],
    }
}

/// Sleeps `ms` milliseconds (`nanosleep(2)`, async-signal-safe).
pub fn sleep_ms(ms: i64) {
    let ts = rustix::time::Timespec {
        tv_sec: ms / 1000,
        tv_nsec: (ms % 1000) * 1_000_000,
    };
    let _ = rustix::thread::nanosleep(&ts);
}

/// Writes one byte: the other side's [`wait`] returns.
pub fn signal(fd: RawFd) {
    let _ = raw::write_all(fd, b"!");
}

/// Waits for one byte; `false` at end of file or on error.
pub fn wait(fd: RawFd) -> bool {
    let mut b = [0u8; 1];
    matches!(raw::read_full(fd, &mut b), Ok(1))
}

/// In the parent: closes its copy of the write end of `pipe` (so that a child's death shows
/// as end of file) and waits for one byte.
///
/// # Safety
/// As for [`close`]: the calling process owns `pipe[1]` (made by [`pipe`]) and does not use
/// it again (it is set to -1).
pub unsafe fn wait_ready(pipe: &mut [RawFd; 2]) -> bool {
    if pipe[1] >= 0 {
        // SAFETY: the caller owns `pipe[1]` (contract above); it is forgotten just below.
        unsafe { close(pipe[1]) };
        pipe[1] = -1;
    }
    wait(pipe[0])
}

/// Writes a number as 8 raw bytes.
pub fn put_i64(fd: RawFd, v: i64) {
    let _ = raw::write_all(fd, &v.to_ne_bytes());
}

/// Reads a number written by [`put_i64`]; `None` at end of file.
pub fn get_i64(fd: RawFd) -> Option<i64> {
    let mut b = [0u8; 8];
    match raw::read_full(fd, &mut b) {
        Ok(8) => Some(i64::from_ne_bytes(b)),
        _ => None,
    }
}

/// The signed decimal form of `n`, written at the end of `buf`.
pub fn decimal(n: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Parses a decimal number (with optional sign) at the start of `b`.
pub fn parse_num(b: &[u8]) -> i64 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            break;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Concatenates `parts` into `buf`, truncated to fit, with one NUL at the end, and returns it
/// as a C string (`/` if a part held a NUL).
pub fn path_in<'a, const N: usize>(buf: &'a mut [u8; N], parts: &[&[u8]]) -> &'a CStr {
    let mut n = 0;
    for part in parts {
        let m = part.len().min(N - 1 - n);
        buf[n..n + m].copy_from_slice(&part[..m]);
        n += m;
    }
    buf[n] = 0;
    CStr::from_bytes_with_nul(&buf[..=n]).unwrap_or(c"/")
}

/// `/proc/<pid><suffix>` (e.g. suffix `b"/ns/net"`), NUL-terminated in `buf`.
pub fn proc_path<'a>(buf: &'a mut [u8; 64], pid: i64, suffix: &[u8]) -> &'a CStr {
    let mut digits = [0u8; 24];
    let pid = decimal(pid, &mut digits);
    path_in(buf, &[b"/proc/", pid, suffix])
}

/// The errno of the last failed call.
pub fn errno() -> i64 {
    Errno::last_raw() as i64
}

/// Whether `hay` contains `needle` (never for an empty needle).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Drops every privilege: no supplementary groups, gid and uid 65534 (nobody) for real,
/// effective and saved ids, which clears all capabilities. Raw system calls, not glibc's
/// `setresuid` (which signals every thread and can hang in a clone child), so only the
/// calling thread (the whole single-threaded child) changes.
pub fn drop_to_nobody() -> Result<(), Errno> {
    use rustix::process::{Gid, Uid};
    let (gid, uid) = (Gid::from_raw(65534), Uid::from_raw(65534));
    rustix::thread::set_thread_groups(&[]).map_err(errno_of)?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(errno_of)?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(errno_of)
}

/// Closes every fd from 3 up except those in `keep` (at most 4; `close_range(2)`), so that a
/// child which lives until the test thread ends it holds no copy of the pipes of tests
/// running in parallel (a copied write end would keep their readers from seeing end of file).
///
/// # Safety
/// Only in a fork-like child, whose copies of the parent's fds are its own: nothing in the
/// calling process may use an fd it closes (any but 0, 1, 2 and `keep`) again.
pub unsafe fn close_others(keep: &[RawFd]) {
    let mut keep_sorted = [RawFd::MAX; 4];
    let n = keep.len().min(4);
    keep_sorted[..n].copy_from_slice(&keep[..n]);
    keep_sorted.sort_unstable();
    let mut first: u32 = 3;
    for &k in &keep_sorted[..n] {
        if k < 3 {
            continue;
        }
        if (k as u32) > first {
            // SAFETY: close_range(2) (hand-written: neither rustix 1 nor nix 0.30 has it) with
            // plain integers; the fds it closes are no one's (this function's contract).
            unsafe { libc::syscall(libc::SYS_close_range, first, k as u32 - 1, 0) };
        }
        first = k as u32 + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

/// Closes every fd but 0, 1 and 2, then blocks until a signal ends the process.
///
/// # Safety
/// As for [`close_others`]: only in a fork-like child (it never returns, so its own code uses
/// no fd again; no other thread may).
pub unsafe fn pause_forever() -> ! {
    // SAFETY: the caller is a fork-like child (contract above), which never runs past here.
    unsafe { close_others(&[]) };
    loop {
        rustix::event::pause();
    }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans below the caller come to it.
pub fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// `kill(pid, sig)` (`pid` may be 0 or negative, as kill(2) takes it): Ok or the errno.
pub fn kill(pid: i64, sig: i32) -> Result<(), Errno> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as libc::pid_t), signal_of(sig)?)
}

/// `sig` as nix's `Signal`, 0 as `None` (kill(2)'s existence check); EINVAL for others.
fn signal_of(sig: i32) -> Result<Option<nix::sys::signal::Signal>, Errno> {
    if sig == 0 {
        Ok(None)
    } else {
        nix::sys::signal::Signal::try_from(sig).map(Some)
    }
}

/// `getpid(2)` as the caller's own PID namespace sees it.
pub fn getpid() -> i64 {
    rustix::process::getpid().as_raw_nonzero().get() as i64
}

/// `getppid(2)` as the caller's own PID namespace sees it: 0 when the parent is outside it.
pub fn getppid() -> i64 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as i64)
}

/// `pidfd_open(pid, 0)`: a pidfd for `pid` (as the caller's PID namespace numbers it), which
/// the caller owns.
pub fn pidfd_open(pid: i64) -> Result<RawFd, Errno> {
    let pid = Pid::from_raw(pid as libc::pid_t).ok_or(Errno::EINVAL)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map(IntoRawFd::into_raw_fd)
        .map_err(errno_of)
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`: Ok or the errno.
///
/// # Safety
/// As for [`borrow`]: `pidfd` is open during the call.
pub unsafe fn pidfd_kill(pidfd: RawFd, sig: i32) -> Result<(), Errno> {
    let sig = Signal::from_named_raw(sig).ok_or(Errno::EINVAL)?;
    // SAFETY: `pidfd` is open during the call (this function's contract).
    let pidfd = unsafe { borrow(pidfd) };
    rustix::process::pidfd_send_signal(pidfd, sig).map_err(errno_of)
}

/// Whether `fd` is readable within `ms` milliseconds (a pidfd is readable once its process
/// has exited); `false` on timeout or error.
///
/// # Safety
/// As for [`borrow`]: `fd` is open during the call.
pub unsafe fn readable_within(fd: RawFd, ms: i32) -> bool {
    use rustix::event::{PollFd, PollFlags};
    // SAFETY: `fd` is open during the call (this function's contract).
    let fd = unsafe { borrow(fd) };
    let timeout = rustix::time::Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: (ms % 1000) as i64 * 1_000_000,
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(1))
}

/// Reaps every child of the caller (the orphans a subreaper inherited too), at most `cap`.
pub fn reap_all(cap: usize) {
    // nix, not rustix: rustix's WaitOptions has no __WALL (clone children of any exit signal)
    use nix::sys::wait::{waitpid, WaitPidFlag};
    for _ in 0..cap {
        if waitpid(None, Some(WaitPidFlag::__WALL)).is_err() {
            break;
        }
    }
}

/// Clears the caller's effective, permitted and inheritable capability sets (`capset(2)`,
/// version 3), keeping its ids: works as root and inside a user namespace alike.
pub fn drop_capabilities() -> Result<(), Errno> {
    use rustix::thread::{CapabilitySet, CapabilitySets};
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    rustix::thread::set_capabilities(None, none).map_err(errno_of)
}

/// Runs `f` in a fork-like grandchild in new namespaces of `kinds` (empty: a plain fork),
/// waits for it and returns its exit code (128 + signal); when the fork fails, reports
/// `fork_errno` and returns 1.
///
/// # Safety
/// As for [`fork_with`]: when the caller is multithreaded, `f` must be async-signal-safe and
/// close only fds the grandchild owns.
pub unsafe fn run_child(p: &Probe, kinds: KindSet, f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: `f`, the only code the grandchild runs before it exits, is async-signal-safe by
    // this function's contract.
    match unsafe { raw::fork(kinds) } {
        Ok(0) => raw::exit(f()),
        Ok(c) => raw::reap(c).unwrap_or(99),
        Err(e) => {
            p.line_num(b"fork_errno", e as i64);
            1
        }
    }
}
