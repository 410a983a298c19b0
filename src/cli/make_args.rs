//! `--make-var NAME=VALUE`: a make variable set for the build, as
//! `make NAME=VALUE target/sonic-barefoot.bin` sets it (shared by every
//! command that crawls the tree).

use sonic_lock::manifest::make_vars::{self, MakeVarError, MakeVars};

/// One `NAME=VALUE`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeVar {
    /// The variable.
    pub name: String,
    /// Its value.
    pub value: String,
}

fn parse(arg: &str) -> Result<MakeVar, MakeVarError> {
    let (name, value) = make_vars::parse(arg)?;
    Ok(MakeVar { name, value })
}

/// The make variables given on the command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MakeVarArgs {
    /// Set a make variable for the build as `make NAME=VALUE` does, over the
    /// tree's own assignments (repeatable), e.g. `INSTALL_DEBUG_TOOLS=y` for
    /// the `-dbg` dockers SONiC's CI builds. Recorded in the manifest and the lock.
    #[arg(long = "make-var", value_name = "NAME=VALUE", value_parser = parse)]
    pub make_vars: Vec<MakeVar>,
}

impl MakeVarArgs {
    /// The variables by name; a later one of the same name wins, as in make.
    pub fn vars(&self) -> MakeVars {
        self.make_vars
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    }
}
