//! Namespace handles and what the kernel says about them (`ioctl_ns(2)`, `/proc/[pid]/ns`).
//!
//! An [`NsHandle`] is an open fd on an nsfs file (`/proc/[pid]/ns/<kind>`, a bind mount of one,
//! or what a pidfd or an `NS_GET_*` ioctl returned). While it is open the namespace lives.
//! Requests that only newer kernels answer are probed at run time: on an older kernel they
//! return an error for which [`Error::is_unsupported`] is true, never a crash.

pub mod list;

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::kinds::{Kind, KindSet};
use crate::sys;
use crate::sys::nsfs::{self, Plain, Read};

/// `NSFS_MAGIC`, the `f_type` of nsfs files.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// The identity of a namespace as `stat(2)` of its nsfs file gives it: the device and the
/// inode number shown in `/proc/[pid]/ns/<kind>` links (`net:[4026531840]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NsInode {
    /// `st_dev` of the nsfs file.
    pub dev: u64,
    /// `st_ino` of the nsfs file: the number in `kind:[inode]`.
    pub ino: u64,
}

impl fmt::Display for NsInode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.ino)
    }
}

/// What `NS_MNT_GET_INFO` (Linux 6.12) says of a mount namespace.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MntNsInfo {
    /// Size of the structure (set by the caller, 16 for version 0).
    pub size: u32,
    /// Number of mounts in the namespace.
    pub nr_mounts: u32,
    /// The 64-bit mount namespace id.
    pub mnt_ns_id: u64,
}

/// An open namespace file: it keeps the namespace alive and answers `ioctl_ns(2)` requests.
#[derive(Debug)]
pub struct NsHandle {
    fd: OwnedFd,
    kind: Kind,
}

