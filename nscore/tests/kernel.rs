//! Integration tests of nscore's public API on the real kernel, as root: creation of every
//! kind, joining, inspection, id maps, time offsets, listing, and the error paths.
//!
//! Every namespace change happens in a child made by `Spawn` (whose function bodies use only
//! raw, async-signal-safe calls); the test threads only read. The one exception is
//! `unshare_user_in_multithreaded_caller_is_einval`, which calls `nscore::unshare` for a user
//! namespace from a process that is certainly multithreaded, so the kernel refuses it.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::ffi::CString;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nscore::inspect::list::{list, list_kinds, listns, HeldBy, TreeBy};
use nscore::{idmap, join, raw, timens};
use nscore::{Error, IdMap, Kind, KindSet, NsHandle, Op, ProcessNamespaces, Redirect, Spawn, TimeOffsets};

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "creating and joining namespaces needs CAP_SYS_ADMIN")
}

/// A child in new namespaces of `kinds` that sleeps until killed (dropping it kills it).
fn sleeper(spawn: Spawn) -> nscore::Child {
    spawn
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .expect("spawn sleeper")
}

/// Runs `body` in a plain child (no new namespaces) and returns its exit code.
fn run_code(spawn: Spawn, body: impl FnMut() -> i32) -> i32 {
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let mut c = unsafe { spawn.run(body) }.expect("spawn run child");
    match c.wait_timeout(Duration::from_secs(20)).expect("wait") {
        Some(status) => status.code().expect("exited, not signaled"),
        None => panic!("child {} did not finish in 20 s (killed on drop)", c.pid()),
    }
}

/// A pipe whose write end the child uses to say "ready" (one byte) and then waits.
fn ready_pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap()
}

fn wait_ready(r: &OwnedFd) -> u8 {
    let mut fds = [nix::poll::PollFd::new(r.as_fd(), nix::poll::PollFlags::POLLIN)];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20_000u16)).unwrap();
    assert_eq!(n, 1, "child not ready within 20 s");
    let mut b = [0u8; 1];
    assert_eq!(
        raw::read_full(r.as_raw_fd(), &mut b).unwrap(),
        1,
        "child ended before it was ready"
    );
    b[0]
}

/// Body helper: report `code` on the pipe, then sleep until killed.
fn report_and_pause(w: i32, code: u8) -> ! {
    let _ = raw::write_all(w, &[code]);
    loop {
        // SAFETY: pause(2) only blocks until a signal arrives; async-signal-safe.
        unsafe {
            libc::pause();
        }
    }
}

#[test]
fn every_kind_new_namespace_differs_and_empty_set_shares() {
    if !root_or_skip("every_kind_new_namespace_differs_and_empty_set_shares") {
        return;
    }
    let mine = ProcessNamespaces::current().unwrap();
    for kind in Kind::ALL {
        assert!(kind.is_supported(), "{kind} missing on this kernel");
        let child = sleeper(Spawn::new(kind));
        let theirs = child.namespaces().unwrap();
        assert_ne!(theirs.get(kind), mine.get(kind), "{kind}");
        assert_eq!(
            theirs.differing(&mine),
            KindSet::from(kind),
            "{kind}: only that kind is new"
        );
        assert_eq!(child.kinds(), KindSet::from(kind));
        // The handle through the pidfd names the same namespace as /proc/[pid]/ns.
        let h = child.ns(kind).unwrap();
        assert_eq!(h.kind(), kind);
        assert_eq!(Some(h.inode().unwrap()), theirs.get(kind));
        assert_eq!(
            NsHandle::of_process(child.pid(), kind).unwrap().inode().unwrap(),
            h.inode().unwrap()
        );
        assert_eq!(h.inode().unwrap().to_string(), format!("[{}]", h.inode().unwrap().ino));
    }
    let plain = sleeper(Spawn::new(KindSet::EMPTY));
    assert!(plain.namespaces().unwrap().differing(&mine).is_empty());
}

#[test]
fn all_kinds_at_once() {
    if !root_or_skip("all_kinds_at_once") {
        return;
    }
    let mine = ProcessNamespaces::current().unwrap();
    let child = sleeper(Spawn::new(KindSet::ALL).map_root());
    assert_eq!(child.namespaces().unwrap().differing(&mine), KindSet::ALL);
}

