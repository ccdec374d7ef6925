//! Creating namespaces: [`unshare`] for the calling thread, and [`Spawn`], the child-process
//! builder that clones a child into new namespaces (`clone3(2)`).
//!
//! [`Spawn`] is the one child runner of the project: the tests and benchmarks use it too.
//! Its child runs only async-signal-safe code between `clone3` and `execve` (raw system calls
//! on buffers prepared before the clone), so it is safe to use from a multithreaded parent
//! such as a test harness. Each set-up step that fails is reported to the parent with its
//! errno and turned into an [`Error`]; the half-made child is killed and reaped.
//!
//! ```no_run
//! use nscore::{Kind, Spawn};
//! // Like `unshare --uts --net --fork hostname` with a hostname set first.
//! let out = Spawn::new(Kind::Uts | Kind::Net)
//!     .hostname("box")
//!     .output("hostname", ["-s"])?;
//! assert_eq!(out.stdout, b"box\n");
//! # Ok::<(), nscore::Error>(())
//! ```
//!
//! # Mount propagation
//! As util-linux `unshare(1)` does, a child in a new mount namespace first makes every mount
//! private (`mount --make-rprivate /`), so that nothing it mounts propagates back to the host
//! where `/` is shared (systemd makes it so). Choose otherwise with [`Spawn::propagation`].
//!
//! # How the child is made
//! To run a command, when the parent need not act between the clone and the exec (no id maps
//! to write), the child is cloned with `CLONE_VM|CLONE_VFORK` on a small stack of its own, as
//! `posix_spawn(3)` does: the cost does not grow with the parent's memory. Otherwise (id maps,
//! a function to run, time offsets) it is a fork-like clone.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::idmap::{self, IdMap, Setgroups};
use crate::inspect::{NsHandle, ProcessNamespaces};
use crate::kinds::{Kind, KindSet};
use crate::sys::{self, child, CloneArgs};
use crate::timens::TimeOffsets;

pub use crate::sys::child::Step;

/// Moves the calling *thread* into new namespaces of the given kinds (`unshare(2)`).
///
/// `Kind::Pid` and `Kind::Time` do not move the caller: they set `pid_for_children` /
/// `time_for_children`, and the next child is the first process inside.
///
/// Do not call this from a thread of a multithreaded program that must keep its namespaces
/// (a test harness, criterion): use [`Spawn`] instead. A user namespace can only be created by
/// a single-threaded caller (`EINVAL` otherwise, with the hint "caller is multithreaded").
///
/// Errors: `EPERM` without `CAP_SYS_ADMIN`, `EINVAL` (multithreaded caller for user; a second
/// PID unshare before a child), `ENOSPC` at a limit or nesting depth, `ENOMEM`.
pub fn unshare(kinds: KindSet) -> Result<()> {
    sys::unshare(kinds.clone_flags()).map_err(|e| Error::sys(Op::Unshare, kinds, e))
}

/// Mount propagation applied to `/` (recursively) in a child with a new mount namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// `MS_PRIVATE`: no mount events in or out (the default, as in util-linux `unshare`).
    #[default]
    Private,
    /// `MS_SLAVE`: events come in from the parent namespace, none go out.
    Slave,
    /// `MS_SHARED`: events go both ways (only if the mounts were shared already).
    Shared,
    /// Leave the copied propagation as it is.
    Unchanged,
}

impl Propagation {
    fn flag(self) -> libc::c_ulong {
        match self {
            Propagation::Private => libc::MS_PRIVATE,
            Propagation::Slave => libc::MS_SLAVE,
            Propagation::Shared => libc::MS_SHARED,
            Propagation::Unchanged => 0,
        }
    }
}

/// Where a child's standard stream goes.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The parent's stream (the default).
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent's end is in [`Child::stdin`]/[`Child::stdout`]/[`Child::stderr`].
    Piped,
    /// This fd.
    Fd(OwnedFd),
}

/// How the child is cloned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloneMode {
    /// `CLONE_VM|CLONE_VFORK` where possible (a command, no time offsets, and no id maps or
    /// only ones the child writes itself, as with [`Spawn::map_root`]), else fork-like.
    #[default]
    Auto,
    /// Always a fork-like clone (the child gets a copy-on-write copy of the address space).
    Fork,
    /// Always `CLONE_VM|CLONE_VFORK` (only for commands without time offsets, and without id
    /// maps other than the child's own single-id ones).
    Vfork,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `exit` with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The exit code, if it exited.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled(_) => None,
        }
    }

    /// The signal that ended it, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Signaled(s) => Some(s),
            ExitStatus::Exited(_) => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str())
                    .unwrap_or("?");
                write!(f, "killed by signal {s} ({name})")
            }
        }
    }
}