impl NsHandle {
    /// Opens a namespace file: `/proc/[pid]/ns/<kind>`, or a file a namespace is bind-mounted
    /// on (`/run/netns/NAME`).
    ///
    /// Errors: `ENOENT` (no such file, the process is gone), `ENOTTY` when the file is not a
    /// namespace file, `EACCES` without ptrace access to the process.
    pub fn open(path: impl AsRef<Path>) -> Result<NsHandle> {
        let path = path.as_ref();
        let fd = open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| Error::sys(Op::Open, KindSet::EMPTY, e).with_path(path))?;
        NsHandle::from_fd(fd).map_err(|e| e.with_path(path))
    }

    /// The namespace of `kind` that process `pid` is in (`/proc/[pid]/ns/<kind>`).
    pub fn of_process(pid: Pid, kind: Kind) -> Result<NsHandle> {
        NsHandle::open(ns_path(pid, kind.name())).map_err(|e| e.with_kinds(kind.into()))
    }

    /// The namespace of `kind` the calling thread is in (`/proc/thread-self/ns/<kind>`).
    pub fn current(kind: Kind) -> Result<NsHandle> {
        NsHandle::open(format!("/proc/thread-self/ns/{}", kind.name())).map_err(|e| e.with_kinds(kind.into()))
    }

    /// The namespace that the next children of `pid` will enter: `pid_for_children` or
    /// `time_for_children`; for the other kinds the same as [`NsHandle::of_process`].
    pub fn for_children(pid: Pid, kind: Kind) -> Result<NsHandle> {
        let name = kind.for_children_name().unwrap_or(kind.name());
        NsHandle::open(ns_path(pid, name)).map_err(|e| e.with_kinds(kind.into()))
    }

    /// The namespace of `kind` of the process a pidfd refers to, with the
    /// `PIDFD_GET_<KIND>_NAMESPACE` ioctl (Linux 6.11); on older kernels through
    /// `/proc/[pid]/ns`, with the pid read from the pidfd's fdinfo and checked to be still
    /// the same process afterwards.
    pub fn from_pidfd(pidfd: BorrowedFd<'_>, kind: Kind) -> Result<NsHandle> {
        match nsfs::get_fd(pidfd, nsfs::pidfd_get_namespace(kind, false)) {
            Ok(fd) => Ok(NsHandle { fd, kind }),
            Err(Errno::ENOTTY | Errno::EINVAL) => {
                let pid = pidfd_pid(pidfd)?;
                let h = NsHandle::of_process(pid, kind)?;
                // The pid could have been reused between reading it and opening the file:
                // the pidfd still refers to a live process only if signal 0 succeeds.
                sys::pidfd_send_signal(pidfd, 0).map_err(|e| Error::sys(Op::Kill, kind.into(), e))?;
                Ok(h)
            }
            Err(e) => Err(Error::sys(Op::Ioctl("PIDFD_GET_NAMESPACE"), kind.into(), e)),
        }
    }

    /// Takes an fd that must refer to a namespace file (checked with `fstatfs`: `ENOTTY`-style
    /// error otherwise).
    pub fn from_fd(fd: OwnedFd) -> Result<NsHandle> {
        let st = nix::sys::statfs::fstatfs(&fd).map_err(|e| Error::sys(Op::Open, KindSet::EMPTY, e))?;
        if st.filesystem_type().0 as i64 != NSFS_MAGIC {
            return Err(Error::sys(Op::Ioctl("NS_GET_NSTYPE"), KindSet::EMPTY, Errno::ENOTTY)
                .with_detail("not a namespace (nsfs) file"));
        }
        let kind = nstype(fd.as_fd())?;
        Ok(NsHandle { fd, kind })
    }

    /// The kind of the namespace.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// (device, inode) of the namespace file: equal for two handles exactly when they refer to
    /// the same namespace.
    pub fn inode(&self) -> Result<NsInode> {
        let st = fstat(&self.fd).map_err(|e| Error::sys(Op::Open, self.kind.into(), e))?;
        Ok(NsInode {
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    /// The 64-bit namespace id that is never reused (`NS_GET_ID`, Linux 6.18; unsupported
    /// before).
    pub fn ns_id(&self) -> Result<u64> {
        self.read(&nsfs::NS_GET_ID, 0u64)
    }

    /// The user namespace that owns this namespace (`NS_GET_USERNS`). `EPERM` when it is
    /// outside the caller's view.
    pub fn owner(&self) -> Result<NsHandle> {
        let fd = nsfs::get_fd(self.fd.as_fd(), nsfs::NS_GET_USERNS)
            .map_err(|e| Error::sys(Op::Ioctl(nsfs::NS_GET_USERNS.name), self.kind.into(), e))?;
        Ok(NsHandle { fd, kind: Kind::User })
    }

    /// The parent namespace of a PID or user namespace (`NS_GET_PARENT`). `EINVAL` for the
    /// other (non-hierarchical) kinds, `EPERM` at the top of the caller's view.
    pub fn parent(&self) -> Result<NsHandle> {
        let fd = nsfs::get_fd(self.fd.as_fd(), nsfs::NS_GET_PARENT)
            .map_err(|e| Error::sys(Op::Ioctl(nsfs::NS_GET_PARENT.name), self.kind.into(), e))?;
        Ok(NsHandle { fd, kind: self.kind })
    }

    /// The uid (in the caller's user namespace) of the creator of a user namespace
    /// (`NS_GET_OWNER_UID`). `EINVAL` for other kinds.
    pub fn owner_uid(&self) -> Result<u32> {
        self.read(&nsfs::NS_GET_OWNER_UID, 0u32)
    }

    /// The 64-bit id of a mount namespace (`NS_GET_MNTNS_ID`, Linux 6.8).
    pub fn mnt_ns_id(&self) -> Result<u64> {
        self.read(&nsfs::NS_GET_MNTNS_ID, 0u64)
    }

    /// Mount count and id of a mount namespace (`NS_MNT_GET_INFO`, Linux 6.12).
    pub fn mnt_info(&self) -> Result<MntNsInfo> {
        self.read(&nsfs::NS_MNT_GET_INFO, mnt_info_init())
    }

    /// The next mount namespace after this one, by id, with its info (`NS_MNT_GET_NEXT`).
    pub fn mnt_next(&self) -> Result<(NsHandle, MntNsInfo)> {
        self.mnt_walk(&nsfs::NS_MNT_GET_NEXT)
    }

    /// The previous mount namespace, by id, with its info (`NS_MNT_GET_PREV`).
    pub fn mnt_prev(&self) -> Result<(NsHandle, MntNsInfo)> {
        self.mnt_walk(&nsfs::NS_MNT_GET_PREV)
    }

    fn mnt_walk(&self, req: &Read<MntNsInfo>) -> Result<(NsHandle, MntNsInfo)> {
        // These return a new fd and also fill the struct.
        let mut info = mnt_info_init();
        let fd =
            nsfs::read_fd(self.fd.as_fd(), req, &mut info).map_err(|e| self.ioctl_error(req.name, req.since, e))?;
        Ok((NsHandle { fd, kind: Kind::Mnt }, info))
    }

    /// Translates `pid`, as seen in this PID namespace, to the caller's PID namespace
    /// (`NS_GET_PID_FROM_PIDNS`, Linux 6.8). `ESRCH` if there is no such process.
    pub fn pid_from_pidns(&self, pid: Pid) -> Result<Pid> {
        self.ioctl_pid(nsfs::NS_GET_PID_FROM_PIDNS, pid)
    }

    /// Like [`NsHandle::pid_from_pidns`] for a thread group id (`NS_GET_TGID_FROM_PIDNS`).
    pub fn tgid_from_pidns(&self, pid: Pid) -> Result<Pid> {
        self.ioctl_pid(nsfs::NS_GET_TGID_FROM_PIDNS, pid)
    }

    /// Translates `pid`, as the caller sees it, into this PID namespace
    /// (`NS_GET_PID_IN_PIDNS`, Linux 6.8).
    pub fn pid_in_pidns(&self, pid: Pid) -> Result<Pid> {
        self.ioctl_pid(nsfs::NS_GET_PID_IN_PIDNS, pid)
    }

    /// Like [`NsHandle::pid_in_pidns`] for a thread group id (`NS_GET_TGID_IN_PIDNS`).
    pub fn tgid_in_pidns(&self, pid: Pid) -> Result<Pid> {
        self.ioctl_pid(nsfs::NS_GET_TGID_IN_PIDNS, pid)
    }

    /// A second handle on the same namespace (`dup`).
    pub fn try_clone(&self) -> Result<NsHandle> {
        let fd = self.fd.try_clone().map_err(|e| {
            Error::sys(
                Op::Open,
                self.kind.into(),
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
            )
        })?;
        Ok(NsHandle { fd, kind: self.kind })
    }

    /// The path through which this process sees the handle (`/proc/self/fd/N`), for bind mounts.
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    fn ioctl_pid(&self, req: Plain, pid: Pid) -> Result<Pid> {
        if self.kind != Kind::Pid {
            return Err(Error::sys(Op::Ioctl(req.name), self.kind.into(), Errno::EINVAL)
                .with_detail("only a PID namespace translates pids"));
        }
        nsfs::get_int(self.fd.as_fd(), req, pid.as_raw() as libc::c_ulong)
            .map(Pid::from_raw)
            .map_err(|e| self.ioctl_error(req.name, req.since, e))
    }

    fn read<T: nsfs::PlainData>(&self, req: &Read<T>, init: T) -> Result<T> {
        nsfs::read(self.fd.as_fd(), req, init).map_err(|e| self.ioctl_error(req.name, req.since, e))
    }

    fn ioctl_error(&self, name: &'static str, since: &str, e: Errno) -> Error {
        if e == Errno::ENOTTY {
            Error::unsupported(Op::Ioctl(name), self.kind.into(), e, since)
        } else {
            Error::sys(Op::Ioctl(name), self.kind.into(), e)
        }
    }
}

fn mnt_info_init() -> MntNsInfo {
    MntNsInfo {
        size: 16,
        ..MntNsInfo::default()
    }
}

impl AsFd for NsHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NsHandle {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<NsHandle> for OwnedFd {
    fn from(h: NsHandle) -> OwnedFd {
        h.fd
    }
}

/// The kind of the namespace behind `fd`: `NS_GET_NSTYPE` (Linux 4.11), or the text of the
/// `/proc/self/fd/N` link (`net:[...]`) on older kernels.
fn nstype(fd: BorrowedFd<'_>) -> Result<Kind> {
    match nsfs::get_int(fd, nsfs::NS_GET_NSTYPE, 0) {
        Ok(flag) => Kind::from_clone_flag(flag)
            .ok_or_else(|| Error::invalid(Op::Ioctl("NS_GET_NSTYPE"), format!("unknown namespace type {flag:#x}"))),
        Err(Errno::ENOTTY) => {
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
                .map_err(|_| Error::sys(Op::Ioctl("NS_GET_NSTYPE"), KindSet::EMPTY, Errno::ENOTTY))?;
            let text = link.to_string_lossy();
            text.split(':').next().unwrap_or("").parse()
        }
        Err(e) => Err(Error::sys(Op::Ioctl("NS_GET_NSTYPE"), KindSet::EMPTY, e)),
    }
}

fn ns_path(pid: Pid, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{name}"))
}

/// The pid a pidfd refers to, from `/proc/self/fdinfo/N` (`Pid:` line; -1 once it exited).
pub(crate) fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<Pid> {
    let path = format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd());
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(Op::ReadProc, KindSet::EMPTY, &path, e))?;
    let pid: i32 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::sys(Op::ReadProc, KindSet::EMPTY, Errno::EBADF).with_detail("not a pidfd"))?;
    if pid <= 0 {
        return Err(Error::sys(Op::ReadProc, KindSet::EMPTY, Errno::ESRCH).with_detail("the process has exited"));
    }
    Ok(Pid::from_raw(pid))
}