#[test]
fn join_by_handle_path_and_pidfd() {
    if !root_or_skip("join_by_handle_path_and_pidfd") {
        return;
    }
    let target = sleeper(Spawn::new(Kind::Uts | Kind::Ipc | Kind::Net).hostname("h1-join-target"));
    let tns = target.namespaces().unwrap();

    // 1. Spawn::join with a handle (setns in the child before it execs).
    let out = Spawn::new(KindSet::EMPTY)
        .join(target.ns(Kind::Uts).unwrap())
        .output("hostname", std::iter::empty::<&str>())
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"h1-join-target\n");

    // 2. join::setns with a handle, in a function body.
    let net = target.ns(Kind::Net).unwrap();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| match join::setns(&net) {
            Ok(()) => report_and_pause(wfd, 0),
            Err(_) => report_and_pause(wfd, 1),
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    assert_eq!(c.namespaces().unwrap().get(Kind::Net), tns.get(Kind::Net));

    // 3. By path: open and setns with raw calls (the path prepared before the clone).
    let path = CString::new(format!("/proc/{}/ns/ipc", target.pid())).unwrap();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| {
            let fd = match raw::open(&path) {
                Ok(fd) => fd,
                Err(_) => report_and_pause(wfd, 1),
            };
            match raw::setns(fd, Kind::Ipc.into()) {
                Ok(()) => report_and_pause(wfd, 0),
                Err(_) => report_and_pause(wfd, 2),
            }
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    assert_eq!(c.namespaces().unwrap().get(Kind::Ipc), tns.get(Kind::Ipc));

    // 4. By pidfd: three kinds at once (join::setns_pidfd).
    let pidfd = target.pidfd();
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let c = unsafe {
        Spawn::new(KindSet::EMPTY).run(|| match join::setns_pidfd(pidfd, Kind::Uts | Kind::Ipc | Kind::Net) {
            Ok(()) => report_and_pause(wfd, 0),
            Err(_) => report_and_pause(wfd, 1),
        })
    }
    .unwrap();
    assert_eq!(wait_ready(&r), 0);
    let cns = c.namespaces().unwrap();
    assert!(
        cns.differing(&tns).is_empty(),
        "joined all three: {:?}",
        cns.differing(&tns)
    );
    drop(c);

    // setns_path checks the kind before any system call, so this is safe in the test thread.
    let e = join::setns_path(format!("/proc/{}/ns/net", target.pid()), Kind::Uts).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, Some(Errno::EINVAL)));
    assert!(e.to_string().contains("net namespace, not uts"), "{e}");
}