/// What [`Spawn::output`] collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How the child ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// A builder for a child process in new namespaces, made with `clone3(2)`.
///
/// Every kind can be created, `time` included (the legacy `clone()` cannot carry
/// `CLONE_NEWTIME`). The options follow util-linux `unshare(1)`: id maps (`--map-user`,
/// `--map-root-user`), `--mount-proc`, `--propagation`, plus a hostname, a domain name, time
/// offsets, namespaces to join first, and `lo` brought up.
///
/// Options that change a namespace are refused unless the child gets a new namespace of that
/// kind (a hostname needs `Kind::Uts`, `/proc` needs `Kind::Mnt`, ...), so that a child can
/// never change the host's.
#[derive(Debug, Default)]
pub struct Spawn {
    kinds: KindSet,
    uid_map: Vec<IdMap>,
    gid_map: Vec<IdMap>,
    setgroups: Option<Setgroups>,
    hostname: Option<Vec<u8>>,
    domainname: Option<Vec<u8>>,
    time_offsets: Option<TimeOffsets>,
    propagation: Propagation,
    mount_proc: bool,
    loopback_up: bool,
    joins: Vec<NsHandle>,
    cgroup: Option<OwnedFd>,
    chdir: Option<PathBuf>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    env: Option<Vec<(OsString, OsString)>>,
    mode: CloneMode,
    kill_on_parent_death: bool,
}

impl Spawn {
    /// A builder for a child in new namespaces of `kinds` (may be empty: a plain child).
    pub fn new(kinds: impl Into<KindSet>) -> Spawn {
        Spawn {
            kinds: kinds.into(),
            ..Spawn::default()
        }
    }

    /// The kinds the child gets new namespaces of.
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// Writes this uid map for the child's new user namespace (needs `Kind::User`).
    ///
    /// A single line mapping the caller's own effective uid (count 1) is written by the child
    /// itself, as `unshare --map-root-user` does; any other map is written by the parent
    /// while the child waits (`user_namespaces(7)`: that needs `CAP_SETUID` outside), which
    /// makes the clone fork-like.
    pub fn uid_map(mut self, maps: &[IdMap]) -> Spawn {
        self.uid_map = maps.to_vec();
        self
    }

    /// Writes this gid map for the child's new user namespace (needs `Kind::User`). As for
    /// [`uid_map`](Self::uid_map); the child writes a single own-gid line itself only after
    /// `setgroups deny`.
    pub fn gid_map(mut self, maps: &[IdMap]) -> Spawn {
        self.gid_map = maps.to_vec();
        self
    }

    /// Writes `/proc/[pid]/setgroups` before the gid map.
    pub fn setgroups(mut self, value: Setgroups) -> Spawn {
        self.setgroups = Some(value);
        self
    }

    /// Root inside is the caller outside, for uid and gid, and `setgroups` is denied: what
    /// `unshare --map-root-user` does. Adds `Kind::User`. The child writes these maps itself,
    /// so spawning a command stays vfork-like (flat in the parent's memory size).
    pub fn map_root(mut self) -> Spawn {
        self.kinds.insert(Kind::User);
        self.uid_map = vec![IdMap::root_to_current_uid()];
        self.gid_map = vec![IdMap::root_to_current_gid()];
        self.setgroups = Some(Setgroups::Deny);
        self
    }

    /// Sets the hostname in the child's new UTS namespace (needs `Kind::Uts`).
    pub fn hostname(mut self, name: impl AsRef<OsStr>) -> Spawn {
        self.hostname = Some(name.as_ref().as_bytes().to_vec());
        self
    }

    /// Sets the NIS domain name in the child's new UTS namespace (needs `Kind::Uts`).
    pub fn domainname(mut self, name: impl AsRef<OsStr>) -> Spawn {
        self.domainname = Some(name.as_ref().as_bytes().to_vec());
        self
    }

