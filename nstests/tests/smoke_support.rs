//! The support layer itself: a probe round-trips, modes make or do not make namespaces, a
//! child that does not finish in time is killed with every process below it.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use nscore::{Kind, KindSet, NsHandle, Spawn};
use nstests::child::{fork, getpid, pause_forever, stat};
use nstests::{run_in, run_spawn_within, tree, Ended, Mode, Probe};
use rstest::rstest;

#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
#[case::pool(Mode::Pool)]
fn support_modes_make_a_uts_namespace_or_not(#[case] mode: Mode) {
    let parent = NsHandle::current(Kind::Uts).unwrap().inode().unwrap();
    let path = nstests::cstr("/proc/self/ns/uts");
    let child_body = |p: &Probe| {
        match stat(&path) {
            Ok((_, ino)) => p.line_num(b"ino", ino as i64),
            Err(e) => {
                p.line_num(b"stat_errno", e as i64);
                return 1;
            }
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_in(mode, Kind::Uts.into(), child_body) }.unwrap();
    out.assert_ok();
    assert_eq!(
        out.num("ino") as u64 != parent.ino,
        mode.isolates(),
        "mode {mode}: {}",
        out.text()
    );
}

/// At the timeout, the child and every process below it are killed: here a chain of three
/// below the child that does not die with its parent (no `PR_SET_PDEATHSIG`), each in a
/// session of its own (so no process group or session kill reaches it), all hanging. Every
/// process of the chain must be gone afterwards.
#[test]
fn support_timeout_kills_the_whole_tree() {
    const CHAIN: i64 = 3;
    let child_body = |p: &Probe| {
        for depth in 0..=CHAIN {
            p.line_num(b"pid", getpid());
            if depth == CHAIN {
                break;
            }
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    let _ = rustix::process::setsid();
                }
                Ok(_) => break,
                Err(_) => return 1,
            }
        }
        // SAFETY: in a fork-like child, which never runs past this call.
        unsafe { pause_forever() }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let ended = unsafe { run_spawn_within(Spawn::new(KindSet::EMPTY), Duration::from_secs(3), child_body) }.unwrap();
    let (outcome, killed) = match ended {
        Ended::TimedOut { outcome, killed } => (outcome, killed),
        Ended::InTime(o) => panic!("the child hangs and cannot end in time: {o:?}"),
    };
    let t = outcome.text();
    let pids: Vec<libc::pid_t> = t.lines().filter_map(|l| l.strip_prefix("pid=")?.parse().ok()).collect();
    assert_eq!(pids.len() as i64, CHAIN + 1, "the child and its chain reported\n{t}");
    assert_eq!(outcome.status.signal(), Some(libc::SIGKILL), "{t}");
    for pid in &pids {
        assert!(killed.contains(pid), "{pid} was not killed: {killed:?}\n{t}");
    }
    // the kernel ends a killed process soon; look (bounded) until none is left running
    let left = |pids: &[libc::pid_t]| pids.iter().copied().filter(|&p| tree::alive(p)).collect::<Vec<_>>();
    for _ in 0..500 {
        if left(&pids).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(left(&pids), [], "processes of the tree are left after the timeout\n{t}");
}
