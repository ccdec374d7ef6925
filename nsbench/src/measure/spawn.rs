//! `spawn/*` and `spawn_1g/*`: starting a program in new namespaces three ways, from
//! criterion's process.

use nscore::raw;
use nscore::{Errno, Kind, KindSet, Spawn};
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
    /// All three, in the order of the benchmark ids.
    pub const ALL: [SpawnMethod; 3] = [SpawnMethod::Nscore, SpawnMethod::CommandPreExec, SpawnMethod::UtilLinux];

    /// The last part of the criterion id (`spawn/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            SpawnMethod::Nscore => "nscore",
            SpawnMethod::CommandPreExec => "command_pre_exec",
            SpawnMethod::UtilLinux => "util_linux",
        }
    }

    /// Whether it can run here (util-linux `unshare` on `PATH`).
    pub fn available(self) -> bool {
        match self {
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
            SpawnMethod::Nscore => {
                let sp = if rootless() {
                    Spawn::new(SPAWN_KINDS).map_root()
                } else {
                    Spawn::new(SPAWN_KINDS)
                };
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
                return Ok(Vec::new());
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
    pub fn verify(self) -> Result<()> {
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