    /// Puts the child in a new time namespace with these clock offsets (needs `Kind::Time`).
    /// The child unshares the time namespace itself, writes the offsets, and enters it.
    pub fn time_offsets(mut self, offsets: TimeOffsets) -> Spawn {
        self.time_offsets = Some(offsets);
        self
    }

    /// Mount propagation for `/` in a new mount namespace; [`Propagation::Private`] by default.
    pub fn propagation(mut self, p: Propagation) -> Spawn {
        self.propagation = p;
        self
    }

    /// Mounts a fresh `/proc` in the child (needs `Kind::Mnt` and `Kind::Pid`), so that it
    /// shows the new PID namespace, like `unshare --mount-proc`.
    pub fn mount_proc(mut self, yes: bool) -> Spawn {
        self.mount_proc = yes;
        self
    }

    /// Brings `lo` up in the child's new network namespace (needs `Kind::Net`).
    pub fn loopback_up(mut self, yes: bool) -> Spawn {
        self.loopback_up = yes;
        self
    }

    /// Joins this existing namespace in the child before anything else (`setns(2)`). Several
    /// joins are ordered as in [`crate::join::order_for_join`].
    pub fn join(mut self, ns: NsHandle) -> Spawn {
        self.joins.push(ns);
        self
    }

    /// Starts the child in this cgroup (an fd on a cgroup v2 directory; `CLONE_INTO_CGROUP`,
    /// Linux 5.7).
    pub fn into_cgroup(mut self, dir: OwnedFd) -> Spawn {
        self.cgroup = Some(dir);
        self
    }

    /// Changes the child's working directory before it runs.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Spawn {
        self.chdir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The child's stdin.
    pub fn stdin(mut self, s: Stdio) -> Spawn {
        self.stdin = s;
        self
    }

    /// The child's stdout.
    pub fn stdout(mut self, s: Stdio) -> Spawn {
        self.stdout = s;
        self
    }

    /// The child's stderr.
    pub fn stderr(mut self, s: Stdio) -> Spawn {
        self.stderr = s;
        self
    }

    /// Sets an environment variable for a command (the parent's environment is the base).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Spawn {
        let env = self.env.get_or_insert_with(|| std::env::vars_os().collect());
        env.retain(|(k, _)| k != key.as_ref());
        env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// How the child is cloned ([`CloneMode::Auto`] by default).
    pub fn clone_mode(mut self, mode: CloneMode) -> Spawn {
        self.mode = mode;
        self
    }

    /// Sends `SIGKILL` to the child when the *thread* that spawned it exits
    /// (`PR_SET_PDEATHSIG`), so no child outlives a crashed test. Off by default.
    pub fn kill_on_parent_death(mut self, yes: bool) -> Spawn {
        self.kill_on_parent_death = yes;
        self
    }

