//! Export in Bencher Metric Format.

use super::Results;

/// Bencher Metric Format: `{"unshare/net": {"latency": {"value": ns, "lower_value": ..,
/// "upper_value": ..}}}`, as read by bencher.dev and github-action-benchmark.
pub fn to_bmf(r: &Results) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (id, b) in &r.benchmarks {
        m.insert(
            id.clone(),
            serde_json::json!({"latency": {"value": b.median, "lower_value": b.lower, "upper_value": b.upper}}),
        );
    }
    serde_json::Value::Object(m)
}
