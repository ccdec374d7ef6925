//! Results, reports, comparisons and history (to be written).
