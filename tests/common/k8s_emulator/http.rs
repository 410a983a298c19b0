//! A small HTTP/1.1 server for the emulator: keep-alive connections, bodies by
//! Content-Length or chunked, and streamed replies in chunked encoding where
//! every chunk is flushed as it is produced and the stream always ends with
//! the terminating chunk (a watch that ends must end on the wire, or the
//! client waits on a kept-alive connection forever).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Produces the next chunk of a streamed reply; `None` ends the stream.
pub type Producer = Box<dyn FnMut() -> Option<Vec<u8>> + Send>;

/// A reply.
pub enum Reply {
    Full {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    Stream {
        content_type: &'static str,
        next: Producer,
    },
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(h, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        r.read_exact(&mut body).ok()?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let query = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request {
        method,
        path: decode(path),
        query,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        _ => "Status",
    }
}

fn serve(stream: TcpStream, handler: Arc<dyn Fn(Request) -> Reply + Send + Sync>) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut w = stream;
    while let Some(req) = read_request(&mut reader) {
        let close = req.header("connection").eq_ignore_ascii_case("close");
        let ok = match handler(req) {
            Reply::Full {
                status,
                content_type,
                body,
            } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                    reason(status),
                    body.len()
                );
                w.write_all(head.as_bytes())
                    .and_then(|_| w.write_all(&body))
                    .and_then(|_| w.flush())
                    .is_ok()
            }
            Reply::Stream {
                content_type,
                mut next,
            } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
                );
                let mut ok = w.write_all(head.as_bytes()).and_then(|_| w.flush()).is_ok();
                while ok {
                    match next() {
                        Some(chunk) if chunk.is_empty() => {}
                        Some(chunk) => {
                            ok = w
                                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                                .and_then(|_| w.write_all(&chunk))
                                .and_then(|_| w.write_all(b"\r\n"))
                                .and_then(|_| w.flush())
                                .is_ok();
                        }
                        None => break,
                    }
                }
                ok && w.write_all(b"0\r\n\r\n").and_then(|_| w.flush()).is_ok()
            }
        };
        if !ok || close {
            break;
        }
    }
}

/// Serves `handler` on a loopback port until `stop` is set; returns the port.
pub fn start(stop: Arc<AtomicBool>, handler: Arc<dyn Fn(Request) -> Reply + Send + Sync>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let h = handler.clone();
            std::thread::spawn(move || serve(stream, h));
        }
    });
    port
}
