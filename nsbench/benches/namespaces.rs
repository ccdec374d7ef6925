//! Criterion benchmarks of namespace creation and joining, per kind (ids `op/kind`).
//!
//! Every measured operation runs in a fresh single-threaded child (see `nsbench::measure`);
//! this process keeps its own namespaces. See nsbench/README.md for what each group includes.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion};
use nsbench::measure::{self, MeasureError};
use nscore::{Kind, KindSet};
use serde_json::{json, Map, Value};

/// Mean nanoseconds per operation seen in every sample of a run, by criterion id: for the
/// marginal-cost lines and `extra.json`.
#[derive(Default)]
struct Seen {
    sums: BTreeMap<String, (u128, u128)>,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
    static EXTRA: RefCell<Map<String, Value>> = RefCell::new(Map::new());
}

fn record(id: &str, d: Duration, iters: u64) {
    SEEN.with(|s| {
        let mut s = s.borrow_mut();
        let e = s.sums.entry(id.to_string()).or_default();
        e.0 += d.as_nanos();
        e.1 += iters as u128;
    });
}

fn mean_ns(id: &str) -> Option<f64> {
    SEEN.with(|s| {
        s.borrow()
            .sums
            .get(id)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| *t as f64 / *n as f64)
    })
}

/// Keeps `value` under `key` for `extra.json`.
fn extra(key: &str, value: Value) {
    EXTRA.with(|e| e.borrow_mut().insert(key.to_string(), value));
}

/// `x` rounded to `decimals` places, as the figures of `extra.json` are written.
fn rounded(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * p).round() / p
}

fn fail(id: &str, e: MeasureError) -> ! {
    eprintln!("nsbench: {id}: {e}");
    std::process::exit(2)
}

/// Checks a benchmark once (one iteration); on failure prints why and returns false so that
/// the benchmark is not registered.
fn check(id: &str, r: Result<impl Sized, MeasureError>) -> bool {
    match r {
        Ok(_) => true,
        Err(e) if e.is_permission() => {
            println!("SKIPPED {id}: needs root or a user namespace: {e}");
            false
        }
        Err(e) => {
            println!("SKIPPED {id}: {e}");
            false
        }
    }
}

/// Registers `id` measured by `f(iters)`, after one checked trial run.
fn bench<M>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, id: &str, mut f: M)
where
    M: FnMut(u64) -> Result<Duration, MeasureError>,
{
    let name = id.split_once('/').map_or(id, |(_, name)| name);
    if !wanted(id) {
        return;
    }
    if !check(id, f(1)) {
        return;
    }
    g.bench_function(name, |b| {
        b.iter_custom(|iters| match f(iters) {
            Ok(d) => {
                record(id, d, iters);
                d
            }
            Err(e) => fail(id, e),
        })
    });
}

fn kind_name(k: Option<Kind>) -> &'static str {
    k.map_or("none", Kind::name)
}

fn unshare_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("unshare");
    g.measurement_time(Duration::from_secs(1));
    let mut kinds: Vec<Option<Kind>> = vec![None];
    kinds.extend(Kind::ALL.iter().copied().map(Some));
    for k in kinds {
        let id = format!("unshare/{}", kind_name(k));
        if k == Some(Kind::User) {
            // One fork of this process per iteration (~100x the reported time): criterion
            // plans iterations from the reported time, so keep its budgets tiny.
            g.warm_up_time(Duration::from_millis(10))
                .measurement_time(Duration::from_millis(40))
                .sample_size(10);
        }
        bench(&mut g, &id, |n| measure::unshare_loop(k, n));
    }
    g.finish();
}

