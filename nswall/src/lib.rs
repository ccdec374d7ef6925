//! The wall around every test and benchmark run of the workspace.
//!
//! An isolation suite exists for the day isolation fails: on that day a test must report the
//! failure and nothing else. So before any code under test runs, each test binary (and the
//! benchmark) re-enters itself inside a wall built with the simplest path there is: plain system
//! calls from this crate, which depends on nothing of `nscore`.
//!
//! `nswall::enter!();` at the top of a test file installs a constructor that runs before `main`,
//! while the process is still single-threaded:
//!
//! 1. **Bounds** (as root): a cgroup `nswall-<pid>-<clock>` below the process's own, with
//!    `pids.max` and a memory limit (cgroup v2, or the v1 `pids` and `memory` hierarchies,
//!    whichever the machine has; see [`cgroup`]).
//! 2. **Namespaces**: `unshare(2)` of new mount, IPC, UTS, network and PID namespaces (plus a
//!    user namespace mapping only the caller's own ids when not root), and `/` made recursively
//!    private, so that no mount made inside propagates out.
//! 3. **Init**: a fork becomes PID 1 of the new PID namespace. It dies with the outer process
//!    (`PR_SET_PDEATHSIG`), mounts a fresh `/proc`, a fresh `/tmp`, `/dev/shm` and
//!    `/dev/mqueue`, brings `lo` up, forks the process that runs the tests and reaps every
//!    orphan until that process exits. When PID 1 exits the kernel kills everything left in the
//!    namespace: a test that forks without end, or hangs, cannot outlive the run.
//! 4. **The tests** run in PID 2 (rootless: with every capability dropped, so that they see what
//!    an unprivileged caller sees), after an optional fault was injected ([`fault`]).
//!
//! The outer process only waits: it forwards `SIGTERM`, `SIGINT` and `SIGHUP` as a `SIGKILL` of
//! the wall's init, removes the cgroup, and exits with the tests' status (128 + signal when
//! they were killed). `NSWALL=off` runs without the wall (a line on stderr says so).
//!
//! # Environment
//! - [`INSIDE_VAR`] is set inside the wall; a test binary started again from inside (a re-exec)
//!   does not build a second wall.
//! - [`OUTER_VAR`] holds the outer namespaces (`/proc/self/ns` links), for tests of the wall.
//! - `NSWALL_PIDS_MAX`, `NSWALL_MEMORY_MAX` override the bounds ([`cgroup::Limits`]).

use std::io::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

pub mod cgroup;
pub mod fault;
mod lo;

#[doc(hidden)]
pub use ctor;

/// Set (to `1`) in the environment of the process that runs the tests inside the wall.
pub const INSIDE_VAR: &str = "NSWALL_INSIDE";
/// Set inside the wall to the outer process's namespaces of the [`WALLED`] kinds and its user
/// namespace, as `kind:[inode]` words (`mnt:[4026531832] net:[4026531833] ... user:[...]`), so
/// that a test can prove it is not there, and know its level in the trees.
pub const OUTER_VAR: &str = "NSWALL_OUTER";
/// `NSWALL=off` runs the test binary without the wall.
pub const SWITCH_VAR: &str = "NSWALL";

/// The kinds the wall makes new, as `/proc/self/ns` names.
pub const WALLED: [&str; 5] = ["mnt", "ipc", "uts", "net", "pid"];

/// Runs this test binary inside the wall: put `nswall::enter!();` once at the top level of a
/// test file (or a bench with its own `main`). It expands to a constructor that calls
/// [`enter_before_main`] before `main`.
#[macro_export]
macro_rules! enter {
    () => {
        $crate::ctor::declarative::ctor!(
            #[ctor(unsafe, anonymous, crate_path = $crate::ctor)]
            fn nswall_enter() {
                $crate::enter_before_main();
            }
        );
    };
}

