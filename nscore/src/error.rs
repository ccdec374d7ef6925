//! One error type for every call: what was called, on which kinds, the errno, and a hint a
//! person can act on.
//!
//! ```
//! use nscore::{Error, Kind, Op};
//! use nix::errno::Errno;
//! let e = Error::sys(Op::Unshare, Kind::Net.into(), Errno::EPERM);
//! assert_eq!(e.errno(), Some(Errno::EPERM));
//! assert!(e.to_string().contains("CAP_SYS_ADMIN"));
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::kinds::{Kind, KindSet};

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The operation that failed: a system call, an nsfs `ioctl`, a `/proc` file, or a step the
/// child ran between `clone3` and `execve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `unshare(2)`.
    Unshare,
    /// `clone3(2)`.
    Clone3,
    /// `setns(2)`.
    Setns,
    /// An `ioctl_ns(2)` or pidfd namespace request; the name of the request.
    Ioctl(&'static str),
    /// `listns(2)` (Linux 6.19+).
    Listns,
    /// Opening a namespace file (`/proc/[pid]/ns/*`, a bind mount, a pidfd).
    Open,
    /// `pidfd_open(2)`.
    PidfdOpen,
    /// `mount(2)` (bind mounts, `/proc`, propagation).
    Mount,
    /// `umount2(2)`.
    Umount,
    /// `open_tree(2)`: a detached copy of a mount tree (the root of an empty mount namespace).
    OpenTree,
    /// Writing `/proc/[pid]/uid_map` or `gid_map`.
    WriteIdMap,
    /// Writing `/proc/[pid]/setgroups`.
    WriteSetgroups,
    /// Writing `/proc/[pid]/timens_offsets`.
    WriteTimeOffsets,
    /// `sethostname(2)`.
    SetHostname,
    /// `setdomainname(2)`.
    SetDomainname,
    /// Bringing `lo` up (`SIOCSIFFLAGS`).
    LoopbackUp,
    /// `execve(2)` of the child's command.
    Exec,
    /// Reading the child's report pipe, or the child ended before it reported.
    ChildReport,
    /// `waitid(2)` on a child.
    Wait,
    /// `pidfd_send_signal(2)` / `kill(2)`.
    Kill,
    /// `pipe2(2)`, `mmap(2)` or another resource the parent prepares before `clone3`.
    Prepare,
    /// Reading a `/proc` or `/proc/sys` file.
    ReadProc,
    /// Writing a `/proc/sys/user/max_*_namespaces` limit.
    WriteLimit,
    /// Checking a builder's or function's arguments before any system call.
    Validate,
    /// Parsing a kind name or other text.
    Parse,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Op::Unshare => "unshare(2)",
            Op::Clone3 => "clone3(2)",
            Op::Setns => "setns(2)",
            Op::Ioctl(name) => return write!(f, "ioctl({name})"),
            Op::Listns => "listns(2)",
            Op::Open => "open(2) of a namespace file",
            Op::PidfdOpen => "pidfd_open(2)",
            Op::Mount => "mount(2)",
            Op::Umount => "umount2(2)",
            Op::OpenTree => "open_tree(2)",
            Op::WriteIdMap => "writing uid_map/gid_map",
            Op::WriteSetgroups => "writing /proc/[pid]/setgroups",
            Op::WriteTimeOffsets => "writing /proc/[pid]/timens_offsets",
            Op::SetHostname => "sethostname(2)",
            Op::SetDomainname => "setdomainname(2)",
            Op::LoopbackUp => "bringing lo up (SIOCSIFFLAGS)",
            Op::Exec => "execve(2)",
            Op::ChildReport => "the child's setup report",
            Op::Wait => "waitid(2)",
            Op::Kill => "pidfd_send_signal(2)",
            Op::Prepare => "preparing the child",
            Op::ReadProc => "reading /proc",
            Op::WriteLimit => "writing /proc/sys/user/max_*_namespaces",
            Op::Validate => "checking the arguments",
            Op::Parse => "parsing",
        };
        f.write_str(s)
    }
}

/// What went wrong, where, and what to do about it.
///
/// Every error names the operation ([`Op`]), the namespace kinds involved, the `errno` when
/// the kernel gave one, a path where one was involved, and a hint (see [`Error::hint`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    op: Op,
    kinds: KindSet,
    errno: Option<Errno>,
    path: Option<PathBuf>,
    detail: Option<String>,
    hint: Option<String>,
    /// Made by [`Error::unsupported`]: the kernel lacks the feature, whatever the errno.
    unsupported: bool,
}

