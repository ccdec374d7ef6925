//! Starts a few commands from a namespace pool: each in a set of new uts, ipc, net, mnt and pid
//! namespaces made ahead of time and used once, as PID 1 with its own hostname and `/proc`.
//!
//! ```text
//! sudo cargo run -p nscore --example pooled            # three starts of a small shell
//! sudo cargo run -p nscore --example pooled -- 10      # ten
//! ```

use std::time::{Duration, Instant};

use nscore::{Kind, Pool, ProcessNamespaces};

fn main() {
    if let Err(e) = run() {
        eprintln!("pooled: {e}");
        std::process::exit(1);
    }
}

fn run() -> nscore::Result<()> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let pool = Pool::new(Kind::Uts | Kind::Ipc | Kind::Net | Kind::Mnt | Kind::Pid, 4)?;
    pool.fill(Duration::from_secs(10))?;
    let ours = ProcessNamespaces::current()?;
    for i in 0..n {
        let t = Instant::now();
        let mut child = pool.spawn().hostname(format!("pooled-{i}")).mount_proc(true).spawn(
            "/bin/sh",
            [
                "-c",
                "echo \"$(hostname): I am PID $$, /proc shows $(ls /proc | grep -c '^[0-9]') processes\"",
            ],
        )?;
        let started = t.elapsed();
        let net = child.namespaces()?.get(Kind::Net).map(|id| id.ino).unwrap_or(0);
        let new = child.namespaces()?.differing(&ours);
        child.wait()?;
        println!("  started in {started:?}: new {new} namespaces (net:[{net}])");
    }
    let stats = pool.stats();
    println!(
        "{} sets handed out, {} made in the background",
        stats.handed_out, stats.made
    );
    pool.shutdown();
    Ok(())
}
