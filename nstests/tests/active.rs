//! Active namespaces (checklist depth items A1–A3): `listns(2)` (Linux 6.19) lists the
//! namespaces that are in use, by kind and by owner, page by page; a namespace held by an fd
//! or a bind mount stays listed and leaves once released; and nsfs file handles
//! (`name_to_handle_at` / `open_by_handle_at`, Linux 6.18) round-trip to the same namespace.
//! Where the kernel lacks a call, the test prints `SKIPPED <test>: <why>` (the kernel matrix
//! runs them on 7.x). Peers: the kernel's `selftests/namespaces/{listns_test,
//! active_ref_test,file_handle_test}.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nscore::{Errno, Kind, KindSet, NsHandle, Spawn};
use nstests::child::*;
use nstests::live::*;
use nstests::{is_root, run_spawn, skip, Probe};
use rstest::rstest;
use rustix::net::{AddressFamily, SocketType};

/// `struct ns_id_req` of `listns(2)`.
#[repr(C)]
#[derive(Default)]
struct NsIdReq {
    size: u32,
    spare: u32,
    ns_id: u64,
    ns_type: u32,
    spare2: u32,
    user_ns_id: u64,
}

/// `__NR_listns`.
const SYS_LISTNS: libc::c_long = 470;

/// One `listns(2)` call: ids after `after` of kinds `ns_type` (0: all) owned by the user
/// namespace of id `owner` (0: any), into `buf`. Hand-written: the call is new (Linux 6.19)
/// and no crate has it yet.
fn listns(ns_type: u32, owner: u64, after: u64, buf: &mut [u64]) -> Result<usize, Errno> {
    let req = NsIdReq {
        size: std::mem::size_of::<NsIdReq>() as u32,
        ns_id: after,
        ns_type,
        user_ns_id: owner,
        ..NsIdReq::default()
    };
    // SAFETY: `req` is a valid request of the size it says; `buf` is writable for its length.
    let r = unsafe { libc::syscall(SYS_LISTNS, &req as *const NsIdReq, buf.as_mut_ptr(), buf.len(), 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// Every id `listns` gives, in pages of `page` (each page starts after the last id of the one
/// before), at most 100,000 ids.
fn list_paged(ns_type: u32, owner: u64, page: usize) -> Vec<u64> {
    let mut all = Vec::new();
    let mut buf = vec![0u64; page];
    let mut after = 0;
    while all.len() < 100_000 {
        let n = listns(ns_type, owner, after, &mut buf).expect("listns");
        all.extend_from_slice(&buf[..n]);
        if n < page {
            break;
        }
        after = buf[n - 1];
    }
    all
}

/// Whether `listns(2)` exists here; otherwise prints the skip line for `test`.
fn has_listns(test: &str) -> bool {
    match listns(0, 0, 0, &mut [0u64; 1]) {
        Err(Errno::ENOSYS) => {
            skip(test, "listns(2) needs Linux 6.19 (ENOSYS here)");
            false
        }
        _ => true,
    }
}

/// [`has_listns`], and root: `listns` shows the test thread the namespaces of other user
/// namespaces only with CAP_SYS_ADMIN over them (otherwise prints the skip line).
fn has_listns_as_root(test: &str) -> bool {
    has_listns(test)
        && nstests::require_root(
            test,
            "listns shows another user namespace's namespaces only to a caller with CAP_SYS_ADMIN over it",
        )
}

/// Waits (at most 5 s, polling) until `id` is no longer listed; whether it left.
fn leaves_the_list(ns_type: u32, id: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if !list_paged(ns_type, 0, 256).contains(&id) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A child in new namespaces of `kinds` (with a user namespace mapped to root when not root)
/// that waits at its gate.
fn holder(kinds: KindSet) -> Live {
    waiting(if is_root() {
        Spawn::new(kinds)
    } else {
        Spawn::new(kinds | Kind::User).map_root()
    })
}

/// A child of `spawn` that says it is ready and waits at its gate.
fn waiting(spawn: Spawn) -> Live {
    let child_body = |p: &Probe, gate: Gate| {
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(spawn, child_body) }.unwrap();
    live.until("ready");
    live
}

/// A1: `listns` lists a child's new namespaces under their kind and not under another, and
/// under their owner (the child's user namespace), which does not own the test's; pages of 7
/// give strictly increasing ids without duplicates, over more than 200 namespaces (held by
/// processes of a scratch child). Control: the test's own namespaces are listed too, and not
/// under the child's owner.
#[test]
fn a1_listns_by_kind_owner_and_pages() {
    let test = "a1_listns_by_kind_owner_and_pages";
    if !has_listns_as_root(test) {
        return;
    }
    let live = holder(KindSet::ALL);
    let owner = live.child.ns(Kind::User).unwrap().ns_id().unwrap();
    let own_net = NsHandle::current(Kind::Net).unwrap().ns_id().unwrap();
    assert!(
        list_paged(0, 0, 256).contains(&own_net),
        "control: the test's own net is listed"
    );
    let owned = list_paged(0, owner, 256);
    assert!(
        !owned.contains(&own_net),
        "the test's net is not the child's user namespace's"
    );
    for (i, k) in Kind::ALL.into_iter().enumerate() {
        let id = live.child.ns(k).unwrap().ns_id().unwrap();
        let other = Kind::ALL[(i + 1) % 8];
        assert!(
            list_paged(k.clone_flag() as u32, 0, 256).contains(&id),
            "{k} listed as {k}"
        );
        assert!(
            !list_paged(other.clone_flag() as u32, 0, 256).contains(&id),
            "{k} not listed as {other}"
        );
        if k != Kind::User {
            assert!(owned.contains(&id), "{k} listed under its owner");
        }
    }
    live.finish().assert_ok();

    // pages over a few hundred: 220 UTS namespaces held by the processes of a scratch child
    let child_body = |p: &Probe, gate: Gate| {
        for _ in 0..220 {
            // each holder dies with this process (its death signal)
            // SAFETY: in a fork-like child, which never runs past this call.
            let gc_body = || unsafe { pause_forever() };
            // SAFETY: the grandchild's body makes only raw system calls on memory made before the
            // fork and closes only its own pipe ends.
            if unsafe { fork_with(Kind::Uts.into(), gc_body) } < 0 {
                p.line_num(b"fork_errno", errno());
                return 1;
            }
        }
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut many = unsafe { Live::start(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    many.until("ready");
    let ids = list_paged(Kind::Uts.clone_flag() as u32, 0, 7);
    many.finish().assert_ok();
    assert!(ids.len() > 220, "{} UTS namespaces listed", ids.len());
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing, no duplicates: {ids:?}"
    );
}

/// A1 (unprivileged): a process with no privilege over the test's namespaces (in a user
/// namespace of its own, with a new network namespace) sees its own network namespace in
/// `listns`, and not the network namespace of a sibling user namespace. Control: the
/// sibling's namespace is listed for the test (as root it sees every namespace).
#[test]
fn a1_listns_unprivileged_sees_its_own_not_a_siblings() {
    if !has_listns("a1_listns_unprivileged_sees_its_own_not_a_siblings") {
        return;
    }
    let sibling = waiting(Spawn::new(Kind::User | Kind::Net).map_root());
    let sibling_net = sibling.child.ns(Kind::Net).unwrap().ns_id().unwrap();
    if is_root() {
        assert!(
            list_paged(Kind::Net.clone_flag() as u32, 0, 256).contains(&sibling_net),
            "control: root sees the sibling's"
        );
    }
    let child_body = |p: &Probe| {
        let mut own: u64 = 0;
        if let Ok(fd) = nscore::raw::open(c"/proc/self/ns/net") {
            // SAFETY: `fd` was just opened and is open.
            own = ns_get_id(unsafe { borrow(fd) }).unwrap_or(0);
            // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test) and
            // does not use it again.
            unsafe { nstests::child::close(fd) };
        }
        p.line_num(b"own", own as i64);
        let mut buf = [0u64; 256];
        match listns(Kind::Net.clone_flag() as u32, 0, 0, &mut buf) {
            Ok(n) => {
                for id in &buf[..n] {
                    p.line_num(b"seen", *id as i64);
                }
            }
            Err(e) => p.line_num(b"listns_errno", e as i64),
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(Spawn::new(Kind::User | Kind::Net).map_root(), child_body) }.unwrap();
    sibling.finish().assert_ok();
    out.assert_ok();
    let t = out.text();
    let seen = out.values("seen");
    assert!(seen.contains(&out.num("own").to_string()), "its own: {t}");
    assert!(
        !seen.contains(&(sibling_net as i64).to_string()),
        "not the sibling's: {t}"
    );
}

/// How A2's namespace is held after its process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Nothing,
    Fd,
    BindMount,
    /// A socket made inside (network namespaces only), taken by `pidfd_getfd`.
    Socket,
}

/// A child in a new network namespace (as root) that makes a UDP socket, reports its fd as
/// `sock=<fd>` and waits at its gate.
fn socket_holder() -> (Live, i64) {
    let child_body = |p: &Probe, gate: Gate| {
        // held (open) until the body returns
        let sock = rustix::net::socket(AddressFamily::INET, SocketType::DGRAM, None);
        p.line_num(b"sock", sock.as_ref().map_or(-1, |fd| fd.as_raw_fd() as i64));
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(Spawn::new(Kind::Net), child_body) }.unwrap();
    let text = live.until("ready");
    let fd = text
        .lines()
        .find_map(|l| l.strip_prefix("sock="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    (live, fd)
}

/// A2: a namespace held only by an fd, a bind mount or (a network namespace) a socket made
/// inside stays listed after its last process exited, and leaves the list once released
/// (within a 5 s cap); control: held by nothing, it leaves with its process.
#[rstest]
#[case::nothing(Held::Nothing)]
#[case::fd(Held::Fd)]
#[case::bind_mount(Held::BindMount)]
#[case::socket(Held::Socket)]
fn a2_held_namespace_stays_listed_until_released(#[case] held: Held) {
    let test = "a2_held_namespace_stays_listed_until_released";
    if !has_listns_as_root(test) {
        return;
    }
    let kind = if held == Held::Socket { Kind::Net } else { Kind::Uts };
    let uts = kind.clone_flag() as u32;
    let (live, sock) = if held == Held::Socket {
        socket_holder()
    } else {
        (holder(kind.into()), -1)
    };
    let h = live.child.ns(kind).unwrap();
    let id = h.ns_id().unwrap();
    assert!(list_paged(uts, 0, 256).contains(&id), "listed while its process lives");
    let dir = tempfile::tempdir().unwrap();
    let mut fd = None;
    let mut mount = None;
    let mut socket = None;
    match held {
        Held::Nothing => drop(h),
        Held::Fd => fd = Some(h),
        Held::BindMount => {
            mount = Some(nscore::persist::persist(&h, dir.path().join("ns")).unwrap());
            drop(h);
        }
        Held::Socket => {
            let flags = rustix::process::PidfdGetfdFlags::empty();
            let r = rustix::process::pidfd_getfd(live.child.pidfd(), sock as i32, flags);
            socket = Some(r.unwrap_or_else(|e| panic!("pidfd_getfd: {e}")));
            drop(h);
        }
    }
    live.finish().assert_ok();
    if held == Held::Nothing {
        assert!(leaves_the_list(uts, id), "held by nothing: it leaves with its process");
        return;
    }
    assert!(
        list_paged(uts, 0, 256).contains(&id),
        "{held:?}: still listed after its process"
    );
    drop(fd);
    drop(socket);
    if let Some(m) = mount {
        m.remove().unwrap();
    }
    assert!(leaves_the_list(uts, id), "{held:?}: leaves once released");
}

/// A2 (owner): a namespace that is held keeps its owning user namespace listed after every
/// process of that user namespace exited; released, both leave. Control: held by nothing,
/// the user namespace leaves with its process.
#[rstest]
#[case::held(true)]
#[case::not_held(false)]
fn a2_held_namespace_keeps_its_owner_listed(#[case] hold: bool) {
    if !has_listns_as_root("a2_held_namespace_keeps_its_owner_listed") {
        return;
    }
    let user = Kind::User.clone_flag() as u32;
    let live = waiting(Spawn::new(Kind::User | Kind::Uts).map_root());
    let owner = live.child.ns(Kind::User).unwrap().ns_id().unwrap();
    // the control holds nothing once the process is gone
    let uts = hold.then(|| live.child.ns(Kind::Uts).unwrap());
    live.finish().assert_ok();
    if hold {
        assert!(
            list_paged(user, 0, 256).contains(&owner),
            "kept by its held UTS namespace"
        );
    }
    drop(uts);
    assert!(leaves_the_list(user, owner), "leaves once nothing of it is held");
}

/// `FD_NSFS_ROOT`: the mount fd that `open_by_handle_at` takes for nsfs handles.
const FD_NSFS_ROOT: libc::c_int = -10003;

/// A `struct file_handle` with room for nsfs's 16 bytes and more.
#[repr(C)]
#[derive(Clone, Copy)]
struct Handle {
    bytes: u32,
    ty: i32,
    data: [u8; 64],
}

/// `name_to_handle_at(fd, "", AT_EMPTY_PATH)`: the handle of the namespace behind `fd`.
/// Hand-written, as is `open_by_handle_at` below: neither rustix nor nix has the file handle
/// calls.
fn handle_of(fd: libc::c_int) -> Result<Handle, Errno> {
    let mut h = Handle {
        bytes: 64,
        ty: 0,
        data: [0; 64],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: a valid handle buffer of the size it says, an empty NUL-terminated path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            fd,
            c"".as_ptr(),
            &mut h as *mut Handle,
            &mut mount_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH,
        )
    };
    if r != 0 {
        Err(Errno::last())
    } else {
        Ok(h)
    }
}

/// `open_by_handle_at(FD_NSFS_ROOT, h, O_RDONLY)`: an fd, or the errno.
fn open_handle(h: &Handle) -> Result<libc::c_int, Errno> {
    // SAFETY: `h` is a handle as name_to_handle_at filled it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            FD_NSFS_ROOT,
            h as *const Handle,
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::c_int)
    }
}

/// Whether the kernel has nsfs file handles; otherwise prints the skip line for `test`.
fn has_nsfs_handles(test: &str) -> bool {
    let own = NsHandle::current(Kind::Net).unwrap();
    match handle_of(own.as_raw_fd()) {
        Ok(_) => true,
        Err(e) => {
            skip(
                test,
                &format!("nsfs file handles need Linux 6.18 (name_to_handle_at: {e})"),
            );
            false
        }
    }
}

/// A3: an nsfs file handle (`name_to_handle_at`) of a child's namespace opens
/// (`open_by_handle_at`) to the same namespace (inode and `NS_GET_ID`), for every kind; once
/// the namespace is gone it gives ESTALE (within a 5 s cap). Control: a handle of the test's
/// own namespace still opens.
#[test]
fn a3_nsfs_handles_round_trip_then_stale() {
    let test = "a3_nsfs_handles_round_trip_then_stale";
    if !has_nsfs_handles(test) {
        return;
    }
    let live = holder(KindSet::ALL.without(Kind::Mnt));
    let mut handles = Vec::new();
    for k in KindSet::ALL.without(Kind::Mnt).iter() {
        let ns = live.child.ns(k).unwrap();
        let h = handle_of(ns.as_raw_fd()).unwrap_or_else(|e| panic!("{k}: name_to_handle_at: {e}"));
        let fd = open_handle(&h).unwrap_or_else(|e| panic!("{k}: open_by_handle_at: {e}"));
        // SAFETY: a new fd of ours.
        let back = NsHandle::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }).unwrap();
        assert_eq!(back.kind(), k);
        assert_eq!(back.inode().unwrap(), ns.inode().unwrap(), "{k}: the same namespace");
        assert_eq!(back.ns_id().unwrap(), ns.ns_id().unwrap(), "{k}");
        handles.push((k, h));
    }
    live.finish().assert_ok();
    // the UTS namespace ends with its process (nothing else holds it)
    let (_, uts) = handles.iter().find(|(k, _)| *k == Kind::Uts).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    let mut last = open_handle(uts).map(|fd| nix::unistd::close(fd).ok());
    while last.is_ok() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
        last = open_handle(uts).map(|fd| nix::unistd::close(fd).ok());
    }
    assert_eq!(last.err(), Some(Errno::ESTALE), "a gone namespace's handle is stale");
    let own = NsHandle::current(Kind::Uts).unwrap();
    let h = handle_of(own.as_raw_fd()).unwrap();
    let fd = open_handle(&h).expect("control: the test's own namespace opens");
    nix::unistd::close(fd).unwrap();
}

/// A3 (across user namespaces): a process in a sibling user namespace cannot open the
/// handle of a namespace that another user namespace owns (a child's UTS namespace, owned by
/// the child's user namespace: ESTALE, as if it were gone); a process above it (a plain
/// child of the test) can. Control: the same handle, opened by the plain child.
#[rstest]
#[case::sibling_user_namespace(true)]
#[case::plain_child(false)]
fn a3_nsfs_handle_refused_across_user_namespaces(#[case] sibling: bool) {
    let test = "a3_nsfs_handle_refused_across_user_namespaces";
    if !has_nsfs_handles(test) {
        return;
    }
    let target = waiting(Spawn::new(Kind::User | Kind::Uts).map_root());
    let h = handle_of(target.child.ns(Kind::Uts).unwrap().as_raw_fd()).unwrap();
    let spawn = if sibling {
        Spawn::new(Kind::User).map_root()
    } else {
        Spawn::new(KindSet::EMPTY)
    };
    let child_body = |p: &Probe| {
        match open_handle(&h) {
            Ok(fd) => {
                p.line_num(b"open_errno", 0);
                // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test)
                // and does not use it again.
                unsafe { nstests::child::close(fd) };
            }
            Err(e) => p.line_num(b"open_errno", e as i64),
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(spawn, child_body) }.unwrap();
    target.finish().assert_ok();
    out.assert_ok();
    let t = out.text();
    let e = out.num("open_errno");
    if sibling {
        // refused as if it did not exist: the kernel does not tell a sibling that it does
        assert_eq!(e, libc::ESTALE as i64, "refused from a sibling user namespace: {t}");
    } else {
        assert_eq!(e, 0, "control: {t}");
    }
}