    /// Runs `program` with `args` in the child (`execve(2)`; `program` is looked up in `PATH`
    /// when it has no `/`).
    pub fn spawn<I, S>(self, program: impl AsRef<OsStr>, args: I) -> Result<Child>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = program.as_ref();
        let path = find_program(program)?;
        let mut all_args = vec![cstring(program.as_bytes())?];
        for a in args {
            all_args.push(cstring(a.as_ref().as_bytes())?);
        }
        let env: Vec<CString> = match &self.env {
            Some(env) => env
                .iter()
                .map(|(k, v)| cstring(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
                .collect::<Result<_>>()?,
            None => std::env::vars_os()
                .map(|(k, v)| cstring(&[k.as_bytes(), b"=", v.as_bytes()].concat()))
                .collect::<Result<_>>()?,
        };
        let mut argv: Vec<*const libc::c_char> = all_args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        let action = child::Action::Exec {
            path: cstring(path.as_os_str().as_bytes())?,
            _args: all_args,
            _env: env,
            argv,
            envp,
        };
        self.start(action)
    }

    /// Runs `f` in the child and exits with what it returns.
    ///
    /// The child is a fork-like clone: it has its own copy of the parent's memory. When the
    /// parent is multithreaded (a test harness, criterion), `f` runs in a copy of one thread
    /// of it, and must only do async-signal-safe work: system calls on buffers it already
    /// has, no allocation, no locks, no `println!` (another thread may have held the
    /// allocator's or stdout's lock at the time of the clone, and would never release it
    /// here). Report results through a pipe or the exit code.
    ///
    /// Such a child also holds a copy of every fd the parent had open at the clone,
    /// close-on-exec ones included, until it exits. nscore's own pipes cannot leak this way
    /// (every spawn makes its pipes, clones and closes the child's ends under one lock), but a
    /// pipe the caller made in another thread can: a reader waiting for end of file on it
    /// waits for this child too. Close such fds in the body, or read without waiting for end
    /// of file.
    pub fn run<F>(self, mut f: F) -> Result<Child>
    where
        F: FnMut() -> i32,
    {
        if self.mode == CloneMode::Vfork {
            return Err(Error::invalid(
                Op::Validate,
                "CloneMode::Vfork is for commands only; a function runs in a fork-like child",
            ));
        }
        self.start(child::Action::Run(&mut f))
    }

    /// Runs a command with stdout and stderr captured, waits for it, and returns all of it.
    pub fn output<I, S>(mut self, program: impl AsRef<OsStr>, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.stdout = Stdio::Piped;
        self.stderr = Stdio::Piped;
        let mut child = self.spawn(program, args)?;
        child.wait_with_output()
    }

    fn validate(&self, exec: bool) -> Result<()> {
        let need = |what: &str, kind: Kind, set: bool| -> Result<()> {
            if set && !self.kinds.contains(kind) {
                Err(Error::invalid(
                    Op::Validate,
                    format!("{what} needs a new {kind} namespace ({}): add Kind::{kind:?} to the kinds, so the host's is never changed", kind.flag_name()),
                ))
            } else {
                Ok(())
            }
        };
        need(
            "a uid/gid map",
            Kind::User,
            !self.uid_map.is_empty() || !self.gid_map.is_empty() || self.setgroups.is_some(),
        )?;
        need("a hostname", Kind::Uts, self.hostname.is_some())?;
        need("a domain name", Kind::Uts, self.domainname.is_some())?;
        need("time offsets", Kind::Time, self.time_offsets.is_some())?;
        need("mounting /proc", Kind::Mnt, self.mount_proc)?;
        need("mounting /proc", Kind::Pid, self.mount_proc)?;
        need("bringing lo up", Kind::Net, self.loopback_up)?;
        if self.mode == CloneMode::Vfork && (!exec || self.needs_parent() || self.time_offsets.is_some()) {
            return Err(Error::invalid(
                Op::Validate,
                "CloneMode::Vfork cannot be used with id maps the parent must write (other than one line mapping your own id), time offsets or a function: the parent is suspended until the child execs",
            ));
        }
        for (name, v) in [("hostname", &self.hostname), ("domain name", &self.domainname)] {
            if let Some(v) = v {
                if v.len() > 64 {
                    return Err(Error::sys(Op::Validate, Kind::Uts.into(), Errno::EINVAL)
                        .with_detail(format!("the {name} is {} bytes; the kernel takes at most 64", v.len())));
                }
            }
        }
        Ok(())
    }

    /// Whether the parent must write the child's maps while it waits (a fork-like clone).
    fn needs_parent(&self) -> bool {
        (!self.uid_map.is_empty() || !self.gid_map.is_empty() || self.setgroups.is_some()) && !self.child_writes_maps()
    }

    /// Whether the child can write its own maps: each is empty or one line mapping the
    /// caller's own effective id (the one mapping a process may write for itself without
    /// `CAP_SETUID` in the parent namespace), and a gid map comes with `setgroups deny`:
    /// what `unshare --map-root-user` does. Then no parent step is needed and the spawn of a
    /// command stays `CLONE_VM|CLONE_VFORK`, flat in the parent's memory size.
    fn child_writes_maps(&self) -> bool {
        let own = |maps: &[IdMap], id: u32| {
            maps.is_empty() || (maps.len() == 1 && maps[0].count == 1 && maps[0].outside == id)
        };
        self.kinds.contains(Kind::User)
            && own(&self.uid_map, nix::unistd::geteuid().as_raw())
            && own(&self.gid_map, nix::unistd::getegid().as_raw())
            && match self.setgroups {
                Some(Setgroups::Deny) => true,
                None => self.gid_map.is_empty(),
                Some(Setgroups::Allow) => false,
            }
    }

    /// The texts for [`child_writes_maps`](Self::child_writes_maps): setgroups, uid_map, gid_map.
    fn self_maps(&self) -> Option<[Vec<u8>; 3]> {
        if !self.child_writes_maps() || (self.uid_map.is_empty() && self.gid_map.is_empty() && self.setgroups.is_none())
        {
            return None;
        }
        Some([
            self.setgroups
                .map(|s| s.as_str().as_bytes().to_vec())
                .unwrap_or_default(),
            idmap::format_maps(&self.uid_map).into_bytes(),
            idmap::format_maps(&self.gid_map).into_bytes(),
        ])
    }

    fn start(mut self, action: child::Action<'_>) -> Result<Child> {
        let exec = matches!(action, child::Action::Exec { .. });
        self.validate(exec)?;
        let vfork = match self.mode {
            CloneMode::Vfork => true,
            CloneMode::Fork => false,
            CloneMode::Auto => exec && !self.needs_parent() && self.time_offsets.is_none(),
        };

        // Everything the child needs is prepared here, before the clone.
        let prep = |e: Errno| Error::sys(Op::Prepare, self.kinds, e);
        // Pipes, clone and closing the child's ends happen under one lock, so that no child of
        // another thread's spawn gets a copy of this spawn's child-side fds (see
        // `sys::child::spawn_lock`).
        let lock = child::spawn_lock();
        let (report_r, report_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(prep)?;
        let go = if self.needs_parent() {
            Some(nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(prep)?)
        } else {
            None
        };
        let (stdin_child, stdin_parent) = stdio_pair(std::mem::take(&mut self.stdin), false).map_err(prep)?;
        let (stdout_child, stdout_parent) = stdio_pair(std::mem::take(&mut self.stdout), true).map_err(prep)?;
        let (stderr_child, stderr_parent) = stdio_pair(std::mem::take(&mut self.stderr), true).map_err(prep)?;
        let raw = |o: &Option<OwnedFd>| o.as_ref().map_or(-1, |f| f.as_raw_fd());
        let joins = crate::join::order_for_join(&self.joins);
        // With offsets the child unshares the time namespace itself (see `Plan::time_offsets`).
        let clone_kinds = if self.time_offsets.is_some() {
            self.kinds.without(Kind::Time)
        } else {
            self.kinds
        };
        let chdir = self
            .chdir
            .as_ref()
            .map(|d| cstring(d.as_os_str().as_bytes()))
            .transpose()?;

        let mut plan = child::Plan {
            report_fd: report_w.as_raw_fd(),
            go_fd: go.as_ref().map_or(-1, |(r, _)| r.as_raw_fd()),
            self_maps: self.self_maps(),
            joins: joins.iter().map(|h| (h.as_raw_fd(), h.kind().clone_flag())).collect(),
            time_offsets: self.time_offsets.map(|t| t.to_proc_text().into_bytes()),
            propagation: if self.kinds.contains(Kind::Mnt) {
                self.propagation.flag()
            } else {
                0
            },
            hostname: self.hostname.clone(),
            domainname: self.domainname.clone(),
            mount_proc: self.mount_proc,
            loopback_up: self.loopback_up,
            chdir,
            stdio: [raw(&stdin_child), raw(&stdout_child), raw(&stderr_child)],
            death_signal: if self.kill_on_parent_death { libc::SIGKILL } else { 0 },
            parent_pid: if self.kinds.contains(Kind::Pid) {
                0
            } else {
                nix::unistd::getpid().as_raw()
            },
            reset_all_handlers: vfork,
            action,
        };

        let stack = if vfork {
            Some(sys::Stack::new(VFORK_STACK).map_err(prep)?)
        } else {
            None
        };
        let mut args = CloneArgs {
            flags: clone_kinds.clone_flags() as u64,
            ..CloneArgs::default()
        };
        if let Some(cg) = &self.cgroup {
            args.flags |= sys::CLONE_INTO_CGROUP;
            args.cgroup = cg.as_raw_fd() as u64;
        }

        let res = child::clone_child(&mut args, &mut plan, stack.as_ref());
        drop(stack);
        let (pid, pidfd) = res.map_err(|e| Error::sys(Op::Clone3, self.kinds, e))?;
        drop(report_w);
        drop((stdin_child, stdout_child, stderr_child));
        drop(lock);
        let mut child = Child {
            pid: Pid::from_raw(pid),
            pidfd,
            kinds: self.kinds,
            status: None,
            stdin: stdin_parent.map(File::from),
            stdout: stdout_parent.map(File::from),
            stderr: stderr_parent.map(File::from),
        };
        // From here on, dropping `child` kills and reaps it: no half-made child is left.
        if let Some((go_r, go_w)) = go {
            drop(go_r);
            self.write_maps(child.pid)?;
            sys::raw::write_all(go_w.as_raw_fd(), b"g").map_err(|e| Error::sys(Op::ChildReport, self.kinds, e))?;
        }
        let mut msg = [0u8; 8];
        let n = sys::raw::read_full(report_r.as_raw_fd(), &mut msg)
            .map_err(|e| Error::sys(Op::ChildReport, self.kinds, e))?;
        match n {
            0 => Ok(child),
            8 => {
                let step = u32::from_ne_bytes(msg[..4].try_into().unwrap_or_default());
                let errno = Errno::from_raw(i32::from_ne_bytes(msg[4..].try_into().unwrap_or_default()));
                let _ = child.wait();
                Err(step_error(step, errno, self.kinds))
            }
            _ => Err(Error::invalid(
                Op::ChildReport,
                format!("short report from the child ({n} bytes)"),
            )),
        }
    }

    fn write_maps(&self, pid: Pid) -> Result<()> {
        if let Some(sg) = self.setgroups {
            idmap::write_setgroups(pid, sg)?;
        }
        if !self.uid_map.is_empty() {
            idmap::write_uid_map(pid, &self.uid_map)?;
        }
        if !self.gid_map.is_empty() {
            idmap::write_gid_map(pid, &self.gid_map)?;
        }
        Ok(())
    }
}

/// Stack for a `CLONE_VM|CLONE_VFORK` child: it runs only the set-up steps and `execve`.
const VFORK_STACK: usize = 256 * 1024;

fn step_error(step: u32, errno: Errno, kinds: KindSet) -> Error {
    let Some(step) = Step::from_u32(step) else {
        return Error::sys(Op::ChildReport, kinds, errno).with_detail(format!("unknown step {step}"));
    };
    let (op, k) = match step {
        Step::WaitParent => (Op::ChildReport, kinds),
        Step::Join => (Op::Setns, KindSet::EMPTY),
        Step::TimeUnshare => (Op::Unshare, Kind::Time.into()),
        Step::TimeOffsets => (Op::WriteTimeOffsets, Kind::Time.into()),
        Step::TimeEnter => (Op::Setns, Kind::Time.into()),
        Step::Propagation | Step::MountProc => (Op::Mount, Kind::Mnt.into()),
        Step::Hostname => (Op::SetHostname, Kind::Uts.into()),
        Step::Domainname => (Op::SetDomainname, Kind::Uts.into()),
        Step::LoopbackUp => (Op::LoopbackUp, Kind::Net.into()),
        Step::Stdio | Step::DeathSignal | Step::Signals | Step::Chdir => (Op::Prepare, KindSet::EMPTY),
        Step::Exec => (Op::Exec, KindSet::EMPTY),
        Step::SelfMaps => (Op::WriteIdMap, Kind::User.into()),
    };
    Error::sys(op, k, errno).with_detail(format!("in the child: {}", step.describe()))
}

fn cstring(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| {
        Error::invalid(
            Op::Validate,
            format!("{:?} contains a NUL byte", String::from_utf8_lossy(bytes)),
        )
    })
}

/// Looks `program` up in `PATH` (in the parent, before the clone, as `std::process` does).
fn find_program(program: &OsStr) -> Result<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file())
        .ok_or_else(|| {
            Error::sys(Op::Exec, KindSet::EMPTY, Errno::ENOENT)
                .with_detail(format!("{} not found in PATH", program.to_string_lossy()))
        })
}

