//! Names that cannot reach apt. A Debian package name that still holds
//! unexpanded text (`linux-headers-$(uname -r)`) or breaks Debian's grammar
//! becomes a diagnostic at its origin instead of a dependency, so one bad line
//! in one script never stops the solve of every image.

use crate::manifest::{Dependency, Diagnostic, Ecosystem, Severity, check_name};

/// Moves deb and deb-src dependencies whose names apt would refuse into
/// warnings (file:line of the declaration, with the name as text).
pub fn drop_bad_debian_names(deps: &mut Vec<Dependency>, diags: &mut Vec<Diagnostic>) {
    deps.retain(|d| {
        if !matches!(d.ecosystem, Ecosystem::Deb | Ecosystem::DebSrc) {
            return true;
        }
        let why = if d.name.contains('$') || d.name.contains("{{") || d.name.contains('`') {
            "it holds text that could not be expanded".to_string()
        } else {
            match check_name(d.ecosystem, &d.name) {
                Ok(()) => return true,
                Err(e) => e.to_string(),
            }
        };
        diags.push(Diagnostic {
            severity: Severity::Warning,
            origin: d.origin.clone(),
            message: format!(
                "{} name `{}` cannot be solved: {why}; left out of the manifest",
                d.ecosystem, d.name
            ),
            text: Some(d.name.clone()),
        });
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Constraint, Context, Origin};

    fn dep(eco: Ecosystem, name: &str) -> Dependency {
        Dependency {
            ecosystem: eco,
            name: name.to_string(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: "ci/install.sh".to_string(),
                line: 29,
            },
            context: Context::default(),
            attrs: Default::default(),
        }
    }

    #[test]
    fn unexpanded_and_invalid_debian_names_become_diagnostics() {
        let mut deps = vec![
            dep(Ecosystem::Deb, "linux-headers-$(uname -r)"),
            dep(Ecosystem::Deb, "Bad_Name"),
            dep(Ecosystem::Deb, "libc6:amd64"),
            dep(Ecosystem::Py, "$WHEEL"),
        ];
        let mut diags = Vec::new();
        drop_bad_debian_names(&mut deps, &mut diags);
        let kept: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(kept, ["libc6:amd64", "$WHEEL"]);
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].origin.to_string(), "ci/install.sh:29");
        assert!(
            diags[0].message.contains("could not be expanded"),
            "{}",
            diags[0].message
        );
    }
}
