//! The nsfs `ioctl_ns(2)` requests, the pidfd namespace requests, and `listns(2)`: typed, so
//! that a request can only be made with the type the kernel writes.
//!
//! No crate has these (rustix and nix stop at the generic `ioctl`), and the newest ones
//! (`NS_MNT_GET_*`, `NS_GET_ID`, `listns`) are younger than any libc release. Each request is a
//! constant of a type that carries what it reads or returns: [`Read<T>`] encodes
//! `size_of::<T>()` in its `_IOR` code, so a request and its buffer cannot disagree.

use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::inspect::MntNsInfo;
use crate::kinds::Kind;

const NSIO: libc::c_ulong = 0xb7;

/// `_IO(NSIO, nr)`.
const fn io(nr: libc::c_ulong) -> libc::c_ulong {
    (NSIO << 8) | nr
}

/// `_IOR(NSIO, nr, size)`.
const fn ior(nr: libc::c_ulong, size: usize) -> libc::c_ulong {
    (2 << 30) | ((size as libc::c_ulong) << 16) | (NSIO << 8) | nr
}

/// Plain data the kernel may write: integers, and `#[repr(C)]` structs of integers only.
///
/// # Safety
/// Every bit pattern must be a valid value of the type.
pub(crate) unsafe trait PlainData: Copy {}
// SAFETY: integers: every bit pattern is valid.
unsafe impl PlainData for u32 {}
// SAFETY: as above.
unsafe impl PlainData for u64 {}
// SAFETY: #[repr(C)] struct of u32, u32, u64: every bit pattern is valid.
unsafe impl PlainData for MntNsInfo {}

/// A request that writes a `T` through its pointer argument.
#[derive(Debug)]
pub(crate) struct Read<T> {
    code: libc::c_ulong,
    /// The request's name, for errors.
    pub name: &'static str,
    /// The first kernel that answers it, for "unsupported" errors.
    pub since: &'static str,
    what: PhantomData<fn() -> T>,
}

impl<T: PlainData> Read<T> {
    /// An `_IOR` request: the size of `T` is part of the code.
    const fn ior(nr: libc::c_ulong, name: &'static str, since: &'static str) -> Read<T> {
        Read {
            code: ior(nr, std::mem::size_of::<T>()),
            name,
            since,
            what: PhantomData,
        }
    }

    /// An old `_IO` request that writes through its argument all the same (`NS_GET_OWNER_UID`
    /// writes a `uid_t`).
    const fn io(nr: libc::c_ulong, name: &'static str, since: &'static str) -> Read<T> {
        Read {
            code: io(nr),
            name,
            since,
            what: PhantomData,
        }
    }
}

/// A request that takes no argument, or an integer by value, and returns an integer or an fd.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain {
    code: libc::c_ulong,
    /// The request's name, for errors.
    pub name: &'static str,
    /// The first kernel that answers it.
    pub since: &'static str,
}

impl Plain {
    const fn new(code: libc::c_ulong, name: &'static str, since: &'static str) -> Plain {
        Plain { code, name, since }
    }
}

/// `NS_GET_USERNS` (Linux 4.9): the owning user namespace, as a new fd.
pub(crate) const NS_GET_USERNS: Plain = Plain::new(io(1), "NS_GET_USERNS", "4.9");
/// `NS_GET_PARENT` (Linux 4.9): the parent PID or user namespace, as a new fd.
pub(crate) const NS_GET_PARENT: Plain = Plain::new(io(2), "NS_GET_PARENT", "4.9");
/// `NS_GET_NSTYPE` (Linux 4.11): the kind's `CLONE_NEW*` flag.
pub(crate) const NS_GET_NSTYPE: Plain = Plain::new(io(3), "NS_GET_NSTYPE", "4.11");
/// `NS_GET_OWNER_UID` (Linux 4.11): the uid that owns a user namespace.
pub(crate) const NS_GET_OWNER_UID: Read<u32> = Read::io(4, "NS_GET_OWNER_UID", "4.11");
/// `NS_GET_MNTNS_ID` (Linux 6.8): the 64-bit id of a mount namespace.
pub(crate) const NS_GET_MNTNS_ID: Read<u64> = Read::ior(5, "NS_GET_MNTNS_ID", "6.8");
/// `NS_GET_PID_FROM_PIDNS` (Linux 6.8): a pid of the namespace, as seen from the caller's.
pub(crate) const NS_GET_PID_FROM_PIDNS: Plain = Plain::new(ior(6, 4), "NS_GET_PID_FROM_PIDNS", "6.8");
/// `NS_GET_TGID_FROM_PIDNS` (Linux 6.8).
pub(crate) const NS_GET_TGID_FROM_PIDNS: Plain = Plain::new(ior(7, 4), "NS_GET_TGID_FROM_PIDNS", "6.8");
/// `NS_GET_PID_IN_PIDNS` (Linux 6.8): a pid of the caller's namespace, as seen from this one.
pub(crate) const NS_GET_PID_IN_PIDNS: Plain = Plain::new(ior(8, 4), "NS_GET_PID_IN_PIDNS", "6.8");
/// `NS_GET_TGID_IN_PIDNS` (Linux 6.8).
pub(crate) const NS_GET_TGID_IN_PIDNS: Plain = Plain::new(ior(9, 4), "NS_GET_TGID_IN_PIDNS", "6.8");
/// `NS_MNT_GET_INFO` (Linux 6.12).
pub(crate) const NS_MNT_GET_INFO: Read<MntNsInfo> = Read::ior(10, "NS_MNT_GET_INFO", "6.12");
/// `NS_MNT_GET_NEXT` (Linux 6.12): the next mount namespace by id, as a new fd, with its info.
pub(crate) const NS_MNT_GET_NEXT: Read<MntNsInfo> = Read::ior(11, "NS_MNT_GET_NEXT", "6.12");
/// `NS_MNT_GET_PREV` (Linux 6.12).
pub(crate) const NS_MNT_GET_PREV: Read<MntNsInfo> = Read::ior(12, "NS_MNT_GET_PREV", "6.12");
/// `NS_GET_ID` (Linux 6.18): the 64-bit id that is never reused.
pub(crate) const NS_GET_ID: Read<u64> = Read::ior(13, "NS_GET_ID", "6.18");

