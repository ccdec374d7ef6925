//! nsbench: what each kind of Linux namespace costs to create and join, measured in fresh
//! single-threaded children (see `benches/namespaces.rs`), and the tools that turn criterion's
//! results into reports, comparisons and history (`report`).

pub mod measure;
pub mod report;
