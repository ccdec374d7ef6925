//! Every namespace on the host, like `lsns(8)`: the namespaces of every process
//! (`/proc/[pid]/ns/*`), plus those held only by a bind mount (`nsfs` lines of
//! `/proc/self/mountinfo`), plus the user and PID namespaces that only others refer to (as owner
//! or parent), each with its owner and parent (`ioctl_ns(2)`).
//!
//! Processes come and go while `/proc` is read: a process that is gone by the time its entry is
//! read (`ENOENT`, `ESRCH`) is skipped, and a namespace is opened through the first of its
//! processes that is still in it. On Linux 6.19+ `listns(2)` also lists the ids of namespaces
//! that no process and no visible mount holds ([`NsList::unreached`]); on older kernels
//! (`ENOSYS`) the scan alone is used.
//!
//! ```no_run
//! use nscore::inspect::list::{list, TreeBy};
//! let all = list()?;
//! for e in all.iter() {
//!     println!("{} {} {} {:?}", e.inode.ino, e.kind, e.nprocs(), e.command);
//! }
//! for root in all.tree(TreeBy::Owner) {
//!     println!("{} owns {} namespaces", root.entry.inode, root.children.len());
//! }
//! # Ok::<(), nscore::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::inspect::{NsHandle, NsInode};
use crate::kinds::{Kind, KindSet};
use crate::sys;

/// Why a namespace is alive, as far as the list can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldBy {
    /// Processes are in it (their pids are in [`NsEntry::pids`]).
    Processes,
    /// A bind mount of its nsfs file (`ip netns add`, [`crate::persist::persist`]) at this path.
    BindMount(PathBuf),
    /// No process and no visible mount: another namespace refers to it as owner or parent (or
    /// an fd someone holds keeps it).
    Reference,
}

/// One namespace, as `lsns` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsEntry {
    /// Its kind.
    pub kind: Kind,
    /// (device, inode) of its nsfs file; `ino` is the `NS` column of `lsns`.
    pub inode: NsInode,
    /// The 64-bit id from `NS_GET_ID` (Linux 6.18+), if the kernel gives it.
    pub ns_id: Option<u64>,
    /// The processes in it, lowest pid first (empty when only a mount or a reference holds it).
    pub pids: Vec<Pid>,
    /// The command name (`/proc/[pid]/comm`) of the lowest pid.
    pub command: Option<String>,
    /// The owner uid of the lowest pid's `/proc/[pid]` directory (the `USER` column of `lsns`).
    pub uid: Option<u32>,
    /// The user namespace that owns it (`NS_GET_USERNS`); for a user namespace, its parent.
    /// `None` at the top of the caller's view.
    pub owner: Option<NsInode>,
    /// The parent namespace of a user or PID namespace (`NS_GET_PARENT`); `None` for the other
    /// kinds and at the top.
    pub parent: Option<NsInode>,
    /// Paths of the bind mounts of its nsfs file in the caller's mount namespace.
    pub mounts: Vec<PathBuf>,
}

impl NsEntry {
    /// How many processes are in it (the `NPROCS` column of `lsns`).
    pub fn nprocs(&self) -> usize {
        self.pids.len()
    }

    /// The lowest pid in it (the `PID` column of `lsns`).
    pub fn pid(&self) -> Option<Pid> {
        self.pids.first().copied()
    }

    /// What keeps it alive: processes, bind mounts, or only references.
    pub fn held_by(&self) -> Vec<HeldBy> {
        let mut v = Vec::new();
        if !self.pids.is_empty() {
            v.push(HeldBy::Processes);
        }
        v.extend(self.mounts.iter().cloned().map(HeldBy::BindMount));
        if v.is_empty() {
            v.push(HeldBy::Reference);
        }
        v
    }
}

/// The namespaces found by [`list`], in (kind, inode) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsList {
    entries: Vec<NsEntry>,
    listns: Option<Vec<u64>>,
}

/// How [`NsList::tree`] nests the namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeBy {
    /// Under the user namespace that owns each one (user namespaces under their parent), like
    /// `lsns --tree=owner`.
    #[default]
    Owner,
    /// User and PID namespaces under their parent, other kinds at the top, like
    /// `lsns --tree=parent`.
    Parent,
}

/// One node of [`NsList::tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode<'a> {
    /// The namespace.
    pub entry: &'a NsEntry,
    /// The namespaces under it, in (kind, inode) order.
    pub children: Vec<TreeNode<'a>>,
}