/// The running kernel's `(major, minor)` version, from `uname(2)`'s release (`7.2.13+deb14-…`
/// gives `(7, 2)`); `(0, 0)` when it cannot be read. For what no call can probe (a rule, not a
/// request: who may see what); probe a feature by calling it where that is possible.
pub fn kernel_version() -> (u32, u32) {
    let Ok(u) = nix::sys::utsname::uname() else {
        return (0, 0);
    };
    let release = u.release().to_string_lossy();
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// `PROC_PID_INIT_INO` (`include/linux/proc_ns.h`): the inode number of the initial PID
/// namespace, fixed since Linux 3.8.
pub const INIT_PID_INO: u64 = 0xEFFF_FFFC;
/// `PROC_USER_INIT_INO`: the inode number of the initial user namespace, fixed since Linux 3.8.
pub const INIT_USER_INO: u64 = 0xEFFF_FFFD;

/// Whether the kernel shows the calling thread every namespace, and not only its own: it is in
/// the initial PID and user namespaces and has `CAP_SYS_ADMIN` (the kernel's
/// `may_see_all_namespaces()`).
///
/// Since Linux 7.0 (and 6.19.y; the "visibility fixes" of Feb. 2026: "nstree: tighten
/// permission checks for listing", "nsfs: tighten permission checks for handle opening",
/// "nsfs: tighten permission checks for ns iteration ioctls"), [`list::listns`], nsfs file
/// handles (`open_by_handle_at`) and the `NS_MNT_GET_NEXT`/`_PREV` walk show any other caller
/// only the namespaces it is in, even root in a container, so that one privileged service
/// cannot learn of another's namespaces. Older kernels show more (by `CAP_SYS_ADMIN` over each
/// namespace's owner).
///
/// Errors: when `/proc/thread-self/ns` cannot be read (no `/proc`).
pub fn may_see_all_namespaces() -> Result<bool> {
    let pid = NsHandle::current(Kind::Pid)?.inode()?;
    let user = NsHandle::current(Kind::User)?.inode()?;
    let caps = rustix::thread::capabilities(None).map_err(|e| {
        Error::sys(Op::ReadProc, KindSet::EMPTY, Errno::from_raw(e.raw_os_error())).with_detail("capget")
    })?;
    Ok(pid.ino == INIT_PID_INO
        && user.ino == INIT_USER_INO
        && caps.effective.contains(rustix::thread::CapabilitySet::SYS_ADMIN))
}

/// One process's namespaces: the identity of each `/proc/[pid]/ns` entry it has, including
/// `pid_for_children` and `time_for_children`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessNamespaces {
    /// The process.
    pub pid: Pid,
    /// The namespace of each kind the process is in (`/proc/[pid]/ns/<kind>`), for the kinds the
    /// kernel has.
    pub own: BTreeMap<Kind, NsInode>,
    /// The PID and time namespaces its next children enter (`pid_for_children`,
    /// `time_for_children`), where the kernel has them.
    pub children: BTreeMap<Kind, NsInode>,
}

