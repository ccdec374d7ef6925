//! Support for the isolation tests: run a body in a child made by nscore's child runner, in one
//! of LTP's three modes, and read back what the child saw.
//!
//! Every namespace change happens in a child process, never in a test thread. The child body
//! runs after `clone` in a multithreaded process (the test harness), so it may only do
//! async-signal-safe work: raw system calls on buffers prepared before the spawn, no
//! allocation, no locks, no `println!`. It reports what it saw through a [`Probe`] (a pipe
//! whose write end it holds) and its exit code.
//!
//! The compiler cannot check that, so every function here that runs a caller's closure in a
//! forked child ([`run_spawn`], [`run_in`], [`live::Live::start`], [`child::fork_with`], ...)
//! or forks for the caller's own code ([`child::fork`], [`child::nsfork`]) is an `unsafe fn`,
//! as `nix::unistd::fork` and std's `pre_exec` are, and so is every one that closes a raw fd
//! ([`child::close`], as `rustix::io::close`) or borrows one for rustix ([`child::borrow`], as
//! `BorrowedFd::borrow_raw`). A test calls them in an `unsafe` block whose
//! `// SAFETY:` comment says why the body keeps to that; the body is a closure defined before
//! the block, so that its own unsafe operations keep their own `unsafe` blocks and comments.
//!
//! As root, every test runs. As a normal user, [`Mode::Clone`] and [`Mode::Unshare`] add a user
//! namespace (rootless), and a test that still cannot run prints one `SKIPPED` line saying why.

use std::ffi::CStr;
use std::fmt;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::process::ExitStatus;

use nscore::{raw, Kind, KindSet, Spawn};

pub mod active;
pub mod child;
pub mod clock;
pub mod fs;
pub mod helper;
pub mod ipc;
pub mod level;
pub mod live;
pub mod nl;
pub mod nsfs;
pub mod so;
pub mod sysctl;
pub mod tree;

pub use level::{pid_level, user_level, Level};

/// How long a child may run before the test kills it and fails.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(20);

/// How a test's child gets its namespaces: LTP's `none`, `clone` and `unshare` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Control: no new namespace; the child shares the parent's (sharing must be seen).
    None,
    /// The namespaces are made by `clone3(2)` with the kinds' flags.
    Clone,
    /// A plain child calls `unshare(2)` with the kinds' flags first (fork + unshare).
    Unshare,
    /// The namespaces come from an [`nscore::Pool`] ([`pool_for`]): a set made ahead of time,
    /// used by this child only. Only where the test thread spawns the child ([`spawn_for`],
    /// [`run_in`]); inside a child (no allocation there) and rootless (a pool holds no user
    /// namespace) it is [`Mode::Clone`].
    Pool,
}

impl Mode {
    /// Whether this mode makes new namespaces (`Clone` and `Unshare`) or not (`None`).
    pub fn isolates(self) -> bool {
        self != Mode::None
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::None => "none",
            Mode::Clone => "clone",
            Mode::Unshare => "unshare",
            Mode::Pool => "pool",
        })
    }
}

/// Whether the tests run with full privilege (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Prints the one line that says a test was skipped and why. Use only where the test really
/// cannot run (never as root).
pub fn skip(test: &str, why: &str) {
    // one write(2), so that the line does not mix with libtest's output of parallel tests
    let _ = std::io::stderr().write_all(format!("SKIPPED {test}: {why}\n").as_bytes());
}

/// Returns `true` when running as root; otherwise prints `SKIPPED <test>: needs root: <why>`
/// and returns `false`, so a test can `if !require_root(..) { return; }`.
pub fn require_root(test: &str, why: &str) -> bool {
    if is_root() {
        true
    } else {
        skip(test, &format!("needs root: {why}"));
        false
    }
}

/// The child's end of a result pipe: async-signal-safe writes of bytes and numbers.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    fd: RawFd,
}

impl Probe {
    /// A probe writing to `fd` (the write end of a pipe the reader holds the other end of).
    ///
    /// # Safety
    /// `fd` stays open as long as the probe (or a copy of it) is used: [`Probe::to_stdout`]
    /// borrows it as an fd.
    pub unsafe fn new(fd: RawFd) -> Probe {
        Probe { fd }
    }

    /// Writes raw bytes.
    pub fn put(&self, bytes: &[u8]) {
        let _ = raw::write_all(self.fd, bytes);
    }

