//! Options of `--builder layers`: where apt and pip fetch from, the base of
//! each chain, the `FROM` chain of the images, and which images to build.

use super::builder_args::{BuilderArgs, parse_env};
use anyhow::bail;
use sonic_lock::trial::layers::{LayersBuilder, LayersConfig};

/// Options only the layers builder reads, flattened into the builder options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LayersArgs {
    /// Apt source `URL [SUITE...]` for the images (layers builder; repeatable); suites
    /// may say `{suite}` for the image's suite, the default. The first also makes the base.
    #[arg(long = "apt-mirror", value_name = "URL [SUITE...]")]
    pub apt_mirrors: Vec<String>,
    /// Keyring that signs the apt sources' InRelease (layers builder).
    #[arg(long, value_name = "FILE")]
    pub apt_keyring: Option<std::path::PathBuf>,
    /// Python package index for pip (layers builder), e.g. https://pypi.org/simple/.
    #[arg(long, value_name = "URL")]
    pub pypi_index: Option<String>,
    /// Start every image chain from this local image instead of mmdebstrap (layers builder).
    #[arg(long, value_name = "IMAGE")]
    pub layers_base: Option<String>,
    /// The image an image is built FROM, IMAGE=PARENT (layers builder; repeatable).
    #[arg(long = "layers-parent", value_name = "IMAGE=PARENT", value_parser = parse_env)]
    pub layers_parents: Vec<(String, String)>,
    /// Crawl manifest: each image's apt transactions in Dockerfile order (layers builder).
    #[arg(long, value_name = "FILE")]
    pub layers_manifest: Option<std::path::PathBuf>,
    /// Build only this image and its parents (layers builder).
    #[arg(long, value_name = "NAME")]
    pub layers_image: Option<String>,
    /// mmdebstrap variant of the base (layers builder).
    #[arg(long, value_name = "VARIANT", default_value = "minbase")]
    pub base_variant: String,
}

impl LayersArgs {
    /// Refuses layers options given to another builder.
    pub fn refuse(&self, kind: &str) -> anyhow::Result<()> {
        let set = [
            ("--apt-mirror", !self.apt_mirrors.is_empty()),
            ("--apt-keyring", self.apt_keyring.is_some()),
            ("--pypi-index", self.pypi_index.is_some()),
            ("--layers-base", self.layers_base.is_some()),
            ("--layers-parent", !self.layers_parents.is_empty()),
            ("--layers-manifest", self.layers_manifest.is_some()),
            ("--layers-image", self.layers_image.is_some()),
            ("--base-variant", self.base_variant != "minbase"),
        ];
        if let Some((name, _)) = set.iter().find(|(_, s)| *s) {
            bail!("{name} does not apply to --builder {kind}");
        }
        Ok(())
    }

    /// The layers builder from these and the common options.
    pub fn build(&self, common: &BuilderArgs) -> anyhow::Result<LayersBuilder> {
        let refused = [
            ("--image", common.image.is_some()),
            ("--cpus", common.cpus.is_some()),
            ("--memory", common.memory.is_some()),
            ("--mount", !common.mounts.is_empty()),
            ("--ulimit", !common.ulimits.is_empty()),
            ("--sonic-checkout", common.sonic_checkout.is_some()),
            ("--target", common.target.is_some()),
            ("--make-arg", !common.make_args.is_empty()),
            ("--url-rewrite", !common.url_rewrites.is_empty()),
            ("--env", !common.env.is_empty()),
        ];
        if let Some((name, _)) = refused.iter().find(|(_, s)| *s) {
            bail!("{name} does not apply to --builder layers");
        }
        if !common.argv.is_empty() {
            bail!("--builder layers runs apt and pip itself; drop the command after `--`");
        }
        if self.apt_mirrors.is_empty() {
            bail!("--builder layers needs --apt-mirror URL (the lock's archive or a mirror)");
        }
        if !self
            .base_variant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            bail!(
                "--base-variant `{}`: expected an mmdebstrap variant such as minbase",
                self.base_variant
            );
        }
        let mut c = LayersConfig::new(self.apt_mirrors.clone());
        c.runtime = common.container_runtime.clone();
        c.apt_keyring = self.apt_keyring.clone();
        c.pypi_index = self.pypi_index.clone();
        c.base = self.layers_base.clone();
        c.base_variant = self.base_variant.clone();
        c.parents = self.layers_parents.iter().cloned().collect();
        c.manifest = self.layers_manifest.clone();
        c.only = self.layers_image.clone();
        c.jobs = common.jobs;
        c.timeout = common.timeout;
        c.ca_bundle = common.ca_bundle.clone();
        c.network_mode = common.network_mode.clone();
        Ok(LayersBuilder::new(c)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        builder: BuilderArgs,
    }

    fn error(args: &[&str]) -> String {
        let cli = Cli::try_parse_from(std::iter::once("t").chain(args.iter().copied())).unwrap();
        match cli.builder.build() {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn layers_options_belong_to_the_layers_builder() {
        let e = error(&[
            "--builder",
            "command",
            "--apt-mirror",
            "http://x/debian",
            "--",
            "true",
        ]);
        assert!(
            e.contains("--apt-mirror does not apply to --builder command"),
            "{e}"
        );
        let e = error(&["--builder", "layers"]);
        assert!(e.contains("needs --apt-mirror"), "{e}");
        let e = error(&[
            "--builder",
            "layers",
            "--apt-mirror",
            "http://x",
            "--image",
            "i",
        ]);
        assert!(
            e.contains("--image does not apply to --builder layers"),
            "{e}"
        );
        let e = error(&[
            "--builder",
            "layers",
            "--apt-mirror",
            "http://x",
            "--",
            "make",
        ]);
        assert!(e.contains("drop the command"), "{e}");
    }
}
