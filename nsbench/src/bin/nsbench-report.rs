//! `nsbench-report`: turns criterion's output into results JSON, a summary table, Markdown and
//! SVG figures; compares two results; keeps a history; exports Bencher Metric Format.
//! See nsbench/REPORTING.md. Exit status: 0 fine, 1 a regression beyond the threshold,
//! 2 bad input or usage.

use nsbench::report::{self, Error};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  nsbench-report report [--criterion-dir DIR] [--baseline-set NAME] [--since EPOCH_SECONDS] [--out DIR]
  nsbench-report compare OLD.json NEW.json [--threshold 10%] [--noise-floor 25%] [--normalize]
  nsbench-report history append RESULTS.json [--file FILE]
  nsbench-report history plot [--file FILE] [--by date|kernel] [--out DIR]
  nsbench-report export --format bmf RESULTS.json [--out FILE]

Defaults: --criterion-dir $CARGO_TARGET_DIR/criterion (else target/criterion),
--out $CARGO_TARGET_DIR/nsbench (else target/nsbench), --file <out>/history.jsonl,
--noise-floor 25% (see REPORTING.md).
Exit status: 0 ok, 1 regression beyond threshold (compare), 2 bad input or usage.";

/// Parsed command line: positional arguments, `--flag value` options and bare switches.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(args: &[String], switches: &[&str], valued: &[&str]) -> Result<Args, Error> {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if switches.contains(&name) {
                    options.push((name.to_string(), None));
                } else if valued.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| Error(format!("--{name} needs a value")))?,
                    };
                    options.push((name.to_string(), Some(v)));
                } else {
                    return Err(Error(format!("unknown option --{name}\n{USAGE}")));
                }
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Args { positional, options })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn run(argv: &[String]) -> Result<ExitCode, Error> {
    let Some(cmd) = argv.first() else {
        return Err(Error(USAGE.into()));
    };
    let rest = &argv[1..];
    match cmd.as_str() {
        "report" => {
            let a = Args::parse(rest, &[], &["criterion-dir", "out", "baseline-set", "since"])?;
            if !a.positional.is_empty() {
                return Err(Error(format!("report takes no positional arguments\n{USAGE}")));
            }
            let crit = a
                .get("criterion-dir")
                .map(PathBuf::from)
                .unwrap_or_else(|| target_dir().join("criterion"));
            let out = a
                .get("out")
                .map(PathBuf::from)
                .unwrap_or_else(|| target_dir().join("nsbench"));
            let set = a.get("baseline-set").unwrap_or("new");
            let since = a
                .get("since")
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        Error(format!(
                            "bad --since {v:?}: expected seconds since the epoch (date +%s)"
                        ))
                    })
                })
                .transpose()?;
            let results = report::read_criterion(&crit, set, since)?;
            let older = &results.provenance.criterion.left_out_older;
            if !older.is_empty() {
                let shown: Vec<&str> = older.iter().take(5).map(String::as_str).collect();
                let more = if older.len() > 5 { ", ..." } else { "" };
                eprintln!(
                    "note: left out {} benchmark(s) from earlier runs (older than --since): {}{more}",
                    older.len(),
                    shown.join(", ")
                );
            }
            let written = report::write_report(&results, &out)?;
            print!("{}", report::summary_text(&results));
            println!("\nresults:  {}", written.json.display());
            println!("markdown: {}", written.markdown.display());
            for s in &written.svgs {
                println!("figure:   {}", s.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        "compare" => {
            let a = Args::parse(rest, &["normalize"], &["threshold", "noise-floor"])?;
            let [old, new] = a.positional.as_slice() else {
                return Err(Error(format!("compare needs OLD.json NEW.json\n{USAGE}")));
            };
            let threshold = report::parse_threshold(a.get("threshold").unwrap_or("10%"))?;
            let old = report::load_results(old.as_ref())?;
            let new = report::load_results(new.as_ref())?;
            let floor = a.get("noise-floor").map(report::parse_threshold).transpose()?;
            let c = report::compare(&old, &new, threshold, a.has("normalize"), floor)?;
            print!("{}", report::comparison_text(&c));
            Ok(if c.has_regression() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        "history" => {
            let Some(sub) = rest.first() else {
                return Err(Error(format!("history needs append or plot\n{USAGE}")));
            };
            let a = Args::parse(&rest[1..], &[], &["file", "by", "out"])?;
            let file = a
                .get("file")
                .map(PathBuf::from)
                .unwrap_or_else(|| target_dir().join("nsbench").join("history.jsonl"));
            match sub.as_str() {
                "append" => {
                    let [path] = a.positional.as_slice() else {
                        return Err(Error(format!("history append needs one RESULTS.json\n{USAGE}")));
                    };
                    let r = report::load_results(path.as_ref())?;
                    let n = report::history_append(&r, &file)?;
                    println!("appended {path} to {} ({n} runs)", file.display());
                    Ok(ExitCode::SUCCESS)
                }
                "plot" => {
                    if !a.positional.is_empty() {
                        return Err(Error(format!("history plot takes no positional arguments\n{USAGE}")));
                    }
                    let by = match a.get("by").unwrap_or("date") {
                        "date" => report::HistoryBy::Date,
                        "kernel" => report::HistoryBy::Kernel,
                        other => return Err(Error(format!("--by {other}: expected date or kernel"))),
                    };
                    let out = a.get("out").map(PathBuf::from).unwrap_or_else(|| {
                        file.parent()
                            .filter(|p| !p.as_os_str().is_empty())
                            .unwrap_or(std::path::Path::new("."))
                            .to_path_buf()
                    });
                    let h = report::load_history(&file)?;
                    let figs = report::history_plot(&h, by);
                    if figs.is_empty() {
                        return Err(Error(format!(
                            "{} has no unshare/clone/setns figures to plot",
                            file.display()
                        )));
                    }
                    for (name, body) in figs {
                        let p = out.join(name);
                        report::write_atomic(&p, body.as_bytes())?;
                        println!("figure: {}", p.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                other => Err(Error(format!("unknown history command {other:?}\n{USAGE}"))),
            }
        }
        "export" => {
            let a = Args::parse(rest, &[], &["format", "out"])?;
            match a.get("format") {
                Some("bmf") => {}
                Some(other) => return Err(Error(format!("--format {other}: only bmf is supported"))),
                None => return Err(Error(format!("export needs --format bmf\n{USAGE}"))),
            }
            let [path] = a.positional.as_slice() else {
                return Err(Error(format!("export needs one RESULTS.json\n{USAGE}")));
            };
            let r = report::load_results(path.as_ref())?;
            let text = serde_json::to_string_pretty(&report::to_bmf(&r))
                .map_err(|e| Error(format!("cannot encode BMF: {e}")))?;
            match a.get("out") {
                Some(out) => report::write_atomic(out.as_ref(), format!("{text}\n").as_bytes())?,
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Error(format!("unknown command {other:?}\n{USAGE}"))),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nsbench-report: error: {e}");
            ExitCode::from(2)
        }
    }
}
