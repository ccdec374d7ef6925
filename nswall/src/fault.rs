//! Fault injection: make the kernel "lie" to the code under test, inside the wall only.
//!
//! `NSWALL_FAULT=<spec>` asks the wall to install a seccomp filter in the tests' process
//! before `main` (single-threaded, after the wall's own namespaces were made), so that every
//! thread and child of the run inherits it, and nothing outside the run sees it.
//!
//! # Grammar
//!
//! ```text
//! spec   := fault { "," fault }
//! fault  := kind ":" [ calls ":" ] action     the namespace calls for one kind
//!         | "clone3" ":" errno                every clone3(2), whatever its flags
//! kind   := cgroup | ipc | mnt | net | pid | time | user | uts
//! calls  := call { "+" call }                 default: unshare+setns
//! call   := unshare | setns | clone           clone: the legacy clone(2)
//! action := "lie"                             return 0 and do nothing
//!         | errno                             fail with that errno
//! errno  := an E-name (EPERM, ENOSPC, ENOSYS, ...) or its number (1 to 4095)
//! ```
//!
//! A fault of a kind matches `unshare(flags)` and `clone(flags, ...)` whose `flags`, and
//! `setns(fd, nstype)` whose `nstype`, contain that kind's `CLONE_NEW*` bit. Examples:
//! `pid:lie`, `net:EPERM`, `uts:setns:EINVAL`, `mnt:unshare+clone:ENOMEM`, `clone3:ENOSYS`,
//! `pid:lie,clone3:ENOSYS`. An empty value is no fault. When two faults match one call, the
//! later one of the spec wins (the kernel runs the newest filter first and keeps its answer
//! when the actions are of the same kind).
//!
//! # What cannot be faked, and why
//!
//! - **`clone3(2)` per kind**: its flags are in a `struct clone_args` in memory, and a seccomp
//!   filter sees only the registers (the kernel deliberately does not let it read memory, which
//!   the caller could change after the check). So `clone3:<errno>` fails *every* clone3:
//!   nscore's spawns and forks (which have no fallback to `clone`: a spawn then fails with that
//!   errno), and glibc's `pthread_create` and `posix_spawn`, which fall back to `clone(2)` on
//!   `ENOSYS` only. Use `ENOSYS` (what a kernel before 5.3, or Docker's default seccomp profile,
//!   answers); another errno also makes the test harness unable to start its threads.
//! - **A lie from `clone` or `clone3`**: their 0 return means "you are the child"; the caller
//!   would run on as a child that does not exist. Only errnos are offered.
//! - **`time` with `clone`**: the legacy `clone(2)` cannot make a time namespace
//!   (`CLONE_NEWTIME`, `0x80`, lies in its exit-signal byte).
//! - **`setns(fd, 0)`**: an nstype of 0 accepts any kind, which only the fd tells; such a call
//!   is not matched.
//! - **Half a lie**: `unshare(CLONE_NEWPID | CLONE_NEWNET)` under `pid:lie` makes *neither*
//!   namespace; a filter cannot let the kernel do part of a call.
//! - **The wall itself**: its namespaces are made before the filter is installed.
//!
//! The filter is built with `seccompiler` (the Firecracker project's BPF compiler) and
//! installed with `PR_SET_NO_NEW_PRIVS` and `seccomp(SECCOMP_SET_MODE_FILTER)`: one filter
//! per fault.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

/// The environment variable that names the fault to inject.
pub const FAULT_VAR: &str = "NSWALL_FAULT";

/// A namespace kind, by its `/proc/self/ns` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `CLONE_NEWCGROUP`.
    Cgroup,
    /// `CLONE_NEWIPC`.
    Ipc,
    /// `CLONE_NEWNS`.
    Mnt,
    /// `CLONE_NEWNET`.
    Net,
    /// `CLONE_NEWPID`.
    Pid,
    /// `CLONE_NEWTIME`.
    Time,
    /// `CLONE_NEWUSER`.
    User,
    /// `CLONE_NEWUTS`.
    Uts,
}

/// `CLONE_NEWTIME` (Linux 5.6); not in every libc crate version.
const CLONE_NEWTIME: u64 = 0x80;

impl Kind {
    /// Every kind, in the order of their names.
    pub const ALL: [Kind; 8] = [
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Net,
        Kind::Pid,
        Kind::Time,
        Kind::User,
        Kind::Uts,
    ];

