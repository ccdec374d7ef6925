//! User-namespace id maps (checklist depth items U5, U6): a map read from another user
//! namespace shows ids relative to the reader; maps of many extents work up to the kernel's
//! limit and overlapping extents are refused. Maps are only written for user namespaces a
//! test's child made.
//! Peers: LTP `containers/userns/userns0{4,5,8}.c`, the kernel's `user_namespaces(7)` rules.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{raw, Kind};
use nstests::child::*;
use nstests::live::*;
use nstests::{require_root, run_spawn, Probe};

/// A grandchild in a new user namespace that waits for `go` (then its maps are written),
/// reports its own `uid_map` and then `/proc/<other>/uid_map` (for `other` > 0) as
/// `tags[0]` and `tags[1]`, signals `done`, and waits until killed.
fn reader(p: &Probe, go: i32, done: i32, other: i64, tags: [&[u8]; 2]) -> libc::pid_t {
    // SAFETY: a child body: only async-signal-safe code runs in the new process.
    match unsafe { raw::fork(Kind::User.into()) } {
        Ok(0) => {
            wait(go);
            let mut buf = [0u8; 256];
            p.line(tags[0], nstests::read_small(c"/proc/self/uid_map", &mut buf));
            if other > 0 {
                let mut path = [0u8; 64];
                let mut buf = [0u8; 256];
                p.line(
                    tags[1],
                    nstests::read_small(proc_path(&mut path, other, b"/uid_map"), &mut buf),
                );
            }
            signal(done);
            // SAFETY: in a fork-like child, which never runs past this call.
            unsafe { pause_forever() }
        }
        Ok(pid) => pid,
        Err(_) => -1,
    }
}

/// Writes `map` to `/proc/<pid>/uid_map`; reports `<key>=errno` (0 for success).
fn write_map(p: &Probe, key: &[u8], pid: i64, map: &[u8]) {
    let mut path = [0u8; 64];
    let e = err_of(write_file(proc_path(&mut path, pid, b"/uid_map"), map));
    p.line_num(key, e);
}

