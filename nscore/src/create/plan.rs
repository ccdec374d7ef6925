//! From a [`Spawn`] to a running child: the options checked, compiled into the child's plan
//! (what it does between `clone3` and `execve`), the clone, and the parent's side of the set-up
//! (id maps, the child's report of each step).

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;

use crate::error::{Error, Op, Result};
use crate::idmap::{self, IdMap, Setgroups};
use crate::kinds::{Kind, KindSet};
use crate::sys::{self, child, CloneArgs};

use super::stdio::stdio_pair;
use super::Step;
use super::{Child, CloneMode, Spawn};

impl Spawn {
    pub(super) fn validate(&self, exec: bool) -> Result<()> {
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
        need("an empty mount namespace", Kind::Mnt, self.empty_mntns)?;
        if self.empty_mntns {
            self.validate_empty_mntns(exec)?;
        }
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

    /// What an empty mount namespace ([`Spawn::empty_mntns`]) cannot go with: a command or
    /// `/proc` without a root (its root is an empty directory), time offsets (written through
    /// `/proc`, which the child does not have), a mount namespace to join.
    fn validate_empty_mntns(&self, exec: bool) -> Result<()> {
        let refuse = |why: &str| {
            Err(Error::invalid(
                Op::Validate,
                format!("an empty mount namespace (Spawn::empty_mntns) {why}"),
            ))
        };
        if exec && self.root.is_none() {
            return refuse(
                "has no file to execute: give the command a root with Spawn::root(dir), whose mount tree becomes the child's /",
            );
        }
        if self.mount_proc && self.root.is_none() {
            return refuse("has no /proc to mount on: give a root with Spawn::root(dir)");
        }
        if self.time_offsets.is_some() {
            return refuse("cannot take time offsets: the child writes them through /proc, which it does not have");
        }
        if self.joins.iter().any(|h| h.kind() == Kind::Mnt) {
            return refuse("cannot be combined with joining a mount namespace (Spawn::join)");
        }
        Ok(())
    }

    /// Whether the parent must write the child's maps while it waits (a fork-like clone).
    pub(super) fn needs_parent(&self) -> bool {
        (!self.uid_map.is_empty() || !self.gid_map.is_empty() || self.setgroups.is_some()) && !self.child_writes_maps()
    }

    /// Whether the child can write its own maps: each is empty or one line mapping the
    /// caller's own effective id (the one mapping a process may write for itself without
    /// `CAP_SETUID` in the parent namespace), and a gid map comes with `setgroups deny`:
    /// what `unshare --map-root-user` does. Then no parent step is needed and the spawn of a
    /// command stays `CLONE_VM|CLONE_VFORK`, flat in the parent's memory size. Not in an empty
    /// mount namespace, which has no `/proc` to write them to.
    pub(super) fn child_writes_maps(&self) -> bool {
        let own = |maps: &[IdMap], id: u32| {
            maps.is_empty() || (maps.len() == 1 && maps[0].count == 1 && maps[0].outside == id)
        };
        !self.empty_mntns
            && self.kinds.contains(Kind::User)
            && own(&self.uid_map, nix::unistd::geteuid().as_raw())
            && own(&self.gid_map, nix::unistd::getegid().as_raw())
            && match self.setgroups {
                Some(Setgroups::Deny) => true,
                None => self.gid_map.is_empty(),
                Some(Setgroups::Allow) => false,
            }
    }

    /// The texts for [`child_writes_maps`](Self::child_writes_maps): setgroups, uid_map, gid_map.
    pub(super) fn self_maps(&self) -> Option<[Vec<u8>; 3]> {
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

    pub(super) fn start(mut self, action: child::Action<'_>) -> Result<Child> {
        let exec = matches!(action, child::Action::Exec { .. });
        self.validate(exec)?;
        let pool = self.pool.take();
        if let Some(pool) = &pool {
            self.check_pool(pool, exec)?;
        }
        let vfork = match self.mode {
            CloneMode::Vfork => true,
            CloneMode::Fork => false,
            // A CLONE_VM child enters a new time namespace only at exec (the kernel's
            // `copy_namespaces` skips `timens_on_fork` for CLONE_VM, and `exec_task_namespaces`
            // switches later), so with Kind::Time the child is made fork-like and is in its
            // time namespace from its first instruction. Under emulation (kernel matrix, 6.12
            // and 7.2) a vfork-made child was seen in the parent's time namespace after spawn.
            CloneMode::Auto => {
                exec && !self.needs_parent() && self.time_offsets.is_none() && !self.kinds.contains(Kind::Time)
            }
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
        let joins = crate::join::setns_order(&self.joins);
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
        let root = self
            .root
            .as_ref()
            .map(|d| cstring(d.as_os_str().as_bytes()))
            .transpose()?;
        // In an empty mount namespace the root is a copy of the tree at `root`, attached by the
        // child, instead of a chroot by path (a path of the parent's means nothing there).
        let (root, root_tree) = match (self.empty_mntns, root) {
            (true, Some(dir)) => (None, Some(self.clone_root_tree(&dir)?)),
            (_, root) => (root, None),
        };

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
            root,
            root_tree: root_tree.as_ref().map_or(-1, |f| f.as_raw_fd()),
            ids: (self.gid.map_or(-1, i64::from), self.uid.map_or(-1, i64::from)),
            new_user: self.kinds.contains(Kind::User),
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
        if let Some(pool) = &pool {
            self.plan_for_pool(pool, &mut plan);
        }

        let stack = if vfork && pool.is_none() {
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
        if self.empty_mntns {
            args.flags |= sys::CLONE_EMPTY_MNTNS;
        }

        let res = match &pool {
            Some(pool) => pool.launch(&mut plan, !exec),
            None => child::clone_child(&mut args, &mut plan, stack.as_ref()).map_err(|e| self.clone_error(e)),
        };
        drop(stack);
        // The child has its own copy of the tree's fd (and attached the tree, if it got so far).
        drop(root_tree);
        let (pid, pidfd) = res?;
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
            sys::raw::write_all(go_w.as_fd(), b"g").map_err(|e| Error::sys(Op::ChildReport, self.kinds, e))?;
        }
        let mut msg = [0u8; 8];
        let n =
            sys::raw::read_full(report_r.as_fd(), &mut msg).map_err(|e| Error::sys(Op::ChildReport, self.kinds, e))?;
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

    /// The detached copy of the mount tree at `dir` that the child attaches as the root of its
    /// empty mount namespace (see [`sys::mount::clone_tree`]).
    fn clone_root_tree(&self, dir: &CString) -> Result<OwnedFd> {
        sys::mount::clone_tree(dir).map_err(|e| {
            Error::sys(Op::OpenTree, Kind::Mnt.into(), e)
                .with_path(OsStr::from_bytes(dir.as_bytes()))
                .with_detail("cloning the mount tree (OPEN_TREE_CLONE|AT_RECURSIVE) to be the root of the child's empty mount namespace")
        })
    }

    /// The error for a failed `clone3`. With an empty mount namespace an `EINVAL` may mean a
    /// kernel that predates `CLONE_EMPTY_MNTNS`: the probe says, and the error says so.
    fn clone_error(&self, e: Errno) -> Error {
        if self.empty_mntns && e == Errno::EINVAL {
            if let Err(unsupported) = super::empty_mntns_known() {
                return unsupported;
            }
        }
        Error::sys(Op::Clone3, self.kinds, e)
    }

    pub(super) fn write_maps(&self, pid: Pid) -> Result<()> {
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
        Step::EmptyRoot => (Op::Mount, Kind::Mnt.into()),
        Step::Stdio | Step::DeathSignal | Step::Signals | Step::Chdir | Step::Root | Step::Ids => {
            (Op::Prepare, KindSet::EMPTY)
        }
        Step::Exec => (Op::Exec, KindSet::EMPTY),
        Step::SelfMaps => (Op::WriteIdMap, Kind::User.into()),
    };
    Error::sys(op, k, errno).with_detail(format!("in the child: {}", step.describe()))
}

pub(super) fn cstring(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| {
        Error::invalid(
            Op::Validate,
            format!("{:?} contains a NUL byte", String::from_utf8_lossy(bytes)),
        )
    })
}

/// Looks `program` up in `PATH` (in the parent, before the clone, as `std::process` does).
pub(super) fn find_program(program: &OsStr) -> Result<PathBuf> {
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