#[test]
fn join_order_puts_user_last_for_root() {
    let handles = vec![
        NsHandle::current(Kind::User).unwrap(),
        NsHandle::current(Kind::Mnt).unwrap(),
        NsHandle::current(Kind::Net).unwrap(),
    ];
    let order: Vec<Kind> = join::setns_order(&handles).iter().map(|h| h.kind()).collect();
    if nix::unistd::geteuid().is_root() {
        assert_eq!(order, [Kind::Net, Kind::Mnt, Kind::User]);
    } else {
        assert_eq!(order, [Kind::User, Kind::Net, Kind::Mnt]);
    }
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
                        !sees_all_namespaces(),
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

/// Whether the caller is in the initial PID and user namespaces (their inode numbers are fixed:
/// `PROC_PID_INIT_INO`, `PROC_USER_INIT_INO`), where a root caller may see every namespace.
fn sees_all_namespaces() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let ino = |kind: &str| std::fs::metadata(format!("/proc/self/ns/{kind}")).map(|m| m.ino()).ok();
    ino("pid") == Some(0xEFFF_FFFC) && ino("user") == Some(0xEFFF_FFFD)
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
    // listns(2): either the kernel has it, or the list says it scanned.
    match listns(KindSet::ALL) {
        Ok(ids) => {
            assert!(all.used_listns());
            assert!(ids.contains(&e.ns_id.unwrap()));
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
fn eperm_without_cap_sys_admin() {
    if !root_or_skip("eperm_without_cap_sys_admin") {
        return;
    }
    // The child becomes uid 65534 (which drops every capability), then tries to unshare.
    let code = run_code(Spawn::new(KindSet::EMPTY), || {
        // Raw system calls, not glibc's setresuid(): in a child cloned from a multithreaded
        // process glibc would try to signal the parent's other threads (setxid) and hang.
        // SAFETY: setresgid(2)/setresuid(2) take three integers and change only this process.
        let ok = unsafe {
            libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) == 0
                && libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) == 0
        };
        if !ok {
            return 100;
        }
        match raw::unshare(Kind::Uts | Kind::Net) {
            Ok(()) => 0,
            Err(e) => e as i32,
        }
    });
    assert_eq!(code, Errno::EPERM as i32, "expected EPERM, child said {code}");
    let e = Error::sys(Op::Unshare, Kind::Uts | Kind::Net, Errno::from_raw(code));
    assert!(e.is_permission());
    assert!(e.hint().unwrap().contains("CAP_SYS_ADMIN"));
    assert!(e.to_string().contains("CLONE_NEWNET|CLONE_NEWUTS"), "{e}");

    // The same through an exec'd command: setpriv drops to nobody, unshare(1) fails.
    if std::path::Path::new("/usr/bin/setpriv").exists() {
        let out = Spawn::new(KindSet::EMPTY)
            .output(
                "setpriv",
                [
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "unshare",
                    "--uts",
                    "true",
                ],
            )
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    }
}

#[test]
fn unshare_user_in_multithreaded_caller_is_einval() {
    // Make sure the process is multithreaded for the whole call, whatever --test-threads says:
    // a single-threaded caller would really move into a new user namespace.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        ready_tx.send(()).unwrap();
        let _ = rx.recv();
    });
    ready_rx.recv().unwrap();
    let threads: usize = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        threads > 1,
        "not multithreaded; refusing to call unshare(CLONE_NEWUSER)"
    );
    let before = ProcessNamespaces::current().unwrap();
    let e = nscore::unshare(Kind::User.into()).unwrap_err();
    tx.send(()).unwrap();
    t.join().unwrap();
    assert_eq!((e.op(), e.errno()), (Op::Unshare, Some(Errno::EINVAL)));
    assert!(e.hint().unwrap().contains("multithreaded"), "{e}");
    assert_eq!(ProcessNamespaces::current().unwrap(), before, "nothing changed");
}

/// In a fresh user namespace (root mapped), set `max_uts_namespaces` to 0 with
/// `nscore::limits::set` and try to create a UTS namespace: `ENOSPC`.
///
/// This runs the test binary itself again, as a child in a new user namespace, with only
/// `limit_helper_in_child_userns` selected: that process may change its own namespaces.
#[test]
fn enospc_at_a_limit_in_a_child_user_namespace() {
    if !root_or_skip("enospc_at_a_limit_in_a_child_user_namespace") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Spawn::new(Kind::User)
        .map_root()
        .env("NSCORE_H1_LIMIT_HELPER", "1")
        .output(
            &exe,
            [
                "limit_helper_in_child_userns",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ],
        )
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("LIMIT-HELPER-OK"), "{stdout}");
    // The host's limit is untouched.
    assert!(nscore::limits::read(Kind::Uts).unwrap() > 0);
}

#[test]
#[ignore = "helper: enospc_at_a_limit_in_a_child_user_namespace runs it in a child user namespace"]
fn limit_helper_in_child_userns() {
    if std::env::var_os("NSCORE_H1_LIMIT_HELPER").is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED limit_helper_in_child_userns: runs only re-executed in a child user namespace"
        );
        return;
    }
    // Refuse to run anywhere but in a user namespace other than the initial one.
    let map = idmap::read_uid_map(nix::unistd::getpid()).unwrap();
    assert_ne!(
        map,
        [IdMap::new(0, 0, u32::MAX)],
        "helper must run in a child user namespace, not the initial one"
    );
    let was = nscore::limits::read(Kind::Uts).unwrap();
    nscore::limits::set(Kind::Uts, 0).unwrap();
    assert_eq!(nscore::limits::read(Kind::Uts).unwrap(), 0);
    let e = nscore::unshare(Kind::Uts.into()).unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Unshare, Some(Errno::ENOSPC)), "{e}");
    assert!(e.hint().unwrap().contains("max_<kind>_namespaces"), "{e}");
    nscore::limits::set(Kind::Uts, was).unwrap();
    println!("LIMIT-HELPER-OK");
}

