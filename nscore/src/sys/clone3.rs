//! `clone3(2)` on a stack of the caller's choosing, and that stack.
//!
//! No crate wraps `clone3` with a child stack: after the call the child runs on the new stack,
//! so it cannot return from a function call made on the parent's, and the child's side has to
//! be a few lines of assembly (as glibc's `clone()` and `posix_spawn()` are). The stack's
//! mapping is rustix's.

use std::ffi::c_void;

use nix::errno::Errno;
use rustix::mm::{MapFlags, MprotectFlags, ProtFlags};

use super::raw;

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
/// `CLONE_EMPTY_MNTNS` (Linux 7.1, clone3 only; uapi `linux/sched.h`): a new mount namespace
/// holding only a clone of the parent namespace's root mount; implies `CLONE_NEWNS`. Bit 37:
/// the patch series first proposed bit 34, which `CLONE_AUTOREAP` took when both were merged.
pub(crate) const CLONE_EMPTY_MNTNS: u64 = 1 << 37;

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

/// A stack for a `CLONE_VM` child: an anonymous private mapping with a guard page below it
/// (`PROT_NONE`, as glibc's thread stacks and youki's fallback stack have), so that an
/// overflow faults instead of writing over whatever lies below; unmapped on drop. Make it
/// before the clone (mapping it allocates).
#[derive(Debug)]
pub struct Stack {
    /// The whole mapping: the guard page, then the usable stack.
    base: *mut c_void,
    len: usize,
    guard: usize,
}

// SAFETY: the mapping is plain memory owned by this value; moving it between threads is fine.
unsafe impl Send for Stack {}
// SAFETY: shared references expose only the address and length.
unsafe impl Sync for Stack {}

impl Stack {
    /// Maps `len` usable bytes plus one guard page (`MAP_NORESERVE`: only the pages the child
    /// touches cost anything).
    ///
    /// Errors: `ENOMEM`.
    pub fn new(len: usize) -> Result<Stack, Errno> {
        let page = rustix::param::page_size();
        let len = len.div_ceil(page) * page;
        let prot = ProtFlags::READ | ProtFlags::WRITE;
        let flags = MapFlags::PRIVATE | MapFlags::STACK | MapFlags::NORESERVE;
        // SAFETY: a new anonymous mapping, with no address hint: it replaces nothing.
        let base =
            unsafe { rustix::mm::mmap_anonymous(std::ptr::null_mut(), len + page, prot, flags) }.map_err(raw::errno)?;
        let stack = Stack { base, len, guard: page };
        // The stack grows down: the guard is the lowest page.
        // SAFETY: `base` is the start of the mapping just made, at least one page long, which
        // nothing uses yet.
        unsafe { rustix::mm::mprotect(base, page, MprotectFlags::empty()) }.map_err(raw::errno)?;
        Ok(stack)
    }

    /// `(lowest usable address, usable length)`, as `clone_args.stack`/`stack_size` take them.
    pub(crate) fn region(&self) -> (u64, u64) {
        (self.base as u64 + self.guard as u64, self.len as u64)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new` (guard included); no child uses it
        // any more (the owner keeps it alive until the vfork child has exec'd or exited).
        let _ = unsafe { rustix::mm::munmap(self.base, self.len + self.guard) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The permissions `/proc/self/maps` gives the mapping that holds `addr`.
    fn perms_at(addr: u64) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find_map(|l| {
                let (range, rest) = l.split_once(' ')?;
                let (lo, hi) = range.split_once('-')?;
                let (lo, hi) = (u64::from_str_radix(lo, 16).ok()?, u64::from_str_radix(hi, 16).ok()?);
                (lo <= addr && addr < hi).then(|| rest.split(' ').next().unwrap_or("").to_owned())
            })
            .unwrap_or_default()
    }

    #[test]
    fn stack_has_a_guard_page_below_it() {
        let stack = Stack::new(64 * 1024).unwrap();
        let (lo, len) = stack.region();
        assert_eq!(len, 64 * 1024);
        assert_eq!(perms_at(lo - 1), "---p", "the page below the stack is a guard");
        assert_eq!(perms_at(lo), "rw-p", "the stack itself is writable");
        assert_eq!(perms_at(lo + len - 1), "rw-p");
    }
}
