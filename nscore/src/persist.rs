//! Keeping a namespace alive without any process in it: a bind mount of its nsfs file onto
//! an ordinary file, as `ip netns add NAME` does under `/run/netns` and `unshare --net=FILE`
//! does (`mount(2)` with `MS_BIND`, `namespaces(7)` "The `/proc/[pid]/ns/` directory").
//!
//! While the bind mount exists the namespace lives, and anyone can join it through the file
//! ([`crate::join::setns_path`]). [`unpersist`] (or dropping the [`Persisted`] guard) detaches
//! the mount (`umount2(2)` with `MNT_DETACH`) and removes the file.
//!
//! The mount is made in the caller's mount namespace. A mount namespace can only be persisted
//! onto a file in *another* mount namespace, one created before it (the kernel refuses a
//! bind mount that could make a namespace hold itself with `EINVAL`), and the file should lie
//! on a mount that is not shared, or the bind mount propagates to the peers. Other kinds can be
//! persisted anywhere.
//!
//! ```no_run
//! use nscore::{persist, Kind, Spawn};
//! let child = Spawn::new(Kind::Net).spawn("sleep", ["1"])?;
//! let p = persist::persist(&child.ns(Kind::Net)?, "/run/netns/demo")?;
//! drop(child); // the namespace lives on, held by the mount
//! let again = p.open()?;
//! p.remove()?; // umount + unlink; the namespace ends once `again` is closed
//! # drop(again);
//! # Ok::<(), nscore::Error>(())
//! ```

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Op, Result};
use crate::inspect::NsHandle;
use crate::kinds::{Kind, KindSet};

/// What to persist: an open namespace handle, or the path of a namespace file
/// (`/proc/[pid]/ns/<kind>`, another bind mount).
#[derive(Debug)]
pub enum Source<'a> {
    /// A handle; the bind mount is made from `/proc/self/fd/N`.
    Handle(&'a NsHandle),
    /// A namespace file.
    Path(PathBuf),
}

impl<'a> From<&'a NsHandle> for Source<'a> {
    fn from(h: &'a NsHandle) -> Source<'a> {
        Source::Handle(h)
    }
}

impl From<&Path> for Source<'_> {
    fn from(p: &Path) -> Self {
        Source::Path(p.to_path_buf())
    }
}

impl From<PathBuf> for Source<'_> {
    fn from(p: PathBuf) -> Self {
        Source::Path(p)
    }
}

impl From<&PathBuf> for Source<'_> {
    fn from(p: &PathBuf) -> Self {
        Source::Path(p.clone())
    }
}

impl From<&str> for Source<'_> {
    fn from(p: &str) -> Self {
        Source::Path(PathBuf::from(p))
    }
}

impl From<String> for Source<'_> {
    fn from(p: String) -> Self {
        Source::Path(PathBuf::from(p))
    }
}

/// Bind-mounts the namespace of `source` onto `target` so that it outlives its processes
/// (`mount(source, target, NULL, MS_BIND, NULL)`, as `ip netns add` does).
///
/// `target` is created (empty, mode 0444) when it does not exist, and removed again if the
/// mount fails; an existing regular file is used as it is. The returned guard undoes both
/// when dropped or [`Persisted::remove`]d; [`Persisted::keep`] leaves them in place.
///
/// Errors: `ENOENT`/`ENOTTY` when `source` is not a namespace file, `EPERM` without
/// `CAP_SYS_ADMIN` over the caller's mount namespace, `EINVAL` for a mount namespace bind-
/// mounted inside itself (or an older one), `ENOENT` when the directory of `target` is missing.
pub fn persist<'a>(source: impl Into<Source<'a>>, target: impl AsRef<Path>) -> Result<Persisted> {
    let target = target.as_ref();
    let opened;
    let (handle, from): (&NsHandle, PathBuf) = match source.into() {
        Source::Handle(h) => (h, h.proc_path()),
        Source::Path(p) => {
            opened = NsHandle::open(&p)?;
            (&opened, p)
        }
    };
    let kind = handle.kind();
    let created = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(target)
    {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let md = std::fs::metadata(target)
                .map_err(|e| Error::sys(Op::Mount, kind.into(), crate::error::errno_of(&e)).with_path(target))?;
            if !md.is_file() {
                return Err(Error::sys(Op::Mount, kind.into(), Errno::EISDIR)
                    .with_path(target)
                    .with_detail("a namespace can only be bind-mounted onto a regular file"));
            }
            false
        }
        Err(e) => {
            return Err(Error::sys(Op::Mount, kind.into(), crate::error::errno_of(&e))
                .with_path(target)
                .with_detail("creating the empty target file"))
        }
    };
    if let Err(e) = mount(
        Some(from.as_path()),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    ) {
        if created {
            let _ = std::fs::remove_file(target);
        }
        let mut err = Error::sys(Op::Mount, kind.into(), e).with_path(target);
        if kind == Kind::Mnt && e == Errno::EINVAL {
            err = err.with_hint(
                "a mount namespace can only be bind-mounted onto a file in another, older mount \
                 namespace (not into itself), on a mount that is not shared",
            );
        }
        return Err(err);
    }
    Ok(Persisted {
        path: target.to_path_buf(),
        kind,
        created,
        active: true,
    })
}

