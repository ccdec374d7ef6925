//! Keeping a namespace alive without processes (to be written).
