//! Fault injection: make the kernel "lie" to the code under test, inside the wall only.
//!
//! `NSWALL_FAULT=<spec>` asks the wall to install the fault in the tests' process before
//! `main`, so that every thread and child of the run inherits it.

/// The environment variable that names the fault to inject.
pub const FAULT_VAR: &str = "NSWALL_FAULT";

/// Installs the fault that [`FAULT_VAR`] names, if any. `Ok(None)`: none asked for;
/// `Ok(Some(what))`: installed, described; `Err`: asked for but not possible (the wall then
/// refuses to run, rather than run without the fault).
pub fn install_from_env() -> Result<Option<String>, String> {
    match std::env::var(FAULT_VAR) {
        Err(_) => Ok(None),
        Ok(spec) => Err(format!("{FAULT_VAR}={spec}: fault injection is not available yet")),
    }
}
