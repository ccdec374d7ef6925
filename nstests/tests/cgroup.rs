//! Cgroup namespaces (checklist C1–C2). Nothing is created in the host's cgroup trees: the
//! child stays in the cgroup it was born in, which becomes its namespace's root.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind, KindSet, NsHandle, Spawn};
use nstests::live::*;
use nstests::{ns_id_or_skip, skip, Mode, Probe};
use rstest::rstest;

fn spawn_for(mode: Mode) -> Spawn {
    match mode {
        Mode::Clone => scaffold(Kind::Cgroup.into()),
        _ => scaffold(KindSet::EMPTY),
    }
}

/// Starts a child for `mode` that reports its own `/proc/self/cgroup` between `cg<<` and
/// `>>` lines, then waits at the gate.
fn start(mode: Mode) -> Live {
    let child_body = move |r: &Probe, gate: Gate| {
        if mode == Mode::Unshare {
            if let Err(e) = raw::unshare(Kind::Cgroup.into()) {
                r.line_num(b"unshare_errno", e as i64);
                return 1;
            }
        }
        let mut buf = [0u8; 4096];
        let text = nstests::read_small(c"/proc/self/cgroup", &mut buf);
        r.put(b"cg<<\n");
        r.put(text);
        r.put(b"\n>>\n");
        r.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    unsafe { Live::start(spawn_for(mode), child_body) }.unwrap()
}

/// `(hierarchy, path)` pairs of a `/proc/[pid]/cgroup` text.
fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (id, ctl, path) = (it.next()?, it.next()?, it.next()?);
            Some((format!("{id}:{ctl}"), path.to_owned()))
        })
        .collect()
}

/// C1: inside a new cgroup namespace `/proc/self/cgroup` shows `/` as the path in every
/// hierarchy (`0::/` for cgroup v2), while the parent sees the full path of the same child.
/// Control: without the namespace the child sees what the parent sees.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn c1_proc_cgroup_shows_root_inside(#[case] mode: Mode) {
    let mut live = start(mode);
    let text = live.until("ready");
    let outside = std::fs::read_to_string(format!("/proc/{}/cgroup", live.child.pid())).unwrap();
    let out = live.finish();
    out.assert_ok();
    let inside = text
        .split("cg<<\n")
        .nth(1)
        .and_then(|t| t.split("\n>>\n").next())
        .unwrap_or_else(|| panic!("no report: {text}"));
    let (inside, outside) = (parse(inside), parse(&outside));
    assert!(
        !inside.is_empty() && inside.len() == outside.len(),
        "{inside:?} / {outside:?}"
    );
    assert!(inside.iter().any(|(h, _)| h == "0:"), "a cgroup v2 line: {inside:?}");
    let deep = outside.iter().any(|(_, p)| p != "/");
    if mode.isolates() {
        assert!(
            inside.iter().all(|(_, p)| p == "/"),
            "mode {mode}: all '/' inside: {inside:?}"
        );
        if !deep {
            skip(
                "c1_proc_cgroup_shows_root_inside",
                "cannot tell the views apart: the tests run in the root cgroup of every hierarchy",
            );
        }
    } else {
        assert_eq!(inside, outside, "control: one view");
    }
    // the parent always sees the full path: its own, since the child was born in its cgroup
    let own = parse(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    assert_eq!(outside, own, "mode {mode}: the full path outside");
}

/// C2: the namespace's identity differs from the parent's (inode and `NS_GET_ID`), and its
/// root is the cgroup the creator was in: seen from outside, the child is in exactly the
/// creator's cgroup while it sees itself at `/`. Control: without the namespace the identity
/// is the parent's.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn c2_identity_differs_and_root_is_creators_cgroup(#[case] mode: Mode) {
    let host = NsHandle::current(Kind::Cgroup).unwrap();
    let mut live = start(mode);
    let text = live.until("ready");
    let ns = live.child.ns(Kind::Cgroup).unwrap();
    let (id, host_id) = (ns.inode().unwrap(), host.inode().unwrap());
    let test = "c2_identity_differs_and_root_is_creators_cgroup";
    let ns_ids = (ns_id_or_skip(test, &ns), ns_id_or_skip(test, &host));
    let outside = std::fs::read_to_string(format!("/proc/{}/cgroup", live.child.pid())).unwrap();
    let out = live.finish();
    out.assert_ok();
    assert_eq!(id != host_id, mode.isolates(), "mode {mode}: {id} vs {host_id}");
    if let (Some(a), Some(b)) = ns_ids {
        assert_eq!(a != b, mode.isolates(), "mode {mode}: NS_GET_ID {a} vs {b}");
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert_eq!(parse(&outside), parse(&own), "born in the creator's cgroup");
    if mode.isolates() {
        assert!(text.contains("0::/\n"), "the creator's cgroup is the root: {text}");
    }
}
