//! The raw system-call layer: the only `unsafe` code in the crate.
//!
//! `nix`, `rustix` and `libc` cover `unshare`, `setns`, `mount` and friends, and the rest
//! of the crate uses them. What none of them has is here: `clone3(2)` (with `CLONE_PIDFD`,
//! `CLONE_INTO_CGROUP` and a child stack, which needs a few lines of assembly because the
//! child must not return into the parent's stack frame), the nsfs `ioctl_ns(2)` requests,
//! the pidfd namespace ioctls, `listns(2)` and `pidfd_send_signal(2)`. [`child`] holds the
//! async-signal-safe code that runs between `clone3` and `execve`.

pub(crate) mod child;

use std::ffi::c_void;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// `struct clone_args` of `clone3(2)` (Linux 5.3+; `cgroup` since 5.7).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// `CLONE_PIDFD` (Linux 5.2).
pub(crate) const CLONE_PIDFD: u64 = 0x1000;
/// `CLONE_INTO_CGROUP` (Linux 5.7, clone3 only).
pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The function a cloned child starts in. It must never return.
pub(crate) type ChildEntry = extern "C" fn(*mut c_void) -> !;

/// Calls `clone3(2)`; in the child, calls `entry(arg)` (on `args.stack` when one is given, or
/// on the copy of the caller's stack otherwise) and never returns to the caller.
///
/// Returns the child's pid in the parent.
///
/// # Safety
/// - `entry` must never return, and must only run async-signal-safe code when the caller is
///   multithreaded.
/// - With `CLONE_VM`, `args.stack`/`args.stack_size` must describe a writable region that stays
///   mapped until the child execs or exits (with `CLONE_VFORK` that is when this returns).
/// - `arg` must stay valid for the child for as long as `entry` uses it.
pub(crate) unsafe fn clone3(args: &CloneArgs, entry: ChildEntry, arg: *mut c_void) -> Result<libc::pid_t, Errno> {
    let ret: libc::c_long;
    // Why assembly: after clone3 with a new stack the child runs on that stack, so it cannot
    // return from a function call made on the parent's stack (glibc's clone() and
    // posix_spawn() are written the same way). The child aligns its stack, clears the frame
    // pointer and calls `entry`, which never returns; `ud2`/`brk` trap if it somehow does.
    // No `nostack` option: the child's `call` writes below the stack pointer, so the compiler
    // must not keep anything in the red zone across this block.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the syscall reads `args` (valid for its size) and, in the parent, returns
    // normally; rcx and r11 are clobbered by `syscall`, r12/r13 are preserved by the kernel
    // and carry `arg` and `entry` into the child, which never comes back here.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "and rsp, -16",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; the kernel preserves x9/x10 across `svc`, the child calls `entry`
    // with `arg` in x0 and never returns.
    unsafe {
        core::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x10",
            "blr x9",
            "brk #0",
            "2:",
            in("x8") libc::SYS_clone3,
            inlateout("x0") args as *const CloneArgs as usize => ret,
            in("x1") std::mem::size_of::<CloneArgs>(),
            in("x9") entry,
            in("x10") arg,
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!("nscore's clone3 wrapper supports x86_64 and aarch64");
    if ret < 0 {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret as libc::pid_t)
    }
}

/// A stack for a `CLONE_VM` child: an anonymous private mapping, unmapped on drop. Make it
/// before the clone (mapping it allocates).
#[derive(Debug)]
pub struct Stack {
    base: *mut c_void,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving it between threads is fine.
unsafe impl Send for Stack {}
// SAFETY: shared references expose only the address and length.
unsafe impl Sync for Stack {}

impl Stack {
    /// Maps `len` bytes (`MAP_NORESERVE`: only the pages the child touches cost anything).
    ///
    /// Errors: `ENOMEM`.
    pub fn new(len: usize) -> Result<Stack, Errno> {
        // SAFETY: anonymous mapping, no address hint, no fd; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        Ok(Stack { base, len })
    }

