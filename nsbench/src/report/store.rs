//! Results files on disk: loading (format version checked), the report files of one run, and
//! atomic writes.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::figures::figures;
use super::summary::summary_markdown;
use super::{err, Error, Result, Results, FORMAT_VERSION};

/// Loads a results file, refusing other format versions and malformed files.
pub fn load_results(path: &Path) -> Result<Results> {
    let text = fs::read_to_string(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    parse_results(&text, &path.display().to_string())
}

/// Parses results JSON text; `what` names the source in errors.
pub fn parse_results(text: &str, what: &str) -> Result<Results> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error(format!("{what} is not valid JSON (truncated?): {e}")))?;
    match v.get("format_version").and_then(|x| x.as_u64()) {
        None => {
            return err(format!(
                "{what} has no format_version: not an nsbench results file (format {FORMAT_VERSION})"
            ))
        }
        Some(n) if n != u64::from(FORMAT_VERSION) => {
            return err(format!(
                "{what} has format_version {n}, this tool reads format {FORMAT_VERSION}: \
                 re-run `nsbench-report report` with this version on the criterion output"
            ))
        }
        _ => {}
    }
    let r: Results =
        serde_json::from_value(v).map_err(|e| Error(format!("{what} is not a valid nsbench results file: {e}")))?;
    if r.benchmarks.is_empty() {
        return err(format!("{what} holds no benchmarks"));
    }
    Ok(r)
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, synced,
/// then renamed over `path` (`tempfile`'s `persist`); on failure the temporary file is removed
/// and `path` is untouched.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let res = (|| -> std::io::Result<()> {
        let mut f = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            // As `File::create` (0666 less the umask), not tempfile's private 0600: the
            // results are meant to be read by others.
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(dir)?;
        f.write_all(contents)?;
        f.as_file().sync_all()?;
        f.persist(path)?;
        Ok(())
    })();
    res.map_err(|e| Error(format!("cannot write {}: {e}", path.display())))
}

/// Paths written by [`write_report`].
#[derive(Debug, Clone)]
pub struct Written {
    /// The results JSON.
    pub json: PathBuf,
    /// The Markdown summary.
    pub markdown: PathBuf,
    /// The SVG figures.
    pub svgs: Vec<PathBuf>,
}

/// Writes `results.json`, `summary.md` and the figures into `out_dir`, each atomically.
/// Everything is rendered before the first file is written.
pub fn write_report(r: &Results, out_dir: &Path) -> Result<Written> {
    let json = serde_json::to_string_pretty(r).map_err(|e| Error(format!("cannot encode results: {e}")))?;
    let md = summary_markdown(r);
    let figs = figures(r)?;
    let json_path = out_dir.join("results.json");
    let md_path = out_dir.join("summary.md");
    write_atomic(&json_path, json.as_bytes())?;
    write_atomic(&md_path, md.as_bytes())?;
    let mut svgs = Vec::new();
    for (name, body) in figs {
        let p = out_dir.join(name);
        write_atomic(&p, body.as_bytes())?;
        svgs.push(p);
    }
    Ok(Written {
        json: json_path,
        markdown: md_path,
        svgs,
    })
}
