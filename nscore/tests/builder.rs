//! The options of `Spawn` whose effect a child's success alone does not show: the cgroup the
//! child starts in, where its stderr goes, whether it dies with the thread that spawned it,
//! and the argument rules checked before any system call (each condition on its own).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod common;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::OFlag;
use std::os::unix::process::ExitStatusExt as _;
use std::process::ExitStatus;

use nscore::{CloneMode, Errno, IdMap, Kind, KindSet, Op, Redirect, Setgroups, Spawn, TimeOffsets};

const NONE: [&str; 0] = [];

/// A cgroup v2 directory of this test's own, below the cgroup this process is in (in
/// `/sys/fs/cgroup`, or in the `unified` mount beside cgroup v1), removed when dropped.
struct ScratchCgroup {
    dir: PathBuf,
    /// Its path as `/proc/[pid]/cgroup` shows it (`0::<rel>`).
    rel: String,
}

impl ScratchCgroup {
    fn create() -> Option<ScratchCgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_owned))?;
        let root = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .into_iter()
            .find(|r| Path::new(r).join("cgroup.controllers").exists())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let rel = format!(
            "{}/nscore-builder-{}-{nanos}",
            own.trim_end_matches('/'),
            std::process::id()
        );
        let dir = PathBuf::from(format!("{root}{rel}"));
        std::fs::create_dir(&dir).ok()?;
        Some(ScratchCgroup { dir, rel })
    }
}

impl Drop for ScratchCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `into_cgroup`: the child starts in that cgroup, not in its parent's.
#[test]
fn into_cgroup_starts_the_child_in_that_cgroup() {
    if !common::root_or_skip(
        "into_cgroup_starts_the_child_in_that_cgroup",
        "making a cgroup needs write access to the cgroup v2 hierarchy",
    ) {
        return;
    }
    let Some(cg) = ScratchCgroup::create() else {
        // As root on a machine without cgroup v2 there is no cgroup to start in.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED into_cgroup_starts_the_child_in_that_cgroup: no cgroup v2 hierarchy"
        );
        return;
    };
    let fd = nix::fcntl::open(
        &cg.dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .unwrap();
    let out = Spawn::new(KindSet::EMPTY)
        .into_cgroup(fd)
        .output("cat", ["/proc/self/cgroup"])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == format!("0::{}", cg.rel)), "{text}");
    let out = Spawn::new(KindSet::EMPTY).output("cat", ["/proc/self/cgroup"]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&cg.rel), "without into_cgroup: {text}");
}

const SCRIPT: &str = "echo out; echo err >&2; readlink /proc/self/fd/2";

/// `stderr`: piped to the parent, to an fd of the caller's, or to `/dev/null`.
#[test]
fn stderr_goes_where_it_is_asked_to() {
    let mut c = Spawn::new(KindSet::EMPTY)
        .stdout(Redirect::Null)
        .stderr(Redirect::Piped)
        .spawn("sh", ["-c", SCRIPT])
        .unwrap();
    assert!(c.stderr.is_some() && c.stdout.is_none());
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stderr, b"err\n");

    // An fd of the caller's: read exactly what was written, not to end of file (another
    // test's child may hold a copy of the write end until it execs).
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    let mut c = Spawn::new(KindSet::EMPTY)
        .stdout(Redirect::Null)
        .stderr(Redirect::Fd(w))
        .spawn("sh", ["-c", SCRIPT])
        .unwrap();
    assert!(c.stderr.is_none());
    let mut got = [0u8; 4];
    std::fs::File::from(r).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"err\n");
    assert!(c.wait().unwrap().success());

    let out = Spawn::new(KindSet::EMPTY)
        .stdout(Redirect::Piped)
        .stderr(Redirect::Null)
        .spawn("sh", ["-c", SCRIPT])
        .unwrap()
        .wait_with_output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n/dev/null\n");
}

/// A child that answers `alive <line>` to one line on its stdin, both piped.
fn answerer(spawn: Spawn) -> nscore::Child {
    spawn
        .stdin(Redirect::Piped)
        .stdout(Redirect::Piped)
        .spawn("sh", ["-c", "read line; echo \"alive $line\""])
        .unwrap()
}

