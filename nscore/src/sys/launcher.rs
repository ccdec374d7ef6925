//! The raw side of [`crate::pool`]: a *launcher*, one process per set of pooled namespaces.
//!
//! A launcher is cloned with `CLONE_VM|CLONE_FILES` on a stack of its own: it shares the
//! owner's memory and fd table, as a thread would, but it is a process of its own, so it can
//! hold namespaces of its own. Sharing memory keeps its creation flat in the owner's memory
//! size (no page tables copied, unlike a fork) and lets it use the [`Plan`] the owner prepares
//! at spawn time in place; sharing the fd table gives the command the stdio fds the owner opens
//! after the launcher was made.
//!
//! The launcher makes its namespaces (`clone3` with the kinds, then `unshare(CLONE_NEWPID)`
//! so that its next child is PID 1 of a new PID namespace), makes `/` private and brings `lo`
//! up as asked, reports ready and blocks on its go pipe. On go it clones the command
//! (`CLONE_VM` on the command stack, `CLONE_PARENT` so that the command is a child of the
//! owner, which can wait for it through a real pidfd, `CLONE_PIDFD`), reports the pid at once
//! (the owner learns of the exec, or of a failed set-up step, from the plan's report pipe, as
//! for any spawn), and waits for the command to exit before it exits itself: the teardown of
//! the set then runs in the launcher's exit, off the command's. No `CLONE_VFORK`: the launcher
//! need not wait for the exec, so the owner is woken by the exec itself and not by the
//! launcher after it (measured: a settled start from a set of five kinds went from ~1.5 ms to
//! ~0.9 ms on the loaded 2-core machine). End of file on the go pipe (the owner dropped the
//! set) makes it exit too, and `PR_SET_PDEATHSIG` kills it with the owner thread that made it.
//!
//! Everything the launcher runs is async-signal-safe: raw system calls on memory the owner
//! prepared, no allocation, no locks. It runs with every signal blocked (the mask is set
//! around the clone), so no handler of the owner can run on the shared memory. It shares the
//! owner's thread pointer as a `CLONE_VM` child does: only a failing libc call writes there
//! (`errno`), which can at worst garble the errno of a concurrent failure in the thread that
//! made it; its calls go through rustix, which leaves `errno` alone, but for the death signal
//! (`prctl`, by hand: see [`child::set_death_signal`]).

use std::ffi::c_void;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitid, Id, WaitPidFlag};
use rustix::mount::MountPropagationFlags;

use super::child::{self, Plan};
use super::{raw, CloneArgs, Stack, CLONE_PIDFD};
use crate::kinds::{Kind, KindSet};

/// What a launcher was doing when it failed to get ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `prctl(PR_SET_PDEATHSIG)`, or the owner was already gone.
    DeathSignal = 1,
    /// `unshare(CLONE_NEWPID)`.
    UnsharePid = 2,
    /// Making `/` private (`mount MS_REC|MS_PRIVATE`).
    Propagation = 3,
    /// Bringing `lo` up.
    LoopbackUp = 4,
}

impl Stage {
    fn from_u32(v: u32) -> Option<Stage> {
        [
            Stage::DeathSignal,
            Stage::UnsharePid,
            Stage::Propagation,
            Stage::LoopbackUp,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }
}

/// How a launcher went wrong, as the owner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `clone3` of the launcher itself failed.
    Clone(Errno),
    /// A set-up stage failed in the launcher.
    Stage(Stage, Errno),
    /// The launcher ended (killed) without a report.
    Died,
    /// Another system call of the owner failed (pipes, stacks, reads).
    Owner(Errno),
}

/// The memory a launcher and its owner share. Boxed, so its address is stable.
struct Shared {
    owner_pid: libc::pid_t,
    /// Pid when the set has a PID namespace (the launcher unshares it itself).
    unshare: KindSet,
    /// `MS_PRIVATE`/`MS_SLAVE`/`MS_SHARED` for `/`, or 0.
    propagation: libc::c_ulong,
    loopback_up: bool,
    go_fd: RawFd,
    done_fd: RawFd,
    /// (lowest address, length) of the command's stack.
    command_stack: (u64, u64),
    /// The plan of the command, stored by the owner before it says go.
    plan: AtomicPtr<c_void>,
    /// Where `CLONE_PIDFD` puts the command's pidfd (in the shared fd table).
    pidfd: AtomicI32,
    /// Clone the child fork-like (its own copy of the memory, for a function) instead of
    /// `CLONE_VM` on the command stack (for a command); set by the owner before it says go.
    fork: AtomicBool,
    /// The launcher's own pidfd of its child (a dup in the shared table), which it watches
    /// until the child exits; closed by the owner once the launcher is reaped.
    watch_fd: AtomicI32,
}

