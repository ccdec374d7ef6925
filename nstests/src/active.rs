//! The calls of the active-namespace tests (checklist A1–A3) that no crate has yet:
//! `listns(2)` (Linux 6.19) and the nsfs file handles (`name_to_handle_at` /
//! `open_by_handle_at` on nsfs, Linux 6.18), and the children both test files start. [`listns`],
//! [`handle_of`] and [`open_handle`] are raw system calls on caller buffers, so a forked child may
//! use them; the rest allocate (test thread only).
//!
//! What the kernel shows: since Linux 7.0 (and 6.19.y; "nstree: tighten permission checks for
//! listing" and "nsfs: tighten permission checks for handle opening", Feb. 2026) `listns` and
//! `open_by_handle_at` reach another process's namespaces only for root in the initial PID and
//! user namespaces ([`nscore::inspect::may_see_all_namespaces`]); any other caller, root in a
//! container included, sees only the namespaces it is in.

use std::os::fd::{AsFd, AsRawFd};

use nscore::{Errno, Kind, KindSet, Spawn};

use crate::is_root;
use crate::live::{Gate, Live};
use crate::Probe;

/// `struct ns_id_req` of `listns(2)`.
#[repr(C)]
#[derive(Default)]
struct NsIdReq {
    size: u32,
    spare: u32,
    ns_id: u64,
    ns_type: u32,
    spare2: u32,
    user_ns_id: u64,
}

/// `__NR_listns`.
const SYS_LISTNS: libc::c_long = 470;

/// One `listns(2)` call: ids after `after` of kinds `ns_type` (`CLONE_NEW*` bits, 0: all)
/// owned by the user namespace of id `owner` (0: any), into `buf`; how many it wrote.
pub fn listns(ns_type: u32, owner: u64, after: u64, buf: &mut [u64]) -> Result<usize, Errno> {
    let req = NsIdReq {
        size: std::mem::size_of::<NsIdReq>() as u32,
        ns_id: after,
        ns_type,
        user_ns_id: owner,
        ..NsIdReq::default()
    };
    // SAFETY: `req` is a valid request of the size it says; `buf` is writable for its length.
    let r = unsafe { libc::syscall(SYS_LISTNS, &req as *const NsIdReq, buf.as_mut_ptr(), buf.len(), 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// Every id `listns` gives, in pages of `page` (each page starts after the last id of the one
/// before; a page after the last id gives ENOENT, the end), at most 100,000 ids. Panics if the
/// call fails otherwise (test thread only).
pub fn list_paged(ns_type: u32, owner: u64, page: usize) -> Vec<u64> {
    let mut all = Vec::new();
    let mut buf = vec![0u64; page];
    let mut after = 0;
    while all.len() < 100_000 {
        let n = match listns(ns_type, owner, after, &mut buf) {
            // nothing after the last id (the kernel's `lookup_ns_id_at`): the end
            Err(Errno::ENOENT) if after != 0 => break,
            r => r.expect("listns"),
        };
        all.extend_from_slice(&buf[..n]);
        if n < page {
            break;
        }
        after = buf[n - 1];
    }
    all
}

/// `FD_NSFS_ROOT`: the mount fd that `open_by_handle_at` takes for nsfs handles.
const FD_NSFS_ROOT: libc::c_int = -10003;

/// A `struct file_handle` with room for nsfs's 16 bytes and more.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Handle {
    bytes: u32,
    ty: i32,
    data: [u8; 64],
}

/// `name_to_handle_at(fd, "", AT_EMPTY_PATH)`: the handle of the namespace behind `fd`.
pub fn handle_of(fd: impl AsFd) -> Result<Handle, Errno> {
    let mut h = Handle {
        bytes: 64,
        ty: 0,
        data: [0; 64],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: a valid handle buffer of the size it says, an empty NUL-terminated path, an open
    // fd (borrowed).
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH,
        )
    };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(h)
    }
}

/// `open_by_handle_at(FD_NSFS_ROOT, h, O_RDONLY | O_CLOEXEC)`: a new fd of the caller's, or the
/// errno.
pub fn open_handle(h: &Handle) -> Result<libc::c_int, Errno> {
    // SAFETY: `h` is a handle as name_to_handle_at filled it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            FD_NSFS_ROOT,
            h as *const Handle,
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::c_int)
    }
}

/// Why a test that looks at a child's namespaces from outside them cannot run here.
pub const NEEDS_INITIAL_PID_NS: &str = "since Linux 7.0 the kernel shows a caller outside the initial PID namespace \
     only its own namespaces (\"tighten permission checks\", Feb. 2026); the kernel matrix runs this \
     binary again in the guest's initial PID namespace (nstests.active@init-pidns, nstests.active_handles@init-pidns)";

/// A child in new namespaces of `kinds` (with a user namespace mapped to root when not root)
/// that waits at its gate.
pub fn holder(kinds: KindSet) -> Live {
    waiting(if is_root() {
        Spawn::new(kinds)
    } else {
        Spawn::new(kinds | Kind::User).map_root()
    })
}

/// A child of `spawn` that says it is ready and waits at its gate.
pub fn waiting(spawn: Spawn) -> Live {
    let child_body = |p: &Probe, gate: Gate| {
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(spawn, child_body) }.unwrap();
    live.until("ready");
    live
}

/// New PID, UTS, network and IPC namespaces for a child (with a user namespace mapped to root
/// when not root): a container, outside the initial PID namespace whatever the test's place.
pub fn container() -> Spawn {
    let kinds = Kind::Pid | Kind::Uts | Kind::Net | Kind::Ipc;
    if is_root() {
        Spawn::new(kinds)
    } else {
        Spawn::new(kinds | Kind::User).map_root()
    }
}
