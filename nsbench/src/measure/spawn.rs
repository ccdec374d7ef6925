//! `spawn/*`, `spawn_1g/*`, `spawn_burst/*`, `spawn_rate/*`: starting a program in new
//! namespaces several ways (and with none, the floor), from criterion's process.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nscore::raw;
use nscore::{Errno, Kind, KindSet, Pool, Spawn};
use rustix::mount::{mount_change, MountPropagationFlags};

use super::child::map_root;

use super::{rootless, MeasureError, Result};

/// The kinds of the spawn benchmarks: what `unshare --fork --uts --ipc --net --mount --pid`
/// makes.
pub const SPAWN_KINDS: KindSet = KindSet::EMPTY
    .with(Kind::Uts)
    .with(Kind::Ipc)
    .with(Kind::Net)
    .with(Kind::Mnt)
    .with(Kind::Pid);

/// How a program is started in new uts+ipc+net+mnt+pid namespaces ([`SPAWN_KINDS`]).
///
/// Rootless (every method): a new user namespace with root mapped to the caller is made in the
/// same step (`map_root`, `--map-root-user`, or `CLONE_NEWUSER` with the maps written by the
/// `pre_exec` hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnMethod {
    /// `std::process::Command::new(program).status()` with no namespaces at all
    /// (`posix_spawn`): the floor every other method is measured against.
    Plain,
    /// `nscore::Pool`: the command starts from a set of namespaces made ahead of time by the
    /// pool's helper ([`shared_pool`]); root only (a pool holds no user namespace).
    Pool,
    /// `nscore::Spawn::new(..).spawn(program)`: `clone3` with the namespace flags (and
    /// `CLONE_VM|CLONE_VFORK` when nothing must happen between clone and exec), `/` made
    /// private, then `execve`.
    Nscore,
    /// `std::process::Command` with `pre_exec(unshare(flags); mount --make-rprivate /)`: a
    /// fork (a `pre_exec` hook rules out `posix_spawn`), then `unshare`. The program itself is
    /// not in the new PID namespace (only its children would be): `unshare(CLONE_NEWPID)` acts
    /// on `pid_for_children`.
    CommandPreExec,
    /// util-linux `unshare --fork --uts --ipc --net --mount --pid PROGRAM` started with
    /// `std::process::Command` (`posix_spawn`): exec of `unshare`, its `unshare(2)`, a fork,
    /// and the exec of the program.
    UtilLinux,
}

impl SpawnMethod {
    /// All of them, in the order of the benchmark ids.
    pub const ALL: [SpawnMethod; 5] = [
        SpawnMethod::Plain,
        SpawnMethod::Pool,
        SpawnMethod::Nscore,
        SpawnMethod::CommandPreExec,
        SpawnMethod::UtilLinux,
    ];

