//! Async-signal-safe primitives for code that runs in a child between `clone` and `_exit`,
//! such as the body of [`crate::Spawn::run`] in a multithreaded parent, or a benchmark loop.
//!
//! Nothing here allocates, takes a lock or formats: each function is one or a few system
//! calls, and errors are plain [`Errno`] values.
//!
//! Fds are raw numbers here, as the system calls take them and as a child body has them
//! (pipe ends made before the clone): a number that is not open gives `EBADF`.

use std::os::fd::{IntoRawFd, RawFd};

use nix::errno::Errno;

use crate::kinds::KindSet;
use crate::sys;

pub use crate::sys::Stack;

/// `unshare(2)` with the flags of `kinds`.
pub fn unshare(kinds: KindSet) -> Result<(), Errno> {
    sys::unshare(kinds)
}

/// `setns(2)` on a raw fd; `kinds` empty accepts any kind.
pub fn setns(fd: RawFd, kinds: KindSet) -> Result<(), Errno> {
    sys::raw::on_number(fd, |fd| sys::setns(fd, kinds.clone_flags()))
}

/// Opens a NUL-terminated path read-only, close-on-exec.
pub fn open(path: &std::ffi::CStr) -> Result<RawFd, Errno> {
    sys::raw::open(path, rustix::fs::OFlags::RDONLY).map(IntoRawFd::into_raw_fd)
}

/// Closes a raw fd (`close(2)`).
///
/// # Safety
/// The caller must own `fd` and not use it again: closing an fd that an `OwnedFd`, a `File`
/// or another part of the program still holds makes that owner later use or close an fd that
/// by then may be someone else's (as `rustix::io::close` and `OwnedFd::from_raw_fd` say).
pub unsafe fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it again (this function's contract).
    unsafe { sys::raw::close(fd) }
}

/// Writes `data` to the existing file `path` in one `write(2)` and closes it: how `/proc`
/// files (`uid_map`, `setgroups`, sysctls) must be written.
pub fn write_file(path: &std::ffi::CStr, data: &[u8]) -> Result<(), Errno> {
    sys::raw::write_file(path, data)
}

/// Writes all of `buf` to `fd`.
pub fn write_all(fd: RawFd, buf: &[u8]) -> Result<(), Errno> {
    sys::raw::on_number(fd, |fd| sys::raw::write_all(fd, buf))
}

/// Reads until `buf` is full or end of file; returns how many bytes were read.
pub fn read_full(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    sys::raw::on_number(fd, |fd| sys::raw::read_full(fd, buf))
}

/// Ends the process with `code` at once (`_exit(2)`).
pub fn exit(code: i32) -> ! {
    sys::raw::exit(code)
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    sys::raw::monotonic_ns()
}

/// Waits for and reaps child `pid` (`__WALL`); returns its exit code, or 128 + signal.
pub fn reap(pid: libc::pid_t) -> Result<i32, Errno> {
    sys::raw::reap(pid)
}

/// Clones a child into new namespaces of `kinds` that `_exit(0)`s at once, and reaps it: the
/// cost of one `clone3(2)` with those flags, plus exit and wait.
///
/// With `stack`, the clone is `CLONE_VM|CLONE_VFORK` on that stack (no address-space copy);
/// without, it is fork-like. Returns the child's exit code (0 unless something is wrong).
pub fn clone_exit(kinds: KindSet, stack: Option<&Stack>) -> Result<i32, Errno> {
    let pid = sys::child::clone_exit(kinds.clone_flags() as u64, stack)?;
    sys::raw::reap(pid)
}

/// Brings `lo` up in the caller's network namespace (`SIOCSIFFLAGS`).
pub fn loopback_up() -> Result<(), Errno> {
    sys::child::loopback_up()
}

/// A fork-like child in new namespaces of `kinds` (empty: a plain fork), by one `clone3(2)`
/// system call: returns 0 in the child and the child's pid in the caller, like `fork(2)`.
///
/// For code that already runs in a child (a [`crate::Spawn::run`] body) and needs a
/// grandchild, e.g. to enter the PID or time namespace that `unshare` made for the caller's
/// children. Unlike glibc's `fork`, it runs no `atfork` handlers and takes no lock. The child
/// must keep to async-signal-safe code and end with [`exit`]; the caller reaps it with [`reap`].
/// A new user namespace needs a single-threaded caller (a child is).
///
/// # Safety
/// As for `nix::unistd::fork`: when the caller is multithreaded, the child (a copy of the
/// calling thread only) must run nothing but async-signal-safe code, with no allocation, no
/// lock and no unwinding, until it calls [`exit`] or `execve`: another thread may have held
/// the allocator's or any other lock at the time of the clone, and would never release it in
/// the child.
pub unsafe fn fork(kinds: KindSet) -> Result<libc::pid_t, Errno> {
    // SAFETY: what the child runs is the caller's to keep async-signal-safe (this function's
    // contract).
    unsafe { sys::child::fork(kinds.clone_flags() as u64) }
}

/// Asks for `signal` when the parent thread exits (`prctl(PR_SET_PDEATHSIG)`), so that a
/// grandchild never outlives the child that made it.
pub fn set_death_signal(signal: libc::c_int) -> Result<(), Errno> {
    sys::child::set_death_signal(signal)
}
