//! UTS namespaces in depth (checklist H1–H5): hostname and NIS domain name.
//!
//! The host's names are never changed: every test that sets a name does it inside a scratch
//! UTS namespace made for the test (a child cloned into a new UTS namespace, named by
//! nscore's `Spawn::hostname`/`domainname`), and the children under test are its children.
//! The `none` control runs there too, so that sharing can be seen without touching the host.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet, NsHandle, Spawn};
use nstests::child::*;
use nstests::live::{Gate, Live};
use nstests::{cstr, effective_kinds, is_root, ns_id_or_skip, run_spawn, spawn_for, unique, Mode, Probe};
use rstest::rstest;

/// The host's (test process's) node and domain name, read without changing anything.
fn host_names() -> (String, String) {
    let u = nix::sys::utsname::uname().expect("uname");
    (
        u.nodename().to_string_lossy().into_owned(),
        u.domainname().to_string_lossy().into_owned(),
    )
}

/// A scratch child in a new UTS namespace (plus a mapped user namespace when not root)
/// whose names are `base`/`base_dom`; the body runs there.
fn scratch(base: &str, base_dom: &str) -> Spawn {
    nstests::scratch(Kind::Uts.into()).hostname(base).domainname(base_dom)
}

/// The namespaces of a grandchild made in `mode`.
fn clone_kinds(mode: Mode) -> KindSet {
    kinds_for(mode, Kind::Uts.into(), KindSet::EMPTY)
}

/// In the grandchild: `unshare(CLONE_NEWUTS)` in `Unshare` mode; returns `false` on error.
fn maybe_unshare(mode: Mode, p: &Probe) -> bool {
    enter(mode, Kind::Uts.into(), p)
}

