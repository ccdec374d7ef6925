//! The spawn table of a summary: per start method, the settled start, its ratio to a start
//! with no namespaces, from a 1 GiB parent, back to back, and the sustained rate.

use super::summary::fmt_ns;
use super::{Benchmark, Results};

/// The ops shown in the spawn table rather than in the list of other ids.
pub const SPAWN_OPS: [&str; 4] = ["spawn", "spawn_1g", "spawn_burst", "spawn_rate"];

/// The head of [`spawn_rows`].
pub(super) const SPAWN_HEAD: [&str; 7] = [
    "start method",
    "settled",
    "× plain",
    "1 GiB parent",
    "back to back",
    "rate, 1 worker",
    "rate, 2 workers",
];

/// The methods in table order: the floor, the pool, then the others by name.
fn methods(r: &Results) -> Vec<String> {
    let mut names: Vec<String> = r
        .benchmarks
        .values()
        .filter(|b| ["spawn", "spawn_1g", "spawn_burst"].contains(&b.op.as_str()))
        .map(|b| b.kind.clone())
        .chain(
            r.benchmarks
                .values()
                .filter(|b| b.op == "spawn_rate")
                .filter_map(|b| b.kind.rsplit_once('_').map(|(m, _)| m.to_string())),
        )
        .collect();
    let rank = |m: &str| match m {
        "plain" => 0,
        "pool" => 1,
        _ => 2,
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    names.dedup();
    names
}

fn median(b: Option<&Benchmark>) -> String {
    b.map_or("-".into(), |b| fmt_ns(b.median))
}

fn rate(b: Option<&Benchmark>) -> String {
    b.filter(|b| b.median > 0.0)
        .map_or("-".into(), |b| format!("{:.0}/s", 1e9 / b.median))
}

/// One row per start method: settled median, its ratio to `spawn/plain`, `spawn_1g` (with its
/// ratio to the settled start), `spawn_burst`, and starts per second at 1 and 2 workers (from
/// the median time per start of `spawn_rate/<method>_<workers>`). Empty without spawn ids.
pub fn spawn_rows(r: &Results) -> Vec<[String; 7]> {
    let get = |op: &str, kind: &str| r.benchmarks.get(&format!("{op}/{kind}"));
    let plain = get("spawn", "plain");
    methods(r)
        .into_iter()
        .map(|m| {
            let settled = get("spawn", &m);
            let ratio = match (settled, plain) {
                (Some(a), Some(p)) if p.median > 0.0 => format!("{:.2}×", a.median / p.median),
                _ => "-".into(),
            };
            let big = get("spawn_1g", &m);
            let big = match (big, settled) {
                (Some(b), Some(a)) if a.median > 0.0 => format!("{} ({:.2}×)", fmt_ns(b.median), b.median / a.median),
                (b, _) => median(b),
            };
            [
                m.clone(),
                median(settled),
                ratio,
                big,
                median(get("spawn_burst", &m)),
                rate(get("spawn_rate", &format!("{m}_1"))),
                rate(get("spawn_rate", &format!("{m}_2"))),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{baseline_for, CriterionSettings, Provenance, FORMAT_VERSION};

    fn bench(id: &str, median: f64) -> (String, Benchmark) {
        let (op, kind) = id.split_once('/').unwrap();
        let b = Benchmark {
            op: op.into(),
            kind: kind.into(),
            median,
            lower: median * 0.9,
            upper: median * 1.1,
            confidence_level: 0.95,
            mean: median,
            samples: 10,
            iterations: 100,
            marginal: None,
        };
        (id.to_string(), b)
    }

    fn results(ids: &[(&str, f64)]) -> Results {
        Results {
            format_version: FORMAT_VERSION,
            unit: "ns".into(),
            provenance: Provenance {
                kernel: "6.18".into(),
                engine: "host".into(),
                arch: "x86_64".into(),
                cpu_model: "test".into(),
                cores: 2,
                privilege: "root".into(),
                mount_count: 30,
                net_namespaces: 1,
                git_commit: None,
                date: "2026-01-01T00:00:00Z".into(),
                criterion: CriterionSettings {
                    mode: "full".into(),
                    min_samples: 10,
                    max_samples: 10,
                    baseline: "base".into(),
                    directory: "criterion".into(),
                    left_out_older: Vec::new(),
                },
            },
            benchmarks: ids.iter().map(|(id, m)| bench(id, *m)).collect(),
        }
    }

    #[test]
    fn spawn_rows_put_the_floor_and_the_pool_first_with_ratios_and_rates() {
        let r = results(&[
            ("spawn/plain", 1e6),
            ("spawn/pool", 1.1e6),
            ("spawn/nscore", 3e6),
            ("spawn_1g/pool", 1.2e6),
            ("spawn_burst/pool", 2e6),
            ("spawn_rate/pool_1", 2e6),
            ("spawn_rate/pool_2", 1e6),
            ("spawn_rate/plain_1", 1e6),
        ]);
        let rows = spawn_rows(&r);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, ["plain", "pool", "nscore"]);
        assert_eq!(rows[1][2], "1.10×");
        assert_eq!(rows[1][3], "1.20 ms (1.09×)");
        assert_eq!(rows[1][5], "500/s");
        assert_eq!(rows[1][6], "1000/s");
        assert_eq!(rows[2][3], "-");
        assert!(spawn_rows(&results(&[("unshare/none", 300.0)])).is_empty());
    }

    #[test]
    fn spawn_ids_are_measured_against_a_start_with_no_namespaces() {
        assert_eq!(baseline_for("spawn", "pool").as_deref(), Some("spawn/plain"));
        assert_eq!(baseline_for("spawn_1g", "nscore").as_deref(), Some("spawn_1g/plain"));
        assert_eq!(
            baseline_for("spawn_rate", "pool_2").as_deref(),
            Some("spawn_rate/plain_2")
        );
        assert_eq!(baseline_for("cold", "net").as_deref(), Some("cold/none"));
        assert_eq!(baseline_for("setns", "net"), None);
    }
}
