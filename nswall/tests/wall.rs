//! The wall holds: what runs inside is in other namespaces, bounded, and cannot change what is
//! outside; killing the run kills everything in it. Each test starts `nswall-probe`, which
//! builds a wall of its own (nested in this test binary's wall), and looks at it from outside.

// This binary runs inside the wall too; the probes it starts build walls nested in it.
nswall::enter!();

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROBE: &str = env!("CARGO_BIN_EXE_nswall-probe");

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A probe command that builds its own wall (the marker of this binary's wall removed).
fn probe(what: &str) -> Command {
    let mut c = Command::new(PROBE);
    c.arg(what).env_remove(nswall::INSIDE_VAR).env_remove(nswall::OUTER_VAR);
    c
}

/// Runs a probe to its end (at most 10 s) and parses its `key=value` lines. Its output goes
/// to files, not pipes: a process it leaves behind must not hold the test up.
fn run(mut cmd: Command) -> BTreeMap<String, String> {
    let (out, err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    cmd.stdout(out.try_clone().unwrap()).stderr(err.try_clone().unwrap());
    let status = wait_bounded(&mut cmd.spawn().expect("start nswall-probe"));
    let read = |f: &std::fs::File| {
        let mut f = f.try_clone().unwrap();
        let mut s = String::new();
        std::io::Seek::rewind(&mut f).unwrap();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        s
    };
    let text = read(&out);
    assert!(
        status.success(),
        "probe failed ({status}): stdout:\n{text}\nstderr:\n{}",
        read(&err)
    );
    parse(&text)
}

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Pids (in this binary's PID namespace) of processes running the probe binary.
fn probe_processes() -> Vec<u32> {
    let me = std::path::Path::new(PROBE).canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == me))
        .collect()
}

/// Waits (at most 5 s, polling) until no process of the probe binary is left; returns those
/// left at the end.
fn wait_none_left() -> Vec<u32> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let left = probe_processes();
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check_inside(r: &BTreeMap<String, String>, root: bool) {
    assert_eq!(r["pid"], "2", "the tests run as PID 2 under the wall's init: {r:?}");
    let outer: Vec<&str> = r["outer"].split(' ').collect();
    assert_eq!(
        outer.len(),
        nswall::WALLED.len() + 1,
        "outer namespaces recorded: {r:?}"
    );
    let outer_user = outer
        .iter()
        .find(|w| w.starts_with("user:["))
        .expect("outer user namespace");
    assert_eq!(
        &r["ns_user"] == outer_user,
        root,
        "a user namespace of its own only rootless: {r:?}"
    );
    for k in nswall::WALLED {
        let inside = &r[&format!("ns_{k}")];
        assert!(inside.starts_with(&format!("{k}:[")), "{inside}");
        assert!(
            !outer.contains(&inside.as_str()),
            "{k} is a new namespace: {inside} vs {outer:?}"
        );
    }
    assert!(
        r["proc_pids"].parse::<u32>().unwrap() <= 3,
        "a fresh /proc of the wall: {r:?}"
    );
    assert_eq!(r["tmp_is_tmpfs"], "1", "{r:?}");
    // fresh and empty, but for what the run lives in when it was built under /tmp
    let kept: Vec<String> = [std::path::PathBuf::from(PROBE), std::env::current_dir().unwrap()]
        .iter()
        .filter_map(|p| p.strip_prefix("/tmp").ok()?.components().next())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for name in r["tmp_entries"].split(',').filter(|n| !n.is_empty()) {
        assert!(
            kept.iter().any(|k| k == name),
            "a fresh /tmp holds only {kept:?}: {r:?}"
        );
    }
    let lo = u32::from_str_radix(r["lo_flags"].trim_start_matches("0x"), 16);
    assert_eq!(lo.map(|f| f & libc::IFF_UP as u32), Ok(1), "lo is up: {r:?}");
    if root {
        assert_eq!(r["in_wall_cgroup"], "1", "{r:?}");
        assert_ne!(r["cap_eff"], "0000000000000000", "root keeps its capabilities: {r:?}");
    } else {
        assert_eq!(r["cap_eff"], "0000000000000000", "rootless: no capability: {r:?}");
    }
}

/// Waits for `child` at most 10 s; past that kills it and fails.
fn wait_bounded(child: &mut std::process::Child) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the probe did not end within 10 s of SIGTERM; killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Inside the wall: new mnt/ipc/uts/net/pid namespaces, PID 2, a fresh `/proc` and `/tmp`,
/// `lo` up, the cgroup bound (as root).
#[test]
fn inside_the_wall_everything_is_new() {
    let r = run(probe("report"));
    check_inside(&r, is_root());
    let mine = std::fs::read_link("/proc/self/ns/user").unwrap();
    // as root the wall makes no user namespace; rootless it makes one of its own
    assert_eq!(r["ns_user"] == mine.to_string_lossy(), is_root(), "{r:?}");
}

/// Rootless, the wall adds a user namespace mapping only the caller's uid, and the tests run
/// with no capability, as an unprivileged caller would.
#[test]
fn rootless_wall_has_a_user_namespace_and_no_capability() {
    if !is_root() {
        // as a normal user this binary itself runs in a rootless wall: check that one
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
        return;
    }
    if std::fs::read_to_string("/proc/sys/user/max_user_namespaces").is_ok_and(|v| v.trim() == "0") {
        skip(
            "rootless_wall_has_a_user_namespace_and_no_capability",
            "user namespaces are disabled (max_user_namespaces=0)",
        );
        return;
    }
    let mut cmd = probe("report");
    std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
    std::os::unix::process::CommandExt::gid(&mut cmd, 65534);
    let r = run(cmd);
    check_inside(&r, false);
    assert_ne!(
        r["ns_user"],
        std::fs::read_link("/proc/self/ns/user").unwrap().to_string_lossy(),
        "{r:?}"
    );
}

/// A fork bomb inside the wall stops at the wall's `pids.max`, and nothing of it is left
/// once the run has ended.
#[test]
fn fork_bomb_is_bounded_and_dies_with_the_run() {
    if !is_root() {
        skip(
            "fork_bomb_is_bounded_and_dies_with_the_run",
            "needs root: the cgroup bound is made as root only",
        );
        return;
    }
    let mut cmd = probe("forkbomb");
    cmd.env("NSWALL_PIDS_MAX", "64");
    let r = run(cmd);
    let forked: u32 = r["forked"].parse().unwrap();
    assert!(forked < 64, "pids.max=64 bounds the wall: {r:?}");
    assert_eq!(
        r["errno"],
        libc::EAGAIN.to_string(),
        "fork fails with EAGAIN at the bound: {r:?}"
    );
    assert_eq!(
        wait_none_left(),
        Vec::<u32>::new(),
        "every forked child died with the run"
    );
}

/// What a faulty test changes inside the wall (hostname, mounts over `/tmp` and `/mnt`, an IPC
/// object, a network sysctl) is not seen outside it.
#[test]
fn changes_inside_do_not_reach_outside() {
    if !is_root() {
        skip(
            "changes_inside_do_not_reach_outside",
            "needs root: rootless the probe cannot change anything anyway",
        );
        return;
    }
    let snapshot = || {
        (
            nix::unistd::gethostname().unwrap(),
            std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
            std::fs::read_to_string("/proc/sysvipc/shm").unwrap(),
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        )
    };
    let before = snapshot();
    let r = run(probe("harm"));
    for op in ["sethostname", "mount_tmp", "mount_mnt", "shmget", "ip_forward", "done"] {
        assert_eq!(r[op], "1", "the probe really made its change {op} inside: {r:?}");
    }
    assert!(before == snapshot(), "nothing changed outside the probe's wall");
}

/// Killing the run (`SIGTERM` to the outer process, as a harness's timeout does) kills every
/// process in the wall, also those that ignore `SIGTERM` and orphans in their own session.
#[test]
fn killing_the_run_kills_the_whole_tree() {
    let mut child = probe("hang").stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the probe reports ready").unwrap();
    assert_eq!(first, "ready=1");
    assert!(
        probe_processes().len() >= 6,
        "the chain and the orphan run: {:?}",
        probe_processes()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_bounded(&mut child);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGTERM),
        "{status}"
    );
    assert_eq!(wait_none_left(), Vec::<u32>::new(), "nothing of the tree is left");
}
