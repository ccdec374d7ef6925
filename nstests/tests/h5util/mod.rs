//! Child-side helpers shared by the pid, mnt, user, time, cgroup and lifecycle tests.
//!
//! Everything here that a child body calls is async-signal-safe: raw system calls on buffers
//! the caller owns, no allocation. The parent-side helpers (`scaffold`, `Live`) allocate and
//! run only in the test thread.
#![allow(dead_code)]

use std::ffi::CStr;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nscore::{raw, Child, Errno, Kind, KindSet, Spawn};
use nstests::{is_root, Mode, Outcome, CHILD_TIMEOUT};

/// `struct clone_args` of `clone3(2)` (the first 11 fields, 88 bytes, `CLONE_ARGS_SIZE_VER2`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn ret(r: libc::c_long) -> Result<libc::pid_t, Errno> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as libc::pid_t)
    }
}

/// A fork-like `clone3(2)` into new namespaces of `kinds` (no `CLONE_VM`; the child goes on
/// from here on a copy of this stack). Returns 0 in the child, the child's pid in the parent.
pub fn clone_into(kinds: KindSet) -> Result<libc::pid_t, Errno> {
    let args = CloneArgs {
        flags: kinds.clone_flags() as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; without CLONE_VM and without a
    // stack the child gets a copy of this address space and returns here like fork(2).
    ret(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    })
}

/// A plain fork as one raw system call (no glibc fork handlers, no locks).
pub fn fork() -> Result<libc::pid_t, Errno> {
    clone_into(KindSet::new())
}

/// Makes a fork-like child that lives in new namespaces of `kinds` as `mode` says, from a
/// single-threaded caller: `None` forks, `Clone` clones into `kinds`, `Unshare` forks, calls
/// `unshare(kinds)` in the child and, for pid and time (which act on the caller's children),
/// forks once more; that middle process waits and exits with the grandchild's code.
///
/// Returns 0 in the process inside, the pid of the first child in the caller.
pub fn nsfork(mode: Mode, kinds: KindSet) -> Result<libc::pid_t, Errno> {
    match mode {
        Mode::None => fork(),
        Mode::Clone => clone_into(kinds),
        Mode::Unshare => {
            let pid = fork()?;
            if pid > 0 {
                return Ok(pid);
            }
            if let Err(e) = raw::unshare(kinds) {
                raw::exit(100 + e as i32 % 100);
            }
            if kinds.contains(Kind::Pid) || kinds.contains(Kind::Time) {
                match fork() {
                    Ok(0) => return Ok(0),
                    Ok(g) => raw::exit(raw::reap(g).unwrap_or(99)),
                    Err(_) => raw::exit(98),
                }
            }
            Ok(0)
        }
    }
}

/// `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)`.
pub fn make_private() -> Result<(), Errno> {
    // SAFETY: static NUL-terminated strings and null pointers, as mount(2) allows.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Mounts a filesystem of `fstype` on `target` (no data).
pub fn mount_fs(fstype: &CStr, target: &CStr) -> Result<(), Errno> {
    // SAFETY: NUL-terminated strings owned by the caller, null data.
    let r = unsafe { libc::mount(fstype.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Opens `path` with `flags | O_CLOEXEC`.
pub fn open(path: &CStr, flags: libc::c_int) -> Result<RawFd, Errno> {
    // SAFETY: `path` is NUL-terminated; no mode is needed without O_CREAT.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(Errno::last())
    } else {
        Ok(fd)
    }
}

/// Writes `data` to `path` in one `write(2)` (as /proc files want).
pub fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = open(path, libc::O_WRONLY)?;
    // SAFETY: `data` is a valid buffer of its length; `fd` is ours.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let r = if n < 0 { Err(Errno::last()) } else { Ok(()) };
    raw::close(fd);
    r
}

/// `stat(2)` of `path`: (st_dev, st_ino), or the errno.
pub fn stat(path: &CStr) -> Result<(u64, u64), Errno> {
    // SAFETY: `libc::stat` is plain data; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` a valid out-buffer.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } != 0 {
        return Err(Errno::last());
    }
    Ok((st.st_dev, st.st_ino))
}

/// The inode of `path` (0 on error).
pub fn ino(path: &CStr) -> i64 {
    stat(path).map(|s| s.1 as i64).unwrap_or(0)
}

/// `fstat(2)` of `fd`: its inode, 0 on error.
pub fn fd_ino(fd: RawFd) -> i64 {
    // SAFETY: `libc::stat` is plain data; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-buffer; a bad fd just fails.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return 0;
    }
    st.st_ino as i64
}

/// Parses a decimal number (with optional sign) at the start of `b`.
pub fn parse_num(b: &[u8]) -> i64 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            break;
        }
        v = v * 10 + (c - b'0') as i64;
    }
    if neg {
        -v
    } else {
        v
    }
}

