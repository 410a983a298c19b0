//! A loopback HTTP server for the demo world: serves a fixed table of paths and
//! behaves like snapshot.debian.org for timestamps that fall between snapshots.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

/// One servable resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The `Content-Type` header.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The loopback socket could not be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(String),
}

/// The content of the world's web: path (starting with `/`) to resource.
pub type Routes = BTreeMap<String, Resource>;

/// A running loopback server; stops when dropped.
pub struct Server {
    base: String,
    stop: Arc<AtomicBool>,
    inner: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<String>>>,
    routes: Arc<RwLock<Routes>>,
}

impl Server {
    /// Starts serving `routes` on 127.0.0.1 at a free port.
    pub fn start(routes: Routes) -> Result<Server, ServerError> {
        let server = Server::start_empty()?;
        server.add_routes(routes);
        Ok(server)
    }

    /// Starts with no routes, so that content can embed the server's own URL.
    pub fn start_empty() -> Result<Server, ServerError> {
        let inner = Arc::new(
            tiny_http::Server::http("127.0.0.1:0").map_err(|e| ServerError::Bind(e.to_string()))?,
        );
        let port = inner
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| ServerError::Bind("no IP address".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(RwLock::new(Routes::new()));
        let (srv, stop2, log2, routes2) =
            (inner.clone(), stop.clone(), log.clone(), routes.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let req = match srv.recv_timeout(std::time::Duration::from_millis(100)) {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(_) => break,
                };
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let response = match routes2.read() {
                    Ok(r) => answer(&r, &path),
                    Err(_) => break,
                };
                if let Ok(mut l) = log2.lock() {
                    l.push(format!("{} {} {}", req.method(), path, response.status));
                }
                let mut r =
                    tiny_http::Response::from_data(response.body).with_status_code(response.status);
                for (k, v) in response.headers {
                    if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                        r.add_header(h);
                    }
                }
                // A client that hung up is not the server's problem.
                let _ = req.respond(r);
            }
        });
        Ok(Server {
            base: format!("http://127.0.0.1:{port}"),
            stop,
            inner,
            thread: Some(thread),
            log,
            routes,
        })
    }

    /// Adds (or replaces) routes while serving.
    pub fn add_routes(&self, more: Routes) {
        if let Ok(mut r) = self.routes.write() {
            r.extend(more);
        }
    }

    /// Base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Requests served so far, as `METHOD PATH STATUS` lines.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.inner.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn answer(routes: &Routes, path: &str) -> Answer {
    if let Some(r) = routes.get(path) {
        return Answer {
            status: 200,
            headers: vec![("Content-Type".into(), r.content_type.clone())],
            body: r.body.clone(),
        };
    }
    // PyPI and directory-style URLs are served with and without the trailing slash.
    if let Some(r) = routes.get(&format!("{path}/")) {
        return Answer {
            status: 200,
            headers: vec![("Content-Type".into(), r.content_type.clone())],
            body: r.body.clone(),
        };
    }
    if let Some(loc) = snapshot_redirect(routes, path) {
        return Answer {
            status: 302,
            headers: vec![("Location".into(), loc)],
            body: Vec::new(),
        };
    }
    Answer {
        status: 404,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"404 Not Found\n".to_vec(),
    }
}

/// snapshot.debian.org redirects `/archive/<a>/<ts>/rest` to the newest snapshot at or before `ts`.
fn snapshot_redirect(routes: &Routes, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/archive/")?;
    let mut parts = rest.splitn(3, '/');
    let (archive, ts, tail) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
    if ts.len() != 16 || !ts.ends_with('Z') {
        return None;
    }
    let prefix = format!("/archive/{archive}/");
    let best = routes
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter_map(|k| k.split('/').next())
        .filter(|t| t.len() == 16 && *t <= ts && *t != ts)
        .max()?
        .to_string();
    Some(format!("/archive/{archive}/{best}/{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(s: &str) -> Resource {
        Resource {
            content_type: "text/plain".into(),
            body: s.as_bytes().to_vec(),
        }
    }

    #[test]
    fn serves_routes_and_redirects_between_snapshots() {
        let mut routes = Routes::new();
        routes.insert(
            "/archive/debian/20221101T000000Z/dists/bullseye/Release".into(),
            res("old"),
        );
        routes.insert(
            "/archive/debian/20221206T000000Z/dists/bullseye/Release".into(),
            res("new"),
        );
        let a = answer(
            &routes,
            "/archive/debian/20221201T120000Z/dists/bullseye/Release",
        );
        assert_eq!(a.status, 302);
        assert_eq!(
            a.headers[0].1,
            "/archive/debian/20221101T000000Z/dists/bullseye/Release"
        );
        assert_eq!(
            answer(
                &routes,
                "/archive/debian/20221001T000000Z/dists/bullseye/Release"
            )
            .status,
            404
        );
        assert_eq!(answer(&routes, "/nope").status, 404);
        let server = Server::start(routes).unwrap();
        assert!(server.base().starts_with("http://127.0.0.1:"));
    }
}