impl Error {
    /// An error from a `std::fs` or `std::io` call on `path` (a `/proc` file), with its errno
    /// (`EIO` when it has none).
    pub(crate) fn io(op: Op, kinds: KindSet, path: &str, e: std::io::Error) -> Error {
        Error::sys(op, kinds, errno_of(&e)).with_path(path)
    }

    /// An error from a system call that returned `errno`.
    pub fn sys(op: Op, kinds: KindSet, errno: Errno) -> Error {
        let mut e = Error {
            op,
            kinds,
            errno: Some(errno),
            path: None,
            detail: None,
            hint: None,
            unsupported: false,
        };
        e.hint = default_hint(op, kinds, errno);
        e
    }

    /// An error found before any system call (bad arguments, unknown names, ...).
    pub fn invalid(op: Op, detail: impl Into<String>) -> Error {
        Error {
            op,
            kinds: KindSet::EMPTY,
            errno: None,
            path: None,
            detail: Some(detail.into()),
            hint: None,
            unsupported: false,
        }
    }

    /// The kernel lacks a feature (`ENOSYS`, `ENOTTY` for an nsfs ioctl it does not know, or
    /// the errno it gives for a flag it predates, such as `EINVAL` from `clone3(2)` for
    /// `CLONE_EMPTY_MNTNS`): [`Error::is_unsupported`] is true whatever the errno.
    pub fn unsupported(op: Op, kinds: KindSet, errno: Errno, since: &str) -> Error {
        let mut e = Error::sys(op, kinds, errno).with_hint(format!(
            "this kernel does not support it (needs Linux {since} or newer)"
        ));
        e.unsupported = true;
        e
    }

    /// Adds the path involved.
    pub fn with_path(mut self, path: impl AsRef<Path>) -> Error {
        self.path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Adds a detail sentence (what exactly was being done).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Replaces the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the kinds involved (and recomputes the default hint if none was set explicitly).
    pub fn with_kinds(mut self, kinds: KindSet) -> Error {
        self.kinds = kinds;
        if let Some(errno) = self.errno {
            if let Some(h) = default_hint(self.op, kinds, errno) {
                self.hint = Some(h);
            }
        }
        self
    }

    /// The operation that failed.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The namespace kinds the operation was about (may be empty).
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// The kernel's error number, if the kernel gave one.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The path involved, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A sentence saying what to do, if one applies ("needs CAP_SYS_ADMIN: run as root", ...).
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Whether the kernel does not have the feature (`ENOSYS`, `ENOTTY` from an nsfs ioctl, or
    /// an error made by [`Error::unsupported`] after a probe found the feature missing).
    pub fn is_unsupported(&self) -> bool {
        self.unsupported
            || matches!(self.errno, Some(Errno::ENOSYS))
            || (matches!(self.op, Op::Ioctl(_) | Op::Listns) && self.errno == Some(Errno::ENOTTY))
    }

    /// Whether the caller lacked a privilege (`EPERM` or `EACCES`).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno, Some(Errno::EPERM) | Some(Errno::EACCES))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.op)?;
        if !self.kinds.is_empty() {
            let flags: Vec<&str> = self.kinds.iter().map(Kind::flag_name).collect();
            write!(f, " [{}]", flags.join("|"))?;
        }
        if let Some(p) = &self.path {
            write!(f, " on {}", p.display())?;
        }
        f.write_str(" failed")?;
        if let Some(errno) = self.errno {
            write!(f, ": {errno:?} ({})", errno.desc())?;
        }
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

/// The source is the errno (nix's [`Errno`], itself an error), when there is one.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errno.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// An errno becomes `io::Error::from_raw_os_error`, so that `raw_os_error()` and `kind()` work
/// as for any failed system call (the call and the hint are in this [`Error`]'s `Display`,
/// which the conversion cannot keep alongside); an error without an errno becomes
/// `io::Error::other` with this error inside.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        match e.errno {
            Some(errno) => std::io::Error::from_raw_os_error(errno as i32),
            None => std::io::Error::other(e),
        }
    }
}