impl ProcessNamespaces {
    /// Reads every entry of `/proc/[pid]/ns` (by `stat`, which needs no ptrace access beyond
    /// what reading the directory needs).
    pub fn of(pid: Pid) -> Result<ProcessNamespaces> {
        ProcessNamespaces::read(pid, &format!("/proc/{pid}/ns"))
    }

    /// The calling *thread*'s namespaces (`/proc/thread-self/ns`): what `setns` and `unshare`
    /// change, which in a multithreaded process may differ from [`ProcessNamespaces::current`]
    /// (the main thread's). `pid` is the thread id.
    pub fn current_thread() -> Result<ProcessNamespaces> {
        ProcessNamespaces::read(nix::unistd::gettid(), "/proc/thread-self/ns")
    }

    fn read(pid: Pid, dir: &str) -> Result<ProcessNamespaces> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(Op::ReadProc, KindSet::EMPTY, dir, e))?;
        let (mut own, mut children) = (BTreeMap::new(), BTreeMap::new());
        for ent in rd.flatten() {
            let name = ent.file_name().to_string_lossy().into_owned();
            let Ok(st) = nix::sys::stat::stat(&ent.path()) else {
                continue;
            };
            let id = NsInode {
                dev: st.st_dev,
                ino: st.st_ino,
            };
            if let Some(kind) = Kind::ALL.into_iter().find(|k| k.name() == name) {
                own.insert(kind, id);
            } else if let Some(kind) = Kind::ALL.into_iter().find(|k| k.for_children_name() == Some(&*name)) {
                children.insert(kind, id);
            }
        }
        Ok(ProcessNamespaces { pid, own, children })
    }

    /// The calling process's namespaces.
    pub fn current() -> Result<ProcessNamespaces> {
        ProcessNamespaces::of(nix::unistd::getpid())
    }

    /// The namespace of `kind` the process is in.
    pub fn get(&self, kind: Kind) -> Option<NsInode> {
        self.own.get(&kind).copied()
    }

    /// The namespace of `kind` its next children enter (`pid_for_children`,
    /// `time_for_children`; the process's own for the other kinds).
    pub fn for_children(&self, kind: Kind) -> Option<NsInode> {
        self.children.get(&kind).or_else(|| self.own.get(&kind)).copied()
    }

    /// The kinds in which this process and `other` are in different namespaces.
    pub fn differing(&self, other: &ProcessNamespaces) -> KindSet {
        Kind::ALL
            .into_iter()
            .filter(|k| matches!((self.get(*k), other.get(*k)), (Some(a), Some(b)) if a != b))
            .collect()
    }
}
