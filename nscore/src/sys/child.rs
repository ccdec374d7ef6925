//! The child side of the runner: what runs between `clone3` and `execve`/`_exit`.
//!
//! The parent may be multithreaded (every test harness and criterion are), so everything here
//! is async-signal-safe: raw system calls on buffers that the parent prepared before the
//! clone, no allocation, no locks, no formatting. A failing step is reported to the parent
//! as 8 bytes (step, errno) on a close-on-exec pipe, then the child `_exit`s with 127; on
//! success the pipe closes (by `execve`, or explicitly before a function runs).
//!
//! The calls go through rustix (see [`super::raw`]). By hand, each with its reason: the clone
//! itself, the death signal, the signal dispositions and mask, and `execve`.
//!
//! The plan's fds are raw numbers the parent held open at the clone: the child has its own
//! copy of them (a fork-like child copies the fd table, and so does a vfork-like one, which
//! shares only memory), so they stay open in it until it closes them, execs or exits.

use std::ffi::{c_char, c_void, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use rustix::fs::OFlags;
use rustix::io::FdFlags;
use rustix::mount::{MountFlags, MountPropagationFlags};
use rustix::process::{Gid, Uid};

use super::{raw, CloneArgs, Stack, CLONE_PIDFD};
use crate::kinds::{Kind, CLONE_NEWTIME};

/// One step of the child's set-up; reported to the parent when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    /// Waiting for the parent to write the id maps.
    WaitParent = 1,
    /// `setns` into a namespace given with [`crate::Spawn::join`].
    Join = 2,
    /// `unshare(CLONE_NEWTIME)` before writing offsets.
    TimeUnshare = 3,
    /// Writing `/proc/self/timens_offsets`.
    TimeOffsets = 4,
    /// `setns` into `time_for_children`.
    TimeEnter = 5,
    /// `mount(NULL, "/", NULL, MS_REC|MS_<propagation>, NULL)`.
    Propagation = 6,
    /// `sethostname`.
    Hostname = 7,
    /// `setdomainname`.
    Domainname = 8,
    /// Mounting a fresh `/proc`.
    MountProc = 9,
    /// Bringing `lo` up.
    LoopbackUp = 10,
    /// `dup2` of stdin/stdout/stderr.
    Stdio = 11,
    /// `prctl(PR_SET_PDEATHSIG)`, or the parent was already gone.
    DeathSignal = 12,
    /// Resetting signal dispositions and mask.
    Signals = 13,
    /// `execve`.
    Exec = 14,
    /// `chdir`.
    Chdir = 15,
    /// Writing the child's own `/proc/self/{setgroups,uid_map,gid_map}` (a single mapping of
    /// the caller's own ids, as `unshare --map-root-user` does).
    SelfMaps = 16,
    /// `chroot` into the new root (`Spawn::root`).
    Root = 17,
    /// `setgroups`, `setresgid`, `setresuid` (`Spawn::gid`, `Spawn::uid`).
    Ids = 18,
    /// Attaching the root's mount tree over the empty mount namespace's root and entering it
    /// (`Spawn::empty_mntns` with `Spawn::root`).
    EmptyRoot = 19,
}

impl Step {
    pub(crate) fn from_u32(v: u32) -> Option<Step> {
        use Step::*;
        [
            WaitParent,
            Join,
            TimeUnshare,
            TimeOffsets,
            TimeEnter,
            Propagation,
            Hostname,
            Domainname,
            MountProc,
            LoopbackUp,
            Stdio,
            DeathSignal,
            Signals,
            Exec,
            Chdir,
            SelfMaps,
            Root,
            Ids,
            EmptyRoot,
        ]
        .into_iter()
        .find(|s| *s as u32 == v)
    }

    /// A few words saying what the step does.
    pub fn describe(self) -> &'static str {
        match self {
            Step::WaitParent => "waiting for the parent to write the id maps",
            Step::Join => "joining a given namespace (setns)",
            Step::TimeUnshare => "unshare(CLONE_NEWTIME) for time offsets",
            Step::TimeOffsets => "writing /proc/self/timens_offsets",
            Step::TimeEnter => "entering the new time namespace (setns time_for_children)",
            Step::Propagation => "setting mount propagation of / (mount MS_REC)",
            Step::Hostname => "sethostname",
            Step::Domainname => "setdomainname",
            Step::MountProc => "mounting a fresh /proc",
            Step::LoopbackUp => "bringing lo up",
            Step::Stdio => "setting up stdin/stdout/stderr (dup2)",
            Step::DeathSignal => "prctl(PR_SET_PDEATHSIG), or the parent had already exited",
            Step::Signals => "resetting signal handlers and mask",
            Step::Exec => "execve",
            Step::Chdir => "chdir",
            Step::SelfMaps => "writing its own /proc/self/setgroups, uid_map or gid_map",
            Step::Root => "changing the root directory (chdir, chroot)",
            Step::Ids => "changing to the given gid and uid (setgroups, setresgid, setresuid)",
            Step::EmptyRoot => {
                "attaching the root's mount tree over the empty mount namespace's root and entering it \
                 (mount MS_PRIVATE, move_mount, fchdir, chroot)"
            }
        }
    }
}