    /// `(lowest address, length)`, as `clone_args.stack`/`stack_size` take them.
    pub(crate) fn region(&self) -> (u64, u64) {
        (self.base as u64, self.len as u64)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new`; no child uses it any more (the
        // owner keeps it alive until the vfork child has exec'd or exited).
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

fn cvt(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `unshare(2)` with raw flags. Async-signal-safe.
pub(crate) fn unshare(flags: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall with an integer argument.
    cvt(unsafe { libc::syscall(libc::SYS_unshare, flags as libc::c_long) }).map(drop)
}

/// `setns(2)` with a raw fd and flags. Async-signal-safe.
pub(crate) fn setns(fd: RawFd, nstype: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall with integer arguments; a bad fd gives EBADF.
    cvt(unsafe { libc::syscall(libc::SYS_setns, fd as libc::c_long, nstype as libc::c_long) }).map(drop)
}

/// `ioctl(fd, request)` for nsfs/pidfd requests that return a new fd.
pub(crate) fn ioctl_get_fd(fd: BorrowedFd<'_>, request: libc::c_ulong) -> Result<OwnedFd, Errno> {
    // SAFETY: these requests take no argument and return a new fd or -1.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// `ioctl(fd, request, arg)` for requests that take an integer and return an integer.
pub(crate) fn ioctl_int(fd: BorrowedFd<'_>, request: libc::c_ulong, arg: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: these requests read no memory (the argument is a value) and return an integer.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `ioctl(fd, request, &mut out)` for `_IOR` requests that fill a plain-data struct.
///
/// `T` must be a plain-old-data type (integers only) whose size matches the request.
pub(crate) fn ioctl_read<T: Copy + Default>(fd: BorrowedFd<'_>, request: libc::c_ulong, init: T) -> Result<T, Errno> {
    let mut out = init;
    // SAFETY: `out` is a valid, writable `T`; the request's size field equals size_of::<T>()
    // (checked by the callers' constants) so the kernel writes within it.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, &mut out as *mut T) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(out)
    }
}

/// `pidfd_send_signal(2)` (Linux 5.1).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> Result<(), Errno> {
    // SAFETY: plain syscall; no siginfo is passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd() as libc::c_long,
            sig as libc::c_long,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// `struct ns_id_req` of `listns(2)` (Linux 6.19).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NsIdReq {
    pub size: u32,
    pub spare: u32,
    pub ns_id: u64,
    pub ns_type: u32,
    pub spare2: u32,
    pub user_ns_id: u64,
}

/// `__NR_listns`: 470 on every architecture but alpha and mips.
pub(crate) const SYS_LISTNS: libc::c_long = 470;

/// `listns(2)`: fills `ids` with namespace ids after `req.ns_id`; returns how many.
pub(crate) fn listns(req: &NsIdReq, ids: &mut [u64], flags: u32) -> Result<usize, Errno> {
    // SAFETY: `req` is a valid struct of the size it declares; `ids` is writable for its length.
    cvt(unsafe {
        libc::syscall(
            SYS_LISTNS,
            req as *const NsIdReq,
            ids.as_mut_ptr(),
            ids.len(),
            flags as libc::c_ulong,
        )
    })
    .map(|n| n as usize)
}

/// `pidfd_open(2)` (Linux 5.3).
pub(crate) fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall; returns a new fd or -1.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) })?;
    // SAFETY: the kernel just returned this fd; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Wraps a raw fd returned by `clone3(CLONE_PIDFD)` or `pipe2`.
///
/// # Safety
/// `fd` must be open and owned by nobody else.
pub(crate) unsafe fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Blocks every signal in the calling thread; returns the previous mask.
pub(crate) fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only write to the sets given.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Restores a mask saved by [`block_all_signals`].
pub(crate) fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` is a valid mask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

/// Async-signal-safe primitives for code that runs in a child between `clone` and `_exit`.
pub(crate) mod raw {
    use super::*;

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

    /// `waitid(P_PID, pid, WEXITED | __WALL)`: reaps `pid`; returns its exit code or
    /// 128 + signal.
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

    /// Opens a path given as a NUL-terminated byte string.
    pub(crate) fn open(path: &[u8], flags: libc::c_int) -> Result<RawFd, Errno> {
        debug_assert_eq!(path.last(), Some(&0));
        // SAFETY: `path` is NUL-terminated (all callers pass literals ending in \0 or CStrings).
        let fd = unsafe { libc::open(path.as_ptr().cast(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            Err(Errno::last())
        } else {
            Ok(fd)
        }
    }
}

/// `ioctl(fd, request, &mut out)` for requests that fill `out` and return a new fd
/// (`NS_MNT_GET_NEXT`/`_PREV`).
pub(crate) fn ioctl_read_fd<T: Copy>(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    out: &mut T,
) -> Result<OwnedFd, Errno> {
    // SAFETY: `out` is a valid, writable plain-data `T` of the size the request encodes.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, out as *mut T) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd; we own it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}