/// The number in the target of symlink `path` (`/proc/self` gives the caller's pid as the
/// mounted proc sees it), or -errno.
pub fn readlink_num(path: &CStr) -> i64 {
    let mut buf = [0u8; 64];
    // SAFETY: `path` is NUL-terminated; `buf` is a valid buffer of its length.
    let n = unsafe { libc::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return -(Errno::last() as i64);
    }
    parse_num(&buf[..n as usize])
}

/// Writes `/proc/<pid>/<suffix>` NUL-terminated into `buf` and returns it as a C string.
pub fn proc_path<'a>(buf: &'a mut [u8; 64], pid: i64, suffix: &[u8]) -> &'a CStr {
    let mut i = 0;
    for &c in b"/proc/" {
        buf[i] = c;
        i += 1;
    }
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = pid.unsigned_abs();
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while n > 0 {
        n -= 1;
        buf[i] = digits[n];
        i += 1;
    }
    for &c in suffix {
        if i >= buf.len() - 1 {
            break;
        }
        buf[i] = c;
        i += 1;
    }
    buf[i] = 0;
    CStr::from_bytes_with_nul(&buf[..=i]).expect("one NUL at the end")
}

/// A pipe (both ends close-on-exec) as raw fds: (read, write).
pub fn pipe() -> Result<(RawFd, RawFd), Errno> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Errno::last());
    }
    Ok((fds[0], fds[1]))
}

/// Writes a number as 8 raw bytes.
pub fn put_i64(fd: RawFd, v: i64) {
    let _ = raw::write_all(fd, &v.to_ne_bytes());
}

/// Reads a number written by [`put_i64`]; `None` at end of file.
pub fn get_i64(fd: RawFd) -> Option<i64> {
    let mut b = [0u8; 8];
    match raw::read_full(fd, &mut b) {
        Ok(8) => Some(i64::from_ne_bytes(b)),
        _ => None,
    }
}

/// Drops every privilege: no supplementary groups, gid and uid 65534 (nobody) for real,
/// effective and saved ids, which clears all capabilities. Raw system calls, so only the
/// calling thread (the whole single-threaded child) changes.
pub fn drop_to_nobody() -> Result<(), Errno> {
    // SAFETY: raw id-changing system calls with plain integer arguments.
    unsafe {
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) != 0 {
            return Err(Errno::last());
        }
        if libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) != 0 {
            return Err(Errno::last());
        }
        if libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) != 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// `ioctl(fd, NS_GET_PARENT)` / `NS_GET_USERNS`: a new fd, or the errno.