/// H1: a child sets hostname and domainname and reads them back three ways (uname,
/// gethostname, /proc/sys/kernel); its parent and a sibling keep theirs. The `none` control
/// (in the scratch namespace) must see the child's names in parent and sibling.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn h1_child_sets_hostname_parent_unchanged(#[case] mode: Mode) {
    let host_before = host_names();
    let base = unique("h1b");
    let base_dom = unique("h1bd");
    let name = unique("h1k");
    let dom = unique("h1kd");
    let (name_b, dom_b) = (name.clone().into_bytes(), dom.clone().into_bytes());
    let proc_host = cstr("/proc/sys/kernel/hostname");
    let proc_dom = cstr("/proc/sys/kernel/domainname");
    let child_body = |p: &Probe| {
        let go_sib = pipe();
        // made before the ready pipe, so that it holds no copy of its write end: a kid that
        // fails early must show as end of file at once
        let sib_body = || {
            if !wait(go_sib[0]) {
                return 3;
            }
            let u = rustix::system::uname();
            p.line(b"sib_host", u.nodename().to_bytes());
            p.line(b"sib_dom", u.domainname().to_bytes());
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let sib = unsafe { fork_with(KindSet::EMPTY, sib_body) };
        let mut kid_ready = pipe();
        let kid_go = pipe();
        let kid_body = || {
            if !maybe_unshare(mode, p) {
                return 4;
            }
            p.line_num(b"kid_sethostname", sethostname(&name_b));
            p.line_num(b"kid_setdomainname", setdomainname(&dom_b));
            let u = rustix::system::uname();
            p.line(b"kid_uname_host", u.nodename().to_bytes());
            p.line(b"kid_uname_dom", u.domainname().to_bytes());
            let mut buf = [0u8; 128];
            p.line(b"kid_gethostname", gethostname(&mut buf));
            let mut buf = [0u8; 128];
            p.line(b"kid_proc_host", nstests::read_small(&proc_host, &mut buf));
            let mut buf = [0u8; 128];
            p.line(b"kid_proc_dom", nstests::read_small(&proc_dom, &mut buf));
            signal(kid_ready[1]);
            // Stay alive while the sibling and the parent look.
            wait(kid_go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let kid = unsafe { fork_with(clone_kinds(mode), kid_body) };
        if sib < 0 || kid < 0 {
            p.errno(b"fork_errno");
            return 2;
        }
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if !unsafe { wait_ready(&mut kid_ready) } {
            signal(go_sib[1]);
            let _ = raw::reap(sib);
            p.line_num(b"kid_exit", raw::reap(kid).unwrap_or(-1) as i64);
            return 5;
        }
        signal(go_sib[1]);
        p.line_num(b"sib_exit", raw::reap(sib).unwrap_or(-1) as i64);
        let u = rustix::system::uname();
        p.line(b"parent_host", u.nodename().to_bytes());
        p.line(b"parent_dom", u.domainname().to_bytes());
        signal(kid_go[1]);
        p.line_num(b"kid_exit", raw::reap(kid).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(&base, &base_dom), child_body) }.expect("spawn scratch UTS child");
    out.assert_ok();
    assert_eq!(out.num("kid_exit"), 0, "{}", out.text());
    assert_eq!(out.num("sib_exit"), 0, "{}", out.text());
    assert_eq!(out.num("kid_sethostname"), 0, "{}", out.text());
    assert_eq!(out.num("kid_setdomainname"), 0, "{}", out.text());
    for key in ["kid_uname_host", "kid_gethostname", "kid_proc_host"] {
        assert_eq!(out.str(key), name, "{key}");
    }
    for key in ["kid_uname_dom", "kid_proc_dom"] {
        assert_eq!(out.str(key), dom, "{key}");
    }
    if mode.isolates() {
        assert_eq!(out.str("parent_host"), base, "mode {mode}");
        assert_eq!(out.str("parent_dom"), base_dom, "mode {mode}");
        assert_eq!(out.str("sib_host"), base, "mode {mode}");
        assert_eq!(out.str("sib_dom"), base_dom, "mode {mode}");
    } else {
        // Control: without a new UTS namespace the names are shared.
        assert_eq!(out.str("parent_host"), name, "control must share");
        assert_eq!(out.str("parent_dom"), dom, "control must share");
        assert_eq!(out.str("sib_host"), name, "control must share");
        assert_eq!(out.str("sib_dom"), dom, "control must share");
    }
    assert_eq!(host_names(), host_before, "the host's names changed");
}

/// H2: eight siblings set a unique name each at the same moment (a barrier after setting,
/// before reading); each reads only its own. In the `none` control they share one name, so
/// exactly one (the last writer) reads its own.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn h2_eight_siblings_each_read_only_their_own_name(#[case] mode: Mode) {
    const N: usize = 8;
    let host_before = host_names();
    let names: Vec<Vec<u8>> = (0..N).map(|i| unique(&format!("h2s{i}-")).into_bytes()).collect();
    let base = unique("h2b");
    let child_body = |p: &Probe| {
        let mut ready = pipe();
        let go = pipe();
        let mut pids = [0 as libc::pid_t; N];
        for (i, pid) in pids.iter_mut().enumerate() {
            let name = &names[i];
            let pid_body = || {
                if !maybe_unshare(mode, p) {
                    signal(ready[1]);
                    return 4;
                }
                let e = sethostname(name);
                signal(ready[1]);
                if e != 0 || !wait(go[0]) {
                    return 5;
                }
                let u = rustix::system::uname();
                let own = u.nodename().to_bytes() == name.as_slice();
                p.line_num(b"own", own as i64);
                0
            };
            // SAFETY: the grandchild's body makes only raw system calls on memory made before the
            // fork and closes only its own pipe ends.
            *pid = unsafe { fork_with(clone_kinds(mode), pid_body) };
            if *pid < 0 {
                p.errno(b"fork_errno");
                return 2;
            }
        }
        for _ in 0..N {
            // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
            // does not use it again.
            unsafe { wait_ready(&mut ready) };
        }
        for _ in 0..N {
            signal(go[1]);
        }
        let mut failed = 0;
        for pid in pids {
            if raw::reap(pid).unwrap_or(-1) != 0 {
                failed += 1;
            }
        }
        p.line_num(b"failed", failed);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(&base, "h2"), child_body) }.expect("spawn scratch UTS child");
    out.assert_ok();
    assert_eq!(out.num("failed"), 0, "{}", out.text());
    let text = out.text();
    let own: Vec<&str> = text.lines().filter(|l| l.starts_with("own=")).collect();
    assert_eq!(own.len(), N, "{text}");
    let own_count = own.iter().filter(|l| **l == "own=1").count();
    if mode.isolates() {
        assert_eq!(own_count, N, "mode {mode}: every sibling reads its own name\n{text}");
    } else {
        assert_eq!(own_count, 1, "control: one shared name, the last writer's\n{text}");
    }
    assert_eq!(host_names(), host_before, "the host's names changed");
}

