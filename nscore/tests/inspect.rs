//! What nscore says about namespaces, on the real kernel: owners, parents and ids
//! (`ioctl_ns(2)`), mount namespace information, id maps and time offsets as the child sees
//! them, and the `lsns`-like listing (with persisted namespaces, and processes coming and
//! going). The test threads only read; every namespace is made in a child.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use common::sleeper;
use nix::errno::Errno;
use nscore::inspect::list::{list, list_kinds, listns, HeldBy, TreeBy};
use nscore::{idmap, timens};
use nscore::{IdMap, Kind, KindSet, NsHandle, Op, ProcessNamespaces, Spawn, TimeOffsets};
use std::io::Write as _;
use std::time::Duration;

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "creating and joining namespaces needs CAP_SYS_ADMIN")
}

#[test]
fn inspect_owner_parent_ids() {
    if !root_or_skip("inspect_owner_parent_ids") {
        return;
    }
    let init_user = NsHandle::current(Kind::User).unwrap();
    let init_user_id = init_user.inode().unwrap();
    let mut ns_ids = std::collections::BTreeSet::new();
    for kind in Kind::ALL {
        let h = NsHandle::current(kind).unwrap();
        assert_eq!(h.kind(), kind);
        assert_eq!(h.try_clone().unwrap().inode().unwrap(), h.inode().unwrap());
        assert_eq!(
            NsHandle::open(h.proc_path()).unwrap().inode().unwrap(),
            h.inode().unwrap()
        );
        if kind != Kind::User {
            assert_eq!(h.owner().unwrap().inode().unwrap(), init_user_id, "{kind}");
        }
        match h.ns_id() {
            Ok(id) => assert!(ns_ids.insert(id), "NS_GET_ID {id} repeated"),
            Err(e) => assert!(e.is_unsupported(), "{e}"),
        }
    }
    // The initial user namespace has no owner or parent in our view: EPERM.
    assert_eq!(init_user.parent().unwrap_err().errno(), Some(Errno::EPERM));
    assert_eq!(init_user.owner_uid().unwrap(), 0);
    // Non-hierarchical kinds have no parent; OWNER_UID is for user namespaces only.
    let uts = NsHandle::current(Kind::Uts).unwrap();
    assert_eq!(uts.parent().unwrap_err().errno(), Some(Errno::EINVAL));
    assert_eq!(uts.owner_uid().unwrap_err().errno(), Some(Errno::EINVAL));

    // A child with its own user, net and pid namespaces.
    let child = sleeper(Spawn::new(Kind::Net | Kind::Pid).map_root());
    let user = child.ns(Kind::User).unwrap();
    assert_eq!(user.parent().unwrap().inode().unwrap(), init_user_id);
    assert_eq!(user.owner().unwrap().inode().unwrap(), init_user_id);
    assert_eq!(user.owner_uid().unwrap(), nix::unistd::geteuid().as_raw());
    assert_eq!(
        child.ns(Kind::Net).unwrap().owner().unwrap().inode().unwrap(),
        user.inode().unwrap()
    );
    let pid = child.ns(Kind::Pid).unwrap();
    assert_eq!(
        pid.parent().unwrap().inode().unwrap(),
        NsHandle::current(Kind::Pid).unwrap().inode().unwrap()
    );
    match pid.pid_in_pidns(child.pid()) {
        Ok(p) => {
            assert_eq!(p.as_raw(), 1, "the child is init of its PID namespace");
            assert_eq!(pid.pid_from_pidns(p).unwrap(), child.pid());
            assert_eq!(pid.tgid_in_pidns(child.pid()).unwrap().as_raw(), 1);
            assert_eq!(pid.tgid_from_pidns(p).unwrap(), child.pid());
        }
        Err(e) => assert!(e.is_unsupported(), "{e}"),
    }
    // pid translation only applies to PID namespaces.
    assert_eq!(
        child
            .ns(Kind::Net)
            .unwrap()
            .pid_in_pidns(child.pid())
            .unwrap_err()
            .errno(),
        Some(Errno::EINVAL)
    );
    // for_children: a plain child's pid_for_children is its own PID namespace.
    assert_eq!(
        NsHandle::for_children(child.pid(), Kind::Pid).unwrap().inode().unwrap(),
        pid.inode().unwrap()
    );
    let pns = ProcessNamespaces::of(child.pid()).unwrap();
    assert_eq!(pns.for_children(Kind::Pid), pns.get(Kind::Pid));
    assert_eq!(pns.pid, child.pid());
}

