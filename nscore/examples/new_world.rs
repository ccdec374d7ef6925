//! The classic first namespace program: a child in new cgroup, ipc, net, mnt and uts
//! namespaces prints "new world" and runs a shell (or the command given); the parent prints
//! "child has terminated" when it ends, and exits with the child's status, as `unshare(1)`
//! does (128 + the signal when a signal ended it).
//!
//! ```text
//! sudo cargo run -p nscore --example new_world                 # an interactive shell
//! sudo cargo run -p nscore --example new_world -- ls -l /proc/self/ns
//! ```

use nscore::{Kind, ProcessNamespaces, Spawn};

fn main() {
    match run() {
        Ok(status) => std::process::exit(
            status
                .code()
                .unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
        ),
        Err(e) => {
            eprintln!("new_world: {e}");
            std::process::exit(1);
        }
    }
}

fn run() -> nscore::Result<std::process::ExitStatus> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        args.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    let kinds = Kind::Cgroup | Kind::Ipc | Kind::Net | Kind::Mnt | Kind::Uts;
    // The child prints "new world" itself, from a tiny shell, then execs the command: so the
    // line comes from inside the new namespaces, as in the C original.
    let mut child = Spawn::new(kinds).hostname("new-world").spawn(
        "/bin/sh",
        [
            ["-c", "echo 'new world'; exec \"$@\"", "sh"].as_slice(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    )?;
    let theirs = child.namespaces()?;
    let ours = ProcessNamespaces::current()?;
    eprintln!(
        "[parent] child pid {} is in new {} namespaces",
        child.pid(),
        theirs.differing(&ours)
    );
    let status = child.wait()?;
    println!("child has terminated ({status})");
    Ok(status)
}
