//! How a user's `make NAME=VALUE` reaches `slave.mk`. The top-level make runs
//! `Makefile.work`, which starts `make -f slave.mk` in the slave container with
//! the variables its `SONIC_BUILD_INSTRUCTION` lists, some under another name
//! (`SONIC_INSTALL_DEBUG_TOOLS=$(INSTALL_DEBUG_TOOLS)`; `slave.mk` then sets
//! `INSTALL_DEBUG_TOOLS = y` from it). A variable that list does not rename
//! reaches `slave.mk` under its own name.

use super::make::Files;
use super::text::{decode, logical_lines};
use crate::manifest::make_vars::MakeVars;

/// The file that hands the user's variables to `slave.mk`.
const MAKEFILE_WORK: &str = "Makefile.work";

/// `(slave.mk name, user name)` for each `A=$(B)` word of the `make -f slave.mk`
/// command `Makefile.work` builds.
pub fn renames(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for l in logical_lines(text) {
        let Some(rest) = l.text.trim_start().strip_prefix("SONIC_BUILD_INSTRUCTION") else {
            continue;
        };
        for w in rest.split_whitespace() {
            let Some((a, b)) = w.split_once('=') else {
                continue;
            };
            let Some(b) = b.strip_prefix("$(").and_then(|b| b.strip_suffix(')')) else {
                continue;
            };
            let ident =
                |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if ident(a) && ident(b) {
                out.push((a.to_string(), b.to_string()));
            }
        }
    }
    out
}

/// The command-line variables `slave.mk` sees for the user's `vars`: each under
/// the names `Makefile.work` passes it as, else under its own.
pub fn slave_vars(vars: &MakeVars, files: &dyn Files) -> MakeVars {
    let text = files
        .read(MAKEFILE_WORK)
        .map(|b| decode(&b).0.into_owned())
        .unwrap_or_default();
    let renames = renames(&text);
    let mut out = MakeVars::new();
    for (name, value) in vars {
        let mut passed = false;
        for (to, from) in &renames {
            if from == name {
                out.insert(to.clone(), value.clone());
                passed = true;
            }
        }
        if !passed {
            out.insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_work_renames_reach_slave_mk() {
        let text = "X := 1\nSONIC_BUILD_INSTRUCTION :=  $(MAKE) \\\n  -f slave.mk \\\n  PLATFORM=$(PLATFORM) \\\n  SONIC_INSTALL_DEBUG_TOOLS=$(INSTALL_DEBUG_TOOLS) \\\n  HTTP_PROXY=$(http_proxy) \\\n  BAD=$(x y)\n";
        let r = renames(text);
        assert!(r.contains(&("PLATFORM".into(), "PLATFORM".into())));
        assert!(r.contains(&(
            "SONIC_INSTALL_DEBUG_TOOLS".into(),
            "INSTALL_DEBUG_TOOLS".into()
        )));
        assert!(r.contains(&("HTTP_PROXY".into(), "http_proxy".into())));
        assert!(!r.iter().any(|(a, _)| a == "BAD"));
    }
}
