//! "Is Ollama there?": `GET {OLLAMA_HOST}/api/version` with a short timeout, over a plain
//! blocking TCP connection (loopback HTTP needs no client library). Never an error: the
//! answer is a status the shells show as it is.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Ollama's own default, used when `OLLAMA_HOST` is unset or empty.
pub const DEFAULT_OLLAMA_HOST: &str = "http://127.0.0.1:11434";

/// How long the probe waits to connect, and then for the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest answer read; `/api/version` is a few dozen bytes.
const MAX_RESPONSE: u64 = 64 * 1024;

/// What the shells show about the model server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OllamaStatus {
    pub reachable: bool,
    /// The server's base URL as understood from `OLLAMA_HOST`.
    pub host: String,
    /// Ollama's version when it answered.
    pub version: Option<String>,
    /// One sentence for people: what was found, or what went wrong.
    pub message: String,
}

/// `OLLAMA_HOST`, understood the way Ollama's own clients read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OllamaHost {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// A path prefix (e.g. behind a reverse proxy), without a trailing slash; often empty.
    pub path: String,
}

impl OllamaHost {
    pub fn base_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}://{}:{}{}", self.scheme, host, self.port, self.path)
    }
}

/// Parses `OLLAMA_HOST` as Ollama does (envconfig.Host): scheme defaults to `http`, host to
/// `127.0.0.1`, port to 11434 without a scheme and to 80/443 with `http://`/`https://`.
pub fn parse_host(raw: &str) -> OllamaHost {
    let raw = raw.trim();
    let raw = if raw.is_empty() {
        DEFAULT_OLLAMA_HOST
    } else {
        raw
    };
    let (scheme, rest, default_port) = match raw.split_once("://") {
        None => ("http", raw, 11434),
        Some((s, rest)) if s.eq_ignore_ascii_case("https") => ("https", rest, 443),
        Some((s, rest)) if s.eq_ignore_ascii_case("http") => ("http", rest, 80),
        Some((s, rest)) => (s, rest, 11434),
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((hp, p)) => (hp, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let path = if path == "/" { String::new() } else { path };
    let (host, port) = split_host_port(hostport)
        .map(|(h, p)| (h, p.parse::<u16>().unwrap_or(default_port)))
        .unwrap_or_else(|| {
            let bare = hostport.trim_start_matches('[').trim_end_matches(']');
            let host = if bare.is_empty() { "127.0.0.1" } else { bare };
            (host.to_string(), default_port)
        });
    // A server bound to every interface is reached on loopback.
    let host = match host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_string(),
        _ => host,
    };
    OllamaHost {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
        path,
    }
}

/// `host:port` or `[v6]:port`; `None` when there is no port.
fn split_host_port(s: &str) -> Option<(String, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host.to_string(), port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None; // a bare IPv6 address
    }
    Some((
        if host.is_empty() { "127.0.0.1" } else { host }.to_string(),
        port,
    ))
}

/// The host from the `OLLAMA_HOST` environment variable (or the default).
pub fn host_from_env() -> OllamaHost {
    parse_host(&std::env::var("OLLAMA_HOST").unwrap_or_default())
}

/// Asks the server for its version; says plainly what happened.
#[tracing::instrument(name = "synth.probe", skip_all, fields(host = %host.base_url()))]
pub fn probe(host: &OllamaHost) -> OllamaStatus {
    let base = host.base_url();
    let down = |message: String| {
        tracing::info!(%message, "ollama not reachable");
        OllamaStatus {
            reachable: false,
            host: base.clone(),
            version: None,
            message,
        }
    };
    if host.scheme != "http" {
        return down(format!(
            "OXIDE Review reaches Ollama over plain http for now; {} is not supported yet (set OLLAMA_HOST to an http:// address).",
            host.scheme
        ));
    }
    match get(host, "/api/version") {
        Ok((200, body)) => {
            let version = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("version")?.as_str().map(str::to_string));
            match version {
                Some(v) => {
                    tracing::info!(version = %v, "ollama reachable");
                    OllamaStatus {
                        reachable: true,
                        host: base.clone(),
                        message: format!("Ollama {v} answers at {base}."),
                        version: Some(v),
                    }
                }
                None => down(format!(
                    "{base} answered, but not like Ollama (no version in /api/version); check OLLAMA_HOST."
                )),
            }
        }
        Ok((code, _)) => down(format!(
            "{base} answered HTTP {code} to /api/version; is it an Ollama server? Check OLLAMA_HOST."
        )),
        Err(why) => down(format!("Nothing answers at {base}: {why}.")),
    }
}