/// `PIDFD_GET_<KIND>_NAMESPACE` (Linux 6.11): `_IO(0xFF, n)`, a new fd on the process's (or,
/// for pid and time, its children's) namespace.
pub(crate) const fn pidfd_get_namespace(kind: Kind, for_children: bool) -> Plain {
    let nr = match (kind, for_children) {
        (Kind::Cgroup, _) => 1,
        (Kind::Ipc, _) => 2,
        (Kind::Mnt, _) => 3,
        (Kind::Net, _) => 4,
        (Kind::Pid, false) => 5,
        (Kind::Pid, true) => 6,
        (Kind::Time, false) => 7,
        (Kind::Time, true) => 8,
        (Kind::User, _) => 9,
        (Kind::Uts, _) => 10,
    };
    Plain::new((0xFF << 8) | nr, "PIDFD_GET_NAMESPACE", "6.11")
}

fn fd_result(ret: libc::c_int) -> Result<OwnedFd, Errno> {
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this fd to us; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// `ioctl(fd, request)` for a request that returns a new fd.
pub(crate) fn get_fd(fd: BorrowedFd<'_>, request: Plain) -> Result<OwnedFd, Errno> {
    // SAFETY: these requests read and write no memory; they return a new fd or -1.
    fd_result(unsafe { libc::ioctl(fd.as_raw_fd(), request.code as _, 0) })
}

/// `ioctl(fd, request, arg)` for a request that takes an integer and returns one.
pub(crate) fn get_int(fd: BorrowedFd<'_>, request: Plain, arg: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: these requests read no memory (the argument is a value) and return an integer.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request.code as _, arg) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// `ioctl(fd, request, &mut out)`: the kernel fills `out` (starting from `init`).
pub(crate) fn read<T: PlainData>(fd: BorrowedFd<'_>, request: &Read<T>, init: T) -> Result<T, Errno> {
    let mut out = init;
    // SAFETY: `out` is a valid, writable `T`, and the request writes at most size_of::<T>()
    // bytes (the `Read<T>` constants are built for exactly that type).
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request.code as _, &mut out as *mut T) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(out)
    }
}

/// `ioctl(fd, request, out)` for requests that fill `out` and return a new fd
/// (`NS_MNT_GET_NEXT`/`_PREV`).
pub(crate) fn read_fd<T: PlainData>(fd: BorrowedFd<'_>, request: &Read<T>, out: &mut T) -> Result<OwnedFd, Errno> {
    // SAFETY: as in `read`: `out` is a writable `T` of the size the request encodes.
    fd_result(unsafe { libc::ioctl(fd.as_raw_fd(), request.code as _, out as *mut T) })
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
    let ret = unsafe {
        libc::syscall(
            SYS_LISTNS,
            req as *const NsIdReq,
            ids.as_mut_ptr(),
            ids.len(),
            flags as libc::c_ulong,
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes as the kernel's `include/uapi/linux/nsfs.h` spells them.
    #[test]
    fn request_codes_match_the_uapi_header() {
        assert_eq!(NS_GET_USERNS.code, 0xb701);
        assert_eq!(NS_GET_OWNER_UID.code, 0xb704);
        assert_eq!(NS_GET_MNTNS_ID.code, 0x8008_b705);
        assert_eq!(NS_GET_PID_FROM_PIDNS.code, 0x8004_b706);
        assert_eq!(NS_MNT_GET_INFO.code, 0x8010_b70a);
        assert_eq!(NS_MNT_GET_PREV.code, 0x8010_b70c);
        assert_eq!(NS_GET_ID.code, 0x8008_b70d);
        assert_eq!(pidfd_get_namespace(Kind::Uts, false).code, 0xff0a);
    }
}
