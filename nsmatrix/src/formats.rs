//! One kernel's test results as KTAP (the kselftest format KernelCI and LAVA read) and JUnit
//! XML (what Jenkins and GitLab read).

use crate::libtest::{Outcome, TestResult};

/// KTAP version 1: `ok N name`, `ok N name # SKIP why`, `not ok N name` followed by the
/// failure as `#` lines.
pub fn ktap(kernel: &str, tests: &[TestResult]) -> String {
    let mut s = format!("KTAP version 1\n# kernel {kernel}\n1..{}\n", tests.len());
    for (i, t) in tests.iter().enumerate() {
        let n = i + 1;
        let id = t.id().replace('#', "_");
        match &t.outcome {
            Outcome::Pass => s.push_str(&format!("ok {n} {id}\n")),
            Outcome::Skip(why) => s.push_str(&format!("ok {n} {id} # SKIP {}\n", one_line(why))),
            Outcome::Fail(msg) => {
                s.push_str(&format!("not ok {n} {id}\n"));
                for l in msg.lines() {
                    s.push_str(&format!("# {l}\n"));
                }
            }
        }
    }
    let count = |w: &str| tests.iter().filter(|t| t.outcome.word() == w).count();
    s.push_str(&format!(
        "# Totals: pass:{} fail:{} skip:{}\n",
        count("pass"),
        count("fail"),
        count("skip")
    ));
    s
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// XML text and attribute escaping.
pub fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// JUnit XML: one `<testsuite>` per test binary, named `<kernel>/<binary>`.
pub fn junit(kernel: &str, tests: &[TestResult]) -> String {
    let mut binaries: Vec<&str> = Vec::new();
    for t in tests {
        if !binaries.contains(&t.binary.as_str()) {
            binaries.push(&t.binary);
        }
    }
    let fails = tests.iter().filter(|t| t.outcome.word() == "fail").count();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{}\" failures=\"{fails}\">\n",
        xml(kernel),
        tests.len()
    );
    for b in binaries {
        let ts: Vec<&TestResult> = tests.iter().filter(|t| t.binary == b).collect();
        let count = |w: &str| ts.iter().filter(|t| t.outcome.word() == w).count();
        s.push_str(&format!(
            "  <testsuite name=\"{}/{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            xml(kernel),
            xml(b),
            ts.len(),
            count("fail"),
            count("skip")
        ));
        for t in ts {
            let open = format!("    <testcase classname=\"{}\" name=\"{}\"", xml(b), xml(&t.name));
            match &t.outcome {
                Outcome::Pass => s.push_str(&format!("{open}/>\n")),
                Outcome::Skip(why) => s.push_str(&format!(
                    "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml(why)
                )),
                Outcome::Fail(msg) => s.push_str(&format!(
                    "{open}>\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(msg.lines().last().unwrap_or("failed")),
                    xml(msg)
                )),
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<TestResult> {
        let t = |n: &str, o| TestResult {
            binary: "b".into(),
            name: n.into(),
            outcome: o,
        };
        vec![
            t("p", Outcome::Pass),
            t("s", Outcome::Skip("no veth".into())),
            t("f", Outcome::Fail("x < y\nboom".into())),
        ]
    }

    #[test]
    fn ktap_lines() {
        let k = ktap("6.1", &sample());
        assert!(k.starts_with("KTAP version 1\n"));
        assert!(
            k.contains("1..3\nok 1 b::p\nok 2 b::s # SKIP no veth\nnot ok 3 b::f\n# x < y\n# boom\n"),
            "{k}"
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let j = junit("6.1", &sample());
        assert!(j.contains("tests=\"3\" failures=\"1\" skipped=\"1\""), "{j}");
        assert!(j.contains("x &lt; y"), "{j}");
        assert!(j.contains("<skipped message=\"no veth\"/>"), "{j}");
    }
}