    /// The `/proc/self/ns` name: `cgroup`, `ipc`, `mnt`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup",
            Kind::Ipc => "ipc",
            Kind::Mnt => "mnt",
            Kind::Net => "net",
            Kind::Pid => "pid",
            Kind::Time => "time",
            Kind::User => "user",
            Kind::Uts => "uts",
        }
    }

    /// The kind's `CLONE_NEW*` bit, as `unshare(2)`, `setns(2)` and `clone(2)` take it.
    pub fn flag(self) -> u64 {
        match self {
            Kind::Cgroup => libc::CLONE_NEWCGROUP as u64,
            Kind::Ipc => libc::CLONE_NEWIPC as u64,
            Kind::Mnt => libc::CLONE_NEWNS as u64,
            Kind::Net => libc::CLONE_NEWNET as u64,
            Kind::Pid => libc::CLONE_NEWPID as u64,
            Kind::Time => CLONE_NEWTIME,
            Kind::User => libc::CLONE_NEWUSER as u64,
            Kind::Uts => libc::CLONE_NEWUTS as u64,
        }
    }

    /// The kind's flag name: `CLONE_NEWPID`, ...
    pub fn flag_name(self) -> &'static str {
        match self {
            Kind::Cgroup => "CLONE_NEWCGROUP",
            Kind::Ipc => "CLONE_NEWIPC",
            Kind::Mnt => "CLONE_NEWNS",
            Kind::Net => "CLONE_NEWNET",
            Kind::Pid => "CLONE_NEWPID",
            Kind::Time => "CLONE_NEWTIME",
            Kind::User => "CLONE_NEWUSER",
            Kind::Uts => "CLONE_NEWUTS",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A system call a fault can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    /// `unshare(flags)`: matched on `flags`.
    Unshare,
    /// `setns(fd, nstype)`: matched on `nstype`.
    Setns,
    /// The legacy `clone(flags, ...)`: matched on `flags`.
    Clone,
    /// `clone3(args, size)`: its flags are in memory, so every call is matched.
    Clone3,
}

impl Call {
    /// The system call's name.
    pub fn name(self) -> &'static str {
        match self {
            Call::Unshare => "unshare",
            Call::Setns => "setns",
            Call::Clone => "clone",
            Call::Clone3 => "clone3",
        }
    }

    fn nr(self) -> i64 {
        match self {
            Call::Unshare => libc::SYS_unshare,
            Call::Setns => libc::SYS_setns,
            Call::Clone => libc::SYS_clone,
            Call::Clone3 => libc::SYS_clone3,
        }
    }

    /// The argument that holds the `CLONE_NEW*` bits.
    fn flags_arg(self) -> u8 {
        match self {
            Call::Setns => 1,
            Call::Unshare | Call::Clone | Call::Clone3 => 0,
        }
    }

    fn from_name(name: &str) -> Option<Call> {
        [Call::Unshare, Call::Setns, Call::Clone, Call::Clone3]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// What a matched call does instead of its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Returns 0 without doing anything: the caller believes it got the namespace.
    Lie,
    /// Fails with this errno.
    Errno(i32),
}

/// One fault: which calls, for which kind, do what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The kind whose `CLONE_NEW*` bit is matched; `None` for `clone3` (every call).
    pub kind: Option<Kind>,
    /// The calls matched (at least one).
    pub calls: Vec<Call>,
    /// What they do.
    pub action: Action,
}

impl fmt::Display for Fault {
    /// `unshare(2), setns(2) with CLONE_NEWPID return 0 and do nothing (pid:lie)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls: Vec<String> = self.calls.iter().map(|c| format!("{}(2)", c.name())).collect();
        let calls = calls.join(", ");
        match self.kind {
            Some(k) => write!(f, "{calls} with {}", k.flag_name())?,
            None => write!(f, "every {calls}")?,
        }
        let one = self.calls.len() == 1;
        match self.action {
            Action::Lie if one => f.write_str(" returns 0 and does nothing")?,
            Action::Lie => f.write_str(" return 0 and do nothing")?,
            Action::Errno(e) if one => write!(f, " fails with {}", errno_name(e))?,
            Action::Errno(e) => write!(f, " fail with {}", errno_name(e))?,
        }
        write!(f, " ({})", self.spec())
    }
}