/// The errno of a `std::io` error (`EIO` when it carries none).
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Number of threads in the calling process (from `/proc/self/status`), if it can be read.
pub(crate) fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The hint for the common failures of each call, from the man pages' ERRORS sections.
fn default_hint(op: Op, kinds: KindSet, errno: Errno) -> Option<String> {
    let needs_single = kinds.contains(Kind::User) || kinds.contains(Kind::Mnt);
    let h: &str = match (op, errno) {
        (Op::Unshare | Op::Clone3 | Op::Setns | Op::Mount | Op::Umount, Errno::EPERM) => {
            "needs CAP_SYS_ADMIN in the owning user namespace: run as root, or create a user \
             namespace in the same call (rootless)"
        }
        (Op::OpenTree, Errno::EPERM) => {
            "cloning a mount tree needs CAP_SYS_ADMIN over the caller's own mount namespace: run \
             as root (a user namespace made by the same spawn does not give it)"
        }
        (Op::SetHostname | Op::SetDomainname, Errno::EPERM) => {
            "needs CAP_SYS_ADMIN over the UTS namespace: create it with Kind::Uts (and Kind::User \
             when not root)"
        }
        (Op::WriteLimit, Errno::EPERM | Errno::EACCES) => {
            "needs CAP_SYS_RESOURCE over the user namespace that owns the limit"
        }
        (Op::Unshare | Op::Setns, Errno::EINVAL) if needs_single => {
            if thread_count().is_some_and(|n| n > 1) {
                if op == Op::Setns {
                    "caller is multithreaded (a user or mount namespace can only be joined by a \
                     single-threaded caller, which shares no fs state: CLONE_FS), or the fd is not \
                     a namespace of the kind asked for; join in a child (nscore::Spawn)"
                } else {
                    "caller is multithreaded: a user namespace needs a single-threaded caller; do \
                     it in a child (nscore::Spawn)"
                }
            } else if op == Op::Setns {
                "the fd is not a namespace of the kind asked for, or it is the caller's own user \
                 namespace, or the caller shares its fs state with another process (CLONE_FS: \
                 joining a mount or user namespace needs its own)"
            } else {
                "the kernel refused the flags: a user namespace needs a single-threaded caller \
                 that does not share its fs state (CLONE_FS)"
            }
        }
        (Op::Unshare, Errno::EINVAL) if kinds.contains(Kind::Pid) => {
            "pid_for_children already points to a new PID namespace with no process yet: fork \
             a child first, or setns back to the active PID namespace"
        }
        (Op::Setns, Errno::EINVAL) => "the fd refers to a namespace of another kind than asked for, or to none",
        (Op::Setns, Errno::EBADF) => "the fd is not open",
        (Op::Ioctl(_), Errno::ENOTTY) => "the fd is not a namespace (nsfs) file, or this kernel lacks this ioctl",
        (Op::Ioctl(_), Errno::EPERM) => {
            "the requested namespace lies outside the caller's view (above its user namespace)"
        }
        (Op::Ioctl(_), Errno::EINVAL) => "this request does not apply to this kind of namespace",
        (Op::Unshare | Op::Clone3, Errno::ENOSPC) => {
            "a limit was reached: /proc/sys/user/max_<kind>_namespaces for this user, or the \
             nesting depth (32 PID levels, 33 user levels)"
        }
        (Op::Setns, Errno::EUSERS) if kinds.contains(Kind::Time) => {
            "caller is multithreaded: a time namespace can only be joined by a single-threaded \
             caller (the kernel says EUSERS); join in a child (nscore::Spawn)"
        }
        (Op::Unshare | Op::Clone3, Errno::EUSERS) => {
            "nesting limit of user namespaces reached (kernels before 4.9 say EUSERS)"
        }
        (Op::Open | Op::PidfdOpen | Op::ReadProc, Errno::ENOENT) | (_, Errno::ESRCH) => {
            "the process is gone (or the kernel has no namespace file of this kind)"
        }
        (Op::WriteIdMap, Errno::EPERM) => {
            "maps can be written once; an unprivileged writer may map only its own id and must \
             write 'deny' to setgroups before gid_map"
        }
        (Op::WriteTimeOffsets, Errno::EACCES) => {
            "offsets can only be written before the first process enters the time namespace"
        }
        (Op::Clone3, Errno::ENOSYS) => "clone3(2) needs Linux 5.3 or newer",
        (Op::Clone3 | Op::Unshare, Errno::EINVAL) if kinds.contains(Kind::Time) => {
            "CLONE_NEWTIME needs Linux 5.6 or newer"
        }
        _ => return None,
    };
    Some(h.to_string())
}