/// Builds the wall and continues in it (see the crate docs). Called by [`enter!`]'s
/// constructor; returns only in the process that runs the tests, inside the wall (or, with
/// `NSWALL=off`, outside it). Calling it later, from a multithreaded `main`, would fork a
/// copy of one thread only: don't.
#[doc(hidden)]
pub fn enter_before_main() {
    if std::env::var_os(INSIDE_VAR).is_some() {
        return;
    }
    if std::env::var(SWITCH_VAR).as_deref() == Ok("off") {
        note("NSWALL=off: running WITHOUT the wall; a faulty test can change the host");
        inject_fault_or_exit();
        return;
    }
    let root = nix::unistd::geteuid().is_root();
    let outer = outer_namespaces();
    let bounds = if root {
        cgroup::Bounds::create(&cgroup::Limits::from_env())
    } else {
        Err("not root: the PID namespace is the kill switch; no cgroup bound".to_owned())
    };
    let bounds = match bounds {
        Ok(b) => Some(b),
        Err(why) => {
            if root {
                note(&format!("no cgroup bound ({why}): the PID namespace is the kill switch, process count and memory are not bounded"));
            }
            None
        }
    };
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWPID;
    if !root {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    // From here the outer process owns the cgroup: a failure removes it before exiting.
    let fail = |bounds: Option<cgroup::Bounds>, msg: String| -> ! {
        if let Some(b) = bounds {
            b.remove();
        }
        die(&msg)
    };
    if let Err(e) = unshare(flags) {
        if let Some(b) = bounds {
            b.remove();
        }
        if root {
            die(&format!(
                "cannot build the wall: unshare(mnt|ipc|uts|net|pid) failed: {e}; the tests do not \
                 run unprotected as root (NSWALL=off runs them without the wall)"
            ));
        }
        note(&format!(
            "cannot build the wall as uid {uid}: unshare(user|mnt|ipc|uts|net|pid) failed: {e}; \
             running without it (an unprivileged run cannot change the host's state)"
        ));
        inject_fault_or_exit();
        return;
    }
    if !root {
        if let Err(e) = map_own_ids(uid.as_raw(), gid.as_raw()) {
            fail(
                bounds,
                format!("cannot map uid {uid} in the wall's user namespace: {e}"),
            );
        }
    }
    if let Err(e) = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    ) {
        fail(
            bounds,
            format!("cannot make / private in the wall's mount namespace: {e}"),
        );
    }
    if let Some(b) = &bounds {
        if let Err(e) = b.enter_self() {
            let _ = b.leave_self();
            fail(bounds, format!("cannot join the wall's cgroup: {e}"));
        }
    }
    // SAFETY: this runs before main (a constructor): the process has one thread.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => init(root, &outer),
        Ok(ForkResult::Parent { child }) => {
            if let Some(b) = &bounds {
                // the outer process only waits: it leaves the bounded cgroup, so that the
                // cgroup can be removed after the run
                let _ = b.leave_self();
            }
            let code = supervise(child);
            if let Some(b) = bounds {
                b.remove();
            }
            exit_like(code)
        }
        Err(e) => {
            if let Some(b) = &bounds {
                let _ = b.leave_self();
            }
            fail(bounds, format!("cannot fork the wall's init: {e}"))
        }
    }
}

/// The wall's PID 1; returns only in the process that runs the tests (PID 2).
fn init(root: bool, outer: &str) {
    // Die with the outer process: whoever kills it (a timeout, ^C) kills the whole wall.
    if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        die(&format!("prctl(PR_SET_PDEATHSIG) in the wall's init: {e}"));
    }
    let nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if let Err(e) = mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        nodev | MsFlags::MS_NOEXEC,
        None::<&str>,
    ) {
        die(&format!("cannot mount the wall's /proc: {e}"));
    }
    // What of the old /tmp the run needs (its build, its sources): kept open across the mount
    // below and bound back in, so that a workspace cloned under /tmp still runs.
    let keep = tmp_entries_in_use();
    // Fresh, empty scratch filesystems: what a test leaves there vanishes with the wall.
    for (fs, dir, opts) in [
        ("tmpfs", "/tmp", Some("mode=1777")),
        ("tmpfs", "/dev/shm", Some("mode=1777")),
        ("mqueue", "/dev/mqueue", None),
    ] {
        if std::path::Path::new(dir).is_dir() {
            if let Err(e) = mount(Some(fs), dir, Some(fs), nodev, opts) {
                die(&format!("cannot mount the wall's {dir}: {e}"));
            }
        }
    }
    for (name, fd) in &keep {
        if let Err(e) = bind_back(name, fd) {
            die(&format!("cannot keep /tmp/{name} visible in the wall: {e}"));
        }
    }
    drop(keep); // the tests' process must not inherit these fds
    if let Err(e) = lo::up() {
        die(&format!("cannot bring up lo in the wall's network namespace: {e}"));
    }
    // SAFETY: still single-threaded (forked from the constructor).
    let tests = match unsafe { fork() } {
        Ok(ForkResult::Child) => return tests_side(root, outer),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => die(&format!("cannot fork the tests' process in the wall: {e}")),
    };
    // Reap every orphan of the namespace until the tests' process ends; then exit, which
    // makes the kernel kill whatever is left in the namespace.
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == tests => exit_now(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == tests => exit_now(128 + sig as i32),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => die(&format!("the wall's init lost its child: {e}")),
        }
    }
}

/// The process that runs the tests: marks the environment, drops capabilities when not root,
/// injects a fault if asked to, and returns to `main`.
fn tests_side(root: bool, outer: &str) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // SAFETY-free but worth saying: set_var before main, with one thread, races nothing.
    std::env::set_var(INSIDE_VAR, "1");
    std::env::set_var(OUTER_VAR, outer);
    if !root {
        if let Err(e) = drop_capabilities() {
            die(&format!(
                "cannot drop the capabilities of the wall's user namespace: {e}"
            ));
        }
    }
    inject_fault_or_exit();
}