/// What the child does after its set-up.
pub(crate) enum Action<'a> {
    /// `execve(path, argv, envp)`; the pointer arrays are NULL-terminated and point into the
    /// owned strings kept alongside them.
    Exec {
        path: CString,
        _args: Vec<CString>,
        _env: Vec<CString>,
        argv: Vec<*const c_char>,
        envp: Vec<*const c_char>,
    },
    /// Run a function and `_exit` with what it returns.
    Run(&'a mut dyn FnMut() -> i32),
}

/// Everything the child needs, prepared by the parent before `clone3`.
pub(crate) struct Plan<'a> {
    /// Write end of the report pipe (close-on-exec).
    pub report_fd: RawFd,
    /// Read end of the parent's "go" pipe, or -1 when the child need not wait.
    pub go_fd: RawFd,
    /// Maps the child writes itself, when each is one line mapping the caller's own id (no
    /// parent needed, so the spawn can stay vfork-like): `/proc/self/setgroups` text, then
    /// `uid_map` and `gid_map` text; empty ones are skipped.
    pub self_maps: Option<[Vec<u8>; 3]>,
    /// Namespaces to join, in the order to join them: (fd, CLONE_NEW* of the kind).
    pub joins: Vec<(RawFd, libc::c_int)>,
    /// Pre-formatted `timens_offsets` lines, when offsets were asked for.
    pub time_offsets: Option<Vec<u8>>,
    /// `MS_PRIVATE`, `MS_SLAVE` or `MS_SHARED` for `/`, recursively, or 0 to leave it.
    pub propagation: libc::c_ulong,
    pub hostname: Option<Vec<u8>>,
    pub domainname: Option<Vec<u8>>,
    pub mount_proc: bool,
    pub loopback_up: bool,
    /// Where to chdir, NUL-terminated.
    pub chdir: Option<CString>,
    /// The new root directory, NUL-terminated.
    pub root: Option<CString>,
    /// A detached mount tree to attach over the root of the child's new empty mount namespace
    /// and enter (`Spawn::empty_mntns` with `Spawn::root`), or -1.
    pub root_tree: RawFd,
    /// (gid, uid) to change to before the exec; -1 leaves one as it is.
    pub ids: (i64, i64),
    /// The child has a new user namespace (setgroups may be denied there).
    pub new_user: bool,
    /// fds to dup2 onto 0, 1, 2 (-1: leave as inherited).
    pub stdio: [RawFd; 3],
    /// Kill the child when the parent thread dies (`PR_SET_PDEATHSIG`), and the parent's pid
    /// to check it is still there (0: do not check, e.g. the child is in a new PID namespace).
    pub death_signal: libc::c_int,
    pub parent_pid: libc::pid_t,
    /// Reset every handled signal to its default (needed when memory is shared with the
    /// parent, as with `CLONE_VM`).
    pub reset_all_handlers: bool,
    pub action: Action<'a>,
}

