//! Loopback HTTP servers with the real layouts of snapshot.debian.org, a Debian
//! mirror, PyPI's Simple JSON API and a Go proxy, plus fault injection.
#![allow(dead_code)]

pub mod pypi;
pub mod registry;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the handler saw.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub range: Option<u64>,
    /// The `Range` header as sent (`bytes=-100`, `bytes=3-9`).
    pub range_header: Option<String>,
    pub accept: Option<String>,
    pub authorization: Option<String>,
}

/// What the server does.
pub enum Reply {
    /// A normal response (Range honoured by `file()`).
    Body {
        status: u16,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// Declares `declared` bytes, sends `body`, then closes the connection.
    Truncated { declared: usize, body: Vec<u8> },
    /// Declares `declared` bytes, sends `body`, then stalls for `sleep` before closing.
    Stall {
        declared: usize,
        body: Vec<u8>,
        sleep: Duration,
    },
    /// A 200 with the whole `body`, sent in `pieces` with `pause` between them
    /// (a slow link: a client killed meanwhile has part of it).
    Trickle {
        body: Vec<u8>,
        pieces: usize,
        pause: Duration,
    },
}

pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
    Reply::Body {
        status: 200,
        body: body.into(),
        headers: vec![],
    }
}

pub fn status(code: u16) -> Reply {
    Reply::Body {
        status: code,
        body: format!("status {code}").into_bytes(),
        headers: vec![],
    }
}

pub fn redirect(to: &str) -> Reply {
    Reply::Body {
        status: 302,
        body: vec![],
        headers: vec![("Location".into(), to.into())],
    }
}

/// Serves `body`, honouring `Range: bytes=N-` with a 206.
pub fn file(req: &Req, body: &[u8]) -> Reply {
    match req.range {
        Some(n) if (n as usize) < body.len() => Reply::Body {
            status: 206,
            body: body[n as usize..].to_vec(),
            headers: vec![(
                "Content-Range".into(),
                format!("bytes {}-{}/{}", n, body.len() - 1, body.len()),
            )],
        },
        _ => ok(body.to_vec()),
    }
}

/// Serves `body`, honouring every single-range form of `Range` (`a-b`,
/// `a-`, `-n`) with a 206, as a static file server does.
pub fn file_ranged(req: &Req, body: &[u8]) -> Reply {
    let len = body.len() as u64;
    let Some(spec) = req
        .range_header
        .as_deref()
        .and_then(|h| h.strip_prefix("bytes="))
    else {
        return ok(body.to_vec());
    };
    let Some((a, b)) = spec.split_once('-') else {
        return status(416);
    };
    let (start, end) = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (None, Some(n)) => (len.saturating_sub(n), len.saturating_sub(1)),
        (Some(s), None) => (s, len.saturating_sub(1)),
        (Some(s), Some(e)) => (s, e.min(len.saturating_sub(1))),
        (None, None) => return status(416),
    };
    if start > end || start >= len {
        return status(416);
    }
    Reply::Body {
        status: 206,
        body: body[start as usize..=end as usize].to_vec(),
        headers: vec![("Content-Range".into(), format!("bytes {start}-{end}/{len}"))],
    }
}

pub type Handler = dyn Fn(&Req, usize) -> Reply + Send + Sync;