/// H3: control: two children made without `CLONE_NEWUTS` (in a scratch UTS namespace) share
/// the name: what the first sets, the second and their parent read.
#[test]
fn h3_children_without_newuts_share_the_name() {
    let host_before = host_names();
    let base = unique("h3b");
    let name = unique("h3n");
    let name_b = name.clone().into_bytes();
    let child_body = |p: &Probe| {
        let first_body = || sethostname(&name_b) as i32;
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let first = unsafe { fork_with(KindSet::EMPTY, first_body) };
        p.line_num(b"first_exit", raw::reap(first).unwrap_or(-1) as i64);
        let second_body = || {
            let u = rustix::system::uname();
            p.line(b"second_host", u.nodename().to_bytes());
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let second = unsafe { fork_with(KindSet::EMPTY, second_body) };
        p.line_num(b"second_exit", raw::reap(second).unwrap_or(-1) as i64);
        let u = rustix::system::uname();
        p.line(b"parent_host", u.nodename().to_bytes());
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(&base, "h3"), child_body) }.expect("spawn scratch UTS child");
    out.assert_ok();
    assert_eq!(out.num("first_exit"), 0, "{}", out.text());
    assert_eq!(out.num("second_exit"), 0, "{}", out.text());
    assert_eq!(out.str("second_host"), name);
    assert_eq!(out.str("parent_host"), name);
    assert_ne!(name, base);
    assert_eq!(host_names(), host_before, "the host's names changed");
}

