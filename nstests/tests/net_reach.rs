//! What a network namespace's parent can reach of it (the other direction of checklist N1,
//! and N7 by `ioctl` as well as rtnetlink). Links and addresses are only made in scratch
//! network namespaces of the test's own, never the host's.
//! Peers: LTP `containers/netns/netns_sysfs.sh` (both directions), `netns_netlink.c`,
//! `netns_breakns.sh` (ip and ifconfig paths).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::{cstr, nl, run_spawn, so, Mode, Probe};
use rstest::rstest;

/// N1 (the other direction): links a child makes in its new network namespace are not in the
/// parent's `/sys/class/net` (a sysfs the parent mounts, in its own network namespace, while
/// the child lives) nor found by name (`SIOCGIFINDEX`: ENODEV). Control: a child without the
/// namespace makes them in the parent's, and the parent's sysfs lists them.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n1_parent_sysfs_does_not_show_the_childs_links(#[case] mode: Mode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = cstr(dir.path().to_str().unwrap());
    let child_body = |p: &Probe| {
        let (mut ready, go) = (pipe(), pipe());
        let child_body = || {
            // SAFETY: this process owns its copy of `go[1]` (a pipe end or fd made for this test)
            // and does not use it again.
            unsafe { nstests::child::close(go[1]) };
            if !enter(mode, Kind::Net.into(), p) {
                return 90;
            }
            p.line_num(b"add_veth", nl::add_veth(b"n1x", b"n1y", -1));
            signal(ready[1]);
            wait(go[0]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let child = unsafe { fork_with(kinds_for(mode, Kind::Net.into(), KindSet::EMPTY), child_body) };
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if child < 0 || !unsafe { wait_ready(&mut ready) } {
            return 1;
        }
        match mount_fs(c"sysfs", &target) {
            Ok(()) => {
                let mut path = [0u8; 256];
                let class = path_in(&mut path, &[target.to_bytes(), b"/class/net"]);
                p.line_num(b"sysfs", list_dir(p, b"parent_sys", class));
            }
            Err(e) => p.line_num(b"sysfs_errno", e as i64),
        }
        p.line_num(b"parent_index", so::ifindex(b"n1x"));
        signal(go[1]);
        p.line_num(b"child_exit", raw::reap(child).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(nstests::scratch(Kind::Net | Kind::Mnt), child_body) }
        .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("add_veth"), 0, "{t}");
    assert_eq!(out.num("child_exit"), 0, "{t}");
    if mode.isolates() {
        assert_eq!(out.values("parent_sys"), ["lo"], "mode {mode}: {t}");
        assert_eq!(out.num("parent_index"), -(libc::ENODEV as i64), "mode {mode}: {t}");
    } else {
        assert_eq!(out.values("parent_sys"), ["lo", "n1x", "n1y"], "control: {t}");
        assert!(out.num("parent_index") > 0, "control: {t}");
    }
}

/// N7 (by `ioctl`): with a device moved into another namespace, `SIOCSIFADDR` on its name
/// from the first gives ENODEV, while the namespace that holds it sets the address; moved
/// back, the first sets it. Control: the same call before the move works.
#[test]
fn n7_ioctl_address_only_where_the_device_is() {
    let own = cstr("/proc/self/ns/net");
    let child_body = |p: &Probe| {
        let own_fd = raw::open(&own).unwrap_or(-1);
        p.line_num(b"add", nl::add_veth(b"n7c", b"n7d", -1));
        p.line_num(b"addr_before", so::set_addr_ioctl(b"n7c", [10, 231, 8, 1]));
        let mut moved = pipe();
        let b_body = || {
            p.line_num(b"addr_there", so::set_addr_ioctl(b"n7c", [10, 231, 8, 2]));
            p.line_num(b"move_back", nl::move_link(b"n7c", own_fd));
            signal(moved[1]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let Some(mut b) = (unsafe { Peer::start(Kind::Net, b_body) }) else {
            return 2;
        };
        p.line_num(b"move", nl::move_link(b"n7c", b.ns));
        // SAFETY: this process owns its copy of `b.ns` (an fd made for this test) and does not use
        // it again.
        unsafe { nstests::child::close(b.ns) };
        p.line_num(b"addr_away", so::set_addr_ioctl(b"n7c", [10, 231, 8, 3]));
        b.go();
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        unsafe { wait_ready(&mut moved) };
        p.line_num(b"b_exit", raw::reap(b.pid).unwrap_or(-1) as i64);
        p.line_num(b"addr_back", so::set_addr_ioctl(b"n7c", [10, 231, 8, 4]));
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out =
        unsafe { run_spawn(nstests::scratch(Kind::Net.into()), child_body) }.expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in [
        "add",
        "addr_before",
        "move",
        "addr_there",
        "move_back",
        "b_exit",
        "addr_back",
    ] {
        assert_eq!(out.num(key), 0, "{key}: {t}");
    }
    assert_eq!(out.num("addr_away"), libc::ENODEV as i64, "{t}");
}