/// A running loopback server.
pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    /// Number of requests whose path equals `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
    pub fn requests(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Starts a server on 127.0.0.1:0; `handler` gets the request and how many times this path was asked (1-based).
pub fn serve(handler: impl Fn(&Req, usize) -> Reply + Send + Sync + 'static) -> Server {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let log: Arc<Mutex<Vec<Req>>> = Arc::new(Mutex::new(Vec::new()));
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(HashMap::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let log2 = log.clone();
    std::thread::spawn(move || {
        for rq in server.incoming_requests() {
            let h = handler.clone();
            let log = log2.clone();
            let counts = counts.clone();
            std::thread::spawn(move || {
                let hdr = |name: &str| {
                    rq.headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                        .map(|h| h.value.as_str().to_string())
                };
                let range = hdr("Range")
                    .and_then(|v| v.strip_prefix("bytes=").map(str::to_string))
                    .and_then(|v| v.trim_end_matches('-').parse().ok());
                let req = Req {
                    path: rq.url().to_string(),
                    range,
                    range_header: hdr("Range"),
                    accept: hdr("Accept"),
                    authorization: hdr("Authorization"),
                };
                log.lock().unwrap().push(req.clone());
                let n = {
                    let mut c = counts.lock().unwrap();
                    let e = c.entry(req.path.clone()).or_insert(0);
                    *e += 1;
                    *e
                };
                match h(&req, n) {
                    Reply::Body {
                        status,
                        body,
                        headers,
                    } => {
                        let mut resp =
                            tiny_http::Response::from_data(body).with_status_code(status);
                        for (k, v) in headers {
                            resp.add_header(
                                tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap(),
                            );
                        }
                        let _ = rq.respond(resp);
                    }
                    Reply::Truncated { declared, body } => {
                        let mut w = rq.into_writer();
                        let _ = write!(
                            w,
                            "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
                        );
                        let _ = w.write_all(&body);
                        let _ = w.flush();
                    }
                    Reply::Stall {
                        declared,
                        body,
                        sleep,
                    } => {
                        let mut w = rq.into_writer();
                        let _ = write!(
                            w,
                            "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
                        );
                        let _ = w.write_all(&body);
                        let _ = w.flush();
                        std::thread::sleep(sleep);
                    }
                    Reply::Trickle {
                        body,
                        pieces,
                        pause,
                    } => {
                        let mut w = rq.into_writer();
                        let _ = write!(
                            w,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        for piece in body.chunks(body.len().div_ceil(pieces.max(1)).max(1)) {
                            let _ = w.write_all(piece);
                            let _ = w.flush();
                            std::thread::sleep(pause);
                        }
                    }
                }
            });
        }
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// A static site: path -> bytes, 404 otherwise, Range honoured.
pub fn site(files: HashMap<String, Vec<u8>>) -> Server {
    serve(move |req, _| match files.get(req.path.as_str()) {
        Some(b) => file(req, b),
        None => status(404),
    })
}

pub fn sha256(b: &[u8]) -> String {
    sonic_lock::fsio::sha256_hex(b)
}

pub fn xz(b: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    xz2::read::XzEncoder::new(b, 6)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn gz(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A Release file listing `files` (path relative to dists/<suite>/ -> bytes).
pub fn release_text(
    codename: &str,
    date: &str,
    valid_until: Option<&str>,
    files: &[(String, Vec<u8>)],
) -> String {
    let mut s = format!(
        "Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: {codename}\nDate: {date}\n"
    );
    if let Some(v) = valid_until {
        s.push_str(&format!("Valid-Until: {v}\n"));
    }
    s.push_str("Architectures: amd64\nComponents: main\nSHA256:\n");
    for (p, b) in files {
        s.push_str(&format!(" {} {:>8} {}\n", sha256(b), b.len(), p));
    }
    s
}

/// A Packages file with one stanza per (name, version).
pub fn packages(pkgs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (n, v) in pkgs {
        s.push_str(&format!(
            "Package: {n}\nVersion: {v}\nArchitecture: amd64\nDepends: libc6 (>= 2.31)\nFilename: pool/main/{}/{n}/{n}_{v}_amd64.deb\nSize: 100\nSHA256: {}\nDescription: test package {n}\n\n",
            &n[..1],
            sha256(n.as_bytes())
        ));
    }
    s.into_bytes()
}

/// A Sources file.
pub fn sources(srcs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    for (n, v) in srcs {
        s.push_str(&format!(
            "Package: {n}\nVersion: {v}\nBinary: {n}\nDirectory: pool/main/{}/{n}\n\n",
            &n[..1]
        ));
    }
    s.into_bytes()
}

/// The files of `dists/<suite>/` for a small consistent suite: Release, plus indices (xz, gz and plain).
pub fn suite_files(
    codename: &str,
    date: &str,
    valid_until: Option<&str>,
    pkgs: &[(&str, &str)],
) -> (String, Vec<(String, Vec<u8>)>) {
    let p = packages(pkgs);
    let s = sources(pkgs);
    let files = vec![
        ("main/binary-amd64/Packages".to_string(), p.clone()),
        ("main/binary-amd64/Packages.xz".to_string(), xz(&p)),
        ("main/binary-amd64/Packages.gz".to_string(), gz(&p)),
        ("main/source/Sources".to_string(), s.clone()),
        ("main/source/Sources.gz".to_string(), gz(&s)),
    ];
    (release_text(codename, date, valid_until, &files), files)
}

/// A fresh signing key and its public keyring (armored) written to `dir/keyring.asc`.
pub fn signing_key(
    dir: &std::path::Path,
    name: &str,
) -> (pgp::composed::SignedSecretKey, std::path::PathBuf) {
    signing_key_of(dir, name, pgp::composed::KeyType::Ed25519)
}

/// As [`signing_key`] with a given key type: `Ed25519Legacy` is the one apt's gpgv verifies.
pub fn signing_key_of(
    dir: &std::path::Path,
    name: &str,
    key_type: pgp::composed::KeyType,
) -> (pgp::composed::SignedSecretKey, std::path::PathBuf) {
    use pgp::composed::SecretKeyParamsBuilder;
    let mut rng = rand::thread_rng();
    let params = SecretKeyParamsBuilder::default()
        .key_type(key_type)
        .can_sign(true)
        .primary_user_id(format!("{name} <{name}@example.org>"))
        .build()
        .unwrap();
    let key = params.generate(&mut rng).unwrap();
    let public = key.to_public_key();
    let path = dir.join(format!("{name}.asc"));
    std::fs::write(&path, public.to_armored_bytes(Default::default()).unwrap()).unwrap();
    (key, path)
}

/// Clear-signs `text` as an InRelease.
pub fn clearsign(key: &pgp::composed::SignedSecretKey, text: &str) -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let msg = pgp::composed::CleartextSignedMessage::sign(
        &mut rng,
        text,
        &key.primary_key,
        &pgp::types::Password::empty(),
    )
    .unwrap();
    msg.to_armored_bytes(Default::default()).unwrap()
}