    /// The last part of the criterion id (`spawn/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            SpawnMethod::Plain => "plain",
            SpawnMethod::Pool => "pool",
            SpawnMethod::Nscore => "nscore",
            SpawnMethod::CommandPreExec => "command_pre_exec",
            SpawnMethod::UtilLinux => "util_linux",
        }
    }

    /// Whether it can run here (util-linux `unshare` on `PATH`; the pool as root).
    pub fn available(self) -> bool {
        match self {
            SpawnMethod::Pool => !rootless(),
            SpawnMethod::UtilLinux => std::process::Command::new("unshare")
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            _ => true,
        }
    }

    /// Runs `program args...` this way, waits for it, and returns its stdout when `capture`.
    /// A failing exit status is an error.
    pub fn run(self, program: &str, args: &[&str], capture: bool) -> Result<Vec<u8>> {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let out = match self {
            SpawnMethod::Plain if !capture => {
                let st = Command::new(program)
                    .args(args)
                    .status()
                    .map_err(|e| MeasureError::Other(format!("plain: {program}: {e}")))?;
                if !st.success() {
                    return Err(MeasureError::Other(format!("plain: {program}: {st}")));
                }
                return Ok(Vec::new());
            }
            SpawnMethod::Plain => Command::new(program).args(args).output(),
            SpawnMethod::Pool => return run_nscore(shared_pool()?.spawn(), program, args, capture),
            SpawnMethod::Nscore => {
                let sp = if rootless() {
                    Spawn::new(SPAWN_KINDS).map_root()
                } else {
                    Spawn::new(SPAWN_KINDS)
                };
                return run_nscore(sp, program, args, capture);
            }
            SpawnMethod::CommandPreExec => {
                let user = rootless();
                let kinds = if user {
                    SPAWN_KINDS.with(Kind::User)
                } else {
                    SPAWN_KINDS
                };
                // Rootless: the hook maps root to the caller itself (prepared here: the hook
                // must not allocate).
                let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
                let uid_map = format!("0 {uid} 1\n").into_bytes();
                let gid_map = format!("0 {gid} 1\n").into_bytes();
                let mut cmd = Command::new(program);
                cmd.args(args);
                // SAFETY: the hook runs between fork and exec and only makes system calls
                // (unshare, open, write, close, mount) on buffers prepared before the fork:
                // async-signal-safe, no allocation.
                unsafe {
                    cmd.pre_exec(move || {
                        let os = |e: Errno| std::io::Error::from_raw_os_error(e as i32);
                        raw::unshare(kinds).map_err(os)?;
                        if user {
                            map_root(&uid_map, &gid_map).map_err(os)?;
                        }
                        mount_change(c"/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE)?;
                        Ok(())
                    });
                }
                cmd.stdout(if capture { Stdio::piped() } else { Stdio::inherit() })
                    .output()
            }
            SpawnMethod::UtilLinux => Command::new("unshare")
                .args(["--fork", "--uts", "--ipc", "--net", "--mount", "--pid"])
                .args(if rootless() { &["--map-root-user"][..] } else { &[][..] })
                .arg(program)
                .args(args)
                .stdout(if capture { Stdio::piped() } else { Stdio::inherit() })
                .output(),
        };
        let out = out.map_err(|e| MeasureError::Other(format!("{}: {program}: {e}", self.name())))?;
        if !out.status.success() {
            return Err(MeasureError::Other(format!(
                "{}: {program}: {} {}",
                self.name(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(out.stdout)
    }

    /// Checks that a program started this way, and its children, are in new uts, ipc, net,
    /// mnt and PID namespaces: `sh -c 'readlink /proc/self/ns/...; true'` (readlink runs as a
    /// child of the shell, so it shows the new PID namespace even with
    /// [`SpawnMethod::CommandPreExec`], where only children enter it), compared with this
    /// process's links.
    ///
    /// [`SpawnMethod::Plain`] makes no namespaces: its check is that it runs.
    pub fn verify(self) -> Result<()> {
        if self == SpawnMethod::Plain {
            return self.run("/bin/true", &[], false).map(drop);
        }
        let names = ["uts", "ipc", "net", "mnt", "pid"];
        let paths: Vec<String> = names.iter().map(|n| format!("/proc/self/ns/{n}")).collect();
        let script = format!("readlink {}; true", paths.join(" "));
        let out = self.run("/bin/sh", &["-c", &script], true)?;
        let text = String::from_utf8_lossy(&out);
        let theirs: Vec<&str> = text.lines().collect();
        for (i, p) in paths.iter().enumerate() {
            let mine = std::fs::read_link(p).map_err(|e| MeasureError::Other(format!("{p}: {e}")))?;
            let mine = mine.to_string_lossy();
            match theirs.get(i) {
                Some(t) if *t != mine => {}
                other => {
                    return Err(MeasureError::NotDone(format!(
                        "{}: the child's {} is {other:?}, this process's is {mine}",
                        self.name(),
                        names[i]
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Allocates `bytes` and writes to every page, so that the memory is really mapped (the
/// parent of the `spawn_1g` benchmarks).
pub fn touched_memory(bytes: usize) -> Vec<u8> {
    let mut v = vec![0u8; bytes];
    for i in (0..bytes).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&mut v);
    v
}

/// Runs `program` through an nscore spawn, waits, and returns its stdout when `capture`; a
/// failing exit status is an error.
fn run_nscore(sp: Spawn, program: &str, args: &[&str], capture: bool) -> Result<Vec<u8>> {
    if capture {
        let o = sp.output(program, args)?;
        if !o.status.success() {
            return Err(MeasureError::Other(format!("{program}: {}", o.status)));
        }
        return Ok(o.stdout);
    }
    let st = sp.spawn(program, args)?.wait()?;
    if !st.success() {
        return Err(MeasureError::Other(format!("{program}: {st}")));
    }
    Ok(Vec::new())
}

/// Sets the pool of [`SpawnMethod::Pool`] keeps ready.
pub const POOL_SIZE: usize = 8;

/// The process-wide pool of [`SpawnMethod::Pool`]: [`SPAWN_KINDS`], [`POOL_SIZE`] sets, made
/// on first use; spawns wait when it is empty. Its helper is a thread of this process, its
/// sets are launcher processes: no namespace of this process changes.
pub fn shared_pool() -> Result<&'static Pool> {
    static POOL: OnceLock<std::result::Result<Pool, String>> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(SPAWN_KINDS, POOL_SIZE).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| MeasureError::Other(format!("pool: {e}")))
}

/// How long a settled spawn waits before it starts: the deferred teardown of the previous
/// spawn's namespaces (a network namespace's `cleanup_net`, ~4 ms of work here) is over.
pub const SETTLE: Duration = Duration::from_millis(15);

/// `iters` spawns of `/bin/true`, each timed alone after the previous one has settled: the pool
/// full again ([`SpawnMethod::Pool`]) and [`SETTLE`] slept (every method, so that all are timed
/// the same way). Returns the summed time of the spawns (start to reaped), not of the waits.
pub fn settled_spawns(m: SpawnMethod, iters: u64) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if m == SpawnMethod::Pool {
            shared_pool()?.fill(Duration::from_secs(10))?;
        }
        std::thread::sleep(SETTLE);
        let t = Instant::now();
        m.run("/bin/true", &[], false)?;
        total += t.elapsed();
    }
    Ok(total)
}

/// `iters` spawns of `/bin/true` back to back (the pool filled first, then left to refill
/// while it is drained): the teardown of earlier spawns and the refill compete with each start.
pub fn burst_spawns(m: SpawnMethod, iters: u64) -> Result<Duration> {
    if m == SpawnMethod::Pool {
        shared_pool()?.fill(Duration::from_secs(10))?;
    }
    let t = Instant::now();
    for _ in 0..iters {
        m.run("/bin/true", &[], false)?;
    }
    Ok(t.elapsed())
}

/// `iters` spawns of `/bin/true` shared among `workers` threads, each spawning back to back;
/// returns the wall time from the first start to the last end (time per start = 1 / rate).
/// Over criterion's few seconds the pool's refill is part of it: a pool cannot run ahead.
pub fn spawn_rate(m: SpawnMethod, workers: u64, iters: u64) -> Result<Duration> {
    let workers = workers.max(1);
    let t = Instant::now();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let n = iters / workers + u64::from(w < iters % workers);
                s.spawn(move || -> Result<()> {
                    for _ in 0..n {
                        m.run("/bin/true", &[], false)?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(MeasureError::Other("a spawn worker panicked".into())))
            })
            .collect()
    });
    let elapsed = t.elapsed();
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(elapsed)
}
