//! The nsfs requests the tests make themselves, one typed function each (hand-written: no
//! crate has the nsfs ioctls, and nscore's are behind its allocating API). Each takes its fd
//! as `AsFd`, so it cannot name a closed one, and fixes its request's argument. Re-exported by
//! [`crate::child`].

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use nscore::Errno;

/// `_IO(0xb7, 1)`, `_IO(0xb7, 2)`, `_IO(0xb7, 3)`, `_IOR(0xb7, 13, __u64)`.
const NS_GET_USERNS: libc::c_ulong = 0xb701;
const NS_GET_PARENT: libc::c_ulong = 0xb702;
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
const NS_GET_ID: libc::c_ulong = 0x8008_b70d;

/// An nsfs request that takes no argument: its result, or the errno.
fn ns_ioctl_no_arg(fd: BorrowedFd<'_>, request: libc::c_ulong) -> Result<libc::c_int, Errno> {
    // SAFETY: the requests passed here (below) take no argument; `fd` is open (borrowed).
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// `ioctl(fd, NS_GET_USERNS)`: an fd (the caller's) of the owning user namespace, or the errno.
pub fn ns_get_userns(fd: impl AsFd) -> Result<RawFd, Errno> {
    ns_ioctl_no_arg(fd.as_fd(), NS_GET_USERNS)
}

/// `ioctl(fd, NS_GET_PARENT)`: an fd (the caller's) of the parent namespace, or the errno.
pub fn ns_get_parent(fd: impl AsFd) -> Result<RawFd, Errno> {
    ns_ioctl_no_arg(fd.as_fd(), NS_GET_PARENT)
}

/// `ioctl(fd, NS_GET_NSTYPE)`: the kind's `CLONE_NEW*` flag, or the errno.
pub fn ns_get_nstype(fd: impl AsFd) -> Result<libc::c_int, Errno> {
    ns_ioctl_no_arg(fd.as_fd(), NS_GET_NSTYPE)
}

/// `ioctl(fd, NS_GET_ID)`: the namespace's 64-bit id (Linux 6.18), or the errno.
pub fn ns_get_id(fd: impl AsFd) -> Result<u64, Errno> {
    let mut id: u64 = 0;
    // SAFETY: NS_GET_ID writes one u64 through its argument, a valid out-buffer; `fd` is open.
    let r = unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_ID as _, &mut id as *mut u64) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(id)
    }
}
