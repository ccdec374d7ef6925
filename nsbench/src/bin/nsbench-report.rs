//! `nsbench-report`: turns criterion's output into results JSON, a summary table, Markdown and
//! SVG figures; compares two results; keeps a history; exports Bencher Metric Format.
//! See nsbench/REPORTING.md.
//!
//! Exit status, as `diff` and `cmp` have it: 0 fine, 1 a regression beyond the threshold
//! (`compare`), 2 bad input or usage (clap's own usage errors exit 2 too).

use clap::{Args, Parser, Subcommand, ValueEnum};
use nsbench::report::{self, Error};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status of a usage error or bad input (what clap uses for its own usage errors).
const EXIT_TROUBLE: u8 = 2;
/// Exit status of `compare` when a benchmark regressed beyond the threshold.
const EXIT_REGRESSION: u8 = 1;

#[derive(Parser)]
#[command(
    name = "nsbench-report",
    version,
    about = "Reports, comparisons, history and export of nsbench's criterion results",
    after_help = "Exit status: 0 fine, 1 a regression beyond the threshold (compare), 2 bad input or usage.\n\
                  Defaults under $CARGO_TARGET_DIR (else target/). See nsbench/REPORTING.md.",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read criterion's output into results.json, summary.md and SVG figures; print the summary.
    Report(ReportArgs),
    /// Compare two results files: exit 1 when a benchmark regressed beyond the threshold.
    Compare(CompareArgs),
    /// Keep a JSON-lines history of runs, and plot it.
    #[command(subcommand_required = true, arg_required_else_help = true)]
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Export a results file for other tools (Bencher Metric Format).
    Export(ExportArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// Criterion's directory [default: $CARGO_TARGET_DIR/criterion, else target/criterion].
    #[arg(long, value_name = "DIR")]
    criterion_dir: Option<PathBuf>,
    /// Which saved set to read: `new` (the last run) or a criterion `--save-baseline` name.
    #[arg(long, value_name = "NAME", default_value = "new")]
    baseline_set: String,
    /// Leave out benchmarks criterion wrote before this time (seconds since the epoch, `date +%s`).
    #[arg(long, value_name = "EPOCH_SECONDS", value_parser = parse_since)]
    since: Option<u64>,
    /// Where to write the files [default: $CARGO_TARGET_DIR/nsbench, else target/nsbench].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct CompareArgs {
    /// The earlier results file.
    #[arg(value_name = "OLD.json")]
    old: PathBuf,
    /// The later results file.
    #[arg(value_name = "NEW.json")]
    new: PathBuf,
    /// Smallest change of the median that counts (`10%`, `10` or `0.1`).
    #[arg(long, value_name = "PERCENT", default_value = "10%", value_parser = parse_fraction)]
    threshold: f64,
    /// Widen each interval to at least ± this fraction of its median [default: 25%].
    #[arg(long, value_name = "PERCENT", value_parser = parse_fraction)]
    noise_floor: Option<f64>,
    /// Divide each figure by its same-run baseline, even on the same machine and kernel.
    #[arg(long)]
    normalize: bool,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Append a results file as one line (the history is checked, then rewritten atomically).
    Append {
        /// The results file to append.
        #[arg(value_name = "RESULTS.json")]
        results: PathBuf,
        #[command(flatten)]
        file: HistoryFile,
    },
    /// Draw `history-<kind>.svg`: one line per op over dates or kernel releases.
    Plot {
        #[command(flatten)]
        file: HistoryFile,
        /// The x axis: one point per run by date, or per kernel release (median of its runs).
        #[arg(long, value_enum, default_value_t = By::Date)]
        by: By,
        /// Where to write the figures [default: next to the history file].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct HistoryFile {
    /// The history [default: $CARGO_TARGET_DIR/nsbench/history.jsonl, else target/nsbench/history.jsonl].
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

/// The x axis of `history plot`.
#[derive(Clone, Copy, ValueEnum)]
enum By {
    /// One point per run, in date order.
    Date,
    /// One point per kernel release, in version order.
    Kernel,
}

#[derive(Args)]
struct ExportArgs {
    /// The output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The results file to export.
    #[arg(value_name = "RESULTS.json")]
    results: PathBuf,
    /// Write here (atomically) instead of printing.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Formats of `export`.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Bencher Metric Format (bencher.dev, github-action-benchmark).
    Bmf,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    report::parse_threshold(s).map_err(|e| e.0)
}

fn parse_since(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| "expected seconds since the epoch (date +%s)".to_string())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

impl HistoryFile {
    fn path(&self) -> PathBuf {
        self.file
            .clone()
            .unwrap_or_else(|| target_dir().join("nsbench").join("history.jsonl"))
    }
}

fn report_cmd(a: ReportArgs) -> Result<ExitCode, Error> {
    let crit = a.criterion_dir.unwrap_or_else(|| target_dir().join("criterion"));
    let out = a.out.unwrap_or_else(|| target_dir().join("nsbench"));
    let results = report::read_criterion(&crit, &a.baseline_set, a.since)?;
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

fn compare_cmd(a: CompareArgs) -> Result<ExitCode, Error> {
    let old = report::load_results(&a.old)?;
    let new = report::load_results(&a.new)?;
    let c = report::compare(&old, &new, a.threshold, a.normalize, a.noise_floor)?;
    print!("{}", report::comparison_text(&c));
    Ok(if c.has_regression() {
        ExitCode::from(EXIT_REGRESSION)
    } else {
        ExitCode::SUCCESS
    })
}

fn history_cmd(command: HistoryCommand) -> Result<ExitCode, Error> {
    match command {
        HistoryCommand::Append { results, file } => {
            let file = file.path();
            let r = report::load_results(&results)?;
            let n = report::history_append(&r, &file)?;
            println!("appended {} to {} ({n} runs)", results.display(), file.display());
        }
        HistoryCommand::Plot { file, by, out } => {
            let file = file.path();
            let out = out.unwrap_or_else(|| {
                file.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf()
            });
            let by = match by {
                By::Date => report::HistoryBy::Date,
                By::Kernel => report::HistoryBy::Kernel,
            };
            let figs = report::history_plot(&report::load_history(&file)?, by)?;
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export_cmd(a: ExportArgs) -> Result<ExitCode, Error> {
    let r = report::load_results(&a.results)?;
    let value = match a.format {
        Format::Bmf => report::to_bmf(&r),
    };
    let text = serde_json::to_string_pretty(&value).map_err(|e| Error(format!("cannot encode BMF: {e}")))?;
    match a.out {
        Some(out) => report::write_atomic(&out, format!("{text}\n").as_bytes())?,
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Report(a) => report_cmd(a),
        Command::Compare(a) => compare_cmd(a),
        Command::History { command } => history_cmd(command),
        Command::Export(a) => export_cmd(a),
    };
    result.unwrap_or_else(|e| {
        eprintln!("nsbench-report: error: {e}");
        ExitCode::from(EXIT_TROUBLE)
    })
}