/// What a set's namespaces are made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    /// `CLONE_NEW*` flags of the kinds, `CLONE_NEWPID` included when asked.
    pub flags: libc::c_int,
    pub propagation: libc::c_ulong,
    pub loopback_up: bool,
}

/// A ready launcher: a process inside a fresh set of namespaces, waiting to start one command.
/// Dropping it ends the launcher (end of file on its go pipe, then `SIGKILL`), reaps it, and
/// only then frees the memory it runs on.
pub(crate) struct Launcher {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    go_w: Option<OwnedFd>,
    done_r: OwnedFd,
    // Held until the launcher is reaped: it reads and writes them by number.
    _go_r: OwnedFd,
    _done_w: OwnedFd,
    shared: Box<Shared>,
    _launcher_stack: Stack,
    _command_stack: Stack,
    reaped: bool,
}

impl std::fmt::Debug for Launcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launcher")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// The launcher's own stack: it runs a few system calls and one clone.
const LAUNCHER_STACK: usize = 64 * 1024;
/// The command's stack, as for a vfork-like spawn: it runs only the set-up steps and `execve`.
const COMMAND_STACK: usize = 256 * 1024;

impl Launcher {
    /// Makes a launcher in new namespaces of `config` and waits until it is ready.
    ///
    /// The launcher's parent is the calling thread: it is killed when this thread exits
    /// (`PR_SET_PDEATHSIG`), and the commands it starts are children of this process.
    pub(crate) fn make(config: Config) -> Result<Launcher, Failure> {
        let own = Failure::Owner;
        let (go_r, go_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(own)?;
        let (done_r, done_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(own)?;
        let launcher_stack = Stack::new(LAUNCHER_STACK).map_err(own)?;
        let command_stack = Stack::new(COMMAND_STACK).map_err(own)?;
        let pid_flag = config.flags & libc::CLONE_NEWPID;
        let mut shared = Box::new(Shared {
            owner_pid: nix::unistd::getpid().as_raw(),
            unshare: if pid_flag != 0 {
                Kind::Pid.into()
            } else {
                KindSet::EMPTY
            },
            propagation: config.propagation,
            loopback_up: config.loopback_up,
            go_fd: go_r.as_raw_fd(),
            done_fd: done_w.as_raw_fd(),
            command_stack: command_stack.region(),
            plan: AtomicPtr::new(std::ptr::null_mut()),
            pidfd: AtomicI32::new(-1),
            fork: AtomicBool::new(false),
            watch_fd: AtomicI32::new(-1),
        });
        let mut pidfd: RawFd = -1;
        let mut args = CloneArgs {
            flags: (libc::CLONE_VM | libc::CLONE_FILES) as u64
                | CLONE_PIDFD
                | (config.flags & !libc::CLONE_NEWPID) as u64,
            pidfd: &mut pidfd as *mut RawFd as u64,
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        };
        (args.stack, args.stack_size) = launcher_stack.region();
        // The launcher keeps every signal blocked: a handler of the owner must not run on the
        // shared memory.
        let old_mask = super::block_all_signals();
        let arg = &mut *shared as *mut Shared as *mut c_void;
        // SAFETY: `launcher_main` never returns and runs only async-signal-safe code on its own
        // stack; `shared` and both stacks stay allocated until the launcher is reaped (they
        // move into the `Launcher`, whose drop reaps first), and the launcher uses no other
        // memory of this process but the plan the owner hands it later.
        let res = unsafe { super::clone3(&args, launcher_main, arg) };
        super::restore_signals(&old_mask);
        let pid = res.map_err(Failure::Clone)?;
        // SAFETY: CLONE_PIDFD stored a new fd in `pidfd` that nobody else owns.
        let pidfd = unsafe { super::own_fd(pidfd) };
        let mut launcher = Launcher {
            pid,
            pidfd,
            go_w: Some(go_w),
            done_r,
            _go_r: go_r,
            _done_w: done_w,
            shared,
            _launcher_stack: launcher_stack,
            _command_stack: command_stack,
            reaped: false,
        };
        // From here on, dropping `launcher` ends and reaps it.
        match launcher.report()? {
            Some(msg) => {
                let (stage, errno) = decode(&msg);
                if stage == 0 {
                    return Ok(launcher);
                }
                launcher.end();
                let stage = Stage::from_u32(stage as u32).unwrap_or(Stage::DeathSignal);
                Err(Failure::Stage(stage, Errno::from_raw(errno)))
            }
            None => {
                launcher.end();
                Err(Failure::Died)
            }
        }
    }

    /// Waits for the launcher's next 8-byte report, or `None` if it ended without one.
    ///
    /// Both ends of its pipes stay open in the shared fd table (closing one here would close
    /// it for the launcher too), so its death shows as its pidfd becoming readable, not as end
    /// of file.
    fn report(&self) -> Result<Option<[u8; 8]>, Failure> {
        let mut msg = [0u8; 8];
        loop {
            let mut fds = [
                PollFd::new(self.done_r.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Failure::Owner(e)),
                Ok(_) => {}
            }
            let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            let (data, ended) = (ready(&fds[0]), ready(&fds[1]));
            if data || ended {
                // A report is written in one 8-byte write, atomic on a pipe: read it if it is
                // there, whether or not the launcher has ended since.
                let mut again = [PollFd::new(self.done_r.as_fd(), PollFlags::POLLIN)];
                if data || matches!(poll(&mut again, PollTimeout::ZERO), Ok(n) if n > 0) {
                    let n = raw::read_full(self.done_r.as_fd(), &mut msg).map_err(Failure::Owner)?;
                    return Ok((n == 8).then_some(msg));
                }
                return Ok(None);
            }
        }
    }

    /// The launcher's pid.
    pub(crate) fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Starts `plan`'s child from this launcher: PID 1 of the set's PID namespace (when it
    /// has one), a child of this process. A command (`fork` false) is cloned `CLONE_VM` on the
    /// launcher's command stack; a function (`fork` true) gets a fork-like copy of this
    /// process's memory, as from [`crate::Spawn::run`]. Returns the child's pid and pidfd as
    /// soon as it is cloned: whether it exec'd (or which step failed) comes on the plan's
    /// report pipe. The launcher ends after the child has (reap it by dropping this value).
    ///
    /// The plan must be one for a `CLONE_VM` child (`reset_all_handlers`) and must stay valid
    /// until the child has exec'd or exited (end of file or a report on its report pipe).
    pub(crate) fn launch(&mut self, plan: &mut Plan<'_>, fork: bool) -> Result<(libc::pid_t, OwnedFd), Failure> {
        self.shared.fork.store(fork, Ordering::Release);
        let Some(go_w) = self.go_w.take() else {
            return Err(Failure::Died);
        };
        self.shared
            .plan
            .store((plan as *mut Plan<'_>).cast(), Ordering::Release);
        // The read end stays open in the shared table, so a dead launcher shows only in
        // `report`; an error here is this process's own.
        raw::write_all(go_w.as_fd(), b"g").map_err(Failure::Owner)?;
        drop(go_w);
        let Some(msg) = self.report()? else {
            return Err(Failure::Died);
        };
        let (pid, errno) = decode(&msg);
        if pid <= 0 {
            return Err(Failure::Clone(Errno::from_raw(errno)));
        }
        let fd = self.shared.pidfd.load(Ordering::Acquire);
        // SAFETY: CLONE_PIDFD in the launcher stored a new fd in the fd table it shares with
        // this process; nobody else owns it, and the launcher no longer touches it.
        Ok((pid, unsafe { super::own_fd(fd) }))
    }

    /// Ends the launcher (if it still runs) and reaps it.
    fn end(&mut self) {
        if self.reaped {
            return;
        }
        drop(self.go_w.take());
        let _ = super::pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL);
        while let Err(Errno::EINTR) = waitid(Id::PIDFd(self.pidfd.as_fd()), WaitPidFlag::WEXITED) {}
        self.reaped = true;
        let watch = self.shared.watch_fd.swap(-1, Ordering::AcqRel);
        if watch >= 0 {
            // SAFETY: the launcher dup'ed this fd for itself and is gone; nobody else owns it.
            drop(unsafe { super::own_fd(watch) });
        }
    }

    /// Whether the launcher has ended (it ends once its child has, or when killed).
    pub(crate) fn exited(&self) -> bool {
        self.reaped
            || !matches!(
                waitid(
                    Id::PIDFd(self.pidfd.as_fd()),
                    WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
                ),
                Ok(nix::sys::wait::WaitStatus::StillAlive)
            )
    }

    /// Whether the launcher has not been started and still runs.
    pub(crate) fn alive(&self) -> bool {
        self.go_w.is_some()
            && matches!(
                waitid(
                    Id::PIDFd(self.pidfd.as_fd()),
                    WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
                ),
                Ok(nix::sys::wait::WaitStatus::StillAlive)
            )
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // Reap before the fields (the launcher's stack and shared memory) are freed.
        self.end();
    }
}

fn decode(msg: &[u8; 8]) -> (i32, i32) {
    let a = i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]);
    let b = i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]);
    (a, b)
}

