//! Measurement primitives run in single-threaded children (to be written).