impl Fault {
    /// The fault in the grammar's words (parsing it gives the fault back).
    pub fn spec(&self) -> String {
        let action = match self.action {
            Action::Lie => "lie".to_owned(),
            Action::Errno(e) => errno_name(e),
        };
        match self.kind {
            None => format!("clone3:{action}"),
            Some(k) => {
                let calls: Vec<&str> = self.calls.iter().map(|c| c.name()).collect();
                format!("{}:{}:{action}", k.name(), calls.join("+"))
            }
        }
    }

    /// The seccomp filter of this fault, for the machine's architecture.
    pub fn program(&self) -> Result<BpfProgram, String> {
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for &call in &self.calls {
            let rule = match self.kind {
                // clone3 (no kind): every call; an empty rule list matches the call whatever
                // its arguments.
                None => Vec::new(),
                Some(k) => {
                    let bit = SeccompCondition::new(
                        call.flags_arg(),
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::MaskedEq(k.flag()),
                        k.flag(),
                    )
                    .map_err(|e| format!("seccompiler: {e}"))?;
                    vec![SeccompRule::new(vec![bit]).map_err(|e| format!("seccompiler: {e}"))?]
                }
            };
            rules.insert(call.nr(), rule);
        }
        let errno = match self.action {
            Action::Lie => 0,
            Action::Errno(e) => e as u32,
        };
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccompiler: {e}"))?;
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), arch)
            .and_then(BpfProgram::try_from)
            .map_err(|e| format!("seccompiler: {e}"))
    }
}

/// The kinds, as the grammar lists them.
fn kind_names() -> String {
    Kind::ALL.map(Kind::name).join(", ")
}

/// Parses a whole `NSWALL_FAULT` value (see the module docs). Empty: no fault.
pub fn parse(spec: &str) -> Result<Vec<Fault>, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',').map(|f| parse_one(f.trim())).collect()
}

fn parse_one(fault: &str) -> Result<Fault, String> {
    let parts: Vec<&str> = fault.split(':').collect();
    let bad = |why: String| format!("fault `{fault}`: {why}");
    let (head, calls, action) = match parts.as_slice() {
        [head, action] => (*head, None, *action),
        [head, calls, action] => (*head, Some(*calls), *action),
        _ => return Err(bad("expected <kind>:[<calls>:]<lie|errno> or clone3:<errno>".to_owned())),
    };
    let action = parse_action(action).map_err(bad)?;
    if head == "clone3" {
        if calls.is_some() {
            return Err(bad("clone3 takes no calls: it is the call (clone3:<errno>)".to_owned()));
        }
        if action == Action::Lie {
            return Err(bad(
                "clone3 cannot lie: its 0 return means \"you are the child\"; give an errno \
                 (ENOSYS is what a kernel without clone3 answers)"
                    .to_owned(),
            ));
        }
        return Ok(Fault {
            kind: None,
            calls: vec![Call::Clone3],
            action,
        });
    }
    let kind = Kind::from_name(head).ok_or_else(|| {
        bad(format!(
            "unknown kind `{head}`: expected one of {}, or clone3",
            kind_names()
        ))
    })?;
    let calls = match calls {
        None => vec![Call::Unshare, Call::Setns],
        Some(list) => {
            let mut calls = Vec::new();
            for name in list.split('+') {
                let call = Call::from_name(name).filter(|c| *c != Call::Clone3).ok_or_else(|| {
                    bad(format!(
                        "unknown call `{name}`: expected unshare, setns or clone (for \
                             clone3, whose flags a filter cannot see, write clone3:<errno>)"
                    ))
                })?;
                if calls.contains(&call) {
                    return Err(bad(format!("`{name}` is named twice")));
                }
                calls.push(call);
            }
            calls
        }
    };
    if calls.contains(&Call::Clone) {
        if action == Action::Lie {
            return Err(bad(
                "clone cannot lie: its 0 return means \"you are the child\"; give an errno".to_owned(),
            ));
        }
        if kind == Kind::Time {
            return Err(bad(
                "the legacy clone(2) cannot make a time namespace (CLONE_NEWTIME is in its \
                 exit-signal byte); fault clone3 instead (clone3:<errno>)"
                    .to_owned(),
            ));
        }
    }
    Ok(Fault {
        kind: Some(kind),
        calls,
        action,
    })
}

