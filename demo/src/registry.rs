//! The world's container registry: the base image its Dockerfiles name
//! (`debian:bullseye`) as an OCI index with a linux/amd64 image created before
//! the cutoff, served by path like the other origins (anonymous, no token).

use super::server::{Resource, Routes};

/// When the world's `debian:bullseye` image was built.
pub const DEBIAN_CREATED: &str = "2022-11-30T00:00:00Z";

fn res(content_type: &str, body: Vec<u8>) -> Resource {
    Resource {
        content_type: content_type.into(),
        body,
    }
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", crate::fsio::sha256_hex(b))
}

/// Routes of `/v2/library/debian/...`: the `bullseye` tag, its image manifest and config.
pub fn routes() -> Routes {
    let repo = "/v2/library/debian";
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{DEBIAN_CREATED}","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes();
    let config_digest = digest(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    )
    .into_bytes();
    let manifest_digest = digest(&manifest);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        manifest.len()
    )
    .into_bytes();
    let mut routes = Routes::new();
    let index_type = "application/vnd.oci.image.index.v1+json";
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    routes.insert(
        format!("{repo}/manifests/{}", digest(&index)),
        res(index_type, index.clone()),
    );
    routes.insert(format!("{repo}/manifests/bullseye"), res(index_type, index));
    routes.insert(
        format!("{repo}/manifests/{manifest_digest}"),
        res(manifest_type, manifest),
    );
    routes.insert(
        format!("{repo}/blobs/{config_digest}"),
        res("application/octet-stream", config),
    );
    routes
}
