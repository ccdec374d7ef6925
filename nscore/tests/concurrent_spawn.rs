//! Spawns from several threads at once: a long-lived function child of one thread must not
//! hold another thread's spawn (its report pipe) until it exits.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::sync::mpsc;
use std::time::Duration;

use nscore::{KindSet, Spawn};

#[test]
fn spawns_do_not_wait_for_other_threads_long_lived_children() {
    let (done_tx, done_rx) = mpsc::channel();
    let holder = std::thread::spawn(move || {
        // Children that live until the end of the test (killed when dropped).
        let mut held = Vec::new();
        for _ in 0..40 {
            held.push(
                // SAFETY: the body only calls pause(2), which has no arguments.
                unsafe {
                    Spawn::new(KindSet::EMPTY).run(|| {
                        libc::pause();
                        0
                    })
                }
                .expect("spawn a holding child"),
            );
        }
        held
    });
    let spawner = std::thread::spawn(move || {
        for _ in 0..100 {
            // SAFETY: the body makes only raw system calls (async-signal-safe).
            let status = unsafe { Spawn::new(KindSet::EMPTY).run(|| 0) }
                .expect("spawn")
                .wait()
                .expect("wait");
            assert!(status.success());
        }
        done_tx.send(()).unwrap();
    });
    let finished = done_rx.recv_timeout(Duration::from_secs(30));
    let held = holder.join().expect("holder thread");
    drop(held);
    assert!(
        finished.is_ok(),
        "100 short spawns did not finish within 30 s while another thread held 40 children: \
         a held child kept another spawn's report pipe open"
    );
    spawner.join().expect("spawner thread");
}
