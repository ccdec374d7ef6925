//! `Spawn` looks a program without a `/` up in the parent's `PATH` as a shell does: the first
//! entry that is an executable regular file, past directories and files without `x`.
//!
//! The check sets `PATH`, which a libtest thread must not do to a multithreaded test process;
//! so this binary runs without libtest (`harness = false`), the check in a child forked from
//! the single-threaded `main` (see `forked`).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

mod forked;

use std::os::unix::fs::PermissionsExt;

use nscore::{KindSet, Spawn};

fn main() {
    forked::run(&[("path_lookup_skips_what_cannot_run", path_lookup_skips_what_cannot_run)])
}

fn path_lookup_skips_what_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let [plain, dirs, good] = ["plain", "dirs", "good"].map(|d| dir.path().join(d));
    for d in [&plain, &dirs, &good] {
        std::fs::create_dir(d).unwrap();
    }
    let name = "nscore-lookup";
    // A regular file without x, a directory (which has x), then the program.
    std::fs::write(plain.join(name), "#!/bin/sh\necho plain\n").unwrap();
    std::fs::create_dir(dirs.join(name)).unwrap();
    std::fs::write(good.join(name), "#!/bin/sh\necho good\n").unwrap();
    std::fs::set_permissions(good.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths([&plain, &dirs, &good]).unwrap();
    // set_var races nothing: this check runs in a process of one thread.
    std::env::set_var("PATH", &path);
    let out = Spawn::new(KindSet::EMPTY)
        .output(name, std::iter::empty::<&str>())
        .expect("the executable file is found past the others");
    assert_eq!(out.stdout, b"good\n", "{out:?}");
}
