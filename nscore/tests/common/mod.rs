//! What the integration tests of nscore share.

use std::io::Write as _;

/// `true` as root; otherwise prints `SKIPPED <test>: needs root: <why>` straight to stderr
/// (libtest would capture `eprintln!`) and returns `false`.
pub fn root_or_skip(test: &str, why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: needs root: {why}");
        false
    }
}
