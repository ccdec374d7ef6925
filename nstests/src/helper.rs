//! Re-executing the test binary as a helper from a child: for what must go through nscore's
//! allocating API inside namespaces that only a child has (a user namespace with a limit, a
//! dropped privilege). The child, after its own async-signal-safe setup, calls [`Helper::exec`]
//! (one `execve(2)` on arguments prepared before the spawn); the helper is the `--ignored`
//! test `name` of the same binary, run alone, its standard output going to the probe.

use std::ffi::{c_char, CString};
use std::os::unix::ffi::OsStrExt;

use crate::Probe;

/// The environment variable that names the helper to run.
pub const HELPER_VAR: &str = "NSTESTS_HELPER";

/// An `execve(2)` of this test binary as helper `name`, prepared in the test thread.
pub struct Helper {
    exe: CString,
    _args: Vec<CString>,
    _env: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

impl Helper {
    /// Prepares the helper `name`: the test's environment, plus [`HELPER_VAR`] and `extra`
    /// variables (what the helper needs to know).
    pub fn new(name: &str, extra: &[(&str, &str)]) -> Helper {
        let exe = CString::new(std::env::current_exe().unwrap().as_os_str().as_bytes()).unwrap();
        let args: Vec<CString> = [name, "--exact", "--ignored", "--nocapture", "--test-threads=1"]
            .iter()
            .map(|a| CString::new(*a).unwrap())
            .collect();
        let mut env: Vec<CString> = std::env::vars_os()
            .filter(|(k, _)| k != HELPER_VAR)
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).unwrap()
            })
            .collect();
        env.push(CString::new(format!("{HELPER_VAR}={name}")).unwrap());
        for (k, v) in extra {
            env.push(CString::new(format!("{k}={v}")).unwrap());
        }
        let mut argv: Vec<*const c_char> = std::iter::once(exe.as_ptr())
            .chain(args.iter().map(|a| a.as_ptr()))
            .collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        Helper {
            exe,
            _args: args,
            _env: env,
            argv,
            envp,
        }
    }

    /// In the child: makes the probe the standard output and executes the helper; returns
    /// (with `exec_errno` reported) only if that fails. Async-signal-safe.
    pub fn exec(&self, p: &Probe) -> i32 {
        let _ = p.to_stdout();
        // SAFETY: execve with NUL-terminated strings and null-terminated pointer arrays that
        // live in `self`, prepared before the clone (hand-written: rustix's `execve` takes the
        // same raw arrays and is as unsafe).
        unsafe { libc::execve(self.exe.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr()) };
        p.line_num(b"exec_errno", crate::child::errno());
        127
    }
}

/// Whether this process is the helper `name` (run by [`Helper::exec`]); otherwise prints
/// that the test runs only as a helper, and the caller returns.
pub fn is_helper(name: &str) -> bool {
    if std::env::var_os(HELPER_VAR).is_some_and(|v| v == name) {
        true
    } else {
        crate::skip(name, "runs only re-executed by its test, in a child process");
        false
    }
}
