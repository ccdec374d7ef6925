//! Capabilities in user namespaces (checklist depth item U4, and what U1 left out): a process
//! in a new user namespace has every capability there and none over what its parent's user
//! namespace owns; a non-root uid inside has none after exec.
//! Peers: LTP `containers/userns/userns0{1,2,6}.c`, the kernel's `selftests/capabilities/`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, IdMap, Kind, KindSet, Setgroups, Spawn};
use nstests::child::*;
use nstests::live::*;
use nstests::{run_spawn, Mode, Probe};
use rstest::rstest;

/// The `CapEff:` mask of a `/proc/<pid>/status` text.
fn cap_eff(status: &str) -> u64 {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff line: {status}"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

/// The full capability mask of this kernel (`cap_last_cap` + 1 bits).
fn full_mask() -> u64 {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (1u64 << (last + 1)) - 1
}

/// Reports the `CapEff:` line of `/proc/self/status` as `key`.
fn report_cap_eff(p: &Probe, key: &[u8]) {
    let mut buf = [0u8; 4096];
    let status = nstests::read_small(c"/proc/self/status", &mut buf);
    let line = status
        .split(|&c| c == b'\n')
        .find(|l| l.starts_with(b"CapEff:"))
        .unwrap_or(b"");
    p.line(key, line.strip_prefix(b"CapEff:").unwrap_or(b"").trim_ascii());
}

/// U4: a process in a new user namespace has the full effective set there (`CapEff`, even
/// unmapped, even where the parent lacks some) and none over what its parent's user namespace owns: `sethostname` on the UTS
/// namespace it inherited (a scratch one the parent made) is EPERM. Control: without the
/// new user namespace the same call works.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn u4_full_capabilities_inside_none_over_the_parents(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        let kinds = if mode == Mode::Clone {
            Kind::User.into()
        } else {
            KindSet::EMPTY
        };
        let gc_body = || {
            if mode == Mode::Unshare {
                if let Err(e) = raw::unshare(Kind::User.into()) {
                    p.line_num(b"unshare_errno", e as i64);
                    return 2;
                }
            }
            report_cap_eff(p, b"cap_eff");
            let name = b"u4-child";
            p.line_num(b"sethostname_errno", err_code(rustix::system::sethostname(name)));
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        unsafe { run_child(p, kinds, gc_body) }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Uts.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    let eff = u64::from_str_radix(&out.str("cap_eff"), 16).unwrap();
    if mode.isolates() {
        assert_eq!(
            eff,
            full_mask(),
            "mode {mode}: every capability in its own namespace: {t}"
        );
        assert_eq!(
            out.num("sethostname_errno"),
            libc::EPERM as i64,
            "mode {mode}: no capability over the parent's UTS namespace: {t}"
        );
    } else {
        // the scaffold's own set (which may lack what the machine withholds)
        assert_ne!(eff, 0, "control: {t}");
        assert_eq!(out.num("sethostname_errno"), 0, "control: {t}");
    }
}

/// U4 (exec): a program run as a non-root uid inside a new user namespace (uid 1000 inside,
/// mapped to the caller's) has no capabilities after `execve`. Control: the same program
/// run as root inside keeps the full set.
#[rstest]
#[case::root_inside(0)]
#[case::uid_1000_inside(1000)]
fn u4_non_root_inside_has_no_capabilities_after_exec(#[case] inside: u32) {
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    let out = Spawn::new(Kind::User)
        .uid_map(&[IdMap::single(inside, uid)])
        .setgroups(Setgroups::Deny)
        .gid_map(&[IdMap::single(inside, gid)])
        .output("/bin/cat", ["/proc/self/status"])
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let status = String::from_utf8_lossy(&out.stdout);
    let want = if inside == 0 { full_mask() } else { 0 };
    assert_eq!(cap_eff(&status), want, "uid {inside} inside: {status}");
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().nth(1) == Some(&inside.to_string()),
        "runs as {inside} inside: {uid_line}"
    );
}