#[test]
fn setns_wrong_kind_is_einval() {
    if !root_or_skip("setns_wrong_kind_is_einval") {
        return;
    }
    let net = NsHandle::current(Kind::Net).unwrap();
    let fd = net.as_raw_fd();
    let code = run_code(Spawn::new(KindSet::EMPTY), || match raw::setns(fd, Kind::Uts.into()) {
        Ok(()) => 0,
        Err(e) => e as i32,
    });
    assert_eq!(code, Errno::EINVAL as i32);
    let e = Error::sys(Op::Setns, Kind::Uts.into(), Errno::EINVAL);
    assert!(e.hint().is_some(), "{e}");
    // setns_fd/setns_pidfd argument checks before any system call.
    let pidfd_err = join::setns_pidfd(net.as_fd(), KindSet::EMPTY).unwrap_err();
    assert_eq!(pidfd_err.op(), Op::Setns);
    assert_eq!(pidfd_err.errno(), None);
}

#[test]
fn gone_process_is_enoent() {
    let mut c = Spawn::new(KindSet::EMPTY)
        .spawn("true", std::iter::empty::<&str>())
        .unwrap();
    assert!(c.wait().unwrap().success());
    let pid = c.pid();
    let e = NsHandle::of_process(pid, Kind::Net).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT), "{e}");
    assert!(e.hint().unwrap().contains("gone"), "{e}");
    assert!(e
        .path()
        .unwrap()
        .to_string_lossy()
        .contains(&format!("/proc/{pid}/ns/net")));
    assert!(ProcessNamespaces::of(pid).is_err());
    // The pidfd of a reaped child: no namespace to open through it.
    assert!(c.ns(Kind::Net).is_err());
    assert_eq!(c.signal(None).unwrap_err().errno(), Some(Errno::ESRCH));
}

#[test]
fn non_nsfs_fd_is_enotty() {
    let fd = nix::fcntl::open(
        "/etc/passwd",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let e = NsHandle::from_fd(fd).unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOTTY), "{e}");
    assert!(matches!(e.op(), Op::Ioctl(_)));
    assert!(e.hint().is_some());
    let e = NsHandle::open("/etc/passwd").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOTTY));
    assert_eq!(e.path(), Some(std::path::Path::new("/etc/passwd")));
    let io: std::io::Error = e.into();
    assert_eq!(
        io.raw_os_error(),
        Some(libc::ENOTTY),
        "the errno survives the conversion"
    );
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let e = "bogus".parse::<Kind>().unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Parse, None));
    assert!(e.to_string().contains("bogus"));
    assert!("net,nope".parse::<KindSet>().is_err());
    assert_eq!("".parse::<KindSet>().unwrap(), KindSet::EMPTY);
    // Options that would change a namespace the child does not own are refused.
    let e = Spawn::new(Kind::Net)
        .hostname("x")
        .spawn("true", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = Spawn::new(Kind::Uts)
        .hostname("x".repeat(65))
        .spawn("true", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!(e.errno(), Some(Errno::EINVAL));
    let e = Spawn::new(KindSet::EMPTY).spawn("true", ["a\0b"]).unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = Spawn::new(KindSet::EMPTY)
        .spawn("no-such-program-h1", std::iter::empty::<&str>())
        .unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Exec, Some(Errno::ENOENT)));
    // SAFETY: the body makes only raw system calls (async-signal-safe).
    let e = unsafe {
        Spawn::new(KindSet::EMPTY)
            .clone_mode(nscore::CloneMode::Vfork)
            .run(|| 0)
    }
    .unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = nscore::limits::set(Kind::Net, u64::MAX).unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    let e = nscore::persist::unpersist("/nonexistent/h1").unwrap_err();
    assert_eq!(e.errno(), Some(Errno::ENOENT));
}