fn parse_action(word: &str) -> Result<Action, String> {
    if word == "lie" {
        return Ok(Action::Lie);
    }
    let errno = if let Ok(n) = word.parse::<i32>() {
        n
    } else {
        errno_from_name(word).ok_or_else(|| {
            format!("unknown action `{word}`: expected lie, an errno name (EPERM, ENOSYS, ...) or a number")
        })?
    };
    if !(1..=4095).contains(&errno) {
        return Err(format!(
            "errno {errno} is out of range (1 to 4095; for a 0 return write lie)"
        ));
    }
    Ok(Action::Errno(errno))
}

/// The errno numbers that have a name in this libc, with their names.
fn errno_names() -> impl Iterator<Item = (i32, String)> {
    (1..512).filter_map(|n| {
        let e = nix::errno::Errno::from_raw(n);
        (e != nix::errno::Errno::UnknownErrno).then(|| (n, format!("{e:?}")))
    })
}

fn errno_from_name(name: &str) -> Option<i32> {
    errno_names().find(|(_, n)| n == name).map(|(e, _)| e)
}

/// `EPERM` for 1; the number itself when it has no name.
fn errno_name(errno: i32) -> String {
    errno_names()
        .find(|(e, _)| *e == errno)
        .map(|(_, n)| n)
        .unwrap_or_else(|| errno.to_string())
}

/// Installs the faults: one seccomp filter each, after `PR_SET_NO_NEW_PRIVS` (which lets an
/// unprivileged process install a filter, and which every child inherits). Call it while the
/// process has one thread: the filters hold for the calling thread and what it makes later.
pub fn install(faults: &[Fault]) -> Result<(), String> {
    // Compile all before installing any, so that an error leaves the process as it was.
    let programs = faults
        .iter()
        .map(|f| f.program().map_err(|e| format!("{}: {e}", f.spec())))
        .collect::<Result<Vec<_>, _>>()?;
    for (fault, program) in faults.iter().zip(&programs) {
        seccompiler::apply_filter(program)
            .map_err(|e| format!("cannot install the seccomp filter of {}: {e}", fault.spec()))?;
    }
    Ok(())
}

