//! `fast/*`: the new kernels' fast paths, each probed and measured beside the classic path it
//! replaces, where the running kernel has it.
//!
//! - `fast/empty_mntns` against `fast/copy_mntns`: a mount namespace holding only the tree of
//!   one path (`open_tree(OPEN_TREE_NAMESPACE)`, Linux 7.x) instead of a copy of every mount
//!   of the parent's (`unshare(CLONE_NEWNS)`).
//! - `fast/clone_empty_mntns` against `fast/clone_copy_mntns`: nscore's
//!   `Spawn::empty_mntns` (`clone3(CLONE_NEWNS|CLONE_EMPTY_MNTNS)`, Linux 7.1) against a plain
//!   `Spawn` of `Kind::Mnt` (a copy of every mount): a child that runs a function and exits,
//!   start to reaped.
//! - `fast/into_cgroup` against `fast/cgroup_procs`: a spawn that starts in its cgroup
//!   (`CLONE_INTO_CGROUP`, Linux 5.7) against one moved there after the clone (the parent
//!   writes its pid to `cgroup.procs`).
//! - `pidfd_spawn`-style starts (a pidfd from the clone, `CLONE_VM|CLONE_VFORK`) are what
//!   nscore's `Spawn` already does; glibc's `pidfd_spawn` itself (glibc 2.39) is not measured.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nscore::{Errno, Spawn};
use rustix::fs::CWD;
use rustix::mount::{open_tree, OpenTreeFlags};

use super::child::{in_child, ns_of};
use super::spawn::SPAWN_KINDS;
use super::{MeasureError, Result};

/// `OPEN_TREE_NAMESPACE` (uapi `linux/mount.h`, Linux 7.x): `open_tree` returns a new mount
/// namespace holding a copy of the tree at the path, and nothing else.
const OPEN_TREE_NAMESPACE: u32 = 0x02;

fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// Whether the kernel has `open_tree(OPEN_TREE_NAMESPACE)`: tried once in a child. `Err` says
/// why not (`EINVAL`: a kernel before the flag).
pub fn probe_empty_mntns() -> Result<()> {
    in_child(|_| {
        let flags = OpenTreeFlags::from_bits_retain(OPEN_TREE_NAMESPACE) | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        open_tree(CWD, c"/", flags).map(drop).map_err(|e| ("open", errno(e)))
    })
    .map(drop)
    .map_err(|e| match e {
        MeasureError::Child {
            errno: Errno::EINVAL, ..
        } => MeasureError::NotDone(
            "open_tree(OPEN_TREE_NAMESPACE) is EINVAL: this kernel predates empty mount namespaces (Linux 7.x)".into(),
        ),
        e => e,
    })
}

/// `iters` mount namespaces made in one child, either holding only `/`'s own tree
/// (`open_tree(OPEN_TREE_NAMESPACE)`, `empty`) or a copy of every mount (`unshare(CLONE_NEWNS)`);
/// each call timed alone, the previous namespace dropped by the next.
pub fn mntns_loop(empty: bool, iters: u64) -> Result<Duration> {
    let flags = OpenTreeFlags::from_bits_retain(OPEN_TREE_NAMESPACE) | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let out = in_child(|out| {
        let mut total = 0u64;
        for _ in 0..iters {
            let t0 = nscore::raw::monotonic_ns();
            if empty {
                // The fd (and its namespace) is dropped at the end of the statement.
                open_tree(CWD, c"/", flags).map(drop).map_err(|e| ("open", errno(e)))?;
            } else {
                nscore::raw::unshare(nscore::Kind::Mnt.into()).map_err(|e| ("unshare", e))?;
            }
            total += nscore::raw::monotonic_ns() - t0;
        }
        out[0] = total;
        Ok(())
    })?;
    Ok(ns_of(out[0]))
}

