//! The kernel matrix (`scripts/kernels.sh`): what runs the tests and the quick benchmark under
//! several kernels leaves one directory per kernel; this crate turns them into results.
//!
//! - [`probe`]: which namespace APIs the running kernel has (the `nsmatrix-probe` binary, run in
//!   each guest).
//! - [`libtest`]: reads libtest's plain output and the `SKIPPED <test>: <why>` lines.
//! - [`formats`]: KTAP (kselftest, read by KernelCI and LAVA) and JUnit XML (Jenkins, GitLab).
//! - [`matrix`]: the kernel × test, kernel × feature and kernel × cost tables (terminal and
//!   Markdown) and the SVG chart (the `nsmatrix` binary).

pub mod formats;
pub mod libtest;
pub mod matrix;
pub mod probe;
