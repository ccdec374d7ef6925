//! Integration tests (real kernel, as root) for `nscore::pool`: a pooled child is as isolated
//! as a fresh one (namespaces no other process has been in), each set is handed out once, the
//! empty-pool policies, shutdown frees every set, and a killed launcher gives a clear error.
//!
//! That a pool's namespaces are freed is seen two ways: by their never-reused ids
//! (`NS_GET_ID`, Linux 6.18), where the kernel has them, and on every kernel by the
//! per-user-namespace limits: the scenario runs again in a helper in a fresh user namespace
//! whose `max_<kind>_namespaces` are lowered to `LIMIT`, and afterwards `LIMIT` new namespaces
//! of each kind can be made at once only if nothing of the pool still holds one.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::collections::HashSet;
use std::io::Write as _;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::time::{Duration, Instant};

use nscore::{
    limits, Child, Errno, Kind, KindSet, NsHandle, Op, Pid, Pool, ProcessNamespaces, Redirect, Spawn, WhenEmpty,
};

const FILL: Duration = Duration::from_secs(20);

fn root_or_skip(test: &str) -> bool {
    common::root_or_skip(test, "making namespaces needs CAP_SYS_ADMIN")
}

fn set() -> KindSet {
    Kind::Uts | Kind::Ipc | Kind::Net | Kind::Mnt | Kind::Pid
}

fn sleeper(pool: &Pool) -> Child {
    pool.spawn()
        .stdin(Redirect::Null)
        .spawn("sleep", ["30"])
        .expect("spawn from the pool")
}

/// The inode of `/proc/<pid>/ns/<kind>` (no fd is kept, so nothing is held).
fn ns_ino(pid: Pid, kind: Kind) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{}", kind.name()))
        .ok()
        .map(|m| m.ino())
}

/// The never-reused id (`NS_GET_ID`) of the namespace at `path`; the fd is closed at once.
fn ns_id_at(path: impl AsRef<std::path::Path>) -> Option<u64> {
    NsHandle::open(path).ok()?.ns_id().ok()
}

/// Whether the kernel has `NS_GET_ID` (6.18), which proves that a namespace is freed (inode
/// numbers are reused); otherwise says that `test` checks it by the limits only.
fn ns_get_id_or_say(test: &str) -> bool {
    match NsHandle::current(Kind::Net).and_then(|h| h.ns_id()) {
        Ok(_) => true,
        Err(e) if e.is_unsupported() => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test} (NS_GET_ID check): {e}; freed is checked by the limits only"
            );
            false
        }
        Err(e) => panic!("NS_GET_ID: {e}"),
    }
}

/// The never-reused ids of every namespace any process of this PID namespace is in or holds
/// an fd on (inode numbers can be reused once a namespace is freed; these ids cannot).
fn all_held_ids() -> HashSet<u64> {
    let mut held = HashSet::new();
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = proc.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        for sub in ["ns", "fd"] {
            let Ok(dir) = std::fs::read_dir(proc.path().join(sub)) else {
                continue;
            };
            for e in dir.flatten() {
                let nsfs = std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains(":["));
                if nsfs {
                    if let Some(id) = ns_id_at(e.path()) {
                        held.insert(id);
                    }
                }
            }
        }
    }
    held
}