/// A minimal HTTP/1.1 GET: returns the status code and the (de-chunked) body.
fn get(host: &OllamaHost, path: &str) -> Result<(u16, Vec<u8>), String> {
    let addrs: Vec<_> = (host.host.as_str(), host.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", host.host))?
        .collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = describe_io(&e),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|_| stream.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| describe_io(&e))?;
    let host_header = if host.host.contains(':') {
        format!("[{}]:{}", host.host, host.port)
    } else {
        format!("{}:{}", host.host, host.port)
    };
    let request = format!(
        "GET {}{} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: oxide-review\r\nConnection: close\r\n\r\n",
        host.path, path, host_header
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| describe_io(&e))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .map_err(|e| describe_io(&e))?;
    parse_response(&raw)
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is `ollama serve` running?)".into()
        }
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
        }
        _ => e.to_string(),
    }
}

/// Splits a raw HTTP/1.x response into status code and body.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer is not HTTP")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1."))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or("the answer is not HTTP")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            return Err("truncated chunked body".into());
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(response: &'static str) -> (OllamaHost, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            s.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (parse_host(&format!("127.0.0.1:{port}")), handle)
    }

    #[test]
    fn parses_hosts_like_ollama() {
        let h = parse_host("");
        assert_eq!(h.base_url(), "http://127.0.0.1:11434");
        assert_eq!(parse_host("0.0.0.0").base_url(), "http://127.0.0.1:11434");
        assert_eq!(
            parse_host("example.com:8080").base_url(),
            "http://example.com:8080"
        );
        assert_eq!(
            parse_host("http://example.com").base_url(),
            "http://example.com:80"
        );
        assert_eq!(parse_host("https://example.com").port, 443);
        assert_eq!(
            parse_host("http://[::1]:9000/ollama/").base_url(),
            "http://[::1]:9000/ollama"
        );
        assert_eq!(parse_host(":5000").base_url(), "http://127.0.0.1:5000");
        assert_eq!(parse_host("gpu-box").base_url(), "http://gpu-box:11434");
    }

    #[test]
    fn reports_the_version_when_ollama_answers() {
        let (host, server) = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"version\":\"0.12.6\"}",
        );
        let status = probe(&host);
        assert!(status.reachable, "{status:?}");
        assert_eq!(status.version.as_deref(), Some("0.12.6"));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /api/version HTTP/1.1\r\n"),
            "{request}"
        );
    }

    #[test]
    fn reads_a_chunked_answer() {
        let (host, _server) = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"versio\r\nc\r\nn\":\"0.13.0\"}\r\n0\r\n\r\n",
        );
        assert_eq!(probe(&host).version.as_deref(), Some("0.13.0"));
    }

    #[test]
    fn says_plainly_when_nothing_listens() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(); // the listener is dropped: the port is closed
        let status = probe(&parse_host(&format!("127.0.0.1:{port}")));
        assert!(!status.reachable);
        assert!(
            status.message.contains("connection refused"),
            "{}",
            status.message
        );
        assert_eq!(status.host, format!("http://127.0.0.1:{port}"));
    }

    #[test]
    fn a_server_that_is_not_ollama_is_named() {
        let (host, _server) =
            serve_once("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
        let status = probe(&host);
        assert!(!status.reachable);
        assert!(status.message.contains("HTTP 404"), "{}", status.message);
    }

    #[test]
    fn https_is_refused_with_a_reason() {
        let status = probe(&parse_host("https://example.com"));
        assert!(!status.reachable);
        assert!(status.message.contains("http://"), "{}", status.message);
    }
}
