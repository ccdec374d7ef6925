//! Active namespaces (checklist depth items A1, A2): `listns(2)` (Linux 6.19) lists the
//! namespaces that are in use, by kind and by owner, page by page; a namespace held by an fd
//! or a bind mount stays listed and leaves once released. The nsfs file handles (A3) are
//! `active_handles.rs`.
//! Where the kernel lacks a call, the test prints `SKIPPED <test>: <why>` (the kernel matrix
//! runs them on 7.x). Peers: the kernel's `selftests/namespaces/{listns_test,
//! active_ref_test,file_handle_test}.c`.
//!
//! Since Linux 7.0 both calls reach another process's namespaces only for root in the initial
//! PID namespace (see [`nstests::active`]). Inside the wall (a PID namespace of its own) the
//! tests that look at a child's namespaces from outside them therefore skip on such a kernel,
//! saying so, and the kernel matrix runs this binary a second time in the guest's initial PID
//! namespace (`nstests.active@init-pidns`, a throwaway VM), where they run. The rule itself is
//! tested everywhere (`a1_listns_outside_the_initial_pid_namespace_shows_only_own`,
//! `active_handles::a3_nsfs_handle_outside_the_initial_pid_namespace_opens_only_own`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nscore::{Errno, Kind, KindSet, NsHandle, Spawn};
use nstests::active::*;
use nstests::child::*;
use nstests::live::*;
use nstests::{run_spawn, skip, Probe};
use rstest::rstest;
use rustix::net::{AddressFamily, SocketType};

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