fn gone(pid: Pid, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn pooled_child_is_in_namespaces_no_other_process_has_been_in() {
    if !root_or_skip("pooled_child_is_in_namespaces_no_other_process_has_been_in") {
        return;
    }
    let pool = Pool::new(set(), 2).unwrap();
    pool.fill(FILL).unwrap();
    let mine = ProcessNamespaces::current().unwrap();
    let mut seen: HashSet<(Kind, u64)> = HashSet::new();
    let mut children = Vec::new();
    for _ in 0..5 {
        let child = sleeper(&pool);
        let theirs = child.namespaces().unwrap();
        assert_eq!(theirs.differing(&mine), set(), "every kind of the set is new");
        for kind in set().iter() {
            let id = theirs.get(kind).unwrap().ino;
            assert!(seen.insert((kind, id)), "{kind} namespace {id} was handed out twice");
        }
        // No process but the child is in its namespaces (the launcher that held them is gone),
        // and no ready set shares them.
        for pid in pool.launcher_pids() {
            for kind in set().iter() {
                assert_ne!(ns_ino(pid, kind), Some(theirs.get(kind).unwrap().ino));
            }
        }
        children.push(child);
    }
    // Same guarantees as a fresh spawn: PID 1, its own /proc, hostname, lo.
    let out = pool
        .spawn()
        .hostname("pooled")
        .mount_proc(true)
        .loopback_up(true)
        .output(
            "sh",
            [
                "-c",
                "echo $$; hostname; ls /proc | grep -c '^[0-9]'; cat /sys/class/net/lo/operstate; ls /sys/class/net",
            ],
        )
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "1", "the command is PID 1 of the new PID namespace");
    assert_eq!(lines[1], "pooled");
    let n: u32 = lines[2].parse().unwrap();
    assert!((1..=3).contains(&n), "only the command (sh, ls, grep) in /proc: {text}");
    for mut c in children {
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

#[test]
fn pooled_child_can_be_waited_for_through_its_pidfd() {
    if !root_or_skip("pooled_child_can_be_waited_for_through_its_pidfd") {
        return;
    }
    let pool = Pool::new(set(), 1).unwrap();
    let mut child = pool.spawn().spawn("sh", ["-c", "exit 7"]).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(7));
    // A command that cannot start is an error, not a child.
    let e = pool.spawn().spawn("/nonexistent/command", ["x"]).unwrap_err();
    assert_eq!(e.op(), Op::Exec, "{e}");
    assert_eq!(e.errno(), Some(Errno::ENOENT));
}

#[test]
fn a_function_runs_fork_like_in_a_pooled_set() {
    if !root_or_skip("a_function_runs_fork_like_in_a_pooled_set") {
        return;
    }
    let pool = Pool::new(set(), 1).unwrap();
    let name = b"fn-pooled";
    // SAFETY: the body makes two raw system calls on a buffer it already has.
    let mut child = unsafe {
        pool.spawn().run(|| {
            if libc::getpid() != 1 {
                return 3;
            }
            if libc::sethostname(name.as_ptr().cast(), name.len()) != 0 {
                return 4;
            }
            0
        })
    }
    .unwrap();
    assert_eq!(
        child.wait().unwrap().code(),
        Some(0),
        "PID 1, and the hostname could be set"
    );
    let mine = nix::sys::utsname::uname().unwrap();
    assert_ne!(mine.nodename().as_encoded_bytes(), name, "the host's name is untouched");
}

#[test]
fn each_set_is_handed_out_exactly_once() {
    if !root_or_skip("each_set_is_handed_out_exactly_once") {
        return;
    }
    let pool = Pool::new(set(), 3).unwrap();
    pool.fill(FILL).unwrap();
    let first = pool.launcher_pids();
    assert_eq!(first.len(), 3);
    let mut children: Vec<Child> = (0..3).map(|_| sleeper(&pool)).collect();
    pool.fill(FILL).unwrap();
    for pid in pool.launcher_pids() {
        assert!(!first.contains(&pid), "a launcher is never reused");
    }
    let stats = pool.stats();
    assert_eq!(stats.handed_out, 3);
    assert!(stats.made >= 6);
    // A used launcher holds its set until its child exits (so that the teardown is off the
    // child's exit path), then ends and is reaped.
    for pid in &first {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "launcher {pid} holds its set"
        );
    }
    for c in &mut children {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    for pid in &first {
        assert!(
            gone(*pid, Duration::from_secs(5)),
            "launcher {pid} is reaped after its child ended"
        );
    }
}

/// A pool of one taken from back to back: with `WhenEmpty::Wait` every set comes from the
/// helper (none made inline), with `WhenEmpty::Inline` some are made inline. The spawns do not
/// wait for their children (which exit at once and are reaped at the end), so that the takes
/// outrun the helper's refills; the inline case stops at the first inline set, at most 60
/// spawns (under emulation a refill can keep up with a few spawns in a row).
#[test]
fn an_empty_pool_waits_or_makes_a_set_inline() {
    if !root_or_skip("an_empty_pool_waits_or_makes_a_set_inline") {
        return;
    }
    for policy in [WhenEmpty::Wait, WhenEmpty::Inline] {
        let pool = Pool::builder(set()).size(1).when_empty(policy).build().unwrap();
        let cap = if policy == WhenEmpty::Wait { 6 } else { 60 };
        let mut children = Vec::new();
        while children.len() < cap && (policy == WhenEmpty::Wait || pool.stats().made_inline == 0) {
            children.push(pool.spawn().spawn("true", [""; 0]).unwrap());
        }
        let spawned = children.len() as u64;
        for mut c in children.drain(..) {
            assert!(c.wait().unwrap().success());
        }
        let stats = pool.stats();
        assert_eq!(stats.handed_out, spawned, "{policy:?}: {stats:?}");
        match policy {
            WhenEmpty::Wait => {
                assert_eq!(stats.made_inline, 0, "{stats:?}");
            }
            WhenEmpty::Inline => {
                assert!(
                    stats.made_inline > 0,
                    "an empty pool made no set inline in {cap} spawns: {stats:?}"
                );
            }
        }
        pool.shutdown();
    }
}

#[test]
fn shutdown_frees_every_set() {
    if !root_or_skip("shutdown_frees_every_set") {
        return;
    }
    freed_by_the_limits(Scenario::Shutdown);
    if !ns_get_id_or_say("shutdown_frees_every_set") {
        return;
    }
    let pool = Pool::new(set(), 3).unwrap();
    pool.fill(FILL).unwrap();
    let pids = pool.launcher_pids();
    let mut ids = Vec::new();
    for pid in &pids {
        // A launcher's own PID namespace is ours: it only set `pid_for_children`.
        for kind in set().without(Kind::Pid).iter() {
            ids.push(ns_id_at(format!("/proc/{pid}/ns/{}", kind.name())).unwrap());
        }
        // The PID namespace for the command cannot be opened before a process is in it
        // (ENOENT), so it is checked through the launchers being gone.
    }
    let spawner = pool.spawn();
    pool.shutdown();
    for pid in &pids {
        assert!(gone(*pid, Duration::from_secs(5)), "launcher {pid} reaped at shutdown");
    }
    let held = all_held_ids();
    for id in &ids {
        assert!(!held.contains(id), "namespace {id} still held after shutdown");
    }
    let e = spawner.spawn("true", [""; 0]).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
}

#[test]
fn a_killed_launcher_is_a_clear_error_and_nothing_leaks() {
    if !root_or_skip("a_killed_launcher_is_a_clear_error_and_nothing_leaks") {
        return;
    }
    freed_by_the_limits(Scenario::KilledLauncher);
    if !ns_get_id_or_say("a_killed_launcher_is_a_clear_error_and_nothing_leaks") {
        return;
    }
    let pool = Pool::new(set(), 1).unwrap();
    pool.fill(FILL).unwrap();
    let pid = pool.launcher_pids()[0];
    let net = ns_id_at(format!("/proc/{pid}/ns/net")).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let e = pool.spawn().spawn("true", [""; 0]).unwrap_err();
    assert_eq!(e.op(), Op::ChildReport, "{e}");
    assert!(e.to_string().contains("launcher"), "{e}");
    assert!(gone(pid, Duration::from_secs(5)), "the killed launcher is reaped");
    assert!(!all_held_ids().contains(&net), "its namespaces are gone");
    // The pool goes on with fresh sets.
    let out = pool.spawn().output("true", [""; 0]).unwrap();
    assert!(out.status.success());
    assert_eq!(pool.stats().discarded, 1);
}

/// Not a test on its own: the body of the process that `launchers_die_with_their_owner` kills.
#[test]
#[ignore = "run by launchers_die_with_their_owner in a child process"]
fn owner_that_gets_killed() {
    if std::env::var_os("NSCORE_POOL_OWNER").is_none() {
        return;
    }
    let pool = Pool::new(set(), 2).unwrap();
    pool.fill(FILL).unwrap();
    for pid in pool.launcher_pids() {
        println!("launcher {pid}");
    }
    println!("ready");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn launchers_die_with_their_owner() {
    if !root_or_skip("launchers_die_with_their_owner") {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut owner = Spawn::new(KindSet::EMPTY)
        .env("NSCORE_POOL_OWNER", "1")
        .stdout(Redirect::Piped)
        .stderr(Redirect::Null)
        .kill_on_parent_death(true)
        .spawn(
            &exe,
            [
                "--exact",
                "owner_that_gets_killed",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ],
        )
        .unwrap();
    let mut pids = Vec::new();
    for line in BufReader::new(owner.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(at) = line.find("launcher ") {
            pids.push(Pid::from_raw(line[at + 9..].trim().parse().unwrap()));
        }
        if line.contains("ready") {
            break;
        }
    }
    assert_eq!(pids.len(), 2, "the owner reported its launchers");
    owner.kill().unwrap();
    owner.wait().unwrap();
    for pid in pids {
        assert!(gone(pid, Duration::from_secs(5)), "launcher {pid} outlived its owner");
    }
}

#[test]
fn what_a_pool_cannot_do_is_refused_clearly() {
    let e = Pool::new(Kind::User | Kind::Net, 2).unwrap_err();
    assert_eq!(e.op(), Op::Validate);
    assert!(e.to_string().contains("user"), "{e}");
    assert!(Pool::new(set(), 0).is_err());
    assert!(Pool::new(KindSet::EMPTY, 1).is_err());
    if !root_or_skip("what_a_pool_cannot_do_is_refused_clearly") {
        return;
    }
    let pool = Pool::new(Kind::Net | Kind::Uts, 1).unwrap();
    let e = Spawn::new(Kind::Net).pool(&pool).spawn("true", [""; 0]).unwrap_err();
    assert_eq!(e.op(), Op::Validate, "{e}");
    let e = pool
        .spawn()
        .join(NsHandle::current(Kind::Ipc).unwrap())
        .spawn("true", [""; 0])
        .unwrap_err();
    assert_eq!(e.op(), Op::Validate, "{e}");
    let e = pool
        .spawn()
        .clone_mode(nscore::CloneMode::Fork)
        .spawn("true", [""; 0])
        .unwrap_err();
    assert_eq!(e.op(), Op::Validate, "{e}");
    let stats = pool.stats();
    assert_eq!(stats.handed_out, 0, "nothing was taken by refused spawns");
}

// ---- freed, seen through the per-user-namespace limits (every kernel)

/// `max_<kind>_namespaces` in the helper's user namespace: room for the scenarios' sets (at
/// most three at a time: a killed one being torn down, a used one, a fresh one).
const LIMIT: usize = 4;

/// How long the check waits for the asynchronous part of a teardown (a network namespace's
/// `cleanup_net`, the RCU-deferred frees of IPC and PID namespaces), after which a count
/// that has not dropped means the namespace is still held.
const TEARDOWN: Duration = Duration::from_secs(10);

/// What the helper does with its pool before it checks that everything is freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Fill a pool of three sets and shut it down.
    Shutdown,
    /// Kill the launcher of a pool of one, see the clear error and a fresh set, shut it down.
    KilledLauncher,
}

/// Runs `scenario` in a helper (this binary, re-executed) in a fresh user namespace with root
/// mapped, whose limits the helper lowers to [`LIMIT`] (the host's never change), and asserts
/// what it found.
fn freed_by_the_limits(scenario: Scenario) {
    let before = limits::Limits::read().unwrap();
    let spawn = Spawn::new(Kind::User)
        .map_root()
        .env("NSCORE_POOL_SCENARIO", format!("{scenario:?}"));
    let out = common::run_helper(spawn, "pool_freed_helper");
    common::helper_ok(&out, "POOL-FREED-OK");
    assert_eq!(
        limits::Limits::read().unwrap(),
        before,
        "the host's limits are untouched"
    );
}

/// Holds up to `n` new namespaces of `kind` at once, each in a child that pauses (killed when
/// dropped), trying again on `ENOSPC` until `within` has passed. Fewer than `n` means that
/// other namespaces of the kind still count against the limit.
fn hold_up_to(kind: Kind, n: usize, within: Duration) -> Vec<Child> {
    let end = Instant::now() + within;
    let mut held = Vec::new();
    while held.len() < n {
        let pause = || -> i32 {
            loop {
                // SAFETY: pause(2) only blocks until a signal comes.
                unsafe { libc::pause() };
            }
        };
        // SAFETY: the body only calls pause(2), async-signal-safe.
        match unsafe { Spawn::new(kind).run(pause) } {
            Ok(c) => held.push(c),
            Err(e) if e.errno() == Some(Errno::ENOSPC) && Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) if e.errno() == Some(Errno::ENOSPC) => break,
            Err(e) => panic!("making a {kind} namespace: {e}"),
        }
    }
    held
}

/// Asserts that every kind of the pool's set has all of [`LIMIT`] free: nothing the pool made
/// is still held.
fn assert_all_freed(what: &str) {
    for kind in set().iter() {
        let held = hold_up_to(kind, LIMIT, TEARDOWN);
        assert_eq!(
            held.len(),
            LIMIT,
            "{what}: only {} new {kind} namespaces could be made under {} = {LIMIT} after {TEARDOWN:?}: \
             a namespace of the pool is still held",
            held.len(),
            kind.limit_file()
        );
    }
}

#[test]
#[ignore = "helper: shutdown_frees_every_set and a_killed_launcher_is_a_clear_error_and_nothing_leaks run it"]
fn pool_freed_helper() {
    if !common::is_helper("pool_freed_helper") {
        return;
    }
    // Refuse to lower a limit anywhere but in a user namespace other than the initial one.
    common::assert_in_child_user_namespace();
    for kind in set().iter() {
        limits::set(kind, LIMIT as u64).unwrap();
    }
    let scenario = std::env::var("NSCORE_POOL_SCENARIO").unwrap();
    match scenario.as_str() {
        "Shutdown" => {
            let pool = Pool::new(set(), 3).unwrap();
            pool.fill(FILL).unwrap();
            // Control: an fd held on one set's network namespace across the shutdown is seen
            // by the same count, then released.
            let pid = pool.launcher_pids()[0];
            let leak = NsHandle::open(format!("/proc/{pid}/ns/net")).unwrap();
            pool.shutdown();
            let mut net = hold_up_to(Kind::Net, LIMIT - 1, TEARDOWN);
            assert_eq!(net.len(), LIMIT - 1, "the other sets' network namespaces are freed");
            net.extend(hold_up_to(Kind::Net, 1, Duration::from_millis(500)));
            assert_eq!(
                net.len(),
                LIMIT - 1,
                "control: the network namespace held by an fd still counts"
            );
            drop(net);
            drop(leak);
            assert_all_freed("after shutdown");
        }
        "KilledLauncher" => {
            let pool = Pool::new(set(), 1).unwrap();
            pool.fill(FILL).unwrap();
            let pid = pool.launcher_pids()[0];
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            let e = pool.spawn().spawn("true", [""; 0]).unwrap_err();
            assert_eq!(e.op(), Op::ChildReport, "{e}");
            assert!(gone(pid, Duration::from_secs(5)), "the killed launcher is reaped");
            let out = pool.spawn().output("true", [""; 0]).unwrap();
            assert!(out.status.success());
            pool.shutdown();
            assert_all_freed("after a launcher was killed and the pool shut down");
        }
        other => panic!("unknown scenario {other}"),
    }
    println!("POOL-FREED-OK");
}
