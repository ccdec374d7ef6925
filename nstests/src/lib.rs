//! Isolation test helpers (see tests/).