/// Clones the child that runs `plan` (`CLONE_PIDFD` and `SIGCHLD` are added to `args`; with
/// `stack`, `CLONE_VM|CLONE_VFORK` too, and this returns only once the child has exec'd or
/// exited). Returns the child's pid and pidfd.
pub(crate) fn clone_child(
    args: &mut CloneArgs,
    plan: &mut Plan<'_>,
    stack: Option<&Stack>,
) -> Result<(libc::pid_t, OwnedFd), Errno> {
    let mut pidfd: RawFd = -1;
    args.flags |= CLONE_PIDFD;
    args.pidfd = &mut pidfd as *mut RawFd as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    if let Some(stack) = stack {
        args.flags |= (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
        (args.stack, args.stack_size) = stack.region();
    }
    // With CLONE_VM a signal handler running in the child would run on shared memory: block
    // everything around the clone; the child resets handlers before it unblocks them.
    let old_mask = stack.is_some().then(super::block_all_signals);
    // SAFETY: `entry` never returns and only runs async-signal-safe code; `plan` and `stack`
    // outlive the child's use of them (vfork: this thread is suspended until the child execs
    // or exits; fork-like: the child has its own copy of this memory).
    let res = unsafe { super::clone3(args, entry, plan as *mut Plan<'_> as *mut c_void) };
    if let Some(m) = &old_mask {
        super::restore_signals(m);
    }
    let pid = res?;
    // SAFETY: CLONE_PIDFD stored a new fd in `pidfd` that nobody else owns.
    Ok((pid, unsafe { super::own_fd(pidfd) }))
}

/// One of the plan's fds, borrowed in the child.
///
/// # Safety
/// `fd` is one of the plan's fds (see the module's documentation), not closed by the child.
unsafe fn plan_fd<'a>(fd: RawFd) -> Result<BorrowedFd<'a>, Errno> {
    // SAFETY: the child's copy of a plan fd is open until the child closes it (contract above).
    unsafe { raw::borrow(fd) }
}

fn fail(plan: &Plan<'_>, step: Step, errno: Errno) -> ! {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
    msg[4..].copy_from_slice(&(errno as i32).to_ne_bytes());
    // SAFETY: the report pipe's write end, closed by the child only once it has succeeded.
    if let Ok(report) = unsafe { plan_fd(plan.report_fd) } {
        let _ = raw::write_all(report, &msg);
    }
    raw::exit(127)
}

/// Reports `step` as failed when `r` is an error.
fn check<T>(plan: &Plan<'_>, step: Step, r: rustix::io::Result<T>) -> T {
    r.unwrap_or_else(|e| fail(plan, step, raw::errno(e)))
}

/// The child's entry point: `arg` is a `*const Plan`.
pub(crate) extern "C" fn entry(arg: *mut c_void) -> ! {
    // SAFETY: the parent passes a pointer to a Plan that outlives the child's use of it: with
    // CLONE_VM|CLONE_VFORK the parent is suspended until exec/exit; otherwise the child has
    // its own copy of the parent's memory.
    let plan = unsafe { &mut *(arg as *mut Plan<'_>) };
    run(plan)
}

fn run(plan: &mut Plan<'_>) -> ! {
    if plan.death_signal != 0 {
        if let Err(e) = set_death_signal(plan.death_signal) {
            fail(plan, Step::DeathSignal, e);
        }
        if plan.parent_pid != 0 && rustix::process::Pid::as_raw(rustix::process::getppid()) != plan.parent_pid {
            fail(plan, Step::DeathSignal, Errno::ESRCH);
        }
    }
    if plan.go_fd >= 0 {
        let mut b = [0u8; 1];
        // SAFETY: the go pipe's read end, closed just below.
        let go = unsafe { plan_fd(plan.go_fd) };
        match go.and_then(|go| raw::read_full(go, &mut b)) {
            Ok(1) => {}
            // The parent closed the pipe without saying go: it gave up (its map writes failed).
            Ok(_) => raw::exit(126),
            Err(e) => fail(plan, Step::WaitParent, e),
        }
        // SAFETY: the child's own copy of the go pipe's read end, not used again.
        unsafe { raw::close(plan.go_fd) };
    }
    if let Some(maps) = &plan.self_maps {
        let files = [c"/proc/self/setgroups", c"/proc/self/uid_map", c"/proc/self/gid_map"];
        for (file, text) in files.iter().zip(maps.iter()) {
            if text.is_empty() {
                continue;
            }
            if let Err(e) = raw::write_file(file, text) {
                fail(plan, Step::SelfMaps, e);
            }
        }
    }
    for i in 0..plan.joins.len() {
        let (fd, nstype) = plan.joins[i];
        // SAFETY: a namespace fd of the plan, which the child does not close.
        if let Err(e) = unsafe { plan_fd(fd) }.and_then(|fd| super::setns(fd, nstype)) {
            fail(plan, Step::Join, e);
        }
    }
    if let Some(offsets) = &plan.time_offsets {
        if let Err(e) = super::unshare(Kind::Time.into()) {
            fail(plan, Step::TimeUnshare, e);
        }
        if let Err(e) = raw::write_file(c"/proc/self/timens_offsets", offsets) {
            fail(plan, Step::TimeOffsets, e);
        }
        let fd = match raw::open(c"/proc/self/ns/time_for_children", OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(e) => fail(plan, Step::TimeEnter, e),
        };
        if let Err(e) = super::setns(fd.as_fd(), CLONE_NEWTIME) {
            fail(plan, Step::TimeEnter, e);
        }
    }
    if plan.root_tree >= 0 {
        // Before the propagation below, which then applies to the attached tree.
        // SAFETY: the parent opened `root_tree` before the clone, so it is open in this child's
        // own copy of the fd table, and nothing here uses it after this.
        if let Err(e) = unsafe { super::mount::enter_tree(plan.root_tree) } {
            fail(plan, Step::EmptyRoot, e);
        }
    }
    if plan.propagation != 0 {
        let flags = MountPropagationFlags::REC | MountPropagationFlags::from_bits_retain(plan.propagation as u32);
        check(plan, Step::Propagation, rustix::mount::mount_change(c"/", flags));
    }
    if let Some(name) = &plan.hostname {
        check(plan, Step::Hostname, rustix::system::sethostname(name));
    }
    if let Some(name) = &plan.domainname {
        check(plan, Step::Domainname, rustix::system::setdomainname(name));
    }
    if let Some(dir) = &plan.root {
        // As util-linux: chdir into the new root, chroot("."), so no old directory stays open.
        check(plan, Step::Root, rustix::process::chdir(dir.as_c_str()));
        check(plan, Step::Root, rustix::process::chroot(c"."));
        if plan.chdir.is_none() {
            check(plan, Step::Root, rustix::process::chdir(c"/"));
        }
    }
    if plan.mount_proc {
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        check(
            plan,
            Step::MountProc,
            rustix::mount::mount(c"proc", c"/proc", c"proc", flags, None),
        );
    }
    if plan.loopback_up {
        if let Err(e) = loopback_up() {
            fail(plan, Step::LoopbackUp, e);
        }
    }
    if let Some(dir) = &plan.chdir {
        check(plan, Step::Chdir, rustix::process::chdir(dir.as_c_str()));
    }
    let (gid, uid) = plan.ids;
    if gid >= 0 {
        // One thread's ids, as the child is one thread (glibc's calls would signal the threads
        // of the parent's that it copied).
        if let Err(e) = rustix::thread::set_thread_groups(&[]) {
            // denied in a user namespace with setgroups "deny": the groups stay (util-linux)
            if !(plan.new_user && e == rustix::io::Errno::PERM) {
                fail(plan, Step::Ids, raw::errno(e));
            }
        }
        let g = Gid::from_raw(gid as u32);
        check(plan, Step::Ids, rustix::thread::set_thread_res_gid(g, g, g));
    }
    if uid >= 0 {
        let u = Uid::from_raw(uid as u32);
        check(plan, Step::Ids, rustix::thread::set_thread_res_uid(u, u, u));
    }
    for (target, &fd) in plan.stdio.iter().enumerate() {
        if fd >= 0 {
            // SAFETY: a stdio fd of the plan, which the child does not close.
            let from = unsafe { plan_fd(fd) }.unwrap_or_else(|e| fail(plan, Step::Stdio, e));
            let r = match target {
                // dup2 onto itself keeps FD_CLOEXEC; clear it instead.
                _ if fd == target as RawFd => rustix::io::fcntl_setfd(from, FdFlags::empty()),
                0 => rustix::stdio::dup2_stdin(from),
                1 => rustix::stdio::dup2_stdout(from),
                _ => rustix::stdio::dup2_stderr(from),
            };
            check(plan, Step::Stdio, r);
        }
    }
    reset_signals(plan);
    match &mut plan.action {
        Action::Exec { path, argv, envp, .. } => {
            // libc's execve: rustix has it only in its experimental `runtime` module (meant for
            // programs without a libc), nix's allocates the pointer arrays.
            // SAFETY: path, argv and envp are NUL-terminated (arrays NULL-terminated) and
            // prepared by the parent; execve only returns on failure.
            unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            fail(plan, Step::Exec, Errno::last())
        }
        Action::Run(f) => {
            // Closing the report pipe tells the parent the set-up succeeded.
            // SAFETY: the child's own copy of the report pipe's write end, not used again.
            unsafe { raw::close(plan.report_fd) };
            let code = f();
            raw::exit(code)
        }
    }
}

/// Resets the handled signals to their default (all of them when `reset_all_handlers`, else
/// `SIGPIPE`) and empties the signal mask, as `execve` and the command expect.
///
/// libc's calls, by hand: rustix has signal dispositions and masks only in its experimental
/// `runtime` module (meant for programs without a libc), and nix's `sigaction` neither reads a
/// disposition without replacing it nor names the realtime signals.
fn reset_signals(plan: &Plan<'_>) {
    // SAFETY: sigaction/sigprocmask on plain structs owned by this frame.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        if plan.reset_all_handlers {
            for sig in 1..libc::SIGRTMAX() {
                if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                    continue;
                }
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction != libc::SIG_DFL
                    && old.sa_sigaction != libc::SIG_IGN
                {
                    libc::sigaction(sig, &dfl, std::ptr::null_mut());
                }
            }
        }
        // Rust programs ignore SIGPIPE; a spawned command expects the default.
        libc::sigaction(libc::SIGPIPE, &dfl, std::ptr::null_mut());
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) < 0 {
            fail(plan, Step::Signals, Errno::last());
        }
    }
}

/// Brings `lo` up with `SIOCGIFFLAGS`/`SIOCSIFFLAGS` on a throw-away socket.
///
/// Why ioctl and not netlink: this runs in the child before exec, where building a netlink
/// message with a crate would allocate; the ifreq lives on the stack. The two requests by
/// hand, through rustix's `ioctl`: no crate has them (rustix's `netdevice` has only name to
/// index).
pub(crate) fn loopback_up() -> Result<(), Errno> {
    use rustix::ioctl::{ioctl, Opcode, Updater};
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let s = rustix::net::socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, None)
        .map_err(raw::errno)?;
    // SAFETY: all-zero is a valid `struct ifreq` (plain integers and arrays in a union).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name[0] = b'l' as c_char;
    req.ifr_name[1] = b'o' as c_char;
    // SAFETY: SIOCGIFFLAGS takes a `struct ifreq`, reads its name and writes its flags.
    let get = unsafe { Updater::<{ libc::SIOCGIFFLAGS as Opcode }, libc::ifreq>::new(&mut req) };
    // SAFETY: `get` points to `req`, which outlives the call.
    unsafe { ioctl(&s, get) }.map_err(raw::errno)?;
    // SAFETY: `ifru_flags` is the member SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: SIOCSIFFLAGS takes a `struct ifreq` and reads its name and flags.
    let set = unsafe { Updater::<{ libc::SIOCSIFFLAGS as Opcode }, libc::ifreq>::new(&mut req) };
    // SAFETY: as above.
    unsafe { ioctl(&s, set) }.map_err(raw::errno)
}