/// (fd for the child, fd for the parent) for one stream.
fn stdio_pair(s: Stdio, child_writes: bool) -> std::result::Result<(Option<OwnedFd>, Option<OwnedFd>), Errno> {
    Ok(match s {
        Stdio::Inherit => (None, None),
        Stdio::Fd(fd) => (Some(fd), None),
        Stdio::Null => {
            let f = nix::fcntl::open(
                "/dev/null",
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            (Some(f), None)
        }
        Stdio::Piped => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
            if child_writes {
                (Some(w), Some(r))
            } else {
                (Some(r), Some(w))
            }
        }
    })
}

/// A child made by [`Spawn`]. Dropping it kills (`SIGKILL`) and reaps the child if it has not
/// been waited for.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    pidfd: OwnedFd,
    kinds: KindSet,
    status: Option<ExitStatus>,
    /// The parent's end of the child's stdin, with [`Stdio::Piped`].
    pub stdin: Option<File>,
    /// The parent's end of the child's stdout, with [`Stdio::Piped`].
    pub stdout: Option<File>,
    /// The parent's end of the child's stderr, with [`Stdio::Piped`].
    pub stderr: Option<File>,
}

impl Child {
    /// The child's pid, as the parent's PID namespace sees it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// A pidfd for the child (`CLONE_PIDFD`): it cannot be confused with a reused pid.
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The kinds the child got new namespaces of.
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// A handle on the child's namespace of `kind` (through the pidfd where the kernel allows,
    /// else `/proc/[pid]/ns`). It keeps the namespace alive after the child is gone.
    pub fn ns(&self, kind: Kind) -> Result<NsHandle> {
        NsHandle::from_pidfd(self.pidfd.as_fd(), kind)
    }