fn clone_benches(c: &mut Criterion) {
    for (group, vfork) in [("clone", false), ("clone_vfork", true)] {
        let mut g = c.benchmark_group(group);
        // Clones are noisy (±100 µs): quick mode would run each to its time limit.
        g.measurement_time(Duration::from_millis(500));
        let mut kinds: Vec<Option<Kind>> = vec![None];
        kinds.extend(Kind::ALL.iter().copied().map(Some));
        for k in &kinds {
            let id = format!("{group}/{}", kind_name(*k));
            let set = k.map_or(KindSet::EMPTY, Kind::set);
            if !wanted(&id) || !check(&id, measure::verify_clone(set)) {
                continue;
            }
            bench(&mut g, &id, |n| measure::clone_loop(set, vfork, n));
        }
        g.finish();
        let Some(base) = mean_ns(&format!("{group}/none")) else {
            continue;
        };
        // Paired: clone with the kind and without, alternating in one child.
        let pairs = if vfork { 60 } else { 20 };
        println!(
            "\n{group}: marginal cost over {group}/none: from the criterion means of this run, and from {pairs} alternating pairs in one child"
        );
        let mut json = Map::new();
        for k in kinds.iter().flatten() {
            let id = format!("{group}/{}", k.name());
            let Some(m) = mean_ns(&id) else { continue };
            let paired = match measure::clone_pair_loop(k.set(), vfork, pairs) {
                Ok((with, without)) => (with.as_nanos() as f64 - without.as_nanos() as f64) / pairs as f64,
                Err(e) => {
                    println!("  {id}: paired run failed: {e}");
                    f64::NAN
                }
            };
            println!(
                "  {id:<20} {:>9.1} µs  means: {:>+9.1} µs ({:.2}x)  paired: {:>+9.1} µs",
                m / 1e3,
                (m - base) / 1e3,
                m / base,
                paired / 1e3
            );
            // A failed paired run is NaN, which serde_json writes as null.
            json.insert(
                k.name().to_string(),
                json!({
                    "mean_ns": rounded(m, 1),
                    "over_none_ns": rounded(m - base, 1),
                    "paired_over_none_ns": rounded(paired, 1),
                }),
            );
        }
        extra(&format!("{group}_marginal"), Value::Object(json));
    }
}

fn setns_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("setns");
    g.measurement_time(Duration::from_secs(1));
    for k in measure::SETNS_KINDS {
        let id = format!("setns/{}", k.name());
        if measure::rootless() {
            println!(
                "SKIPPED {id}: needs root: going back to the host's namespace is not possible from a user namespace"
            );
            continue;
        }
        let holder = match measure::Holder::new(k, 1) {
            Ok(h) => h,
            Err(e) => {
                println!("SKIPPED {id}: cannot make a target namespace: {e}");
                continue;
            }
        };
        let target = match holder.handle() {
            Ok(t) => t,
            Err(e) => {
                println!("SKIPPED {id}: {e}");
                continue;
            }
        };
        bench(&mut g, &id, |n| measure::setns_loop(&target, n));
        drop(holder);
    }
    println!("setns/user: not measured: a process cannot go back to an ancestor user namespace (EPERM)");
    g.finish();
}

fn spawn_benches(c: &mut Criterion) {
    use measure::SpawnMethod;
    let methods: Vec<_> = SpawnMethod::ALL
        .into_iter()
        .filter(|m| {
            let ok = m.available();
            if !ok {
                let why = match m {
                    SpawnMethod::Pool => "a pool needs root (it holds no user namespace)",
                    _ => "util-linux unshare is not installed",
                };
                println!("SKIPPED spawn/{}: {why}", m.name());
            }
            ok
        })
        .filter(|m| {
            let any = ["spawn", "spawn_1g", "spawn_burst", "spawn_rate"]
                .iter()
                .any(|g| wanted(&format!("{g}/{}", m.name())));
            any && check(&format!("spawn/{}", m.name()), m.verify())
        })
        .collect();
    // Settled: one spawn at a time, each after the previous one's teardown (and the pool's
    // refill) is over, timed the same way for every method.
    for (group, memory) in [("spawn", 0usize), ("spawn_1g", 1 << 30)] {
        let used = methods.iter().any(|m| wanted(&format!("{group}/{}", m.name())));
        let ballast = (memory > 0 && used).then(|| measure::touched_memory(memory));
        let mut g = c.benchmark_group(group);
        // Each iteration also sleeps SETTLE (untimed): ~300 timed starts, ~6 s of wall time.
        g.warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(600))
            .sample_size(10);
        for m in &methods {
            let id = format!("{group}/{}", m.name());
            bench(&mut g, &id, |n| measure::settled_spawns(*m, n));
        }
        g.finish();
        drop(ballast);
    }
    // Back to back: teardown of the previous spawns and the pool's refill compete.
    let mut g = c.benchmark_group("spawn_burst");
    g.measurement_time(Duration::from_secs(1)).sample_size(10);
    for m in &methods {
        let id = format!("spawn_burst/{}", m.name());
        bench(&mut g, &id, |n| measure::burst_spawns(*m, n));
    }
    g.finish();
    // Sustained: starts per second over a few seconds, 1 and 2 workers.
    let mut g = c.benchmark_group("spawn_rate");
    g.measurement_time(Duration::from_secs(3)).sample_size(10);
    for m in methods
        .iter()
        .filter(|m| matches!(m, SpawnMethod::Plain | SpawnMethod::Pool | SpawnMethod::Nscore))
    {
        for workers in [1u64, 2] {
            let id = format!("spawn_rate/{}_{workers}", m.name());
            bench(&mut g, &id, |n| measure::spawn_rate(*m, workers, n));
        }
    }
    g.finish();
    spawn_table(&methods);
}