extern "C" fn exit_at_once(_: *mut c_void) -> ! {
    raw::exit(0)
}

/// Clones a child that `_exit(0)`s at once (see [`crate::raw::clone_exit`]); returns its pid.
/// No pidfd, `SIGCHLD` as exit signal.
pub(crate) fn clone_exit(flags: u64, stack: Option<&Stack>) -> Result<libc::pid_t, Errno> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(stack) = stack {
        args.flags |= (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
        (args.stack, args.stack_size) = stack.region();
    }
    // SAFETY: the child runs only `_exit(0)`, on its own stack (vfork) or its own copy of
    // this one; no signal handler can run in it before `_exit` that it would not also run
    // in a fork, and with CLONE_VFORK this thread waits until it has exited.
    unsafe { super::clone3(&args, exit_at_once, std::ptr::null_mut()) }
}

/// The lock under which every [`crate::Spawn`] makes its pipes, clones, and closes the
/// child's ends.
///
/// A fork-like child of a multithreaded parent gets a copy of every fd the parent had at the
/// clone, close-on-exec ones included, and keeps them until it execs or exits. A function
/// child ([`crate::Spawn::run`]) may never exec; if it got the write end of another spawn's
/// report pipe, that spawn (in another thread) would wait for end of file until this child
/// exits, and two tests that each hold a child would deadlock. Under this lock no clone can
/// happen while another spawn's child-side fds are open in the parent.
pub(crate) fn spawn_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fork-like `clone3(2)` into new namespaces of `flags` that returns in both processes: 0 in
/// the child, the child's pid in the parent (see [`crate::raw::fork`]). By hand: no crate has
/// `clone3` (nix and rustix stop at `fork`, which cannot make namespaces).
///
/// # Safety
/// As for [`crate::raw::fork`]: when the caller is multithreaded, the child must run only
/// async-signal-safe code until it calls [`raw::exit`] or `execve`.
pub(crate) unsafe fn fork(flags: u64) -> Result<libc::pid_t, Errno> {
    let args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid `clone_args` of the size passed. Without CLONE_VM and without
    // a stack, the child gets a copy of this address space and returns from the system call
    // here, as with fork(2); the caller's contract (see `raw::fork`) keeps it to
    // async-signal-safe code.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as libc::pid_t)
    }
}

/// `prctl(PR_SET_PDEATHSIG, signal)`. By hand: rustix's takes a `Signal`, which names no
/// realtime signal, and this takes any signal number the kernel does.
pub(crate) fn set_death_signal(signal: libc::c_int) -> Result<(), Errno> {
    // SAFETY: prctl with plain integer arguments.
    let ret = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}