    /// Writes a signed decimal number (no allocation).
    pub fn num(&self, n: i64) {
        let mut buf = [0u8; 24];
        self.put(child::decimal(n, &mut buf));
    }

    /// Writes `key=value\n` in one `write(2)` (truncated to 256 bytes), so that the lines of
    /// processes writing to the same probe do not mix.
    pub fn line(&self, key: &[u8], value: &[u8]) {
        let mut buf = [0u8; 256];
        let mut n = 0;
        for part in [key, b"=", value, b"\n"] {
            let m = part.len().min(buf.len() - n);
            buf[n..n + m].copy_from_slice(&part[..m]);
            n += m;
        }
        self.put(&buf[..n]);
    }

    /// Writes `key=<n>\n` in one `write(2)`.
    pub fn line_num(&self, key: &[u8], n: i64) {
        let mut buf = [0u8; 24];
        self.line(key, child::decimal(n, &mut buf));
    }

    /// Writes `key=<errno of the last failed libc call>\n` (0 when none).
    pub fn errno(&self, key: &[u8]) {
        self.line_num(key, child::errno());
    }

    /// Makes the probe the caller's standard output (`dup2(fd, 1)`), for a program it
    /// executes.
    pub fn to_stdout(&self) -> Result<(), nscore::Errno> {
        // SAFETY: the probe's fd stays open while the probe is used (`Probe::new`'s contract);
        // dup2 neither closes nor keeps it.
        let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd) };
        rustix::stdio::dup2_stdout(fd).map_err(child::errno_of)
    }

    /// The raw write end, for code that writes itself.
    pub fn fd(&self) -> RawFd {
        self.fd
    }
}

/// What a child reported: its exit status and everything it wrote to its [`Probe`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The child's exit status.
    pub status: ExitStatus,
    /// Bytes written through the probe.
    pub data: Vec<u8>,
}

impl Outcome {
    /// The report as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// The value of `key=value` line `key` (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<String> {
        let text = self.text();
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::to_owned)
    }

    /// The values of every `key=value` line, sorted.
    pub fn values(&self, key: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }

    /// The numeric value of `key`, panicking with the whole report when missing.
    pub fn num(&self, key: &str) -> i64 {
        let v = self
            .get(key)
            .unwrap_or_else(|| panic!("child did not report {key:?}; it reported:\n{}", self.text()));
        v.parse()
            .unwrap_or_else(|_| panic!("child reported {key}={v:?}, not a number"))
    }

    /// The string value of `key`, panicking with the whole report when missing.
    pub fn str(&self, key: &str) -> String {
        self.get(key)
            .unwrap_or_else(|| panic!("child did not report {key:?}; it reported:\n{}", self.text()))
    }

    /// Panics with the report unless the child exited with 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Outcome {
        assert!(
            self.status.success(),
            "child failed ({}); it reported:\n{}",
            self.status,
            self.text()
        );
        self
    }
}

/// The kinds a mode gets, with a user namespace added when not root (rootless).
pub fn effective_kinds(mode: Mode, kinds: KindSet) -> KindSet {
    if mode.isolates() && !is_root() && !kinds.is_empty() {
        kinds | Kind::User
    } else {
        kinds
    }
}

/// Builds the spawn for `mode`: `Clone` gets `kinds` (plus a mapped user namespace when not
/// root), `Pool` takes them from [`pool_for`], `None` and `Unshare` get a plain child.
pub fn spawn_for(mode: Mode, kinds: KindSet) -> Spawn {
    match mode {
        Mode::Clone => {
            let k = effective_kinds(mode, kinds);
            let s = Spawn::new(k);
            if k.contains(Kind::User) && !is_root() {
                s.map_root()
            } else {
                s
            }
        }
        Mode::Pool if is_root() && !kinds.is_empty() => pool_for(kinds).spawn(),
        Mode::Pool => spawn_for(Mode::Clone, kinds),
        Mode::None | Mode::Unshare => Spawn::new(KindSet::EMPTY),
    }
}

/// The shared pool of sets of `kinds` for [`Mode::Pool`] (two sets ready; made on first use
/// and kept for the test binary's life). Panics if the pool cannot be made (kinds a pool
/// cannot hold: user, time).
pub fn pool_for(kinds: KindSet) -> nscore::Pool {
    static POOLS: std::sync::Mutex<Vec<nscore::Pool>> = std::sync::Mutex::new(Vec::new());
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.iter().find(|p| p.kinds() == kinds) {
        return p.clone();
    }
    let p = nscore::Pool::new(kinds, 2).unwrap_or_else(|e| panic!("a pool of {kinds}: {e}"));
    pools.push(p.clone());
    p
}

