//! Async-signal-safe primitives for code that runs in a child between `clone` and `_exit`:
//! raw system calls on buffers the caller owns, no allocation, no locks.

use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;

/// `write(2)` of all of `buf`, retrying on EINTR and short writes.
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of its length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// `read(2)` until `buf` is full or end of file; returns the bytes read.
pub(crate) fn read_full(fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the tail of `buf` is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        got += n as usize;
    }
    Ok(got)
}

/// `close(2)`.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing an fd this child owns; errors are irrelevant here.
    unsafe {
        libc::close(fd);
    }
}

/// `_exit(2)`: ends the process at once, running no destructors or atexit handlers.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: always safe; never returns.
    unsafe { libc::_exit(code) }
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds (vDSO, no allocation).
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `waitpid(pid, __WALL)`: reaps `pid`; returns its exit code or 128 + signal.
pub(crate) fn reap(pid: libc::pid_t) -> Result<i32, Errno> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid int to write.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            128 + libc::WTERMSIG(status)
        });
    }
}

/// `open(2)` with `O_CLOEXEC` added.
pub(crate) fn open(path: &CStr, flags: libc::c_int) -> Result<RawFd, Errno> {
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(Errno::last())
    } else {
        Ok(fd)
    }
}

/// Writes `data` to the existing file `path` in one `write(2)` (as `/proc` files such as
/// `uid_map` or `timens_offsets` want: a short write is an error), then closes it.
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = open(path, libc::O_WRONLY)?;
    // SAFETY: `data` is valid for reads of its length; `fd` was just opened here.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let r = if n < 0 {
        Err(Errno::last())
    } else if n as usize != data.len() {
        Err(Errno::EIO)
    } else {
        Ok(())
    };
    close(fd);
    r
}