/// Installs the fault that [`FAULT_VAR`] names, if any. `Ok(None)`: none asked for;
/// `Ok(Some(what))`: installed, described; `Err`: asked for but not possible (the wall then
/// refuses to run, rather than run without the fault).
pub fn install_from_env() -> Result<Option<String>, String> {
    let spec = match std::env::var(FAULT_VAR) {
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => return Err(format!("{FAULT_VAR}={v:?} is not UTF-8")),
        Ok(spec) => spec,
    };
    let faults = parse(&spec).map_err(|e| format!("{FAULT_VAR}={spec}: {e}"))?;
    if faults.is_empty() {
        return Ok(None);
    }
    install(&faults).map_err(|e| format!("{FAULT_VAR}={spec}: {e}"))?;
    let what: Vec<String> = faults.iter().map(Fault::to_string).collect();
    Ok(Some(what.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_lie_covers_unshare_and_setns() {
        let f = parse("pid:lie").unwrap();
        assert_eq!(
            f,
            vec![Fault {
                kind: Some(Kind::Pid),
                calls: vec![Call::Unshare, Call::Setns],
                action: Action::Lie,
            }]
        );
        assert_eq!(f[0].spec(), "pid:unshare+setns:lie");
        assert_eq!(
            f[0].to_string(),
            "unshare(2), setns(2) with CLONE_NEWPID return 0 and do nothing (pid:unshare+setns:lie)"
        );
    }

    #[test]
    fn errno_by_name_or_number() {
        assert_eq!(parse("net:EPERM").unwrap()[0].action, Action::Errno(libc::EPERM));
        assert_eq!(parse("net:28").unwrap()[0].action, Action::Errno(libc::ENOSPC));
        assert_eq!(parse("net:4095").unwrap()[0].action, Action::Errno(4095));
        assert_eq!(errno_name(4095), "4095");
        assert_eq!(errno_name(libc::ENOSYS), "ENOSYS");
    }

    #[test]
    fn calls_and_several_faults() {
        let f = parse(" uts:setns:EINVAL , mnt:unshare+clone:ENOMEM,clone3:ENOSYS ").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].calls, vec![Call::Setns]);
        assert_eq!(f[0].action, Action::Errno(libc::EINVAL));
        assert_eq!(f[1].kind, Some(Kind::Mnt));
        assert_eq!(f[1].calls, vec![Call::Unshare, Call::Clone]);
        assert_eq!(
            f[2],
            Fault {
                kind: None,
                calls: vec![Call::Clone3],
                action: Action::Errno(libc::ENOSYS)
            }
        );
        assert_eq!(f[2].spec(), "clone3:ENOSYS");
        assert_eq!(f[2].to_string(), "every clone3(2) fails with ENOSYS (clone3:ENOSYS)");
        assert_eq!(
            f[0].to_string(),
            "setns(2) with CLONE_NEWUTS fails with EINVAL (uts:setns:EINVAL)"
        );
    }

    #[test]
    fn spec_round_trips_for_every_kind() {
        for k in Kind::ALL {
            for text in [format!("{}:lie", k.name()), format!("{}:setns:EBUSY", k.name())] {
                let f = parse(&text).unwrap();
                assert_eq!(parse(&f[0].spec()).unwrap(), f, "{text}");
                assert_eq!(f[0].kind.unwrap().flag().count_ones(), 1);
            }
        }
    }

    #[test]
    fn empty_is_no_fault() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("  ").unwrap(), vec![]);
    }

    #[test]
    fn malformed_specs_say_why() {
        let cases = [
            ("nope:lie", "unknown kind `nope`"),
            ("pid", "expected <kind>"),
            ("pid:a:b:c", "expected <kind>"),
            ("pid:maybe", "unknown action `maybe`"),
            ("pid:0", "out of range"),
            ("pid:-1", "out of range"),
            ("pid:4096", "out of range"),
            ("pid:fork:lie", "unknown call `fork`"),
            ("pid:clone3:ENOSYS", "unknown call `clone3`"),
            ("pid:unshare+unshare:lie", "named twice"),
            ("pid:clone:lie", "clone cannot lie"),
            ("time:clone:EPERM", "cannot make a time namespace"),
            ("clone3:lie", "clone3 cannot lie"),
            ("clone3:unshare:ENOSYS", "clone3 takes no calls"),
            ("pid:lie,", "expected <kind>"),
            ("PID:lie", "unknown kind `PID`"),
        ];
        for (spec, want) in cases {
            let err = parse(spec).expect_err(spec);
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.starts_with("fault `"), "{spec}: {err}");
        }
    }

    #[test]
    fn every_fault_compiles_to_a_filter() {
        for spec in [
            "pid:lie",
            "time:EPERM",
            "user:unshare+setns+clone:EINVAL",
            "clone3:ENOSYS",
        ] {
            let f = &parse(spec).unwrap()[0];
            let prog = f.program().unwrap();
            assert!(!prog.is_empty(), "{spec}");
        }
    }

    // The filters on the real kernel. Each check runs in a forked child (never in a test
    // thread: a filter, like a namespace, would stay with the thread): the programs are
    // compiled before the fork, and the child only makes system calls and `_exit`s with the
    // number of the first check that failed. No namespace is made: the lies and errnos stop
    // the calls before the kernel acts, and the calls let through fail on a bad fd or argument.

    /// `syscall(nr, a, b)`: the return value, or `-errno`.
    fn sys(nr: i64, a: i64, b: i64) -> i64 {
        // SAFETY: the calls used here take integers (or a NULL pointer with size 0).
        let r = unsafe { libc::syscall(nr, a, b) };
        if r < 0 {
            -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
        } else {
            r as i64
        }
    }

    /// The inode of `/proc/self/ns/<name>`, or -1.
    fn ns_ino(path: &std::ffi::CStr) -> i64 {
        // SAFETY: an all-zero stat is a valid buffer for stat(2) to fill.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated, `st` is writable.
        if unsafe { libc::stat(path.as_ptr(), &mut st) } == 0 {
            st.st_ino as i64
        } else {
            -1
        }
    }

    /// Installs `spec`'s filters in a forked child and runs `checks` there; returns the
    /// child's exit code (0: every check held).
    fn in_child(spec: &str, checks: fn() -> i32) -> i32 {
        let programs: Vec<BpfProgram> = parse(spec).unwrap().iter().map(|f| f.program().unwrap()).collect();
        // SAFETY: the child runs only system calls on memory prepared before the fork, then
        // _exit; apply_filter neither allocates nor locks on success.
        match unsafe { libc::fork() } {
            0 => {
                for p in &programs {
                    if seccompiler::apply_filter(p).is_err() {
                        // SAFETY: ends the child at once.
                        unsafe { libc::_exit(100) }
                    }
                }
                let code = checks();
                // SAFETY: ends the child at once.
                unsafe { libc::_exit(code) }
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                assert!(libc::WIFEXITED(status), "child status {status:#x}");
                libc::WEXITSTATUS(status)
            }
            _ => panic!("fork: {}", std::io::Error::last_os_error()),
        }
    }

    #[test]
    fn lie_returns_0_and_makes_no_namespace() {
        let code = in_child("pid:lie,uts:unshare:lie", || {
            let before = ns_ino(c"/proc/self/ns/pid_for_children");
            if sys(libc::SYS_unshare, libc::CLONE_NEWPID as i64, 0) != 0 {
                return 1;
            }
            if before < 0 || ns_ino(c"/proc/self/ns/pid_for_children") != before {
                return 2;
            }
            // setns with CLONE_NEWPID on a bad fd "succeeds"; without the bit it reaches the
            // kernel, which refuses the fd.
            if sys(libc::SYS_setns, -1, libc::CLONE_NEWPID as i64) != 0 {
                return 3;
            }
            if sys(libc::SYS_setns, -1, libc::CLONE_NEWIPC as i64) != -(libc::EBADF as i64) {
                return 4;
            }
            // pid_for_children with other bits set: the whole call lies
            let uts = ns_ino(c"/proc/self/ns/uts");
            if sys(libc::SYS_unshare, (libc::CLONE_NEWUTS | libc::CLONE_NEWIPC) as i64, 0) != 0 {
                return 5;
            }
            if ns_ino(c"/proc/self/ns/uts") != uts {
                return 6;
            }
            // uts:unshare only: setns with CLONE_NEWUTS goes through
            if sys(libc::SYS_setns, -1, libc::CLONE_NEWUTS as i64) != -(libc::EBADF as i64) {
                return 7;
            }
            // a child inherits the filter
            // SAFETY: this process has one thread; the grandchild makes system calls and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let lied = sys(libc::SYS_unshare, libc::CLONE_NEWPID as i64, 0) == 0
                    && ns_ino(c"/proc/self/ns/pid_for_children") == before;
                // SAFETY: ends the grandchild at once.
                unsafe { libc::_exit(if lied { 0 } else { 1 }) }
            }
            let mut status = 0;
            // SAFETY: waits for our own child.
            if pid < 0 || unsafe { libc::waitpid(pid, &mut status, 0) } != pid || status != 0 {
                return 8;
            }
            0
        });
        assert_eq!(code, 0, "check {code} failed");
    }

    #[test]
    fn errno_fails_matching_calls_only() {
        let code = in_child("net:ENOSPC,clone3:ENOSYS,ipc:clone:EUSERS", || {
            if sys(libc::SYS_unshare, libc::CLONE_NEWNET as i64, 0) != -(libc::ENOSPC as i64) {
                return 1;
            }
            if sys(libc::SYS_setns, -1, libc::CLONE_NEWNET as i64) != -(libc::ENOSPC as i64) {
                return 2;
            }
            // an invalid flag reaches the kernel (EINVAL), the fault's bit is absent
            if sys(libc::SYS_unshare, 0x1, 0) != -(libc::EINVAL as i64) {
                return 3;
            }
            // clone3(NULL, 0) is EINVAL from the kernel; the filter answers first
            if sys(libc::SYS_clone3, 0, 0) != -(libc::ENOSYS as i64) {
                return 4;
            }
            // a clone with CLONE_NEWIPC and CLONE_NEWNS|CLONE_FS, which the kernel refuses
            // (EINVAL) before making anything: the filter answers first
            let flags = libc::CLONE_NEWIPC | libc::CLONE_NEWNS | libc::CLONE_FS | libc::SIGCHLD;
            if sys(libc::SYS_clone, flags as i64, 0) != -(libc::EUSERS as i64) {
                return 5;
            }
            0
        });
        assert_eq!(code, 0, "check {code} failed");
    }
}
