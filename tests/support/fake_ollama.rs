//! A loopback HTTP/1.1 server speaking Ollama's documented API (`GET /api/version`,
//! `GET /api/tags` with digests, non-streaming `POST /api/chat` whose `message.content` is
//! the JSON text), with injectable faults. A real `TcpListener` in a thread: the `oxide`
//! binary reaches it through `OLLAMA_HOST` like any Ollama server.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// The model and digest the fake server lists by default.
pub const MODEL: &str = "llama3.2:latest";
pub const DIGEST: &str = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72";

/// How `/api/chat` answers.
#[derive(Debug, Clone)]
pub enum Chat {
    /// 200 with `message.content` = this text and `done_reason`.
    Content {
        content: String,
        done_reason: String,
    },
    /// This status with Ollama's `{"error": msg}` body.
    Status(u16, String),
    /// 200 with this raw body.
    Raw(String),
    /// Sleep this long before answering normally with `{}` content.
    Sleep(Duration),
    /// Promise a longer body than is sent, then close.
    CutBody,
}

/// What the server does.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub version: String,
    /// `(name, digest)` listed by `/api/tags`.
    pub models: Vec<(String, String)>,
    pub chat: Chat,
    /// Waits this long before answering `/api/chat` (a model that is thinking).
    pub chat_delay: Duration,
}

impl Behavior {
    /// A healthy server whose model answers `content` (an intent's JSON text).
    pub fn answering(content: &Value) -> Behavior {
        Behavior {
            version: "0.12.6".into(),
            models: vec![(MODEL.into(), DIGEST.into())],
            chat: Chat::Content {
                content: content.to_string(),
                done_reason: "stop".into(),
            },
            chat_delay: Duration::ZERO,
        }
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: Value,
}

pub struct FakeOllama {
    addr: SocketAddr,
    behavior: Arc<Mutex<Behavior>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl FakeOllama {
    pub fn start(behavior: Behavior) -> FakeOllama {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let behavior = Arc::new(Mutex::new(behavior));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s, st) = (behavior.clone(), seen.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (b, s) = (b.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &b, &s);
                });
            }
        });
        FakeOllama {
            addr,
            behavior,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    /// `OLLAMA_HOST` for this server, written the way people do: no scheme.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap() = behavior;
    }

    pub fn chat_requests(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == "/api/chat")
            .map(|s| s.body.clone())
            .collect()
    }

    /// Stops listening: afterwards the port refuses connections.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A closed loopback port (nothing listens there).
pub fn closed_port_host() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn respond(conn: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

fn serve(
    mut conn: TcpStream,
    behavior: &Mutex<Behavior>,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        body: body_json.clone(),
    });
    let b = behavior.lock().unwrap().clone();
    match (method.as_str(), path.as_str()) {
        ("GET", "/api/version") => {
            respond(&mut conn, 200, &json!({"version": b.version}).to_string())
        }
        ("GET", "/api/tags") => {
            let models: Vec<Value> = b
                .models
                .iter()
                .map(|(name, digest)| {
                    json!({"name": name, "model": name, "modified_at": "2026-01-01T00:00:00Z",
                           "size": 2019393189u64, "digest": digest,
                           "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                                       "quantization_level": "Q4_K_M"}})
                })
                .collect();
            respond(&mut conn, 200, &json!({ "models": models }).to_string())
        }
        ("POST", "/api/chat") => {
            std::thread::sleep(b.chat_delay);
            let model = body_json["model"].as_str().unwrap_or("").to_string();
            let ok = |content: &str, done_reason: &str| {
                json!({"model": model, "created_at": "2026-01-01T00:00:00Z",
                       "message": {"role": "assistant", "content": content},
                       "done": true, "done_reason": done_reason,
                       "total_duration": 4_883_583_458u64, "load_duration": 1_334_875,
                       "prompt_eval_count": 26, "prompt_eval_duration": 342_546_000,
                       "eval_count": 282, "eval_duration": 4_535_599_000u64})
                .to_string()
            };
            match b.chat {
                Chat::Content {
                    content,
                    done_reason,
                } => respond(&mut conn, 200, &ok(&content, &done_reason)),
                Chat::Status(code, msg) => {
                    respond(&mut conn, code, &json!({ "error": msg }).to_string())
                }
                Chat::Raw(raw) => respond(&mut conn, 200, &raw),
                Chat::Sleep(d) => {
                    std::thread::sleep(d);
                    respond(&mut conn, 200, &ok("{}", "stop"))
                }
                Chat::CutBody => {
                    let full = ok("{\"rationale\": \"x\", \"ops\": []}", "stop");
                    write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        full.len() + 100,
                        &full[..full.len() / 2]
                    )?;
                    conn.flush()
                }
            }
        }
        _ => respond(&mut conn, 404, "404 page not found"),
    }
}
