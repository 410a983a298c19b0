//! Tests that cannot run here: never a silent "ok". Such tests are
//! `#[cfg_attr(not(ci), ignore = "...")]`, so outside CI cargo reports them as
//! ignored (and counts them); they run under CI (`cfg(ci)`, set by build.rs
//! from the `CI` environment variable) or with `-- --include-ignored`. When one
//! runs and what it needs is missing, [`skip_or_fail`] fails it under CI and
//! otherwise reports it as skipped.

use std::io::Write;
use std::path::PathBuf;

/// Whether this is a CI run: `CI` set to a non-empty value other than `false`
/// (the same rule build.rs uses for `cfg(ci)`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// The skip ledger: one `SKIPPED: <test>: <reason>` line per skipped run,
/// appended by every test binary (`.ci/run` counts them).
pub fn ledger() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.log")
}

/// The running test cannot do its work here, for `reason`: under CI a panic
/// naming the reason; elsewhere `SKIPPED: <test>: <reason>` on stderr and in
/// the [`ledger`]. The caller returns right after.
pub fn skip_or_fail(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    if under_ci() {
        panic!("{test} cannot run under CI: {reason}");
    }
    let line = format!("SKIPPED: {test}: {reason}");
    eprintln!("{line}");
    // The ledger only makes skips visible; failing to write it must not fail the test.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ledger())
    {
        let _ = writeln!(f, "{line}");
    }
}