/// One of the fds the owner holds for the launcher (`go_fd`, `done_fd`), borrowed in it.
///
/// # Safety
/// `fd` is `go_fd` or `done_fd` of the launcher's `Shared`: the owner keeps both open in the
/// fd table they share (`_go_r`, `_done_w`) until the launcher is reaped.
unsafe fn shared_fd<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: open while the launcher runs (contract above), so not negative either.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

fn report(s: &Shared, a: i32, b: i32) {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&a.to_ne_bytes());
    msg[4..].copy_from_slice(&b.to_ne_bytes());
    // SAFETY: the launcher's done pipe.
    let _ = raw::write_all(unsafe { shared_fd(s.done_fd) }, &msg);
}

fn fail(s: &Shared, stage: Stage, errno: Errno) -> ! {
    report(s, stage as i32, errno as i32);
    raw::exit(127)
}

/// The launcher: runs on its own stack, in the owner's memory, with every signal blocked.
extern "C" fn launcher_main(arg: *mut c_void) -> ! {
    // SAFETY: the owner passes its boxed `Shared`, which stays allocated until this process is
    // reaped; only the atomics in it change after the clone.
    let s = unsafe { &*(arg as *const Shared) };
    if let Err(e) = child::set_death_signal(libc::SIGKILL) {
        fail(s, Stage::DeathSignal, e);
    }
    if rustix::process::Pid::as_raw(rustix::process::getppid()) != s.owner_pid {
        fail(s, Stage::DeathSignal, Errno::ESRCH);
    }
    if !s.unshare.is_empty() {
        if let Err(e) = super::unshare(s.unshare) {
            fail(s, Stage::UnsharePid, e);
        }
    }
    if s.propagation != 0 {
        let flags = MountPropagationFlags::REC | MountPropagationFlags::from_bits_retain(s.propagation as u32);
        if let Err(e) = rustix::mount::mount_change(c"/", flags) {
            fail(s, Stage::Propagation, raw::errno(e));
        }
    }
    if s.loopback_up {
        if let Err(e) = child::loopback_up() {
            fail(s, Stage::LoopbackUp, e);
        }
    }
    report(s, 0, 0);
    let mut b = [0u8; 1];
    // SAFETY: the launcher's go pipe.
    match raw::read_full(unsafe { shared_fd(s.go_fd) }, &mut b) {
        Ok(1) => {}
        // End of file: the set was dropped unused.
        _ => raw::exit(0),
    }
    let plan = s.plan.load(Ordering::Acquire);
    let fork = s.fork.load(Ordering::Acquire);
    let shared = if fork { 0 } else { libc::CLONE_VM };
    let mut args = CloneArgs {
        flags: (shared | libc::CLONE_PARENT) as u64 | CLONE_PIDFD,
        pidfd: s.pidfd.as_ptr() as u64,
        // clone3 refuses an exit signal with CLONE_PARENT: the command gets the launcher's
        // (SIGCHLD), as a sibling of it.
        exit_signal: 0,
        ..CloneArgs::default()
    };
    if !fork {
        (args.stack, args.stack_size) = s.command_stack;
    }
    // SAFETY: `child::entry` never returns and runs only async-signal-safe code. A command
    // (CLONE_VM): the plan is the owner's, which keeps it until the command has exec'd or
    // exited (it reads the plan's report pipe to its end); the command runs on the command
    // stack, which nothing else uses and which is freed only once this launcher, which outlives
    // the command, has been reaped. A function (fork-like): the child runs on its own copy of
    // this stack and of the plan.
    let pid = match unsafe { super::clone3(&args, child::entry, plan) } {
        Ok(pid) => pid,
        Err(e) => {
            report(s, 0, e as i32);
            raw::exit(0)
        }
    };
    // Hold the set until the child has exited, so that the teardown of its namespaces (the
    // mount tree, the PID namespace, a network namespace's exit work) happens when this
    // launcher exits, in the background, and not on the child's exit path, which its parent
    // waits for.
    // SAFETY: the pidfd the kernel just stored in the shared fd table: the owner takes it only
    // after the report below, so it is open here.
    let pidfd = unsafe { BorrowedFd::borrow_raw(s.pidfd.load(Ordering::Acquire)) };
    let watch = rustix::io::fcntl_dupfd_cloexec(pidfd, 0).map_or(-1, IntoRawFd::into_raw_fd);
    s.watch_fd.store(watch, Ordering::Release);
    report(s, pid, 0);
    if watch >= 0 {
        // SAFETY: the launcher's dup, which only the owner closes, once the launcher is reaped.
        let watch = unsafe { BorrowedFd::borrow_raw(watch) };
        let mut fds = [rustix::event::PollFd::from_borrowed_fd(
            watch,
            rustix::event::PollFlags::IN,
        )];
        // a pidfd is readable once its process has exited
        while rustix::event::poll(&mut fds, None).is_err() {}
    }
    raw::exit(0)
}