/// [`has_listns_as_root`], and `listns` shows this test a child's namespaces: in the initial
/// PID namespace, or on a kernel older than the 7.0 visibility rule (seen with a live child in
/// a new UTS namespace). Otherwise prints the skip line.
fn lists_others(test: &str) -> bool {
    if !has_listns_as_root(test) {
        return false;
    }
    if nscore::inspect::may_see_all_namespaces().unwrap() {
        return true;
    }
    let live = holder(Kind::Uts.into());
    let id = live.child.ns(Kind::Uts).unwrap().ns_id().unwrap();
    let shown = list_paged(Kind::Uts.clone_flag() as u32, 0, 256).contains(&id);
    live.finish().assert_ok();
    if !shown {
        skip(test, NEEDS_INITIAL_PID_NS);
    }
    shown
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

/// A1: `listns` lists a child's new namespaces under their kind and not under another, and
/// under their owner (the child's user namespace), which does not own the test's; pages of 7
/// give strictly increasing ids without duplicates, over more than 200 namespaces (held by
/// processes of a scratch child). Control: the test's own namespaces are listed too, and not
/// under the child's owner.
#[test]
fn a1_listns_by_kind_owner_and_pages() {
    let test = "a1_listns_by_kind_owner_and_pages";
    if !lists_others(test) {
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
    // the control needs a caller that sees every namespace (since 7.0: root in the initial
    // PID namespace, as in the kernel matrix's second run of this binary)
    if nscore::inspect::may_see_all_namespaces().unwrap() {
        assert!(
            list_paged(Kind::Net.clone_flag() as u32, 0, 256).contains(&sibling_net),
            "control: root in the initial PID namespace sees the sibling's"
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

/// `/proc/thread-self/ns/<kind>` of each kind, made before a spawn (the child cannot allocate).
const OWN_NS: [&std::ffi::CStr; 8] = [
    c"/proc/thread-self/ns/cgroup",
    c"/proc/thread-self/ns/ipc",
    c"/proc/thread-self/ns/mnt",
    c"/proc/thread-self/ns/net",
    c"/proc/thread-self/ns/pid",
    c"/proc/thread-self/ns/time",
    c"/proc/thread-self/ns/user",
    c"/proc/thread-self/ns/uts",
];

/// The values of `key` in a child's report, as ids, in the order the child reported them.
fn ids(out: &nstests::Outcome, key: &str) -> Vec<u64> {
    out.text()
        .lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.parse().unwrap())
        .collect()
}

/// A1 (visibility, Linux 7.0): a process outside the initial PID namespace (a container's
/// root) gets from `listns` exactly its own namespaces, one id per kind, and not a live
/// sibling's; pages of one id give the same list. Control: its own eight are all there (the
/// call works from there). The sibling's namespace is listed for root in the initial PID
/// namespace: `a1_listns_by_kind_owner_and_pages` checks that (in the kernel matrix's second
/// run). On a kernel older than 7.0 that still lists the sibling's, the rule part prints a
/// `SKIPPED` line and the rest is checked.
#[test]
fn a1_listns_outside_the_initial_pid_namespace_shows_only_own() {
    let test = "a1_listns_outside_the_initial_pid_namespace_shows_only_own";
    if !has_listns(test) {
        return;
    }
    let sibling = holder(Kind::Uts.into());
    let sibling_uts = sibling.child.ns(Kind::Uts).unwrap().ns_id().unwrap();
    let child_body = |p: &Probe| {
        for path in OWN_NS {
            let id = match nscore::raw::open(path) {
                Ok(fd) => {
                    // SAFETY: `fd` was just opened and is open until the close below.
                    let id = ns_get_id(unsafe { borrow(fd) });
                    // SAFETY: this process owns `fd` and does not use it again.
                    unsafe { nstests::child::close(fd) };
                    id.map_or_else(|e| -(e as i64), |id| id as i64)
                }
                Err(e) => -(e as i64),
            };
            p.line_num(b"own", id);
        }
        let mut buf = [0u64; 256];
        match listns(0, 0, 0, &mut buf) {
            Ok(n) => {
                for id in &buf[..n] {
                    p.line_num(b"listed", *id as i64);
                }
            }
            Err(e) => p.line_num(b"listns_errno", e as i64),
        }
        let (mut one, mut after) = ([0u64; 1], 0);
        for _ in 0..64 {
            match listns(0, 0, after, &mut one) {
                Ok(1) => {
                    p.line_num(b"paged", one[0] as i64);
                    after = one[0];
                }
                // ENOENT: nothing after the last id (the end, after a full page)
                Ok(_) | Err(Errno::ENOENT) => break,
                Err(e) => {
                    p.line_num(b"paged_errno", e as i64);
                    break;
                }
            }
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only the fds it opened.
    let out = unsafe { run_spawn(container(), child_body) }.unwrap();
    sibling.finish().assert_ok();
    out.assert_ok();
    let t = out.text();
    let own = ids(&out, "own");
    let listed = ids(&out, "listed");
    assert_eq!(own.len(), 8, "one id per kind: {t}");
    assert!(
        own.iter().all(|id| listed.contains(id)),
        "its own namespaces are listed: {t}"
    );
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "increasing: {t}");
    assert_eq!(ids(&out, "paged"), listed, "pages of one: {t}");
    let mut own_sorted = own.clone();
    own_sorted.sort_unstable();
    if nscore::inspect::kernel_version() >= (7, 0) {
        assert_eq!(listed, own_sorted, "only its own: {t}");
        assert!(!listed.contains(&sibling_uts), "not the sibling's: {t}");
    } else if listed.contains(&sibling_uts) {
        skip(
            &format!("{test} (rule)"),
            "this kernel predates Linux 7.0's visibility rule and lists a sibling's namespace",
        );
    }
}

/// How A2's namespace is held after its process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Nothing,
    Fd,
    BindMount,
    /// A socket made inside (network namespaces only), taken by `pidfd_getfd`, then the
    /// namespace reopened from it (`SIOCGSKNS`).
    Socket,
}

/// `SIOCGSKNS` (`linux/sockios.h`): an nsfs fd of a socket's network namespace.
const SIOCGSKNS: libc::c_ulong = 0x894C;

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

/// A2: a namespace held only by an fd or a bind mount stays listed after its last process
/// exited, and leaves the list once released (within a 5 s cap); control: held by nothing, it
/// leaves with its process. A network namespace held by a socket made inside lives on after
/// its process (`SIOCGSKNS` on the socket opens the same namespace, by `NS_GET_ID`), is listed
/// while that nsfs fd is open, and leaves once both are closed. (Whether the socket alone
/// keeps it listed is not asserted: a socket takes a passive reference, and 7.2 does not
/// list a namespace that only a socket holds.)
#[rstest]
#[case::nothing(Held::Nothing)]
#[case::fd(Held::Fd)]
#[case::bind_mount(Held::BindMount)]
#[case::socket(Held::Socket)]
fn a2_held_namespace_stays_listed_until_released(#[case] held: Held) {
    let test = "a2_held_namespace_stays_listed_until_released";
    if !lists_others(test) {
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
    if let Some(sock) = &socket {
        // the namespace outlives its process through the socket: reopen it from there
        // SAFETY: SIOCGSKNS takes no argument and returns a new fd of the caller's.
        let r = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGSKNS as _) };
        assert!(r >= 0, "SIOCGSKNS: {}", Errno::last());
        // SAFETY: a new fd of ours.
        let ns = NsHandle::from_fd(unsafe { OwnedFd::from_raw_fd(r) }).unwrap();
        assert_eq!(ns.ns_id().unwrap(), id, "the socket's namespace is the child's");
        fd = Some(ns);
    }
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
    if !lists_others("a2_held_namespace_keeps_its_owner_listed") {
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
