//! A [`Fault`] as a seccomp filter (`seccompiler`, the Firecracker project's BPF compiler),
//! and its installation.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use super::spec::{Action, Fault};

impl Fault {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::parse;

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
