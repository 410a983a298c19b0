//! Facts about Debian suites that name the universe's domains: which
//! distribution a suite belongs to, its apt domain, and the CPython its pip
//! installs with.

/// The base distribution of a suite name (`bullseye-updates` -> `bullseye`, `buster/updates` -> `buster`).
pub fn dist_of(suite: &str) -> &str {
    suite.split(['-', '/']).next().unwrap_or(suite)
}

/// The universe domain of a suite's binary packages: `bullseye/amd64`.
pub fn deb_domain(suite: &str, arch: &str) -> String {
    format!("{}/{arch}", dist_of(suite))
}

/// The pip a dependency's context installs with: universe domain and interpreter version.
/// bullseye ships CPython 3.9.2 (and 2.7.18); buster 3.7.3 and 2.7.16.
pub fn python_env_for(suite: Option<&str>, python: Option<&str>) -> (String, &'static str) {
    let py = match python {
        Some("py2") => "py2",
        _ => "py3",
    };
    match (suite.map(dist_of), py) {
        (Some("buster"), "py2") => ("buster-py2".into(), "2.7.16"),
        (Some("buster"), _) => ("buster-py3".into(), "3.7.3"),
        (_, "py2") => ("py2".into(), "2.7.18"),
        _ => ("py3".into(), "3.9.2"),
    }
}
