//! `/proc/sys/user/max_*_namespaces` limits (to be written).