/// Waits for the wall's init; a `SIGTERM`, `SIGINT` or `SIGHUP` to the outer process kills
/// it. Returns the init's status as an exit code (128 + signal when killed).
fn supervise(init: Pid) -> i32 {
    INIT.store(init.as_raw(), Ordering::SeqCst);
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: the handler only calls kill(2), which is async-signal-safe.
        let _ = unsafe { signal(sig, SigHandler::Handler(forward)) };
    }
    loop {
        match waitpid(init, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                let by = KILLED_BY.load(Ordering::SeqCst);
                return 128 + if by != 0 { by } else { sig as i32 };
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => die(&format!("lost the wall's init: {e}")),
        }
    }
}

static INIT: AtomicI32 = AtomicI32::new(0);
static KILLED_BY: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    KILLED_BY.store(sig, Ordering::SeqCst);
    let pid = INIT.load(Ordering::SeqCst);
    if pid > 0 {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Exits with `code`, or, for 128 + a signal that the outer process was sent, by that signal
/// (so that a harness sees the kind of end it caused).
fn exit_like(code: i32) -> ! {
    let by = KILLED_BY.load(Ordering::SeqCst);
    if by != 0 && code == 128 + by {
        if let Ok(sig) = Signal::try_from(by) {
            // SAFETY: restoring the default disposition has no handler to race with.
            let _ = unsafe { signal(sig, SigHandler::SigDfl) };
            let _ = nix::sys::signal::raise(sig);
        }
    }
    exit_now(code)
}

fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing of Rust's runtime has started to clean up.
    unsafe { libc::_exit(code) }
}

/// The entries of `/tmp` that the run itself lives in: those holding the executable, the
/// working directory, and the directories cargo names (`CARGO_MANIFEST_DIR`,
/// `CARGO_TARGET_DIR`), each with an `O_PATH` fd opened before `/tmp` is covered.
fn tmp_entries_in_use() -> Vec<(String, std::os::fd::OwnedFd)> {
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    paths.extend(std::env::current_exe().ok());
    paths.extend(std::env::current_dir().ok());
    for var in ["CARGO_MANIFEST_DIR", "CARGO_TARGET_DIR"] {
        paths.extend(std::env::var_os(var).map(std::path::PathBuf::from));
    }
    let mut keep: Vec<(String, std::os::fd::OwnedFd)> = Vec::new();
    for p in paths {
        let Ok(rest) = p.strip_prefix("/tmp") else { continue };
        let Some(first) = rest.components().next() else {
            continue;
        };
        let name = first.as_os_str().to_string_lossy().into_owned();
        if keep.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC;
        if let Ok(fd) = nix::fcntl::open(
            &std::path::Path::new("/tmp").join(&name),
            flags,
            nix::sys::stat::Mode::empty(),
        ) {
            keep.push((name, fd));
        }
    }
    keep
}

/// Binds the old `/tmp/<name>` (held by `fd`) onto the same path in the fresh `/tmp`.
fn bind_back(name: &str, fd: &std::os::fd::OwnedFd) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    let target = std::path::Path::new("/tmp").join(name);
    let is_dir = nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
    if is_dir {
        nix::unistd::mkdir(&target, nix::sys::stat::Mode::from_bits_truncate(0o755))?;
    } else {
        std::fs::File::create(&target)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    }
    let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(
        Some(source.as_str()),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
}

/// The caller's namespaces of the walled kinds and its user namespace (which a rootless wall
/// makes new), as `/proc/self/ns` links.
fn outer_namespaces() -> String {
    WALLED
        .iter()
        .chain(&["user"])
        .filter_map(|k| std::fs::read_link(format!("/proc/self/ns/{k}")).ok())
        .map(|l| l.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rootless: maps only the caller's own uid and gid (a process may always map itself).
fn map_own_ids(uid: u32, gid: u32) -> std::io::Result<()> {
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Clears every capability set of the calling thread: a rootless run holds the capabilities
/// of the wall's user namespace after `unshare`, which an unprivileged caller would not have.
/// Tests use it too, for a uid 0 without privilege. (`capset(2)` by hand: neither nix nor
/// libc wraps it.)
pub fn drop_capabilities() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are valid for the kernel's v3 layout (two data words).
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn inject_fault_or_exit() {
    match fault::install_from_env() {
        Ok(None) => {}
        Ok(Some(what)) => note(&format!("fault injected: {what}")),
        Err(e) => die(&format!("cannot inject the fault asked for: {e}")),
    }
}

/// One line on stderr, straight (libtest captures `eprintln!` of passing tests).
fn note(msg: &str) {
    let _ = writeln!(std::io::stderr(), "nswall: {msg}");
}

fn die(msg: &str) -> ! {
    note(msg);
    exit_now(125)
}
