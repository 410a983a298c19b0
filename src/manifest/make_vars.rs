//! Make variables given on the command line, as `make NAME=VALUE` gives them
//! to sonic-buildimage (`make INSTALL_DEBUG_TOOLS=y target/sonic-barefoot.bin`):
//! they override the tree's own assignments, and they say which configuration
//! of the build a manifest or a lock is for.

use std::collections::BTreeMap;

/// Command-line make variables by name.
pub type MakeVars = BTreeMap<String, String>;

/// Why a `NAME=VALUE` cannot be a command-line make variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MakeVarError {
    /// No `=` at all.
    #[error("`{0}` is not NAME=VALUE")]
    NoEquals(String),
    /// The name is not a make identifier.
    #[error(
        "`{0}` is not a make variable name (letters, digits and `_`, not starting with a digit)"
    )]
    Name(String),
    /// The value holds a line break or a NUL, which no command line carries into make.
    #[error("the value of {0} holds a line break or a NUL character")]
    Value(String),
}

/// Checks one variable: `name` is a make identifier, `value` one line.
pub fn check(name: &str, value: &str) -> Result<(), MakeVarError> {
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return Err(MakeVarError::Name(name.escape_debug().to_string()));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(MakeVarError::Value(name.to_string()));
    }
    Ok(())
}

/// Parses `NAME=VALUE` (the value may be empty and may hold `=`).
pub fn parse(arg: &str) -> Result<(String, String), MakeVarError> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| MakeVarError::NoEquals(arg.escape_debug().to_string()))?;
    check(name, value)?;
    Ok((name.to_string(), value.to_string()))
}

/// Checks every variable of `vars`.
pub fn check_all(vars: &MakeVars) -> Result<(), MakeVarError> {
    vars.iter().try_for_each(|(n, v)| check(n, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_checked() {
        assert_eq!(
            parse("INSTALL_DEBUG_TOOLS=y").unwrap(),
            ("INSTALL_DEBUG_TOOLS".to_string(), "y".to_string())
        );
        assert_eq!(
            parse("X=a=b").unwrap(),
            ("X".to_string(), "a=b".to_string())
        );
        assert_eq!(parse("EMPTY=").unwrap().1, "");
        assert!(matches!(parse("NOEQUALS"), Err(MakeVarError::NoEquals(_))));
        for bad in ["=y", "1X=y", "A B=y", "A-B=y", "A:=y", "$(X)=y"] {
            assert!(matches!(parse(bad), Err(MakeVarError::Name(_))), "{bad}");
        }
        assert!(matches!(parse("A=x\ny"), Err(MakeVarError::Value(_))));
        assert!(matches!(parse("A=x\0"), Err(MakeVarError::Value(_))));
    }
}