/// `NS_MNT_GET_INFO` works on any mount namespace; `NS_MNT_GET_NEXT`/`_PREV` walk them by id.
/// Since Linux commit e6b899f08066 ("nsfs: tighten permission checks for ns iteration ioctls",
/// 7.0, backported to the 6.12+ stable kernels) the walk is only for a caller in the initial PID
/// namespace with `CAP_SYS_ADMIN` in the initial user namespace (`may_see_all_namespaces()`);
/// anywhere else (the wall, a container) both give EPERM, from every mount namespace, the
/// caller's own included. Older kernels walk from anywhere.
#[test]
fn inspect_mount_namespace_info() {
    if !root_or_skip("inspect_mount_namespace_info") {
        return;
    }
    let mnt = NsHandle::current(Kind::Mnt).unwrap();
    match mnt.mnt_info() {
        Ok(info) => {
            assert!(info.nr_mounts > 0);
            assert_eq!(mnt.mnt_ns_id().unwrap(), info.mnt_ns_id);
        }
        Err(e) => assert!(e.is_unsupported(), "{e}"),
    }
    let child = sleeper(Spawn::new(Kind::Mnt));
    let theirs = child.ns(Kind::Mnt).unwrap();
    match (mnt.mnt_info(), theirs.mnt_info()) {
        (Ok(a), Ok(b)) => {
            assert_ne!(a.mnt_ns_id, b.mnt_ns_id);
            match (mnt.mnt_next(), theirs.mnt_prev()) {
                (Ok((next, n)), Ok((prev, p))) => {
                    // Walking forward from ours reaches a namespace with a larger id, back from
                    // theirs one with a smaller id.
                    assert_eq!((next.kind(), prev.kind()), (Kind::Mnt, Kind::Mnt));
                    assert!(n.mnt_ns_id > a.mnt_ns_id, "{n:?} after {a:?}");
                    assert!(p.mnt_ns_id < b.mnt_ns_id, "{p:?} before {b:?}");
                }
                (next, prev) => {
                    assert!(
                        !nscore::inspect::may_see_all_namespaces().unwrap(),
                        "in the initial PID and user namespaces the walk works: {next:?} {prev:?}"
                    );
                    for (what, r) in [("NS_MNT_GET_NEXT", next.err()), ("NS_MNT_GET_PREV", prev.err())] {
                        assert_eq!(r.as_ref().and_then(|e| e.errno()), Some(Errno::EPERM), "{what}: {r:?}");
                    }
                    let _ = std::io::stderr().write_all(
                        b"SKIPPED inspect_mount_namespace_info (walk): NS_MNT_GET_NEXT/_PREV work only \
                          in the initial PID namespace (Linux commit e6b899f08066); checked that they \
                          give EPERM here\n",
                    );
                }
            }
        }
        (Err(e), _) | (_, Err(e)) => assert!(e.is_unsupported(), "{e}"),
    }
}

#[test]
fn idmap_map_root_makes_child_uid_zero() {
    if !root_or_skip("idmap_map_root_makes_child_uid_zero") {
        return;
    }
    let out = Spawn::new(Kind::User)
        .uid_map(&[IdMap::single(1000, 0)])
        .gid_map(&[IdMap::single(1000, 0)])
        .setgroups(idmap::Setgroups::Deny)
        .output("id", ["-u"])
        .unwrap();
    assert!(out.status.success(), "{:?}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"1000\n", "our uid 0 is 1000 inside");
    let out = Spawn::new(KindSet::EMPTY).map_root().output("id", ["-u"]).unwrap();
    assert_eq!(out.stdout, b"0\n");

    let child = sleeper(
        Spawn::new(Kind::User)
            .uid_map(&[IdMap::new(0, 100000, 1000)])
            .gid_map(&[IdMap::new(0, 100000, 1000)]),
    );
    assert_eq!(idmap::read_uid_map(child.pid()).unwrap(), [IdMap::new(0, 100000, 1000)]);
    assert_eq!(idmap::read_gid_map(child.pid()).unwrap(), [IdMap::new(0, 100000, 1000)]);
    // Maps are written once.
    let e = idmap::write_uid_map(child.pid(), &[IdMap::single(0, 0)]).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::WriteIdMap, Some(Errno::EPERM)));
    assert!(e.hint().unwrap().contains("once"), "{e}");
    assert_eq!(idmap::format_maps(&[IdMap::single(0, 5)]), "0 5 1\n");
}

#[test]
fn time_offsets_move_the_childs_clocks() {
    if !root_or_skip("time_offsets_move_the_childs_clocks") {
        return;
    }
    let ahead = 10 * 86_400u64;
    let out = Spawn::new(Kind::Time)
        .time_offsets(TimeOffsets::forward(Duration::from_secs(ahead)))
        .output("cat", ["/proc/uptime"])
        .unwrap();
    assert!(out.status.success(), "{:?}", String::from_utf8_lossy(&out.stderr));
    let uptime = |text: &str| -> f64 { text.split_whitespace().next().unwrap().parse().unwrap() };
    let theirs = uptime(&String::from_utf8_lossy(&out.stdout));
    let mine = uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
    assert!(
        theirs >= mine + ahead as f64 - 60.0,
        "child uptime {theirs} vs ours {mine}"
    );

    // The offsets can be read back from a process in that namespace.
    let child = sleeper(Spawn::new(Kind::Time).time_offsets(TimeOffsets::ZERO.monotonic(5_000_000_000)));
    let read = timens::read_offsets(child.pid()).unwrap();
    assert_eq!(read.monotonic_ns, 5_000_000_000);
    assert_eq!(read.boottime_ns, 0);
    // Once a process is inside, the offsets are frozen: EACCES.
    let e = timens::write_offsets(child.pid(), &TimeOffsets::ZERO).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EACCES), "{e}");
}