impl NsList {
    /// The entries, in (kind, inode) order.
    pub fn iter(&self) -> impl Iterator<Item = &NsEntry> + '_ {
        self.entries.iter()
    }

    /// How many namespaces were found.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of the namespace with this identity.
    pub fn get(&self, id: NsInode) -> Option<&NsEntry> {
        self.entries.iter().find(|e| e.inode == id)
    }

    /// The entries of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &NsEntry> + '_ {
        self.entries.iter().filter(move |e| e.kind == kind)
    }

    /// A copy holding only the entries of `kinds`.
    pub fn filtered(&self, kinds: KindSet) -> NsList {
        NsList {
            entries: self
                .entries
                .iter()
                .filter(|e| kinds.contains(e.kind))
                .cloned()
                .collect(),
            listns: self.listns.clone(),
        }
    }

    /// Whether `listns(2)` (Linux 6.19+) answered; `false` when only `/proc` was scanned.
    pub fn used_listns(&self) -> bool {
        self.listns.is_some()
    }

    /// Ids (`NS_GET_ID`) that `listns(2)` reported but the scan could not reach (no process and
    /// no mount visible to the caller). Empty without `listns`.
    pub fn unreached(&self) -> Vec<u64> {
        let Some(ids) = &self.listns else {
            return Vec::new();
        };
        let seen: BTreeSet<u64> = self.entries.iter().filter_map(|e| e.ns_id).collect();
        ids.iter().copied().filter(|id| !seen.contains(id)).collect()
    }

    /// The namespaces as a forest: each under its owner or parent (see [`TreeBy`]); a
    /// namespace whose owner/parent is not in the list is a root.
    pub fn tree(&self, by: TreeBy) -> Vec<TreeNode<'_>> {
        let up = |e: &NsEntry| -> Option<NsInode> {
            match (by, e.kind) {
                (TreeBy::Owner, Kind::User) => e.parent.or(e.owner),
                (TreeBy::Owner, _) => e.owner,
                (TreeBy::Parent, Kind::User | Kind::Pid) => e.parent,
                (TreeBy::Parent, _) => None,
            }
        };
        let present: BTreeSet<NsInode> = self.entries.iter().map(|e| e.inode).collect();
        let mut children: BTreeMap<NsInode, Vec<usize>> = BTreeMap::new();
        let mut roots = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            match up(e).filter(|p| present.contains(p) && *p != e.inode) {
                Some(p) => children.entry(p).or_default().push(i),
                None => roots.push(i),
            }
        }
        fn build<'a>(
            list: &'a [NsEntry],
            i: usize,
            children: &BTreeMap<NsInode, Vec<usize>>,
            depth: usize,
        ) -> TreeNode<'a> {
            let entry = &list[i];
            // Depth bound: nesting is at most 33 user levels; guards against a corrupt view.
            let kids = if depth > 64 {
                Vec::new()
            } else {
                children
                    .get(&entry.inode)
                    .map(|v| v.iter().map(|&c| build(list, c, children, depth + 1)).collect())
                    .unwrap_or_default()
            };
            TreeNode { entry, children: kids }
        }
        roots
            .into_iter()
            .map(|i| build(&self.entries, i, &children, 0))
            .collect()
    }
}

/// Every namespace of every kind on the host (as far as the caller can see).
pub fn list() -> Result<NsList> {
    list_kinds(KindSet::ALL)
}

#[derive(Default)]
struct Found {
    kind: Option<Kind>,
    pids: Vec<Pid>,
    mounts: Vec<PathBuf>,
    handle: Option<NsHandle>,
}