/// Prints the spawn figures of this run against `spawn/plain` and the plain parent, and keeps
/// them for `extra.json`.
fn spawn_table(methods: &[measure::SpawnMethod]) {
    let plain = mean_ns("spawn/plain");
    let mut json = Map::new();
    let mut rates = Map::new();
    let mut printed = false;
    for m in methods {
        let name = m.name();
        let (a, b) = (mean_ns(&format!("spawn/{name}")), mean_ns(&format!("spawn_1g/{name}")));
        let burst = mean_ns(&format!("spawn_burst/{name}"));
        if a.is_none() && b.is_none() && burst.is_none() {
            continue;
        }
        if !printed {
            println!("\nspawn of /bin/true (means of this run; settled: each after the previous teardown; 1 GiB: parent holding 1 GiB of touched memory):");
            printed = true;
        }
        let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1} µs", x / 1e3));
        let r = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
            _ => "-".into(),
        };
        println!(
            "  {name:<18} settled {:>10} ({} plain)   1 GiB {:>10} ({} settled)   burst {:>10}",
            f(a),
            r(a, plain),
            f(b),
            r(b, a),
            f(burst)
        );
        let mut o = Map::new();
        for (k, v) in [("settled_ns", a), ("1g_ns", b), ("burst_ns", burst)] {
            if let Some(v) = v {
                o.insert(k.into(), json!(rounded(v, 0)));
            }
        }
        if let (Some(a), Some(p)) = (a, plain) {
            o.insert("settled_ratio_to_plain".into(), json!(rounded(a / p, 3)));
        }
        if let (Some(a), Some(b)) = (a, b) {
            o.insert("ratio_1g".into(), json!(rounded(b / a, 3)));
        }
        json.insert(name.to_string(), Value::Object(o));
        for workers in [1, 2] {
            if let Some(t) = mean_ns(&format!("spawn_rate/{name}_{workers}")) {
                println!("  {name:<18} sustained, {workers} worker(s): {:.0} starts/s", 1e9 / t);
                rates.insert(format!("{name}_{workers}"), json!(rounded(1e9 / t, 1)));
            }
        }
    }
    extra("spawn", Value::Object(json));
    extra("spawn_rate_per_s", Value::Object(rates));
}

/// The new kernels' fast paths beside the classic paths they replace; a path the kernel lacks
/// is skipped with its reason.
fn fast_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("fast");
    g.measurement_time(Duration::from_millis(700)).sample_size(10);
    if wanted("fast/empty_mntns") || wanted("fast/copy_mntns") {
        match measure::probe_empty_mntns() {
            Ok(()) => {
                bench(&mut g, "fast/empty_mntns", |n| measure::mntns_loop(true, n));
                bench(&mut g, "fast/copy_mntns", |n| measure::mntns_loop(false, n));
            }
            Err(e) => println!("SKIPPED fast/empty_mntns: {e}"),
        }
    }
    if wanted("fast/clone_empty_mntns") || wanted("fast/clone_copy_mntns") {
        match nscore::create::probe_empty_mntns() {
            Ok(()) => {
                bench(&mut g, "fast/clone_empty_mntns", |n| {
                    measure::clone_mntns_spawns(true, n)
                });
                bench(&mut g, "fast/clone_copy_mntns", |n| {
                    measure::clone_mntns_spawns(false, n)
                });
            }
            Err(e) => println!("SKIPPED fast/clone_empty_mntns: {e}"),
        }
    }
    if wanted("fast/into_cgroup") || wanted("fast/cgroup_procs") {
        match measure::ScratchCgroup::new() {
            Ok(cg) => {
                bench(&mut g, "fast/into_cgroup", |n| measure::cgroup_spawns(&cg, true, n));
                bench(&mut g, "fast/cgroup_procs", |n| measure::cgroup_spawns(&cg, false, n));
            }
            Err(e) => println!("SKIPPED fast/into_cgroup: no scratch cgroup: {e}"),
        }
    }
    println!(
        "fast/pidfd_spawn: not measured apart: nscore's Spawn already starts with clone3(CLONE_PIDFD|CLONE_VM|CLONE_VFORK) (spawn/nscore); glibc's pidfd_spawn needs glibc 2.39"
    );
    g.finish();
}

