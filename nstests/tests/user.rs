//! User namespaces (checklist U1–U3), each isolation property with its control.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::AsRawFd;

use nscore::idmap::{write_gid_map, write_setgroups, write_uid_map};
use nscore::{raw, IdMap, Kind, KindSet, Setgroups, Spawn};
use nstests::child::*;
use nstests::live::*;
use nstests::{host_ino, is_root, level, run_spawn, skip, user_level, Mode, Probe};
use rstest::rstest;

/// The uid in the `Uid:` line of `/proc/<pid>/status` (as the test's user namespace sees it).
fn status_uid(pid: nscore::Pid) -> u32 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// U1: in a new user namespace the ids read as 65534 until maps are written; after the
/// parent writes them the child is uid 0 inside and the mapped uid outside; `setgroups`
/// `allow` after `deny` gives EPERM. Control: without the namespace, the ids are the
/// parent's, the same inside and out.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn u1_unmapped_ids_then_maps(#[case] mode: Mode) {
    let spawn = match mode {
        Mode::Clone => Spawn::new(Kind::User),
        _ => Spawn::new(KindSet::EMPTY),
    };
    let child_body = |r: &Probe, gate: Gate| {
        if mode == Mode::Unshare {
            if let Err(e) = raw::unshare(Kind::User.into()) {
                r.line_num(b"unshare_errno", e as i64);
                return 1;
            }
        }
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        r.line_num(b"uid1", uid as i64);
        r.line_num(b"gid1", gid as i64);
        r.put(b"stage1\n");
        gate.wait();
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        r.line_num(b"uid2", uid as i64);
        r.line_num(b"gid2", gid as i64);
        if mode.isolates() {
            let e = err_of(write_file(c"/proc/self/setgroups", b"allow\n"));
            r.line_num(b"allow_errno", e);
        }
        r.put(b"stage2\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(spawn, child_body) }.unwrap();
    let text = live.until("stage1");
    let pid = live.child.pid();
    let me = nix::unistd::getuid().as_raw();
    // Root inside is the child's own uid outside: its credentials do not change, the map
    // only names them inside.
    let outside = me;
    let outside_gid = nix::unistd::getgid().as_raw();
    if mode.isolates() {
        assert!(
            text.contains("uid1=65534\n") && text.contains("gid1=65534\n"),
            "mode {mode}: unmapped: {text}"
        );
        write_setgroups(pid, Setgroups::Deny).unwrap();
        write_uid_map(pid, &[IdMap::single(0, outside)]).unwrap();
        write_gid_map(pid, &[IdMap::single(0, outside_gid)]).unwrap();
    } else {
        assert!(
            text.contains(&format!("uid1={me}\n")),
            "control: the parent's uid: {text}"
        );
    }
    live.go_once();
    let text = live.until("stage2");
    let seen_outside = status_uid(pid);
    let out = live.finish();
    out.assert_ok();
    if mode.isolates() {
        assert_eq!(out.num("uid2"), 0, "mode {mode}: root inside: {text}");
        assert_eq!(out.num("gid2"), 0, "mode {mode}: {text}");
        assert_eq!(seen_outside, outside, "mode {mode}: the mapped uid outside");
        assert_eq!(out.num("allow_errno"), libc::EPERM as i64, "deny then allow: {text}");
    } else {
        assert_eq!(out.num("uid2"), me as i64, "{text}");
        assert_eq!(seen_outside, me, "control: one uid inside and out");
    }
}

/// U2: a user namespace lets an unprivileged process (uid 65534, no capabilities) create
/// every other kind in the same call, rootless. Control: without the user namespace the same
/// call is EPERM.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn u2_rootless_creates_every_kind(#[case] mode: Mode) {
    let others = KindSet::ALL.without(Kind::User);
    let kinds = if mode.isolates() { KindSet::ALL } else { others };
    let host: Vec<i64> = Kind::ALL.iter().map(|k| host_ino(*k)).collect();
    let paths: Vec<std::ffi::CString> = Kind::ALL
        .iter()
        .map(|k| nstests::cstr(&format!("/proc/self/ns/{}", k.name())))
        .collect();
    let child_body = |p: &Probe| {
        if is_root() {
            if let Err(e) = drop_to_nobody() {
                p.line_num(b"drop_errno", e as i64);
                return 1;
            }
        }
        p.line_num(b"euid", rustix::process::geteuid().as_raw() as i64);
        if mode == Mode::None {
            p.line_num(b"unshare_errno", err_of(raw::unshare(kinds)));
        }
        let m = if mode == Mode::None { Mode::Clone } else { mode };
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { nsfork(m, kinds) } {
            Ok(0) => {
                let mut differ = 0;
                for (i, path) in paths.iter().enumerate() {
                    if ino(path) != host[i] {
                        differ += 1;
                    }
                }
                p.line_num(b"differ", differ);
                raw::exit(0)
            }
            Ok(c) => {
                // report after the child did (one writer at a time)
                let code = raw::reap(c).unwrap_or(99);
                p.line_num(b"create_errno", 0);
                code
            }
            Err(e) => {
                p.line_num(b"create_errno", e as i64);
                0
            }
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(Spawn::new(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    if is_root() {
        assert_eq!(out.num("euid"), 65534, "{}", out.text());
    }
    if mode.isolates() {
        if !is_root() && out.num("create_errno") == libc::EPERM as i64 {
            skip(
                "u2_rootless_creates_every_kind",
                "this system forbids unprivileged user namespaces",
            );
            return;
        }
        assert_eq!(out.num("create_errno"), 0, "mode {mode}: {}", out.text());
        assert_eq!(out.num("differ"), 8, "mode {mode}: all eight are new: {}", out.text());
    } else {
        assert_eq!(out.num("unshare_errno"), libc::EPERM as i64, "control: {}", out.text());
        assert_eq!(out.num("create_errno"), libc::EPERM as i64, "control: {}", out.text());
    }
}

/// U3 (first part): `setns` into a sibling user namespace is EPERM (no capability in it).
/// Control: a process with CAP_SYS_ADMIN in the parent namespace may join it.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn u3_setns_into_sibling_user_ns_is_eperm(#[case] mode: Mode) {
    if mode == Mode::None
        && !nstests::require_root("u3_setns_into_sibling_user_ns_is_eperm", "the control joins as root")
    {
        return;
    }
    // SAFETY: run in the fork-like child below, which never runs past this call.
    let hold = || unsafe { pause_forever() };
    // SAFETY: the child only closes its copies of fds and pauses (raw system calls).
    let target = unsafe { scaffold(KindSet::EMPTY).map_root().run(hold) }.unwrap();
    let ns = target.ns(Kind::User).unwrap();
    let fd = ns.as_raw_fd();
    let spawn = match mode {
        Mode::Clone => Spawn::new(KindSet::EMPTY).map_root(),
        _ => Spawn::new(KindSet::EMPTY),
    };
    let child_body = |p: &Probe| {
        if mode == Mode::Unshare {
            if let Err(e) = raw::unshare(Kind::User.into()) {
                p.line_num(b"unshare_errno", e as i64);
                return 1;
            }
        }
        p.line_num(b"setns_errno", err_of(raw::setns(fd, Kind::User.into())));
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(spawn, child_body) }.unwrap();
    drop(target);
    out.assert_ok();
    let want = if mode.isolates() { libc::EPERM as i64 } else { 0 };
    assert_eq!(out.num("setns_errno"), want, "mode {mode}: {}", out.text());
}

/// U3 (second part): user namespaces nest to the kernel's depth (level 33 at most, counted
/// from the initial namespace, so from the tests' own level; the next `unshare` gives ENOSPC).
/// Each level writes its own maps, as an unmapped caller cannot create the next one (EPERM).
/// Bounded: the nesting stops at [`level::NESTING_CAP`] levels (then the test fails: the
/// kernel did not enforce the limit).
#[test]
fn u3_nesting_stops_at_kernel_depth() {
    // the scaffold child is one level below us when not root (its mapped user namespace)
    let start = if is_root() { user_level() } else { user_level().below(1) };
    let child_body = |p: &Probe| {
        let mut depth = 0i64;
        let refused = loop {
            if depth == level::NESTING_CAP {
                break 0;
            }
            if let Err(e) = raw::unshare(Kind::User.into()) {
                break e as i64;
            }
            depth += 1;
            if depth == 1 {
                // an unmapped caller may not nest: EPERM
                p.line_num(b"unmapped_errno", err_of(raw::unshare(Kind::User.into())));
            }
            let steps: [(&std::ffi::CStr, &[u8]); 3] = [
                (c"/proc/self/setgroups", b"deny\n"),
                (c"/proc/self/uid_map", b"0 0 1\n"),
                (c"/proc/self/gid_map", b"0 0 1\n"),
            ];
            for (path, text) in steps {
                if let Err(e) = write_file(path, text) {
                    p.line_num(b"map_errno", e as i64);
                    p.line_num(b"depth", depth);
                    return 2;
                }
            }
        };
        p.line_num(b"depth", depth);
        p.line_num(b"depth_errno", refused);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("unmapped_errno"), libc::EPERM as i64, "{t}");
    level::check_nesting(
        "u3_nesting_stops_at_kernel_depth",
        "user",
        start,
        out.num("depth"),
        out.num("depth_errno"),
        level::USER_DEEPEST,
        &t,
    );
}