pub fn ns_ioctl_fd(fd: RawFd, request: u64) -> Result<RawFd, Errno> {
    // SAFETY: the nsfs ioctls NS_GET_PARENT/NS_GET_USERNS take no argument.
    let r = unsafe { libc::ioctl(fd, request as _) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// `NS_GET_USERNS` (`_IO(0xb7, 1)`).
pub const NS_GET_USERNS: u64 = 0xb701;
/// `NS_GET_PARENT` (`_IO(0xb7, 2)`).
pub const NS_GET_PARENT: u64 = 0xb702;

/// Closes every fd from 3 up except those in `keep` (`close_range(2)`), so that a child
/// which lives until the test thread ends it holds no copy of the pipes of tests running in
/// parallel (a copied write end would keep their readers from seeing end of file).
pub fn close_others(keep: &[RawFd]) {
    let mut keep_sorted = [RawFd::MAX; 4];
    let n = keep.len().min(4);
    keep_sorted[..n].copy_from_slice(&keep[..n]);
    keep_sorted.sort_unstable();
    let mut first: u32 = 3;
    for &k in &keep_sorted[..n] {
        if k < 3 {
            continue;
        }
        if (k as u32) > first {
            // SAFETY: close_range with plain integer arguments.
            unsafe { libc::syscall(libc::SYS_close_range, first, k as u32 - 1, 0) };
        }
        first = k as u32 + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) };
}

/// Closes every fd but 0, 1 and 2, then blocks until a signal ends the process.
pub fn pause_forever() -> ! {
    close_others(&[]);
    loop {
        // SAFETY: pause(2) has no arguments.
        unsafe { libc::pause() };
    }
}

/// A spawn for a scaffolding child: new namespaces of `extra` (may be empty), plus a mapped
/// user namespace (root inside) when the tests do not run as root, so that the child may
/// create namespaces itself.
pub fn scaffold(extra: KindSet) -> Spawn {
    if is_root() {
        Spawn::new(extra)
    } else {
        Spawn::new(extra).map_root()
    }
}

/// A child that reports through a probe and then waits at a gate, so that the test thread
/// can look at it (or write its maps) while it lives.
pub struct Live {
    /// The child.
    pub child: Child,
    rd: std::fs::File,
    go: Option<OwnedFd>,
    /// What the child reported so far.
    pub data: Vec<u8>,
}

/// The child's end of the gate of a [`Live`] child.
#[derive(Clone, Copy)]
pub struct Gate {
    fd: RawFd,
}

impl Gate {
    /// Waits until the parent opens the gate (or goes away).
    pub fn wait(&self) {
        let mut b = [0u8; 1];
        let _ = raw::read_full(self.fd, &mut b);
    }
}

impl Live {
    /// Spawns `body` in a child of `spawn`.
    pub fn start<F>(spawn: Spawn, mut body: F) -> nscore::Result<Live>
    where
        F: FnMut(&Rep, Gate) -> i32,
    {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        let (grd, gwr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
        let probe = Rep { fd: wr.as_raw_fd() };
        let gate = Gate { fd: grd.as_raw_fd() };
        let gate_w = gwr.as_raw_fd();
        let child = spawn.run(move || {
            // the child's copy of the gate's write end would keep the gate from closing
            raw::close(gate_w);
            close_others(&[probe.fd(), gate.fd]);
            body(&probe, gate)
        })?;
        drop(wr);
        drop(grd);
        Ok(Live {
            child,
            rd: std::fs::File::from(rd),
            go: Some(gwr),
            data: Vec::new(),
        })
    }

    /// Reads the report until it holds a line `marker` (or the child closes the probe).
    pub fn until(&mut self, marker: &str) -> String {
        let want = format!("{marker}\n");
        let mut buf = [0u8; 512];
        while !String::from_utf8_lossy(&self.data).contains(&want) {
            match self.rd.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Lets the child pass one `Gate::wait`.
    pub fn go_once(&mut self) {
        if let Some(fd) = &self.go {
            let _ = raw::write_all(fd.as_raw_fd(), b"x");
        }
    }

    /// Opens the gate for good (closes it).
    pub fn go(&mut self) {
        self.go.take();
    }

    /// Opens the gate, waits for the child (killing it after [`CHILD_TIMEOUT`]) and returns
    /// all it reported.
    pub fn finish(mut self) -> Outcome {
        // an explicit byte, then close: a copy of the write end in some other process must
        // not keep the child waiting
        self.go_once();
        self.go();
        let status = match self.child.wait_timeout(CHILD_TIMEOUT).expect("wait") {
            Some(s) => s,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "child did not finish in time; it reported:\n{}",
                    String::from_utf8_lossy(&self.data)
                );
            }
        };
        // what the child wrote is in the pipe now; read it without waiting for end of file
        // (a process of a parallel test may hold a copy of the write end for a while)
        let _ = nix::fcntl::fcntl(&self.rd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        let _ = self.rd.read_to_end(&mut self.data);
        Outcome {
            status,
            data: self.data,
        }
    }
}

/// The child's report writer of a [`Live`] child (the support layer's `Probe` has no public
/// constructor): the same `key=value` lines.
#[derive(Clone, Copy)]
pub struct Rep {
    fd: RawFd,
}

impl Rep {
    /// Writes raw bytes.
    pub fn put(&self, b: &[u8]) {
        let _ = raw::write_all(self.fd, b);
    }

    /// Writes `key=value\n`.
    pub fn kv(&self, key: &[u8], v: i64) {
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        self.put(key);
        self.put(b"=");
        self.put(&buf[i..]);
        self.put(b"\n");
    }

    /// The raw fd.
    pub fn fd(&self) -> RawFd {
        self.fd
    }
}

/// Takes ownership of a raw fd returned by a helper above.
pub fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller passes an fd it owns and does not close otherwise.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Counts the entries of directory `path` whose names are all digits (the pids in a `/proc`),
/// and whether one of them is `want`; or the errno.
pub fn count_pids(path: &CStr, want: i64) -> Result<(i64, bool), Errno> {
    let fd = open(path, libc::O_RDONLY | libc::O_DIRECTORY)?;
    let mut buf = [0u8; 8192];
    let mut count = 0;
    let mut seen = false;
    loop {
        // SAFETY: `buf` is a valid buffer of its length for getdents64(2).
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            let e = Errno::last();
            raw::close(fd);
            return Err(e);
        }
        if n == 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = &buf[off + 19..off + reclen];
            let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            let name = &name[..len];
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
                count += 1;
                if parse_num(name) == want {
                    seen = true;
                }
            }
            off += reclen;
        }
    }
    raw::close(fd);
    Ok((count, seen))
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans below the caller come to it.
pub fn become_subreaper() {
    // SAFETY: a prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// `kill(pid, sig)`: Ok or the errno.
pub fn kill(pid: i64, sig: i32) -> Result<(), Errno> {
    // SAFETY: kill(2) with plain integers.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// The caller's level in the PID namespace tree (0 in the initial one): the number of
/// `NSpid:` fields in `/proc/self/status` minus one. Test thread only (allocates).
pub fn pid_level() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = s.lines().find(|l| l.starts_with("NSpid:")).expect("NSpid line");
    line.split_whitespace().count() as i64 - 2
}

/// The inode of the caller's namespace of `kind` (test thread).
pub fn host_ino(kind: Kind) -> i64 {
    nscore::NsHandle::current(kind).unwrap().id().unwrap().ino as i64
}