fn cold_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cold");
    // Each iteration sleeps COLD_SETTLE (untimed) and forks a child: small budgets.
    g.warm_up_time(Duration::from_millis(10))
        .measurement_time(Duration::from_millis(40))
        .sample_size(10);
    let mut kinds: Vec<Option<Kind>> = vec![None];
    kinds.extend(Kind::ALL.iter().copied().map(Some));
    for k in kinds {
        let id = format!("cold/{}", kind_name(k));
        bench(&mut g, &id, |n| measure::cold_unshare(k, n));
    }
    g.finish();
}

fn scaling_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale_mnt");
    g.measurement_time(Duration::from_millis(700)).sample_size(10);
    for mounts in [1u32, 10, 100, 1000] {
        let id = format!("scale_mnt/{mounts}");
        bench(&mut g, &id, |n| measure::mnt_scaling_loop(mounts, n));
    }
    g.finish();

    let mut g = c.benchmark_group("scale_user");
    // One fork of this process per iteration: tiny budgets (see unshare/user).
    g.warm_up_time(Duration::from_millis(10))
        .measurement_time(Duration::from_millis(40))
        .sample_size(10);
    for depth in [1u32, 8, 16, 32] {
        let id = format!("scale_user/{depth}");
        bench(&mut g, &id, |n| measure::unshare_user_once(n, depth));
    }
    g.finish();

    let mut g = c.benchmark_group("concurrent");
    g.measurement_time(Duration::from_millis(700)).sample_size(10);
    for kind in [Kind::Uts, Kind::Net, Kind::Mnt] {
        for workers in [1u32, 2] {
            let id = format!("concurrent/{}_{workers}", kind.name());
            bench(&mut g, &id, |n| measure::concurrent_unshare(kind, workers, n));
        }
    }
    g.finish();

    let mut g = c.benchmark_group("teardown");
    g.measurement_time(Duration::from_secs(1)).sample_size(10);
    for kind in [Kind::Ipc, Kind::Net] {
        let id = format!("teardown/{}", kind.name());
        bench(&mut g, &id, |n| measure::teardown_loop(kind, n));
    }
    g.finish();

    // Last: 1000 network namespaces take a while to make and to clean up afterwards.
    let mut g = c.benchmark_group("scale_net");
    g.measurement_time(Duration::from_millis(700)).sample_size(10);
    for alive in [0u32, 100, 1000] {
        let id = format!("scale_net/{alive}");
        if !wanted(&id) {
            continue;
        }
        let holder = if alive > 0 {
            match measure::Holder::new(Kind::Net, alive) {
                Ok(h) => Some(h),
                Err(e) => {
                    println!("SKIPPED {id}: cannot hold {alive} network namespaces: {e}");
                    continue;
                }
            }
        } else {
            None
        };
        bench(&mut g, &id, |n| measure::unshare_loop(Some(Kind::Net), n));
        drop(holder);
    }
    g.finish();
}