/// A spawn for a scratch "parent" child of a test: new namespaces of `kinds` (plus a mapped
/// user namespace when not root), so that what the test changes on the parent side (IPC
/// objects, links, names, sysctls) lives there and never in the host's namespaces.
pub fn scratch(kinds: KindSet) -> Spawn {
    spawn_for(Mode::Clone, kinds)
}

/// Runs `body` in a child made for `mode` and `kinds`, and returns what it reported.
///
/// In `Unshare` mode the child first calls `unshare(2)` with `kinds` (and a user namespace
/// when rootless); if that fails it reports `unshare_errno=<errno>` and exits 90.
///
/// # Safety
/// As for [`run_spawn`]: `body` runs in a fork-like child of the multithreaded test process.
pub unsafe fn run_in<F>(mode: Mode, kinds: KindSet, mut body: F) -> nscore::Result<Outcome>
where
    F: FnMut(&Probe) -> i32,
{
    let unshare_kinds = effective_kinds(mode, kinds);
    let child = move |p: &Probe| {
        if mode == Mode::Unshare && !unshare_kinds.is_empty() {
            if let Err(e) = raw::unshare(unshare_kinds) {
                p.line_num(b"unshare_errno", e as i64);
                return 90;
            }
        }
        body(p)
    };
    // SAFETY: the wrapper adds only a raw unshare(2) and a write to the probe; `body` is
    // async-signal-safe by this function's own contract.
    unsafe { run_spawn(spawn_for(mode, kinds), child) }
}

/// Runs `body` in a child made by `spawn`, with a probe, a timeout ([`CHILD_TIMEOUT`]) and
/// the child reaped whatever happens. A child still running at the timeout is killed with
/// every process below it ([`tree::kill_tree`]) and the test fails saying so.
///
/// # Safety
/// As for [`Spawn::run`] (and `std`'s `pre_exec`): `body` runs in a fork-like copy of one
/// thread of the multithreaded test process, so it must only do async-signal-safe work until
/// it returns: system calls on memory made before the spawn, no allocation, no lock, no
/// `println!`, no panic; and it must close only fds it owns (pipe ends made for it).
pub unsafe fn run_spawn<F>(spawn: Spawn, body: F) -> nscore::Result<Outcome>
where
    F: FnMut(&Probe) -> i32,
{
    // SAFETY: `body` is async-signal-safe by this function's own contract.
    match unsafe { run_spawn_within(spawn, CHILD_TIMEOUT, body) }? {
        Ended::InTime(o) => Ok(o),
        Ended::TimedOut { outcome, killed } => panic!(
            "child {} did not finish within {CHILD_TIMEOUT:?}; killed it and the {} processes below it; \
             it reported:\n{}",
            killed[0],
            killed.len() - 1,
            outcome.text()
        ),
    }
}

/// How a child run by [`run_spawn_within`] ended.
#[derive(Debug)]
pub enum Ended {
    /// It ended by itself before the timeout.
    InTime(Outcome),
    /// It was still running at the timeout: it and every process below it were killed.
    TimedOut {
        /// The status of the killed child and what it had reported.
        outcome: Outcome,
        /// The pids that were killed, the child's first.
        killed: Vec<libc::pid_t>,
    },
}

/// [`run_spawn`] with a timeout of the caller's, returning (instead of failing) when the child
/// did not finish in time; the child and every process below it are killed then.
///
/// # Safety
/// As for [`run_spawn`]: `body` must be async-signal-safe and close only fds it owns.
pub unsafe fn run_spawn_within<F>(spawn: Spawn, timeout: Duration, mut body: F) -> nscore::Result<Ended>
where
    F: FnMut(&Probe) -> i32,
{
    let (rd, wr): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(std::io::Error::from)
        .expect("pipe2");
    // SAFETY: `wr` stays open in the child for its whole life (the parent's copy is dropped
    // only after the spawn), and the probe is not used outside it.
    let probe = unsafe { Probe::new(wr.as_raw_fd()) };
    // SAFETY: `body` is async-signal-safe and closes only its own fds, by this function's
    // contract; the wrapper only passes it the probe, a copy of plain data made before.
    let mut child = unsafe { spawn.run(move || body(&probe)) }?;
    drop(wr);
    let exited = Arc::new(AtomicBool::new(false));
    let reader = {
        let exited = Arc::clone(&exited);
        std::thread::spawn(move || read_until_drained(&rd, &exited))
    };
    let status = child.wait_timeout(timeout);
    let killed = match status {
        Ok(None) => Some(tree::kill_tree(child.pid().as_raw())),
        _ => None,
    };
    let status = match status {
        Ok(Some(s)) => Ok(s),
        Ok(None) => child.wait(),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    };
    exited.store(true, Ordering::Release);
    let data = reader.join().expect("probe reader");
    let outcome = Outcome { status: status?, data };
    Ok(match killed {
        None => Ended::InTime(outcome),
        Some(killed) => Ended::TimedOut { outcome, killed },
    })
}