#[test]
fn list_contains_childs_and_persisted_namespaces() {
    if !root_or_skip("list_contains_childs_and_persisted_namespaces") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let child = sleeper(Spawn::new(Kind::Net | Kind::Uts).map_root());
    let net = child.ns(Kind::Net).unwrap().inode().unwrap();
    let user = child.ns(Kind::User).unwrap().inode().unwrap();
    // A namespace held only by a bind mount: its child is gone.
    let gone = Spawn::new(Kind::Ipc).spawn("sleep", ["60"]).unwrap();
    let target = dir.path().join("ipc");
    let p = nscore::persist::persist(&gone.ns(Kind::Ipc).unwrap(), &target).unwrap();
    let ipc = p.open().unwrap().inode().unwrap();
    drop(gone);

    let all = list().unwrap();
    assert!(!all.is_empty() && all.len() >= 8);
    let e = all.get(net).expect("child's net namespace listed");
    assert_eq!(e.kind, Kind::Net);
    assert!(e.pids.contains(&child.pid()));
    assert_eq!(e.nprocs(), 1);
    assert_eq!(e.pid(), Some(child.pid()));
    assert_eq!(e.command.as_deref(), Some("sleep"));
    assert_eq!(e.owner, Some(user), "owned by the child's user namespace");
    assert_eq!(e.held_by(), [HeldBy::Processes]);
    let u = all.get(user).expect("child's user namespace listed");
    assert_eq!(u.parent, Some(NsHandle::current(Kind::User).unwrap().inode().unwrap()));
    let i = all.get(ipc).expect("persisted namespace listed");
    assert_eq!(i.nprocs(), 0);
    assert_eq!(i.held_by(), [HeldBy::BindMount(target.clone())]);
    assert!(i.command.is_none());
    // Every process-held namespace has its NS_GET_ID on this kernel (or none where unsupported).
    if NsHandle::current(Kind::Net).unwrap().ns_id().is_ok() {
        assert!(e.ns_id.is_some() && i.ns_id.is_some());
    }
    // The tree by owner puts the child's net namespace under the child's user namespace,
    // which sits under the initial one.
    let forest = all.tree(TreeBy::Owner);
    fn find<'a>(
        nodes: &'a [nscore::inspect::list::TreeNode<'a>],
        id: nscore::NsInode,
    ) -> Option<&'a nscore::inspect::list::TreeNode<'a>> {
        nodes.iter().find_map(|n| {
            if n.entry.inode == id {
                Some(n)
            } else {
                find(&n.children, id)
            }
        })
    }
    let unode = find(&forest, user).expect("user ns in tree");
    assert!(unode.children.iter().any(|c| c.entry.inode == net));
    assert!(forest.iter().all(|r| find(&r.children, r.entry.inode).is_none()));
    assert!(find(&all.tree(TreeBy::Parent), user).is_some());
    // Filters by kind.
    let nets = list_kinds(Kind::Net.into()).unwrap();
    assert!(nets.iter().all(|e| e.kind == Kind::Net));
    assert!(nets.get(net).is_some());
    assert_eq!(
        all.filtered(Kind::Net.into()).of_kind(Kind::Net).count(),
        all.of_kind(Kind::Net).count()
    );
    // listns(2): either the kernel has it, or the list says it scanned. The test's own
    // namespaces are always listed; another's (the child's) where the kernel shows this caller
    // every namespace (in the initial PID namespace, as the kernel matrix runs this binary a
    // second time; or a kernel older than 7.0's visibility rule).
    match listns(KindSet::ALL) {
        Ok(ids) => {
            assert!(all.used_listns());
            let own = NsHandle::current(Kind::Net).unwrap().ns_id().unwrap();
            assert!(ids.contains(&own), "the caller's own net namespace: {ids:?}");
            if nscore::inspect::may_see_all_namespaces().unwrap() {
                assert!(ids.contains(&e.ns_id.unwrap()), "the child's: {ids:?}");
            }
        }
        Err(err) => {
            assert!(err.is_unsupported(), "{err}");
            assert!(!all.used_listns() && all.unreached().is_empty());
        }
    }
    p.remove().unwrap();
    assert!(list().unwrap().get(ipc).is_none(), "gone once unmounted");
}

#[test]
fn list_tolerates_processes_coming_and_going() {
    if !root_or_skip("list_tolerates_processes_coming_and_going") {
        return;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Short-lived children in new namespaces: entries vanish mid-scan.
                let mut c = Spawn::new(Kind::Uts | Kind::Ipc)
                    .spawn("true", std::iter::empty::<&str>())
                    .unwrap();
                c.wait().unwrap();
                n += 1;
            }
            n
        })
    };
    for _ in 0..20 {
        let all = list().unwrap();
        assert!(all.of_kind(Kind::User).count() >= 1);
        for e in all.iter() {
            assert!(e.nprocs() > 0 || !e.mounts.is_empty() || e.held_by() == [HeldBy::Reference]);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(churn.join().unwrap() > 0);
}
