//! Ctrl-C (and SIGTERM/SIGHUP) handling shared by every builder: the first
//! signal sets a flag that running trials poll so they can kill their process
//! groups and remove their containers; a second one exits at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Installs the process-wide handler; idempotent, so every builder may call it.
pub fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if INTERRUPTED.swap(true, Ordering::SeqCst) {
                    // The user insists: cleanup is already under way or stuck.
                    std::process::exit(130);
                }
                eprintln!("sonic-lock: interrupted, cleaning up (interrupt again to exit at once)");
            })
            .map_err(|e| e.to_string())
        })
        .clone()
}

/// True once an interrupt was received; long-running loops stop at the next check.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
