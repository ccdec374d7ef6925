//! Async-signal-safe primitives for code that runs in a child between `clone` and `_exit`, on
//! buffers the caller owns: no allocation, no locks.
//!
//! The system calls go through rustix, whose backend here (`linux_raw`) is the system call
//! instruction itself: no libc, no `errno`, nothing allocated or locked. Two are libc's, each
//! with its reason below: [`exit`] and [`monotonic_ns`] (the vDSO clock).

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, WaitOptions};

/// A rustix error as nscore's errno type.
pub(crate) fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// Borrows raw fd `fd` for the calls the borrow is used in; EBADF for a negative number, as the
/// kernel says for any (and a `BorrowedFd` cannot hold -1).
///
/// # Safety
/// As for [`BorrowedFd::borrow_raw`]: `fd` is open while the borrow is used.
pub(crate) unsafe fn borrow<'a>(fd: RawFd) -> Result<BorrowedFd<'a>, Errno> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: `fd` is not negative (so not -1), and open while the borrow is used (this
    // function's contract).
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Runs `call` on raw fd `fd` borrowed for it: how nscore's public `raw` functions, which take
/// fds as numbers (as the system calls do, and as a child body has them), reach rustix.
/// EBADF for a negative number, as [`borrow`] says.
///
/// Not an `unsafe fn`, as those functions are not: the borrow is no wider than the raw
/// system call it stands for, which the kernel resolves when it runs.
pub(crate) fn on_number<T>(fd: RawFd, call: impl FnOnce(BorrowedFd<'_>) -> Result<T, Errno>) -> Result<T, Errno> {
    // SAFETY: `borrow_raw` asks that the number be open while the borrow is used, which a
    // function taking a raw number cannot know, no more than the raw call did that this
    // stands for. It holds for the callers that own the fd; for a number that is not open,
    // rustix on Linux hands the number to the kernel as it is and keeps nothing, so the call
    // fails with EBADF, as the raw call did. The borrow ends with `call`.
    call(unsafe { borrow(fd) }?)
}

/// `write(2)` of all of `buf`, retrying on EINTR and short writes.
pub(crate) fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(())
}

/// `read(2)` until `buf` is full or end of file; returns the bytes read.
pub(crate) fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(got)
}

/// `close(2)` (errors do not matter here: the fd is gone either way).
///
/// # Safety
/// As for `rustix::io::close`: the calling process owns `fd` (no `OwnedFd` or other part of it
/// holds it) and does not use it again.
pub(crate) unsafe fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it again (this function's contract).
    unsafe { rustix::io::close(fd) }
}

/// `_exit(2)`: ends the process at once, running no destructors or atexit handlers.
///
/// libc's, by hand: nix has no `_exit`, rustix has it only in its experimental `runtime` module
/// (meant for programs without a libc), and std's `exit` runs the atexit handlers.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: always safe; never returns.
    unsafe { libc::_exit(code) }
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds, through the vDSO.
///
/// glibc's, by hand: rustix finds the vDSO on first use in a process, and before Linux 6.4
/// (no `PR_GET_AUXV`) that reads `/proc/self/auxv` into an allocated buffer, which a child of a
/// multithreaded parent must not do; glibc found it at start-up.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `waitpid(pid, __WALL)`: reaps `pid` (-1: any child; 0 or below -1: any child of a process
/// group, as waitpid(2) takes it); returns its exit code or 128 + signal.
pub(crate) fn reap(pid: libc::pid_t) -> Result<i32, Errno> {
    // rustix's `WaitOptions` does not name `__WALL` (clone children of any exit signal); it
    // passes the bits it does not name as they are.
    let all = WaitOptions::from_bits_retain(libc::__WALL as u32);
    loop {
        let r = match Pid::from_raw(pid) {
            Some(p) => rustix::process::waitpid(Some(p), all),
            None if pid == -1 => rustix::process::waitpid(None, all),
            None if pid == 0 => rustix::process::waitpgid(rustix::process::getpgrp(), all),
            None => match Pid::from_raw(pid.wrapping_neg()) {
                Some(group) => rustix::process::waitpgid(group, all),
                None => return Err(Errno::ESRCH),
            },
        };
        let status = match r {
            Ok(Some((_, status))) => status,
            // only with WNOHANG, which is not asked for
            Ok(None) => return Err(Errno::ECHILD),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(errno(e)),
        };
        return Ok(match status.exit_status() {
            Some(code) => code,
            None => 128 + status.terminating_signal().unwrap_or(0),
        });
    }
}

/// `open(2)` of `path` with `flags` and `O_CLOEXEC`.
pub(crate) fn open(path: &CStr, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty()).map_err(errno)
}

/// Writes `data` to the existing file `path` in one `write(2)` (as `/proc` files such as
/// `uid_map` or `timens_offsets` want: a short write is an error), then closes it.
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = open(path, OFlags::WRONLY)?;
    match rustix::io::write(fd.as_fd(), data) {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(Errno::EIO),
        Err(e) => Err(errno(e)),
    }
}
