//! Files, directories and mounts for child bodies (rustix's calls on paths prepared before the
//! spawn; no allocation). Re-exported by [`crate::child`].

use std::ffi::CStr;
use std::os::fd::RawFd;

use nscore::{raw, Errno};
use rustix::fs::{Mode as FileMode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags};

use crate::child::{borrow, errno_of, parse_num};
use crate::Probe;

/// `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`.
pub fn make_private() -> Result<(), Errno> {
    rustix::mount::mount_change(c"/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE).map_err(errno_of)
}

/// Mounts a filesystem of `fstype` on `target` (no data).
pub fn mount_fs(fstype: &CStr, target: &CStr) -> Result<(), Errno> {
    rustix::mount::mount(fstype, target, fstype, MountFlags::empty(), None).map_err(errno_of)
}

/// A bind mount of `src` on `target`; `recursive` binds every mount below `src` too
/// (`MS_REC`).
pub fn bind(src: &CStr, target: &CStr, recursive: bool) -> Result<(), Errno> {
    if recursive {
        rustix::mount::mount_bind_recursive(src, target).map_err(errno_of)
    } else {
        rustix::mount::mount_bind(src, target).map_err(errno_of)
    }
}

/// A propagation change of the mount at `target` (`mount(NULL, target, NULL, flags, NULL)`).
pub fn set_propagation(target: &CStr, flags: MountPropagationFlags) -> Result<(), Errno> {
    rustix::mount::mount_change(target, flags).map_err(errno_of)
}

/// `umount2(target, MNT_DETACH)`.
pub fn detach(target: &CStr) -> Result<(), Errno> {
    rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH).map_err(errno_of)
}

/// `mkdir(path, 0755)`.
pub fn mkdir(path: &CStr) -> Result<(), Errno> {
    rustix::fs::mkdir(path, FileMode::from_raw_mode(0o755)).map_err(errno_of)
}

/// Writes `data` to `path` in one `write(2)` (as /proc files want): [`raw::write_file`].
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    raw::write_file(path, data)
}

/// `stat(2)` of `path`: (st_dev, st_ino), or the errno.
pub fn stat(path: &CStr) -> Result<(u64, u64), Errno> {
    let st = rustix::fs::stat(path).map_err(errno_of)?;
    Ok((st.st_dev, st.st_ino))
}

/// The inode of `path` (0 on error).
pub fn ino(path: &CStr) -> i64 {
    stat(path).map(|s| s.1 as i64).unwrap_or(0)
}

/// `fstat(2)` of `fd`: its inode, 0 on error.
///
/// # Safety
/// As for [`borrow`]: `fd` is open during the call.
pub unsafe fn fd_ino(fd: RawFd) -> i64 {
    // SAFETY: `fd` is open during the call (this function's contract).
    let fd = unsafe { borrow(fd) };
    rustix::fs::fstat(fd).map_or(0, |st| st.st_ino as i64)
}

/// The number in the target of symlink `path` (`/proc/self` gives the caller's pid as the
/// mounted proc sees it), or -errno.
pub fn readlink_num(path: &CStr) -> i64 {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 64];
    match rustix::fs::readlinkat_raw(rustix::fs::CWD, path, &mut buf) {
        Ok((target, _)) => parse_num(target),
        Err(e) => -(e.raw_os_error() as i64),
    }
}

/// Calls `f` with the name of every entry of directory `dir` (`.` and `..` included), by
/// `getdents64(2)` into a buffer on the stack (rustix's `RawDir`); or returns the errno.
pub fn for_each_entry(dir: &CStr, mut f: impl FnMut(&[u8])) -> Result<(), Errno> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        FileMode::empty(),
    )
    .map_err(errno_of)?;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
    let mut entries = rustix::fs::RawDir::new(&fd, &mut buf);
    while let Some(entry) = entries.next() {
        f(entry.map_err(errno_of)?.file_name().to_bytes());
    }
    Ok(())
}

/// Reports every entry of directory `dir` but `.` and `..` as `key=name` lines; returns the
/// count, or -1.
pub fn list_dir(p: &Probe, key: &[u8], dir: &CStr) -> i64 {
    let mut count = 0;
    let r = for_each_entry(dir, |name| {
        if name != b"." && name != b".." {
            p.line(key, name);
            count += 1;
        }
    });
    if r.is_err() {
        -1
    } else {
        count
    }
}

/// Counts the entries of directory `path` whose names are all digits (the pids in a `/proc`),
/// and whether one of them is `want`; or the errno.
pub fn count_pids(path: &CStr, want: i64) -> Result<(i64, bool), Errno> {
    let mut count = 0;
    let mut seen = false;
    for_each_entry(path, |name| {
        if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
            count += 1;
            if parse_num(name) == want {
                seen = true;
            }
        }
    })?;
    Ok((count, seen))
}