/// `iters` children in a new mount namespace, each running a function that returns at once:
/// an empty one (`Spawn::empty_mntns`, `empty`) or a copy of the parent's (the classic path).
/// Start to reaped, summed. Probe first with [`nscore::create::probe_empty_mntns`].
pub fn clone_mntns_spawns(empty: bool, iters: u64) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let sp = Spawn::new(nscore::Kind::Mnt).empty_mntns(empty);
        let t = Instant::now();
        // SAFETY: the function only returns a constant (no allocation, no lock).
        let mut child = unsafe { sp.run(|| 0) }?;
        let st = child.wait()?;
        total += t.elapsed();
        if !st.success() {
            return Err(MeasureError::Other(format!("mount namespace child: {st}")));
        }
    }
    Ok(total)
}

/// A scratch cgroup below this process's own (cgroup v2), removed on drop.
#[derive(Debug)]
pub struct ScratchCgroup {
    path: PathBuf,
}

impl ScratchCgroup {
    /// Makes `<own cgroup>/nsbench-fast-<pid>` in the cgroup v2 hierarchy (`/sys/fs/cgroup`, or
    /// `/sys/fs/cgroup/unified` on a hybrid host). Refused (with the reason) without a cgroup v2
    /// hierarchy, when this process sits in its root (a cgroup there would be the host's), or
    /// when the new directory is not a cgroup (the kernel did not fill it).
    pub fn new() -> Result<ScratchCgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| MeasureError::Other(format!("/proc/self/cgroup: {e}")))?;
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .map(|r| r.trim_end_matches('/'))
            .ok_or_else(|| MeasureError::NotDone("no cgroup v2 hierarchy".into()))?;
        if rel.is_empty() {
            return Err(MeasureError::NotDone(
                "this process is in the root cgroup: a scratch cgroup would be the host's".into(),
            ));
        }
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .find(|r| std::path::Path::new(r).join("cgroup.controllers").exists())
            .ok_or_else(|| MeasureError::NotDone("no cgroup v2 mount at /sys/fs/cgroup".into()))?;
        let path = PathBuf::from(format!("{root}{rel}/nsbench-fast-{}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| MeasureError::NotDone(format!("{}: {e}", path.display())))?;
        let cg = ScratchCgroup { path };
        if !cg.path.join("cgroup.procs").exists() {
            return Err(MeasureError::NotDone(format!("{} is not a cgroup", cg.path.display())));
        }
        Ok(cg)
    }

    /// A spawn of the benchmark's kinds that starts in this cgroup (`CLONE_INTO_CGROUP`).
    fn into(&self) -> Result<Spawn> {
        let dir = std::fs::File::open(&self.path)
            .map_err(|e| MeasureError::Other(format!("{}: {e}", self.path.display())))?;
        Ok(Spawn::new(SPAWN_KINDS).into_cgroup(dir.into()))
    }
}

impl Drop for ScratchCgroup {
    fn drop(&mut self) {
        // Every child was reaped; an empty cgroup can be removed.
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// `iters` spawns in new namespaces of a command that ends up in `cg`: started there
/// (`CLONE_INTO_CGROUP`, `direct`) or moved there by the parent after the clone (a write of its
/// pid to `cgroup.procs`, the classic way). The command is `cat` reading a pipe, so that it is
/// still there to be moved; it ends when the parent closes the pipe. Start to reaped, summed.
pub fn cgroup_spawns(cg: &ScratchCgroup, direct: bool, iters: u64) -> Result<Duration> {
    let procs = cg.path.join("cgroup.procs");
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let sp = if direct { cg.into()? } else { Spawn::new(SPAWN_KINDS) };
        let sp = sp.stdin(nscore::Redirect::Piped).stdout(nscore::Redirect::Null);
        let t = Instant::now();
        let mut child = sp.spawn("/bin/cat", [""; 0])?;
        if !direct {
            // No create: only the kernel's cgroup.procs may be written.
            std::fs::OpenOptions::new()
                .write(true)
                .open(&procs)
                .and_then(|mut f| std::io::Write::write_all(&mut f, child.pid().to_string().as_bytes()))
                .map_err(|e| MeasureError::Other(format!("{}: {e}", procs.display())))?;
        }
        drop(child.stdin.take());
        let st = child.wait()?;
        total += t.elapsed();
        if !st.success() {
            return Err(MeasureError::Other(format!("/bin/cat: {st}")));
        }
    }
    Ok(total)
}
