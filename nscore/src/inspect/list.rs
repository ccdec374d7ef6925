//! Listing every namespace on the host (to be written).