/// The namespaces of the given kinds: scans `/proc/[pid]/ns` of every process and the nsfs
/// bind mounts in `/proc/self/mountinfo`, then asks each namespace for its owner, parent and
/// `NS_GET_ID`.
///
/// Processes that end during the scan are skipped. Without root, other users' processes
/// cannot be inspected (their `/proc/[pid]/ns` needs ptrace access) and are left out, as with
/// `lsns`.
///
/// Errors: only when `/proc` itself cannot be read.
pub fn list_kinds(kinds: KindSet) -> Result<NsList> {
    let mut found: BTreeMap<NsInode, Found> = BTreeMap::new();
    let mut uids: BTreeMap<Pid, u32> = BTreeMap::new();

    let rd = std::fs::read_dir("/proc").map_err(|e| Error::io(Op::ReadProc, KindSet::EMPTY, "/proc", e))?;
    let mut pids: Vec<Pid> = rd
        .flatten()
        .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .collect();
    pids.sort();
    for pid in pids {
        let Ok(md) = std::fs::metadata(format!("/proc/{pid}")) else {
            continue; // gone
        };
        uids.insert(pid, md.uid());
        for kind in kinds.iter() {
            // ENOENT/ESRCH: the process ended; EACCES: not ours to see. Skip either way.
            let Ok(st) = nix::sys::stat::stat(format!("/proc/{pid}/ns/{}", kind.name()).as_str()) else {
                continue;
            };
            let f = found.entry(NsInode {
                dev: st.st_dev,
                ino: st.st_ino,
            });
            let f = f.or_default();
            f.kind = Some(kind);
            f.pids.push(pid);
        }
    }

    for (path, h) in nsfs_mounts() {
        if !kinds.contains(h.kind()) {
            continue;
        }
        let Ok(id) = h.inode() else { continue };
        let f = found.entry(id).or_default();
        f.kind = Some(h.kind());
        f.mounts.push(path);
        if f.handle.is_none() {
            f.handle = Some(h);
        }
    }

    // Open each namespace through a process still in it (the process may have moved or ended).
    for (id, f) in found.iter_mut() {
        if f.handle.is_some() {
            continue;
        }
        let Some(kind) = f.kind else { continue };
        f.handle = f
            .pids
            .iter()
            .filter_map(|&pid| open_ns_of(pid, kind))
            .find(|h| h.inode().ok() == Some(*id));
    }

    // Walk owners and parents, adding the namespaces only they refer to.
    let mut entries = Vec::new();
    let mut pending: Vec<(NsInode, Found)> = std::mem::take(&mut found).into_iter().collect();
    let mut known: BTreeSet<NsInode> = pending.iter().map(|(id, _)| *id).collect();
    while let Some((id, f)) = pending.pop() {
        let Some(kind) = f.kind else { continue };
        let mut e = NsEntry {
            kind,
            inode: id,
            ns_id: None,
            pids: f.pids,
            command: None,
            uid: None,
            owner: None,
            parent: None,
            mounts: f.mounts,
        };
        if let Some(&pid) = e.pids.first() {
            e.command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|s| s.trim_end().to_string());
            e.uid = uids.get(&pid).copied();
        }
        if let Some(h) = &f.handle {
            e.ns_id = h.ns_id().ok();
            let mut related = Vec::new();
            if let Ok(o) = h.owner() {
                e.owner = o.inode().ok();
                related.push(o);
            }
            if matches!(kind, Kind::User | Kind::Pid) {
                if let Ok(p) = h.parent() {
                    e.parent = p.inode().ok();
                    related.push(p);
                }
            }
            for r in related {
                let Ok(rid) = r.inode() else { continue };
                if kinds.contains(r.kind()) && known.insert(rid) {
                    pending.push((
                        rid,
                        Found {
                            kind: Some(r.kind()),
                            handle: Some(r),
                            ..Found::default()
                        },
                    ));
                }
            }
        }
        entries.push(e);
    }
    entries.sort_by_key(|e| (e.kind, e.inode));

    // ENOSYS before Linux 6.19: the scan alone stands.
    let listns = listns(kinds).ok();
    Ok(NsList { entries, listns })
}

/// Opens the namespace of `kind` of `pid` through a pidfd (`pidfd_open(2)`, then
/// `PIDFD_GET_<KIND>_NAMESPACE`): a pid reused meanwhile cannot be confused with the one scanned.
/// Falls back to `/proc/[pid]/ns/<kind>` where pidfds are missing (before Linux 5.3).
fn open_ns_of(pid: Pid, kind: Kind) -> Option<NsHandle> {
    match sys::pidfd_open(pid.as_raw()) {
        Ok(pidfd) => NsHandle::from_pidfd(std::os::fd::AsFd::as_fd(&pidfd), kind).ok(),
        Err(Errno::ENOSYS) => NsHandle::of_process(pid, kind).ok(),
        Err(_) => None,
    }
}