/// Spawns a child in `mode`/`kinds` (hostname `name` when it has a UTS namespace) that
/// reports `ready` and then waits at its gate until [`Live::finish`].
fn hold(mode: Mode, kinds: KindSet, name: Option<&str>) -> Live {
    let name_b: Vec<u8> = name.unwrap_or("").as_bytes().to_vec();
    let unshare_kinds = effective_kinds(mode, kinds);
    let mut spawn = spawn_for(mode, kinds);
    if mode == Mode::Clone && name.is_some() {
        spawn = spawn.hostname(name.unwrap_or(""));
    }
    let child_body = move |p: &Probe, gate: Gate| {
        if mode == Mode::Unshare {
            if raw::unshare(unshare_kinds).is_err() {
                return 90;
            }
            if !name_b.is_empty() && sethostname(&name_b) != 0 {
                return 91;
            }
        }
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut held = unsafe { Live::start(spawn, child_body) }.expect("spawn held child");
    let t = held.until("ready");
    assert!(t.contains("ready\n"), "held child ({mode}) did not get ready: {t}");
    held
}

/// H4: a helper process joins the child's UTS namespace with setns and sees the child's
/// name (before joining it sees its own); the child joins back to its parent's namespace
/// (by an fd opened before it was made) and sees the original name again.
#[rstest]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn h4_setns_into_child_uts_sees_its_name_and_back(#[case] mode: Mode) {
    // The helper is a scratch child in a UTS namespace of its own (named `base`), so that the
    // test also runs rootless: both namespaces are then owned by the scratch user namespace.
    let base = unique("h4b");
    let name = unique("h4n");
    let name_b = name.clone().into_bytes();
    let own = cstr("/proc/self/ns/uts");
    let child_body = |p: &Probe| {
        let pfd = raw::open(&own).unwrap_or(-1);
        let mut ready = pipe();
        let go = pipe();
        let kid_body = || {
            if !maybe_unshare(mode, p) {
                return 4;
            }
            if sethostname(&name_b) != 0 {
                return 5;
            }
            signal(ready[1]);
            wait(go[0]);
            if let Err(e) = raw::setns(pfd, Kind::Uts.into()) {
                p.line_num(b"kid_setns_back_errno", e as i64);
                return 6;
            }
            let u = rustix::system::uname();
            p.line(b"kid_back", u.nodename().to_bytes());
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let kid = unsafe { fork_with(clone_kinds(mode), kid_body) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if kid < 0 || !unsafe { wait_ready(&mut ready) } {
            return 2;
        }
        let u = rustix::system::uname();
        p.line(b"before", u.nodename().to_bytes());
        let mut path = [0u8; 64];
        let fd = match raw::open(proc_path(&mut path, kid as i64, b"/ns/uts")) {
            Ok(fd) => fd,
            Err(e) => {
                p.line_num(b"open_errno", e as i64);
                return 3;
            }
        };
        if let Err(e) = raw::setns(fd, Kind::Uts.into()) {
            p.line_num(b"setns_errno", e as i64);
            return 1;
        }
        // SAFETY: this process owns its copy of `fd` (a pipe end or fd made for this test) and does
        // not use it again.
        unsafe { nstests::child::close(fd) };
        let u = rustix::system::uname();
        p.line(b"joined", u.nodename().to_bytes());
        signal(go[1]);
        p.line_num(b"kid_exit", raw::reap(kid).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scratch(&base, "h4"), child_body) }.expect("spawn helper");
    out.assert_ok();
    assert_eq!(
        out.str("before"),
        base,
        "control: before setns the helper sees its own name"
    );
    assert_eq!(out.str("joined"), name, "after setns the helper sees the child's name");
    assert_eq!(out.num("kid_exit"), 0, "{}", out.text());
    assert_eq!(out.str("kid_back"), base, "the child back in its parent's namespace");
}

/// H5: identity differs (inode and NS_GET_ID) from the parent's; NS_GET_PARENT is EINVAL
/// (UTS namespaces are not hierarchical); NS_GET_USERNS gives the owning user namespace.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
#[case::pool(Mode::Pool)]
fn h5_identity_differs_no_parent_owner_is_userns(#[case] mode: Mode) {
    let own = NsHandle::current(Kind::Uts).expect("own uts");
    let held = hold(mode, Kind::Uts.into(), None);
    let ns = held.child.ns(Kind::Uts).expect("child uts");
    let (a, b) = (own.inode().expect("id"), ns.inode().expect("id"));
    assert_eq!(a != b, mode.isolates(), "inode: {a} vs {b}");
    let test = "h5_identity_differs_no_parent_owner_is_userns";
    if let Some(ia) = ns_id_or_skip(test, &own) {
        let ib = ns_id_or_skip(test, &ns).expect("NS_GET_ID works on one handle, not the other");
        assert_eq!(ia != ib, mode.isolates(), "NS_GET_ID: {ia} vs {ib}");
    }
    let e = ns.parent().expect_err("NS_GET_PARENT on a UTS namespace");
    assert_eq!(e.errno(), Some(nix::errno::Errno::EINVAL), "{e}");
    let owner = ns.owner().expect("NS_GET_USERNS").inode().expect("id");
    let child_user = held.child.ns(Kind::User).expect("child user").inode().expect("id");
    assert_eq!(owner, child_user, "owner is the child's user namespace");
    if is_root() {
        let own_user = NsHandle::current(Kind::User).unwrap().inode().unwrap();
        assert_eq!(owner, own_user, "as root no user namespace is added");
    }
    held.finish().assert_ok();
}

/// `gethostname(2)` into `buf`; returns the name. Hand-written: the test checks glibc's own
/// call, which rustix does not have (Linux has no such system call) and nix's allocates.
fn gethostname(buf: &mut [u8]) -> &[u8] {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return &[];
    }
    let n = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    &buf[..n]
}

/// `sethostname(2)`; returns 0 or the errno.
fn sethostname(name: &[u8]) -> i64 {
    err_code(rustix::system::sethostname(name))
}

/// `setdomainname(2)`; returns 0 or the errno.
fn setdomainname(name: &[u8]) -> i64 {
    err_code(rustix::system::setdomainname(name))
}