#[test]
fn spawn_options_and_child_methods() {
    if !root_or_skip("spawn_options_and_child_methods") {
        return;
    }
    let none = std::iter::empty::<&str>();
    // Hostname and domain name in a new UTS namespace.
    let out = Spawn::new(Kind::Uts)
        .hostname("h1-host")
        .domainname("h1-domain")
        .output("cat", ["/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname"])
        .unwrap();
    assert_eq!(out.stdout, b"h1-host\nh1-domain\n");
    // A fresh /proc in new mount and PID namespaces: the shell is PID 1.
    let out = Spawn::new(Kind::Mnt | Kind::Pid)
        .mount_proc(true)
        .propagation(nscore::Propagation::Private)
        .output("sh", ["-c", "echo $$; cat /proc/self/stat | cut -d' ' -f4"])
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n1\n");
    // lo up in a new network namespace.
    let out = Spawn::new(Kind::Net)
        .loopback_up(true)
        .output("ip", ["-o", "link", "show", "lo"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(",UP"), "{text}");
    let out = Spawn::new(Kind::Net).output("ip", ["-o", "link"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "only lo: {text}");
    assert!(!text.contains(",UP"), "lo starts down: {text}");
    // Working directory, environment, clone modes, death signal, propagation choices.
    let out = Spawn::new(KindSet::EMPTY)
        .current_dir("/tmp")
        .output("pwd", none.clone())
        .unwrap();
    assert_eq!(out.stdout, b"/tmp\n");
    let out = Spawn::new(KindSet::EMPTY)
        .env("H1_VAR", "yes")
        .output("sh", ["-c", "echo $H1_VAR"])
        .unwrap();
    assert_eq!(out.stdout, b"yes\n");
    for mode in [
        nscore::CloneMode::Fork,
        nscore::CloneMode::Vfork,
        nscore::CloneMode::Auto,
    ] {
        let out = Spawn::new(Kind::Uts)
            .clone_mode(mode)
            .kill_on_parent_death(true)
            .output("true", none.clone())
            .unwrap();
        assert!(out.status.success(), "{mode:?}");
    }
    for p in [
        nscore::Propagation::Slave,
        nscore::Propagation::Unchanged,
        nscore::Propagation::Private,
    ] {
        let out = Spawn::new(Kind::Mnt)
            .propagation(p)
            .output("true", none.clone())
            .unwrap();
        assert!(out.status.success(), "{p:?}");
    }
    // Into the cgroup v2 the test process is in (CLONE_INTO_CGROUP): no host change.
    if let Some(rel) = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
    {
        for root in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            let dir = format!("{root}{rel}");
            let is_v2 = std::path::Path::new(root).join("cgroup.controllers").exists();
            if !is_v2 {
                continue;
            }
            let fd = nix::fcntl::open(
                dir.as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .unwrap();
            let out = Spawn::new(KindSet::EMPTY)
                .into_cgroup(fd)
                .output("cat", ["/proc/self/cgroup"])
                .unwrap();
            assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("0::{rel}")));
            break;
        }
    }
    // Piped stdin/stdout.
    let mut c = Spawn::new(KindSet::EMPTY)
        .stdin(Redirect::Piped)
        .stdout(Redirect::Piped)
        .spawn("cat", none.clone())
        .unwrap();
    {
        use std::io::Write;
        c.stdin.as_mut().unwrap().write_all(b"through the pipe").unwrap();
    }
    let out = c.wait_with_output().unwrap();
    assert_eq!(out.stdout, b"through the pipe");
    // try_wait / wait_timeout / signal / kill / exit status.
    let mut c = sleeper(Spawn::new(KindSet::EMPTY));
    assert_eq!(c.try_wait().unwrap(), None);
    assert_eq!(c.wait_timeout(Duration::from_millis(10)).unwrap(), None);
    c.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = c.wait().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    assert!(!st.success() && st.code().is_none());
    assert!(st.to_string().contains("SIGTERM"), "{st}");
    assert_eq!(
        c.wait_timeout(Duration::from_millis(1)).unwrap(),
        Some(st),
        "already reaped"
    );
    let mut c = sleeper(Spawn::new(KindSet::EMPTY));
    c.kill().unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    let mut c = Spawn::new(KindSet::EMPTY).spawn("sh", ["-c", "exit 7"]).unwrap();
    let st = c.wait().unwrap();
    assert_eq!((st.code(), st.to_string()), (Some(7), "exit status: 7".to_string()));
    // A failing set-up step is an error naming the step (setns of a pidfd with no kinds is
    // refused by the kernel: EINVAL).
    let e = Spawn::new(KindSet::EMPTY)
        .join(NsHandle::current(Kind::User).unwrap())
        .spawn("true", none)
        .unwrap_err();
    assert_eq!((e.op(), e.errno()), (Op::Setns, Some(Errno::EINVAL)), "{e}");
    assert!(e.to_string().contains("in the child"), "{e}");
}