/// Reads `rd` until end of file, or, once `exited` is set (the child has exited, so all it
/// wrote is in the pipe), until the pipe is empty: a process of a parallel test that was
/// cloned while the write end was open may hold a copy of it for long, and end of file would
/// come only when that process exits. Writers below the child (grandchildren) end before it.
fn read_until_drained(rd: &OwnedFd, exited: &AtomicBool) -> Vec<u8> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // read before polling: once set, everything the child wrote is already in the pipe
        let done = exited.load(Ordering::Acquire);
        let timeout = if done {
            PollTimeout::ZERO
        } else {
            PollTimeout::from(50u16)
        };
        let mut fds = [PollFd::new(rd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) if done => break,
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => match nix::unistd::read(rd, &mut buf) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            },
        }
    }
    data
}

/// Like [`run_in`], but prints a `SKIPPED` line and returns `None` when the namespaces cannot
/// be made for lack of privilege (never as root: as root every error is a failure).
///
/// # Safety
/// As for [`run_spawn`]: `body` runs in a fork-like child of the multithreaded test process.
pub unsafe fn run_or_skip<F>(test: &str, mode: Mode, kinds: KindSet, body: F) -> Option<Outcome>
where
    F: FnMut(&Probe) -> i32,
{
    // SAFETY: `body` is async-signal-safe by this function's own contract.
    match unsafe { run_in(mode, kinds, body) } {
        Ok(o) => {
            if !is_root() && o.status.code() == Some(90) {
                if let Some(e) = o.get("unshare_errno") {
                    skip(
                        test,
                        &format!("needs root: unshare({kinds}) failed with errno {e} rootless"),
                    );
                    return None;
                }
            }
            Some(o)
        }
        Err(e) if !is_root() && e.is_permission() => {
            skip(test, &format!("needs root: {e}"));
            None
        }
        Err(e) => panic!("{test}: could not start the child: {e}"),
    }
}

/// A NUL-terminated copy of `s`, made before a spawn for use in the child.
pub fn cstr(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).expect("no NUL in test strings")
}

/// A NUL-terminated copy of path `p`, made before a spawn for use in the child.
pub fn cpath(p: &std::path::Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path")
}

/// Reads a small file into `buf` in the child (async-signal-safe); returns the bytes read,
/// trailing newline trimmed, or an empty slice on error.
pub fn read_small<'a>(path: &CStr, buf: &'a mut [u8]) -> &'a [u8] {
    let Ok(fd) = raw::open(path) else {
        return &[];
    };
    let n = raw::read_full(fd, buf).unwrap_or(0);
    // SAFETY: `fd` was opened just above and is not used again.
    unsafe { raw::close(fd) };
    let mut n = n;
    while n > 0 && buf[n - 1] == b'\n' {
        n -= 1;
    }
    &buf[..n]
}

/// A unique name for objects a test makes (IPC keys, link names): the prefix, the test
/// process's pid and a counter.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The inode of the test process's namespace of `kind` (test thread).
pub fn host_ino(kind: Kind) -> i64 {
    nscore::NsHandle::current(kind).unwrap().inode().unwrap().ino as i64
}

/// `NS_GET_ID` of `ns`, or `None` with one `SKIPPED <test>` line when the kernel lacks the
/// request (it came in Linux 6.18); any other error fails the test.
pub fn ns_id_or_skip(test: &str, ns: &nscore::NsHandle) -> Option<u64> {
    match ns.ns_id() {
        Ok(id) => Some(id),
        Err(e) if e.is_unsupported() || e.errno() == Some(nscore::Errno::EINVAL) => {
            skip(test, &format!("NS_GET_ID needs Linux 6.18: {e}"));
            None
        }
        Err(e) => panic!("{test}: NS_GET_ID: {e}"),
    }
}
