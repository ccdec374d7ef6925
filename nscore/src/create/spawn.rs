//! The [`Spawn`] builder: which namespaces, and what the child does in them.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Op, Result};
use crate::idmap::{IdMap, Setgroups};
use crate::inspect::NsHandle;
use crate::kinds::{Kind, KindSet};
use crate::sys::child;
use crate::timens::TimeOffsets;

use super::plan::{cstring, find_program};
use super::{Child, Output, Redirect};

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
    pub(crate) fn flag(self) -> libc::c_ulong {
        match self {
            Propagation::Private => libc::MS_PRIVATE,
            Propagation::Slave => libc::MS_SLAVE,
            Propagation::Shared => libc::MS_SHARED,
            Propagation::Unchanged => 0,
        }
    }
}

/// How the child is cloned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloneMode {
    /// `CLONE_VM|CLONE_VFORK` where possible (a command, no new time namespace, and no id maps
    /// or only ones the child writes itself, as with [`Spawn::map_root`]), else fork-like.
    #[default]
    Auto,
    /// Always a fork-like clone (the child gets a copy-on-write copy of the address space).
    Fork,
    /// Always `CLONE_VM|CLONE_VFORK` (only for commands without time offsets, and without id
    /// maps other than the child's own single-id ones). With `Kind::Time` the child enters its
    /// new time namespace only when it execs (the kernel keeps a `CLONE_VM` child in the
    /// parent's until then).
    Vfork,
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
    pub(super) kinds: KindSet,
    pub(super) uid_map: Vec<IdMap>,
    pub(super) gid_map: Vec<IdMap>,
    pub(super) setgroups: Option<Setgroups>,
    pub(super) hostname: Option<Vec<u8>>,
    pub(super) domainname: Option<Vec<u8>>,
    pub(super) time_offsets: Option<TimeOffsets>,
    pub(super) propagation: Propagation,
    pub(super) mount_proc: bool,
    pub(super) loopback_up: bool,
    pub(super) joins: Vec<NsHandle>,
    pub(super) cgroup: Option<OwnedFd>,
    pub(super) chdir: Option<PathBuf>,
    pub(super) root: Option<PathBuf>,
    pub(super) empty_mntns: bool,
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
    pub(super) stdin: Redirect,
    pub(super) stdout: Redirect,
    pub(super) stderr: Redirect,
    pub(super) env: Option<Vec<(OsString, OsString)>>,
    pub(super) mode: CloneMode,
    pub(super) kill_on_parent_death: bool,
    pub(super) pool: Option<crate::pool::Pool>,
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
    /// so spawning a command stays vfork-like (flat in the parent's memory size); not with
    /// [`Spawn::empty_mntns`], where the parent writes them.
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
    /// joins are ordered as in [`crate::join::setns_order`].
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

    /// Changes the child's working directory before it runs (`unshare --wd`); with
    /// [`Spawn::root`], a path inside the new root.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Spawn {
        self.chdir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Makes `dir` the child's root directory (`chroot(2)`, as `unshare --root` does), after
    /// the mount-namespace set-up and before [`Spawn::mount_proc`] (so the fresh `/proc` is
    /// the new root's) and [`Spawn::current_dir`]. The working directory becomes the new `/`
    /// unless `current_dir` says otherwise. Needs `CAP_SYS_CHROOT` (root, or a new user
    /// namespace).
    pub fn root(mut self, dir: impl AsRef<Path>) -> Spawn {
        self.root = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Gives the child an *empty* mount namespace instead of a copy of the parent's
    /// (`CLONE_EMPTY_MNTNS`, Linux 7.1; needs `Kind::Mnt`). Off by default.
    ///
    /// A new mount namespace is a copy of every mount of the parent's (`mount_namespaces(7)`),
    /// which costs in proportion to their number. An empty one holds a single mount: a clone of
    /// the root mount of the parent's namespace alone, none of the mounts on it (on Linux 7.x
    /// that root is `nullfs`, an immutable empty directory), and the child's root and working
    /// directory are that mount's root: Linux commit 9d4e752a24f7, "namespace: allow creating
    /// empty mount namespaces" (the kernel's selftests in
    /// `tools/testing/selftests/filesystems/empty_mntns/`; no man page describes the flag yet).
    ///
    /// Nothing can be executed from an empty root, so a command needs [`Spawn::root`]: this
    /// process clones the mount tree at that directory (the directory and the mounts below
    /// it; `open_tree(2)` with `OPEN_TREE_CLONE|AT_RECURSIVE`) before the clone, and the child
    /// makes its empty root private, attaches the tree over it (`move_mount(2)`) and enters it
    /// (`chroot`), so its mount table is that tree and nothing else of the parent's. Then, as
    /// for any new mount namespace, [`Spawn::propagation`] applies to its `/` and
    /// [`Spawn::mount_proc`] mounts a fresh `/proc` in it (the root needs a `/proc`
    /// directory). A program without `/` is looked up in this process's `PATH`, so name it by
    /// its path inside the root. A function ([`Spawn::run`]) may go without a root: it runs in
    /// the empty directory.
    ///
    /// The child has no `/proc` of its own before it has a root, so id maps are written by this
    /// process (the clone is then fork-like), and time offsets cannot be set.
    ///
    /// Errors: `Op::Validate` without `Kind::Mnt`, for a command or `mount_proc` without a
    /// root, with time offsets, with a mount namespace to [`Spawn::join`], or from a pool. On a
    /// kernel without the flag `clone3` fails with `EINVAL` and nothing is made; nscore then
    /// checks that the flag was the cause (a child cloned with it alone, which exits at once:
    /// see [`probe_empty_mntns`](crate::create::probe_empty_mntns)) and returns an error for
    /// which [`Error::is_unsupported`] is true, with the hint "needs Linux 7.1 or newer:
    /// CLONE_EMPTY_MNTNS". `EPERM` without `CAP_SYS_ADMIN`, as for any new mount namespace;
    /// cloning the root's tree (`Op::OpenTree`) needs it over this process's own mount
    /// namespace, which a user namespace made by the same spawn does not give (rootless, a
    /// root cannot be given). A failing step of the child's (`EmptyRoot`: `Op::Mount`) is
    /// reported like any other.
    pub fn empty_mntns(mut self, yes: bool) -> Spawn {
        self.empty_mntns = yes;
        self
    }

    /// Runs the child as `uid` (`setresuid(2)`, as `unshare --setuid` does), last before the
    /// exec, so that the set-up still has the caller's rights. In a new user namespace the id is
    /// one of that namespace's (mapped by the id maps).
    pub fn uid(mut self, uid: u32) -> Spawn {
        self.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` and no supplementary groups (`setgroups(0)`,
    /// `setresgid(2)`, as `unshare --setgid` does), before [`Spawn::uid`]. Where setgroups is
    /// denied (a user namespace with `Setgroups::Deny`), the supplementary groups stay as they
    /// are, as util-linux does.
    pub fn gid(mut self, gid: u32) -> Spawn {
        self.gid = Some(gid);
        self
    }

    /// The child's stdin.
    pub fn stdin(mut self, s: Redirect) -> Spawn {
        self.stdin = s;
        self
    }

    /// The child's stdout.
    pub fn stdout(mut self, s: Redirect) -> Spawn {
        self.stdout = s;
        self
    }

    /// The child's stderr.
    pub fn stderr(mut self, s: Redirect) -> Spawn {
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

    /// Removes an environment variable from a command's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Spawn {
        let env = self.env.get_or_insert_with(|| std::env::vars_os().collect());
        env.retain(|(k, _)| k != key.as_ref());
        self
    }

    /// Starts a command's environment empty (no variable of the parent's); [`Spawn::env`]
    /// adds to it.
    pub fn env_clear(mut self) -> Spawn {
        self.env = Some(Vec::new());
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
    ///
    /// # Safety
    /// As for `std::os::unix::process::CommandExt::pre_exec`: when the parent is multithreaded,
    /// `f` must only do async-signal-safe work (system calls on memory it already has; no
    /// allocation, no lock, no `println!`, no panic), and must not close fds it does not own.
    pub unsafe fn run<F>(self, mut f: F) -> Result<Child>
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
        self.stdout = Redirect::Piped;
        self.stderr = Redirect::Piped;
        let mut child = self.spawn(program, args)?;
        child.wait_with_output()
    }
}
