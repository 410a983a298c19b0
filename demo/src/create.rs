//! Materialising the demo world on disk and on loopback: git repositories under
//! `<dir>/git`, the sonic-buildimage clone under `<dir>/sonic-buildimage`, and one
//! server for the Debian archive, PyPI and the GitHub-shaped web origin.

use super::repo::{self, CommitSpec, Entry, RepoError};
use super::server::{Resource, Routes, Server, ServerError};
use super::world;
use std::path::{Path, PathBuf};

/// Errors creating the world.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A repository could not be written.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The loopback server did not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A running demo world.
pub struct World {
    /// The directory holding everything.
    pub dir: PathBuf,
    /// The loopback server.
    pub server: Server,
    /// The generated sonic-buildimage repository (non-bare, with a work tree).
    pub sonic_repo: PathBuf,
    /// Directory of local submodule clones (`--submodules`).
    pub submodules: PathBuf,
    /// Commit SHAs of sonic-buildimage, oldest first; index 1 is the cutoff.
    pub sonic_commits: Vec<String>,
    /// Where the world's URLs point.
    pub urls: world::Urls,
}

impl World {
    /// Writes the world under `dir` and starts its server.
    pub fn create(dir: &Path) -> Result<World, WorldError> {
        let server = Server::start_empty()?;
        let git_dir = dir.join("git");
        let urls = world::Urls {
            mirror: format!("{}/debian", server.base()),
            github: format!("{}/github.com", server.base()),
            git: format!("file://{}", git_dir.display()),
        };
        let submodule_dir = git_dir.join("sonic-net/sonic-demo-utils.git");
        let sub_commits = repo::write_history(&submodule_dir, "master", &world::submodule())?;
        let libteam_dir = git_dir.join("jpirko/libteam.git");
        repo::write_history(&libteam_dir, "master", &world::libteam())?;
        let pkgs_dir = git_dir.join("barefootnetworks/sonic-release-pkgs.git");
        let pkgs = world::release_pkgs();
        let pkg_commits = repo::write_history(&pkgs_dir, "dev", &pkgs)?;

        let sub_url = format!("{}/sonic-net/sonic-demo-utils.git", urls.git);
        let head_sub = sub_commits.last().cloned().unwrap_or_default();
        let mut sonic = world::sonic_buildimage(&urls, &sub_url, &head_sub);
        if let Some(first) = sonic.first_mut() {
            first.files.insert(
                "src/sonic-demo-swss/orch.c".into(),
                Entry::File(world::ORCH_C.as_bytes().to_vec()),
            );
        }
        let sonic_repo = dir.join("sonic-buildimage");
        let sonic_commits = repo::write_history(&sonic_repo, "master", &sonic)?;

        // Local clones of submodules, laid out by submodule path, as `--submodules` expects.
        let submodules = dir.join("submodules");
        repo::write_history(
            &submodules.join("src/sonic-demo-utils"),
            "master",
            &world::submodule(),
        )?;

        let mut routes: Routes = world::archive().routes();
        routes.extend(super::pypi::routes(server.base(), &world::pypi()));
        routes.extend(super::registry::routes());
        routes.extend(raw_routes(
            "barefootnetworks/sonic-release-pkgs",
            "dev",
            &pkgs,
            &pkg_commits,
        ));
        server.add_routes(routes);
        Ok(World {
            dir: dir.to_path_buf(),
            server,
            sonic_repo,
            submodules,
            sonic_commits,
            urls,
        })
    }
}

/// GitHub `raw/<ref>/<path>` URLs for every commit (by SHA) and for the branch head.
fn raw_routes(repo_path: &str, branch: &str, commits: &[CommitSpec], shas: &[String]) -> Routes {
    let mut routes = Routes::new();
    let mut state = std::collections::BTreeMap::new();
    for (c, sha) in commits.iter().zip(shas) {
        for (p, e) in &c.files {
            if let Entry::File(b) = e {
                state.insert(p.clone(), b.clone());
            }
        }
        for (p, b) in &state {
            routes.insert(
                format!("/github.com/{repo_path}/raw/{sha}/{p}"),
                Resource {
                    content_type: "application/octet-stream".into(),
                    body: b.clone(),
                },
            );
        }
    }
    for (p, b) in &state {
        routes.insert(
            format!("/github.com/{repo_path}/raw/{branch}/{p}"),
            Resource {
                content_type: "application/octet-stream".into(),
                body: b.clone(),
            },
        );
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> (u16, Vec<u8>) {
        let resp = reqwest::blocking::get(url).unwrap();
        (resp.status().as_u16(), resp.bytes().unwrap().to_vec())
    }

    #[test]
    fn world_serves_archive_pypi_and_moving_raw_urls() {
        let dir = tempfile::tempdir().unwrap();
        let w = World::create(dir.path()).unwrap();
        assert_eq!(w.sonic_commits.len(), 3);
        let base = w.server.base().to_string();
        let (s, body) = get(&format!(
            "{base}/archive/debian/20221206T084731Z/dists/bullseye/Release"
        ));
        assert_eq!(s, 200, "redirected to the 20221205 snapshot");
        assert!(String::from_utf8_lossy(&body).contains("05 Dec 2022"));
        let (s, _) = get(&format!(
            "{}/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc",
            w.urls.mirror
        ));
        assert_eq!(s, 404, "vanished from today's mirror");
        let (s, _) = get(&format!("{base}/simple/pyfoo/"));
        assert_eq!(s, 200);
        let (_, today) = get(&format!(
            "{}/barefootnetworks/sonic-release-pkgs/raw/dev/bfnsdk_20221130_sai_1.11.0_deb11.deb",
            w.urls.github
        ));
        assert!(String::from_utf8_lossy(&today).contains("build 2"));
        let repo = git2::Repository::open(&w.sonic_repo).unwrap();
        let cutoff = repo
            .find_commit(git2::Oid::from_str(&w.sonic_commits[1]).unwrap())
            .unwrap();
        assert_eq!(cutoff.time().seconds(), world::CUTOFF_TIME);
    }
}
