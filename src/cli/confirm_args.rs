//! `lock --confirm-builder 'KIND [OPTIONS] [-- ARGV]'`: the builder that
//! confirms a candidate the cheap builder (`--builder layers`) passed, given
//! as one shell-quoted line of the same builder options every building
//! subcommand takes, so each builder keeps one set of option names and checks.

use super::builder_args::BuilderArgs;
use anyhow::{Context, bail};
use clap::Parser;
use sonic_lock::trial::builder::Builder;

/// The builder options of a `--confirm-builder` line.
#[derive(Debug, Parser)]
#[command(name = "--confirm-builder", no_binary_name = true)]
struct ConfirmLine {
    #[command(flatten)]
    builder: BuilderArgs,
}

/// The confirming builder `spec` describes: its kind, then that builder's options.
pub fn confirm_builder(spec: &str) -> anyhow::Result<Box<dyn Builder>> {
    let words = shlex::split(spec)
        .with_context(|| format!("--confirm-builder `{spec}`: unbalanced quotes"))?;
    match words.first() {
        None => bail!(
            "--confirm-builder: give a builder kind, e.g. 'sonic --sonic-checkout DIR --target TARGET'"
        ),
        Some(w) if w.starts_with('-') => {
            bail!(
                "--confirm-builder `{spec}`: start with the builder kind (sonic, docker, command, k8s, layers)"
            )
        }
        Some(_) => {}
    }
    let line = ConfirmLine::try_parse_from(std::iter::once("--builder".to_string()).chain(words))
        .map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        anyhow::anyhow!(
            "--confirm-builder `{spec}`: {}",
            first.trim_start_matches("error: ")
        )
    })?;
    let builder = line
        .builder
        .build()
        .with_context(|| format!("--confirm-builder `{spec}`"))?;
    builder.context("--confirm-builder: no builder")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(spec: &str) -> String {
        match confirm_builder(spec) {
            Ok(b) => panic!("{spec}: accepted as {}", b.describe()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn a_line_of_builder_options_makes_the_confirming_builder() {
        let b = confirm_builder("command --timeout 2h -- /bin/sh -c 'exit 0'").unwrap();
        assert!(b.describe().contains("/bin/sh"), "{}", b.describe());
        assert!(error("").contains("give a builder kind"));
        assert!(error("--builder sonic").contains("start with the builder kind"));
        assert!(error("command -- 'unbalanced").contains("unbalanced quotes"));
        let e = error("nosuch -- true");
        assert!(e.contains("nosuch"), "{e}");
        let e = error("sonic --target t");
        assert!(e.contains("--sonic-checkout"), "{e}");
        let e = error("command --image x -- true");
        assert!(e.contains("--image does not apply"), "{e}");
    }
}