#[test]
fn raw_primitives_in_children() {
    if !root_or_skip("raw_primitives_in_children") {
        return;
    }
    for kinds in [
        KindSet::EMPTY,
        Kind::Uts | Kind::Ipc,
        Kind::Net.into(),
        Kind::Time | Kind::Pid,
    ] {
        assert_eq!(raw::clone_exit(kinds, None).unwrap(), 0, "{kinds}");
        let stack = raw::Stack::new(64 * 1024).unwrap();
        assert_eq!(raw::clone_exit(kinds, Some(&stack)).unwrap(), 0, "{kinds} (vfork)");
    }
    let t0 = raw::monotonic_ns();
    // A function body: unshare net, bring lo up, report through a pipe with raw calls.
    let (r, w) = ready_pipe();
    let wfd = w.as_raw_fd();
    let code = run_code(Spawn::new(KindSet::EMPTY), || {
        if raw::unshare(Kind::Net.into()).is_err() {
            return 1;
        }
        if raw::loopback_up().is_err() {
            return 2;
        }
        if raw::write_all(wfd, b"ok").is_err() {
            return 3;
        }
        // SAFETY: the child's own copy of the pipe end.
        unsafe { raw::close(wfd) };
        raw::exit(0)
    });
    drop(w);
    assert_eq!(code, 0);
    let mut buf = [0u8; 8];
    assert_eq!(
        raw::read_full(r.as_raw_fd(), &mut buf).unwrap(),
        2,
        "EOF after two bytes"
    );
    assert_eq!(&buf[..2], b"ok");
    assert!(raw::monotonic_ns() > t0);
}

#[test]
fn join_all_and_unshare_in_an_execd_child() {
    if !root_or_skip("join_all_and_unshare_in_an_execd_child") {
        return;
    }
    let target = sleeper(Spawn::new(Kind::Uts | Kind::Net | Kind::Ipc).hostname("h1-setns-all"));
    let out = common::run_helper(
        Spawn::new(KindSet::EMPTY).env("H1_TARGET", target.pid().to_string()),
        "helper_join_all_and_unshare",
    );
    common::helper_ok(&out, "JOIN-HELPER-OK");
}

#[test]
#[ignore = "helper: join_all_and_unshare_in_an_execd_child runs it in a child process"]
fn helper_join_all_and_unshare() {
    if !common::is_helper("helper_join_all_and_unshare") {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(std::env::var("H1_TARGET").unwrap().parse().unwrap());
    let theirs = ProcessNamespaces::of(pid).unwrap();
    // Joined one by one (setns_all) and by path; this process is the child's, not the host's.
    let handles: Vec<NsHandle> = [Kind::Uts, Kind::Net]
        .iter()
        .map(|&k| NsHandle::of_process(pid, k).unwrap())
        .collect();
    join::setns_all(&handles).unwrap();
    join::setns_path(format!("/proc/{pid}/ns/ipc"), Kind::Ipc).unwrap();
    // The test runs on a thread of its own: compare through /proc/thread-self.
    for k in [Kind::Uts, Kind::Net, Kind::Ipc] {
        assert_eq!(
            Some(NsHandle::current(k).unwrap().inode().unwrap()),
            theirs.get(k),
            "{k}"
        );
    }
    assert_eq!(nix::unistd::gethostname().unwrap(), "h1-setns-all");
    // A new UTS namespace of its own, with nscore::unshare.
    nscore::unshare(Kind::Uts.into()).unwrap();
    assert_ne!(
        Some(NsHandle::current(Kind::Uts).unwrap().inode().unwrap()),
        theirs.get(Kind::Uts)
    );
    println!("JOIN-HELPER-OK");
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
