//! Active namespaces, nsfs file handles (checklist depth item A3): a handle
//! (`name_to_handle_at` / `open_by_handle_at`, Linux 6.18) of a namespace round-trips to the
//! same namespace and gives ESTALE once it is gone, or when the caller may not see it: from a
//! sibling user namespace, and since Linux 7.0 from anywhere but the initial PID namespace (see
//! [`nstests::active`]; the kernel matrix runs this binary a second time there). Where the kernel
//! lacks the calls, the tests print `SKIPPED <test>: <why>`. The listns half (A1, A2) is
//! `active.rs`. Peer: the kernel's `selftests/namespaces/file_handle_test.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nscore::{Errno, Kind, KindSet, NsHandle, Spawn};
use nstests::active::*;
use nstests::child::*;
use nstests::{run_spawn, skip, Probe};
use rstest::rstest;

/// Whether the kernel has nsfs file handles; otherwise prints the skip line for `test`.
fn has_nsfs_handles(test: &str) -> bool {
    let own = NsHandle::current(Kind::Net).unwrap();
    match handle_of(&own) {
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

/// [`has_nsfs_handles`], and `open_by_handle_at` opens a child's namespace for this test: in
/// the initial PID namespace, or on a kernel older than the 7.0 visibility rule (seen with a
/// live child in a new UTS namespace). Otherwise prints the skip line.
fn opens_others(test: &str) -> bool {
    if !has_nsfs_handles(test) {
        return false;
    }
    if nscore::inspect::may_see_all_namespaces().unwrap() {
        return true;
    }
    let live = holder(Kind::Uts.into());
    let h = handle_of(live.child.ns(Kind::Uts).unwrap()).unwrap();
    let opened = open_handle(&h).map(|fd| nix::unistd::close(fd).ok());
    live.finish().assert_ok();
    match opened {
        Ok(_) => true,
        Err(Errno::ESTALE) => {
            skip(test, NEEDS_INITIAL_PID_NS);
            false
        }
        Err(e) => panic!("open_by_handle_at of a live child's namespace: {e}"),
    }
}

/// A3: an nsfs file handle (`name_to_handle_at`) of a child's namespace opens
/// (`open_by_handle_at`) to the same namespace (inode and `NS_GET_ID`), for every kind; once
/// the namespace is gone it gives ESTALE (within a 5 s cap). Control: a handle of the test's
/// own namespace still opens.
#[test]
fn a3_nsfs_handles_round_trip_then_stale() {
    let test = "a3_nsfs_handles_round_trip_then_stale";
    if !opens_others(test) {
        return;
    }
    let live = holder(KindSet::ALL.without(Kind::Mnt));
    let mut handles = Vec::new();
    for k in KindSet::ALL.without(Kind::Mnt).iter() {
        let ns = live.child.ns(k).unwrap();
        let h = handle_of(&ns).unwrap_or_else(|e| panic!("{k}: name_to_handle_at: {e}"));
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
    let h = handle_of(&own).unwrap();
    let fd = open_handle(&h).expect("control: the test's own namespace opens");
    nix::unistd::close(fd).unwrap();
}

/// A3 (across user namespaces): a process in a sibling user namespace cannot open the
/// handle of a namespace that another user namespace owns (a child's UTS namespace, owned by
/// the child's user namespace: ESTALE, as if it were gone); a process above it (a plain
/// child of the test) can, where the kernel shows it other namespaces at all (see
/// [`opens_others`]). Control: the same handle, opened by the plain child.
#[rstest]
#[case::sibling_user_namespace(true)]
#[case::plain_child(false)]
fn a3_nsfs_handle_refused_across_user_namespaces(#[case] sibling: bool) {
    let test = if sibling {
        "a3_nsfs_handle_refused_across_user_namespaces::case_1_sibling_user_namespace"
    } else {
        "a3_nsfs_handle_refused_across_user_namespaces::case_2_plain_child"
    };
    // the control (a plain child opens it) needs a caller that sees other namespaces
    if !(if sibling {
        has_nsfs_handles(test)
    } else {
        opens_others(test)
    }) {
        return;
    }
    let target = waiting(Spawn::new(Kind::User | Kind::Uts).map_root());
    let h = handle_of(target.child.ns(Kind::Uts).unwrap()).unwrap();
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

/// A3 (visibility, Linux 7.0): a process outside the initial PID namespace (a container's
/// root) opens the nsfs handle of its own UTS namespace (the same namespace comes back), but
/// not the handle of a live sibling's (ESTALE, as if it were gone). Control: its own opens.
/// On a kernel older than 7.0 that still opens the sibling's, the rule part prints a
/// `SKIPPED` line and the rest is checked.
#[test]
fn a3_nsfs_handle_outside_the_initial_pid_namespace_opens_only_own() {
    let test = "a3_nsfs_handle_outside_the_initial_pid_namespace_opens_only_own";
    if !has_nsfs_handles(test) {
        return;
    }
    let sibling = holder(Kind::Uts.into());
    let theirs = handle_of(sibling.child.ns(Kind::Uts).unwrap()).unwrap();
    let child_body = |p: &Probe| {
        let Ok(fd) = nscore::raw::open(c"/proc/thread-self/ns/uts") else {
            return 1;
        };
        // SAFETY: `fd` was just opened and is open until the close below.
        let own = unsafe { borrow(fd) };
        let own_id = ns_get_id(own).unwrap_or(0);
        match handle_of(own).map(|h| open_handle(&h)) {
            Ok(Ok(back)) => {
                // SAFETY: `back` was just opened and is open until the close below.
                let same = ns_get_id(unsafe { borrow(back) }) == Ok(own_id) && own_id != 0;
                p.line_num(b"own_open_errno", 0);
                p.line_num(b"same", same as i64);
                // SAFETY: this process owns `back` and does not use it again.
                unsafe { nstests::child::close(back) };
            }
            Ok(Err(e)) | Err(e) => p.line_num(b"own_open_errno", e as i64),
        }
        // SAFETY: this process owns `fd` and does not use it again.
        unsafe { nstests::child::close(fd) };
        match open_handle(&theirs) {
            Ok(back) => {
                p.line_num(b"theirs_open_errno", 0);
                // SAFETY: this process owns `back` and does not use it again.
                unsafe { nstests::child::close(back) };
            }
            Err(e) => p.line_num(b"theirs_open_errno", e as i64),
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only the fds it opened.
    let out = unsafe { run_spawn(container(), child_body) }.unwrap();
    sibling.finish().assert_ok();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("own_open_errno"), 0, "its own namespace opens: {t}");
    assert_eq!(out.num("same"), 1, "the same namespace comes back: {t}");
    let theirs = out.num("theirs_open_errno");
    if nscore::inspect::kernel_version() >= (7, 0) {
        assert_eq!(theirs, libc::ESTALE as i64, "not the sibling's: {t}");
    } else if theirs == 0 {
        skip(
            &format!("{test} (rule)"),
            "this kernel predates Linux 7.0's visibility rule and opens a sibling's namespace",
        );
    }
}