    /// The identities of all the child's namespaces.
    pub fn namespaces(&self) -> Result<ProcessNamespaces> {
        ProcessNamespaces::of(self.pid)
    }

    /// Sends `signal` through the pidfd (`pidfd_send_signal(2)`).
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.status.is_some() {
            return Err(Error::sys(Op::Kill, self.kinds, Errno::ESRCH).with_detail("the child was already reaped"));
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), signal).map_err(|e| Error::sys(Op::Kill, self.kinds, e))
    }

    /// Sends `SIGKILL`.
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Waits for the child to end (`waitid(P_PIDFD)`) and returns how it ended.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        self.reap(WaitPidFlag::WEXITED)?
            .ok_or_else(|| Error::sys(Op::Wait, self.kinds, Errno::ECHILD))
    }

    /// Returns how the child ended if it has, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.reap(WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG)
    }

    /// Waits at most `timeout` (polling the pidfd); `None` if the child is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) if left.is_zero() => return Ok(None),
                Ok(0) => continue,
                Ok(_) => return self.try_wait(),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(Op::Wait, self.kinds, e)),
            }
        }
    }

    /// Waits for the child and collects what remains of its piped stdout and stderr.
    pub fn wait_with_output(&mut self) -> Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) =
            read_both(self.stdout.take(), self.stderr.take()).map_err(|e| Error::sys(Op::Wait, self.kinds, e))?;
        let status = self.wait()?;
        Ok(Output { status, stdout, stderr })
    }

    fn reap(&mut self, flags: WaitPidFlag) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        loop {
            match waitid(Id::PIDFd(self.pidfd.as_fd()), flags) {
                Ok(WaitStatus::Exited(_, code)) => self.status = Some(ExitStatus::Exited(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => self.status = Some(ExitStatus::Signaled(sig as i32)),
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(Op::Wait, self.kinds, e)),
            }
            return Ok(self.status);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = sys::pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
            let _ = self.reap(WaitPidFlag::WEXITED);
        }
    }
}

/// Reads two pipes to their ends at once (so neither can fill up and block the child).
fn read_both(a: Option<File>, b: Option<File>) -> std::result::Result<(Vec<u8>, Vec<u8>), Errno> {
    use std::io::Read;
    let mut out = [Vec::new(), Vec::new()];
    let mut files = [a, b];
    let mut buf = [0u8; 8192];
    while files.iter().any(Option::is_some) {
        let mut ready = [false; 2];
        {
            let open: Vec<(usize, BorrowedFd<'_>)> = files
                .iter()
                .enumerate()
                .filter_map(|(i, f)| f.as_ref().map(|f| (i, f.as_fd())))
                .collect();
            let mut fds: Vec<PollFd<'_>> = open.iter().map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN)).collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            for ((i, _), p) in open.iter().zip(&fds) {
                ready[*i] = p.revents().is_some_and(|r| !r.is_empty());
            }
        }
        for i in 0..2 {
            let Some(f) = files[i].as_mut().filter(|_| ready[i]) else {
                continue;
            };
            match f.read(&mut buf) {
                Ok(0) => files[i] = None,
                Ok(n) => out[i].extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
    }
    let [o, e] = out;
    Ok((o, e))
}