/// The fields of a `uid_map` line, whitespace collapsed.
fn fields(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// U5: `uid_map` read from another user namespace shows the outside ids relative to the
/// reader. A's map is `0 0 1` (its root is the parent's uid 0); B, a sibling whose uid 7 is
/// the parent's uid 0, reads A's map as `0 7 1`; A reads its own as written (relative to its
/// parent), and so does the parent; the test thread sees the parent's uid 0 as its own uid.
/// Control: the parent's reading, as written, differs from B's.
#[test]
fn u5_uid_map_is_shown_relative_to_the_reader() {
    let child_body = |p: &Probe, gate: Gate| {
        let ([a_go_r, a_go_w], [b_go_r, b_go_w], [done_r, done_w]) = (pipe(), pipe(), pipe());
        if a_go_r < 0 || b_go_r < 0 || done_r < 0 {
            return 1;
        }
        let a = reader(p, a_go_r, done_w, 0, [b"a_self", b""]);
        if a < 0 {
            return 2;
        }
        let b = reader(p, b_go_r, done_w, a as i64, [b"b_self", b"b_reads_a"]);
        if b < 0 {
            return 3;
        }
        write_map(p, b"a_map_errno", a as i64, b"0 0 1\n");
        write_map(p, b"b_map_errno", b as i64, b"7 0 1\n");
        signal(a_go_w);
        signal(b_go_w);
        // SAFETY: this process owns its copy of `done_w` (a pipe end or fd made for this test) and
        // does not use it again.
        unsafe { nstests::child::close(done_w) };
        if !(wait(done_r) && wait(done_r)) {
            return 4;
        }
        let mut path = [0u8; 64];
        let mut buf = [0u8; 256];
        p.line(
            b"parent_reads_a",
            nstests::read_small(proc_path(&mut path, a as i64, b"/uid_map"), &mut buf),
        );
        // the scaffold shares the tests' PID namespace: its numbers are the tests' /proc's
        p.line_num(b"a_pid", a as i64);
        p.put(b"ready\n");
        gate.wait();
        let _ = kill(a as i64, libc::SIGKILL);
        let _ = kill(b as i64, libc::SIGKILL);
        let _ = raw::reap(a);
        let _ = raw::reap(b);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut live = unsafe { Live::start(scaffold(nscore::KindSet::EMPTY), child_body) }.unwrap();
    let text = live.until("ready");
    let out_a = text
        .lines()
        .find_map(|l| l.strip_prefix("a_pid="))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no pid: {text}"));
    let test_reads_a = std::fs::read_to_string(format!("/proc/{out_a}/uid_map")).unwrap();
    let out = live.finish();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("a_map_errno"), 0, "{t}");
    assert_eq!(out.num("b_map_errno"), 0, "{t}");
    assert_eq!(fields(&out.str("parent_reads_a")), ["0", "0", "1"], "as written: {t}");
    assert_eq!(
        fields(&out.str("a_self")),
        ["0", "0", "1"],
        "its own, relative to its parent: {t}"
    );
    assert_eq!(fields(&out.str("b_self")), ["7", "0", "1"], "{t}");
    assert_eq!(
        fields(&out.str("b_reads_a")),
        ["0", "7", "1"],
        "relative to the reader B: {t}"
    );
    let me = nix::unistd::geteuid().as_raw().to_string();
    assert_eq!(
        fields(&test_reads_a),
        ["0", me.as_str(), "1"],
        "relative to the test: {t}"
    );
}

/// Writes into `buf` a map of `n` one-id extents `i 1000+2i 1` (each line in ascending
/// order, none overlapping) and returns its length.
fn many_extents(buf: &mut [u8; 4096], n: i64) -> usize {
    let mut len = 0;
    for i in 0..n {
        let mut a = [0u8; 24];
        let mut b = [0u8; 24];
        for part in [decimal(i, &mut a), b" ", decimal(1000 + 2 * i, &mut b), b" 1\n"] {
            buf[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
    }
    len
}

/// U6: a uid map of 340 one-id extents (the kernel's limit; more than the 5 kept inline)
/// works, and the last extent resolves: the process becomes uid 339 inside, which the parent
/// sees as 1678; 341 extents give EINVAL; extents that overlap inside or outside give EINVAL.
/// Control: two extents that do not overlap are accepted.
#[test]
fn u6_many_extents_work_overlapping_are_einval() {
    if !require_root(
        "u6_many_extents_work_overlapping_are_einval",
        "a map of many ids needs CAP_SETUID over ids the writer's namespace maps (a rootless \
         writer has one)",
    ) {
        return;
    }
    let child_body = |p: &Probe| {
        let mut buf = [0u8; 4096];
        let mut pids = [0; 5];
        for pid in &mut pids {
            // SAFETY: a child body: only async-signal-safe code runs in the new process.
            *pid = match unsafe { raw::fork(Kind::User.into()) } {
                // SAFETY: in a fork-like child, which never runs past this call.
                Ok(0) => unsafe { pause_forever() },
                Ok(c) => c,
                Err(_) => return 1,
            };
        }
        let n = many_extents(&mut buf, 340);
        write_map(p, b"extents_340", pids[0] as i64, &buf[..n]);
        let n = many_extents(&mut buf, 341);
        write_map(p, b"extents_341", pids[1] as i64, &buf[..n]);
        write_map(p, b"overlap_inside", pids[2] as i64, b"0 1000 10\n5 2000 10\n");
        write_map(p, b"overlap_outside", pids[3] as i64, b"0 1000 10\n20 1005 10\n");
        write_map(p, b"disjoint", pids[4] as i64, b"0 1000 10\n20 2000 10\n");
        for pid in pids {
            let _ = kill(pid as i64, libc::SIGKILL);
            let _ = raw::reap(pid);
        }
        // the last of 340 extents resolves: a process that becomes uid 339 inside
        let ([rd, wr], [back_r, back_w]) = (pipe(), pipe());
        // SAFETY: a child body: only async-signal-safe code runs in the new process.
        let c = match unsafe { raw::fork(Kind::User.into()) } {
            Ok(0) => {
                // SAFETY: this process owns its copies of `wr` and `back_r` (pipe ends or fds made
                // for this test) and does not use them again.
                unsafe {
                    nstests::child::close(wr);
                    nstests::child::close(back_r);
                }
                wait(rd);
                // the thread's own setresuid(2), not glibc's (which signals every thread)
                let uid = rustix::process::Uid::from_raw(339);
                let r = rustix::thread::set_thread_res_uid(uid, uid, uid);
                p.line_num(b"setresuid_errno", err_code(r));
                signal(back_w);
                wait(rd);
                raw::exit(0)
            }
            Ok(c) => c,
            Err(_) => return 2,
        };
        // SAFETY: this process owns its copy of `back_w` (a pipe end or fd made for this test) and
        // does not use it again.
        unsafe { nstests::child::close(back_w) };
        let n = many_extents(&mut buf, 340);
        write_map(p, b"again_340", c as i64, &buf[..n]);
        signal(wr);
        if wait(back_r) {
            let mut path = [0u8; 64];
            let status = nstests::read_small(proc_path(&mut path, c as i64, b"/status"), &mut buf);
            let line = status
                .split(|&b| b == b'\n')
                .find(|l| l.starts_with(b"Uid:"))
                .unwrap_or(b"");
            p.line(b"uid_outside", line);
        }
        signal(wr);
        let _ = raw::reap(c);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(nscore::Spawn::new(nscore::KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("extents_340"), 0, "{t}");
    assert_eq!(out.num("again_340"), 0, "{t}");
    assert_eq!(
        out.num("setresuid_errno"),
        0,
        "uid 339 is mapped by the 340th extent: {t}"
    );
    assert_eq!(
        fields(&out.str("uid_outside")),
        ["Uid:", "1678", "1678", "1678", "1678"],
        "seen from the parent: {t}"
    );
    assert_eq!(out.num("extents_341"), libc::EINVAL as i64, "{t}");
    assert_eq!(out.num("overlap_inside"), libc::EINVAL as i64, "{t}");
    assert_eq!(out.num("overlap_outside"), libc::EINVAL as i64, "{t}");
    assert_eq!(out.num("disjoint"), 0, "control: {t}");
}