/// Bind-mounted namespace files in the caller's mount namespace: `nsfs` lines of
/// `/proc/self/mountinfo`, opened. Mounts that vanish or cannot be opened are skipped.
fn nsfs_mounts() -> Vec<(PathBuf, NsHandle)> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() != Some("nsfs") {
            continue;
        }
        let Some(mp) = left.split(' ').nth(4) else { continue };
        let path = PathBuf::from(unescape_mountinfo(mp));
        if let Ok(h) = NsHandle::open(&path) {
            out.push((path, h));
        }
    }
    out
}

/// Undoes the octal escapes (`\040` for space, `\011`, `\012`, `\134`) of mountinfo fields.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = u32::from(b[i + 1] - b'0') * 64 + u32::from(b[i + 2] - b'0') * 8 + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `listns(2)` (Linux 6.19): the 64-bit ids (`NS_GET_ID`) of the namespaces of `kinds` that the
/// caller may see, in increasing order (all kinds when `kinds` is empty).
///
/// Which ones the caller may see: since Linux 7.0 (and 6.19.y), every active namespace for
/// root in the initial PID and user namespaces, and only the caller's own namespaces for any
/// other caller, root in a container included (see
/// [`may_see_all_namespaces`](super::may_see_all_namespaces)).
///
/// Errors: an error for which [`Error::is_unsupported`] is true (`ENOSYS`) on older kernels.
pub fn listns(kinds: KindSet) -> Result<Vec<u64>> {
    listns_in_pages(kinds, &mut [0u64; 256])
}

/// [`listns`], asking the kernel for `page.len()` ids at a time: each call starts after the
/// last id of the one before, until a page comes back short or the kernel says that nothing
/// follows (ENOENT). A kernel that gives a full page
/// whose ids do not increase ends the walk with EIO (instead of a loop without end).
fn listns_in_pages(kinds: KindSet, page: &mut [u64]) -> Result<Vec<u64>> {
    let mut req = sys::nsfs::NsIdReq {
        size: std::mem::size_of::<sys::nsfs::NsIdReq>() as u32,
        ns_type: kinds.clone_flags() as u32,
        ..sys::nsfs::NsIdReq::default()
    };
    let mut ids = Vec::new();
    loop {
        let n = match sys::nsfs::listns(&req, page, 0) {
            // a later page starts at the first namespace after the last id; ENOENT when there is
            // none (the kernel's `lookup_ns_id_at`): the list ended with a full page
            Err(Errno::ENOENT) if req.ns_id != 0 => return Ok(ids),
            r => r,
        }
        .map_err(|e| {
            if e == Errno::ENOSYS {
                Error::unsupported(Op::Listns, kinds, e, "6.19")
            } else {
                Error::sys(Op::Listns, kinds, e)
            }
        })?;
        let got = &page[..n.min(page.len())];
        ids.extend_from_slice(got);
        if got.len() < page.len() {
            return Ok(ids);
        }
        let last = got[got.len() - 1];
        if last <= req.ns_id {
            return Err(
                Error::sys(Op::Listns, kinds, Errno::EIO).with_detail("ids did not increase from one page to the next")
            );
        }
        req.ns_id = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/run/netns/a\040b"), "/run/netns/a b");
        assert_eq!(unescape_mountinfo(r"/x\134y\"), r"/x\y\");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    /// The paging of `listns`: pages of one id give the same strictly increasing list as pages
    /// of 256 (the caller's own namespaces at least: one per kind). Read-only: no namespace is
    /// made or entered.
    #[test]
    fn listns_pages_give_the_same_ids() {
        match listns_in_pages(KindSet::EMPTY, &mut [0u64; 256]) {
            Ok(whole) => {
                assert!(whole.len() >= 8, "one per kind at least: {whole:?}");
                assert!(whole.windows(2).all(|w| w[0] < w[1]), "increasing: {whole:?}");
                for page in [1, 2, 7] {
                    let paged = listns_in_pages(KindSet::EMPTY, &mut vec![0u64; page]).unwrap();
                    assert_eq!(paged, whole, "pages of {page}");
                }
                let nets = listns_in_pages(Kind::Net.into(), &mut [0u64; 1]).unwrap();
                assert!(!nets.is_empty() && nets.iter().all(|id| whole.contains(id)), "{nets:?}");
                assert!(nets.len() < whole.len(), "by kind: {nets:?}");
            }
            Err(e) => {
                assert!(e.is_unsupported(), "{e}");
                eprintln!("SKIPPED listns_pages_give_the_same_ids: {e}");
            }
        }
    }
}