fn memory_table() {
    // Small namespaces need many to rise above the noise of everything else running; the
    // holder needs one fd per namespace.
    let fds = measure::open_files_limit().saturating_sub(64).max(1) as u32;
    let rounds = if quick() { 1 } else { 3 };
    println!(
        "\nkernel memory per live namespace (held by one child; growth of /proc/meminfo SUnreclaim, Slab, Percpu; system-wide, median of {rounds}; noisy on a busy machine):"
    );
    println!(
        "  {:<8} {:>6} {:>16} {:>12} {:>12}",
        "kind", "held", "SUnreclaim B/ns", "Slab B/ns", "Percpu B/ns"
    );
    let mut json = Map::new();
    for kind in [
        Kind::Uts,
        Kind::Ipc,
        Kind::Cgroup,
        Kind::Time,
        Kind::Pid,
        Kind::Mnt,
        Kind::Net,
    ] {
        let count = match kind {
            Kind::Uts | Kind::Ipc | Kind::Cgroup | Kind::Time => 5000,
            _ => 1000,
        }
        .min(fds);
        match measure::kernel_memory(kind, count, rounds) {
            Ok(m) => {
                println!(
                    "  {:<8} {:>6} {:>16.0} {:>12.0} {:>12.0}",
                    kind.name(),
                    count,
                    m.unreclaimable_per_ns,
                    m.slab_per_ns,
                    m.percpu_per_ns
                );
                json.insert(
                    kind.name().to_string(),
                    json!({
                        "count": count,
                        "sunreclaim_bytes": rounded(m.unreclaimable_per_ns, 0),
                        "slab_bytes": rounded(m.slab_per_ns, 0),
                        "percpu_bytes": rounded(m.percpu_per_ns, 0),
                    }),
                );
            }
            Err(e) => println!("  {:<8} not measured: {e}", kind.name()),
        }
    }
    println!("  user     not measured: a process can make only one user namespace by unshare");
    extra("kernel_memory_per_ns", Value::Object(json));
}

/// Writes the figures kept by [`extra`] to `extra.json` beside criterion's directory.
fn write_extra() {
    let dir = std::env::var_os("CRITERION_HOME")
        .map(|h| std::path::PathBuf::from(h).join("..").join("nsbench"))
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| std::path::PathBuf::from(t).join("nsbench")))
        .unwrap_or_else(|| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/nsbench")));
    // `{:#}`: serde_json's pretty form.
    let text = EXTRA.with(|e| format!("{:#}\n", Value::Object(e.borrow().clone())));
    let path = dir.join("extra.json");
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text)) {
        Ok(()) => println!("nsbench: extra figures written to {}", path.display()),
        Err(e) => eprintln!("nsbench: cannot write {}: {e}", path.display()),
    }
}

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// The benchmark name filters given on the command line (criterion's positional argument),
/// skipping the values of criterion's options that take one.
fn filters() -> Vec<String> {
    const WITH_VALUE: [&str; 16] = [
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--plotting-backend",
        "--output-format",
        "--format",
        "--color",
        "--profile-time",
    ];
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if WITH_VALUE.contains(&a.as_str()) || ["-s", "-b", "-c"].contains(&a.as_str()) {
            args.next();
        } else if !a.starts_with('-') {
            out.push(a);
        }
    }
    out
}

/// True when no benchmark name filter was given (the memory table is not a criterion
/// benchmark: it runs in whole runs, or alone with the filter `kernel_memory`).
fn filter_is_empty() -> bool {
    filters().is_empty()
}

/// Whether a benchmark id can pass the filters, so that costly set-up (holders of 1000
/// namespaces, 1 GiB of memory, checks) is skipped for benchmarks criterion would skip.
/// Criterion takes the filter as a regular expression: a filter with regex syntax in it is
/// assumed to match.
fn wanted(id: &str) -> bool {
    let f = filters();
    f.is_empty()
        || f.iter()
            .any(|f| id.contains(f.as_str()) || f.chars().any(|c| "^$.*+?()[]{}|\\".contains(c)))
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .nresamples(20_000)
        .configure_from_args();
    if quick() && std::env::var_os("NSBENCH_PLOTS").is_none() {
        // Criterion's plotters backend took ~1.5 s per benchmark on a 2-core machine: for ~60
        // benchmarks, longer than the quick run itself. The JSON results are written either way.
        println!("nsbench: --quick: plots and HTML report off (set NSBENCH_PLOTS=1 to keep them)");
        c = c.without_plots();
    }
    if measure::rootless() {
        println!(
            "nsbench: not root: every measuring child runs in a new user namespace with root mapped to you (rootless)"
        );
    }
    extra("rootless", Value::Bool(measure::rootless()));
    unshare_benches(&mut c);
    clone_benches(&mut c);
    setns_benches(&mut c);
    spawn_benches(&mut c);
    cold_benches(&mut c);
    fast_benches(&mut c);
    scaling_benches(&mut c);
    c.final_summary();
    if filter_is_empty() || std::env::args().any(|a| a == "kernel_memory") {
        memory_table();
    }
    write_extra();
}