/// Asks `child` one line and returns all it answered before it ended.
fn ask(mut child: nscore::Child) -> (ExitStatus, String) {
    // A child that is gone closed its end: the write may fail with EPIPE, which is an answer.
    let _ = child.stdin.as_mut().unwrap().write_all(b"still\n");
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `kill_on_parent_death`: the child gets `SIGKILL` when the thread that spawned it ends;
/// without it (the default) a child lives on.
#[test]
fn kill_on_parent_death_kills_the_child_with_its_spawning_thread() {
    let (doomed, survivor, tid) = std::thread::spawn(|| {
        let doomed = answerer(Spawn::new(KindSet::EMPTY).kill_on_parent_death(true));
        let survivor = answerer(Spawn::new(KindSet::EMPTY));
        (doomed, survivor, nix::unistd::gettid())
    })
    .join()
    .unwrap();
    // join() returns before the kernel has finished the thread's exit; the signal is sent
    // while its children are handed over, before its /proc entry goes away.
    let task = format!("/proc/self/task/{tid}");
    while Path::new(&task).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Both were asked only now: the killed one cannot answer any more.
    assert_eq!(ask(doomed), (ExitStatus::from_raw(libc::SIGKILL), String::new()));
    assert_eq!(ask(survivor), (ExitStatus::from_raw(0), "alive still\n".to_owned()));
}

fn refused(spawn: Spawn) -> nscore::Error {
    let e = spawn.spawn("true", NONE).expect_err("must be refused");
    assert_eq!((e.op(), e.errno()), (Op::Validate, None), "{e}");
    e
}

/// Each id-map option alone needs a new user namespace.
#[test]
fn each_id_map_option_alone_needs_a_new_user_namespace() {
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    for spawn in [
        Spawn::new(Kind::Uts).uid_map(&[IdMap::single(0, uid)]),
        Spawn::new(Kind::Uts).gid_map(&[IdMap::single(0, gid)]),
        Spawn::new(Kind::Uts).setgroups(Setgroups::Deny),
    ] {
        let e = refused(spawn);
        assert!(
            e.to_string().contains("needs a new user namespace (CLONE_NEWUSER)"),
            "{e}"
        );
    }
}

/// `CloneMode::Vfork` is refused whenever the parent has to act between clone and exec:
/// each map the parent must write, alone, and time offsets.
#[test]
fn vfork_is_refused_when_the_parent_must_act() {
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    let vfork = |s: Spawn| s.clone_mode(CloneMode::Vfork);
    for (what, spawn) in [
        (
            "uid map",
            vfork(Spawn::new(Kind::User).uid_map(&[IdMap::single(0, uid + 1)])),
        ),
        (
            "gid map",
            vfork(Spawn::new(Kind::User).gid_map(&[IdMap::single(0, gid + 1)])),
        ),
        (
            "setgroups allow",
            vfork(Spawn::new(Kind::User).setgroups(Setgroups::Allow)),
        ),
        (
            "time offsets",
            vfork(Spawn::new(Kind::Time).time_offsets(TimeOffsets::ZERO.monotonic(1))),
        ),
    ] {
        let e = refused(spawn);
        assert!(e.to_string().contains("CloneMode::Vfork cannot be used"), "{what}: {e}");
    }
    // One line mapping one's own id is written by the child itself: vfork is fine.
    let out = vfork(Spawn::new(Kind::User).uid_map(&[IdMap::single(0, uid)]))
        .output("id", ["-u"])
        .unwrap();
    assert_eq!(out.stdout, b"0\n", "{out:?}");
}

/// Maps the parent must write (another id than one's own) are written: each option alone.
#[test]
fn maps_the_parent_writes_are_written() {
    if !common::root_or_skip(
        "maps_the_parent_writes_are_written",
        "mapping another id needs CAP_SETUID",
    ) {
        return;
    }
    for (file, spawn) in [
        ("uid_map", Spawn::new(Kind::User).uid_map(&[IdMap::single(0, 1000)])),
        ("gid_map", Spawn::new(Kind::User).gid_map(&[IdMap::single(0, 1000)])),
    ] {
        let out = spawn.output("cat", [format!("/proc/self/{file}")]).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["0", "1000", "1"],
            "{file}: {out:?}"
        );
    }
}

/// A hostname or domain name of 64 bytes is the kernel's most; 65 is refused beforehand.
#[test]
fn names_up_to_64_bytes() {
    for n in [64, 65] {
        let name = "h".repeat(n);
        let r = Spawn::new(Kind::Uts | Kind::User)
            .map_root()
            .hostname(&name)
            .domainname(&name)
            .output("cat", ["/proc/sys/kernel/hostname", "/proc/sys/kernel/domainname"]);
        if n <= 64 {
            let out = r.unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{name}\n{name}\n"));
        } else {
            let e = r.unwrap_err();
            assert_eq!((e.op(), e.errno()), (Op::Validate, Some(Errno::EINVAL)), "{e}");
            assert!(e.to_string().contains("at most 64"), "{e}");
        }
    }
    let e = Spawn::new(Kind::Uts | Kind::User)
        .map_root()
        .domainname("d".repeat(65))
        .spawn("true", NONE)
        .unwrap_err();
    assert!(e.to_string().contains("the domain name is 65 bytes"), "{e}");
}

/// `env`: the parent's environment with this variable set; setting it again replaces it.
#[test]
fn env_sets_one_variable_over_the_parents_environment() {
    let out = Spawn::new(KindSet::EMPTY)
        .env("NSCORE_BUILDER_VAR", "first")
        .env("NSCORE_BUILDER_VAR", "second")
        .output(
            "sh",
            [
                "-c",
                "env | grep -c '^NSCORE_BUILDER_VAR='; echo \"$NSCORE_BUILDER_VAR\"; echo \"$PATH\"",
            ],
        )
        .unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("1\nsecond\n{path}\n"));
}

/// `kinds`: what the builder was given, plus `User` for `map_root`.
#[test]
fn kinds_are_the_ones_asked_for() {
    assert_eq!(Spawn::new(Kind::Uts | Kind::Net).kinds(), Kind::Uts | Kind::Net);
    assert_eq!(Spawn::new(KindSet::EMPTY).kinds(), KindSet::EMPTY);
    assert_eq!(Spawn::new(Kind::Uts).map_root().kinds(), Kind::Uts | Kind::User);
}

/// Dropping a `Child` that was not waited for kills and reaps it: nothing is left running,
/// not even a zombie.
#[test]
fn dropping_a_child_kills_and_reaps_it() {
    let child = Spawn::new(KindSet::EMPTY)
        .stdout(Redirect::Null)
        .spawn("sleep", ["60"])
        .unwrap();
    let proc_dir = format!("/proc/{}", child.pid());
    assert!(Path::new(&proc_dir).exists());
    drop(child);
    assert!(!Path::new(&proc_dir).exists(), "{proc_dir} is still there");
}