/// Undoes a persisting bind mount made by [`persist`] or `ip netns add`: checks that `path`
/// is a namespace (nsfs) file, detaches the mount (`umount2(path, MNT_DETACH)`) and removes the
/// file.
///
/// Errors: `ENOTTY`-style error when `path` is not a namespace file (nothing is unmounted),
/// `EINVAL` when it is no mount point, `EPERM` without `CAP_SYS_ADMIN`.
pub fn unpersist(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let kind = NsHandle::open(path)?.kind();
    detach(path, kind)?;
    std::fs::remove_file(path)
        .map_err(|e| Error::sys(Op::Umount, kind.into(), crate::error::errno_of(&e)).with_path(path))
}

fn detach(path: &Path, kind: Kind) -> Result<()> {
    umount2(path, MntFlags::MNT_DETACH).map_err(|e| {
        let err = Error::sys(Op::Umount, KindSet::from(kind), e).with_path(path);
        if e == Errno::EINVAL {
            err.with_hint("the path is not a mount point (already unpersisted?)")
        } else {
            err
        }
    })
}

/// A namespace bind-mounted onto a file by [`persist`]. Dropping it detaches the mount and
/// removes the file if [`persist`] created it.
#[derive(Debug)]
#[must_use = "dropping the guard unmounts the namespace at once"]
pub struct Persisted {
    path: PathBuf,
    kind: Kind,
    created: bool,
    active: bool,
}

impl Persisted {
    /// The file the namespace is mounted on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of the persisted namespace.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Opens the persisted namespace (a new handle, which keeps it alive on its own).
    pub fn open(&self) -> Result<NsHandle> {
        NsHandle::open(&self.path)
    }

    /// Detaches the mount (`umount2(MNT_DETACH)`) and removes the file (if [`persist`]
    /// created it). The namespace ends when nothing else holds it.
    ///
    /// Errors: `EINVAL` when the mount is already gone (someone unmounted it; the file
    /// [`persist`] created is still removed), `EPERM` without `CAP_SYS_ADMIN`.
    pub fn remove(mut self) -> Result<()> {
        self.active = false;
        let detached = detach(&self.path, self.kind);
        if let Err(e) = &detached {
            if e.errno() != Some(Errno::EINVAL) || !self.created {
                return detached;
            }
        }
        if self.created {
            std::fs::remove_file(&self.path).map_err(|e| {
                Error::sys(Op::Umount, self.kind.into(), crate::error::errno_of(&e)).with_path(&self.path)
            })?;
        }
        detached
    }

    /// Leaves the mount and the file in place and returns the path; undo later with
    /// [`unpersist`].
    pub fn keep(mut self) -> PathBuf {
        self.active = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for Persisted {
    fn drop(&mut self) {
        if self.active {
            let _ = umount2(&self.path, MntFlags::MNT_DETACH);
            if self.created {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}
