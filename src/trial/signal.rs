//! Ctrl-C (and SIGTERM/SIGHUP) handling shared by every builder: the first
//! signal sets a flag that running trials poll so they can kill their process
//! groups and remove their containers; a second one exits at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<Result<(), SignalError>> = OnceLock::new();

/// The handler could not be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SignalError(String);

/// Installs the process-wide handler; idempotent, so every builder may call it.
pub fn install() -> Result<(), SignalError> {
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if INTERRUPTED.swap(true, Ordering::SeqCst) {
                    // The user insists: cleanup is already under way or stuck.
                    std::process::exit(130);
                }
                eprintln!("sonic-lock: interrupted, cleaning up (interrupt again to exit at once)");
            })
            // ctrlc::Error is not Clone; the result is kept for every later caller.
            .map_err(|e| SignalError(e.to_string()))
        })
        .clone()
}

/// True once an interrupt was received; long-running loops stop at the next check.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
