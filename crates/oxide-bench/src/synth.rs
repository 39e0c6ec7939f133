//! `oxide-bench synth`: what O.X.I.D.E's governance costs per synthesis. Against a loopback
//! server speaking Ollama's API that answers at once, `synth::propose` (version + pinned
//! digest check, prompt with repository context, chat, JSON Schema check, applicability,
//! bundle, `workflow::admit`, attempt + audit, one transaction) is timed against the bare
//! reference: the same `/api/chat` request sent over a plain TCP connection. Also times
//! `propose --replay` (no server). Medians of ROUNDS distinct skills.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use oxide_core::synth::{self, ProposeOptions};
use oxide_core::{skill, Clock, Workspace};
use serde_json::{json, Value};

const ROUNDS: usize = 30;
const FILES: usize = 50;
const DIGEST: &str = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72";
const MODEL: &str = "llama3.2:latest";

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn intent() -> Value {
    json!({"rationale": "Greet oxide.", "risk_hints": [], "ops": [
        {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}]})
}

/// Answers Ollama's three calls at once, one connection at a time, until the process ends.
fn serve(listener: TcpListener) {
    let version = json!({"version": "0.12.6"}).to_string();
    let tags = json!({"models": [{"name": MODEL, "model": MODEL, "digest": DIGEST}]}).to_string();
    let chat =
        json!({"model": MODEL, "message": {"role": "assistant", "content": intent().to_string()},
                      "done": true, "done_reason": "stop"})
        .to_string();
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let (head_end, len) = loop {
            let Ok(n) = conn.read(&mut chunk) else {
                break (0, 0);
            };
            if n == 0 {
                break (0, 0);
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (p, len);
            }
        };
        while buf.len() < head_end + 4 + len {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let body = if head.starts_with("GET /api/version") {
            &version
        } else if head.starts_with("GET /api/tags") {
            &tags
        } else {
            &chat
        };
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

/// The reference: one `/api/chat` request over a fresh TCP connection, answer read in full.
fn bare_chat(addr: &str, body: &[u8]) -> Result<Duration, String> {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(err("connect"))?;
    write!(
        s,
        "POST /api/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .map_err(err("write"))?;
    s.write_all(body).map_err(err("write body"))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(err("read"))?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP answer")?;
    let v: Value = serde_json::from_slice(&out[split + 4..]).map_err(err("answer"))?;
    v.pointer("/message/content").ok_or("no content")?;
    Ok(t.elapsed())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let ok = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@oxide.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .map_err(err("git"))?
        .status
        .success();
    ok.then_some(())
        .ok_or_else(|| format!("git {args:?} failed"))
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

pub fn run() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(err("tempdir"))?;
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("src")).map_err(err("mkdir"))?;
    std::fs::write(root.join("README.md"), "# bench\nhello world\n").map_err(err("write"))?;
    for i in 0..FILES {
        std::fs::write(
            root.join(format!("src/m{i:02}.rs")),
            format!("pub fn f{i}() -> u32 {{ {i} }}\n"),
        )
        .map_err(err("write"))?;
    }
    git(&root, &["init", "-q", "-b", "main"])?;
    git(&root, &["add", "-A"])?;
    git(&root, &["commit", "-q", "-m", "base"])?;
    let db = dir.path().join("state.sqlite3");
    oxide_core::setup::init(&root, Some(&db), "bench", Clock::system()).map_err(err("init"))?;
    std::fs::write(
        root.join(".oxide/oxide.toml"),
        format!("[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 30\n"),
    )
    .map_err(err("settings"))?;
    let mut ws = Workspace::open(&root, Some(&db)).map_err(err("open"))?;

    let listener = TcpListener::bind("127.0.0.1:0").map_err(err("bind"))?;
    let addr = listener.local_addr().map_err(err("addr"))?.to_string();
    std::thread::spawn(move || serve(listener));

    let mut skills = Vec::new();
    for i in 0..ROUNDS {
        let d = skill::parse_descriptor(
            json!({"title": format!("Greet oxide #{i}"), "description": "Say hello to oxide.",
                   "source": "manual", "submitted_by": "bench", "targets": ["README.md", "src/**"]})
            .to_string()
            .as_bytes(),
        )
        .map_err(err("descriptor"))?;
        let ts = ws.clock().now_rfc3339();
        let added = ws
            .store_mut()
            .write(|tx| skill::insert(tx, &d, "bench", &ts))
            .map_err(err("skill"))?;
        skills.push(added.id);
    }

    let host = synth::parse_host(&addr);
    let (mut live, mut replay, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    let mut digests = Vec::new();
    for id in &skills {
        let opts = ProposeOptions {
            replay: false,
            host: host.clone(),
            cancel: None,
        };
        let t = Instant::now();
        let o = synth::propose(&mut ws, id, &opts, "bench").map_err(err("propose"))?;
        live.push(t.elapsed());
        if o.state != oxide_core::State::Proposed {
            return Err(format!(
                "expected a proposal, got {} {:?}: {}",
                o.state, o.failure_reason_code, o.message
            ));
        }
        digests.push(o.digest);
    }
    // The same request body the last propose sent, for the bare reference.
    let conn = ws.store().conn();
    let request: String = conn
        .query_row(
            "SELECT request FROM synth_replay ORDER BY created_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .map_err(err("stored request"))?;
    let prompt_bytes = request.len();
    for (i, id) in skills.iter().enumerate() {
        let opts = ProposeOptions {
            replay: true,
            host: synth::parse_host("127.0.0.1:1"),
            cancel: None,
        };
        let t = Instant::now();
        let o = synth::propose(&mut ws, id, &opts, "bench").map_err(err("replay"))?;
        replay.push(t.elapsed());
        if o.digest != digests[i] {
            return Err("replay gave another digest".into());
        }
        bare.push(bare_chat(&addr, request.as_bytes())?);
    }

    let (l, r, b) = (median(live), median(replay), median(bare));
    let overhead = l - b;
    let body = format!(
        "## synth: governance cost per synthesis\n\n\
         Repository of {files} files; {rounds} distinct skills, each proposed once live and once \
         with `--replay`. Loopback server speaking Ollama's API that answers at once, so the \
         model's own time (seconds on real hardware) is zero here. `propose` = `synth::propose` \
         (`/api/version` + `/api/tags` pin check + `/api/chat` + JSON Schema + applicability + \
         bundle + `workflow::admit` + attempt and audit in one transaction). Reference = the same \
         `/api/chat` body ({prompt} bytes) over a plain TCP connection. Medians.\n\n\
         | propose (live) | propose --replay | bare /api/chat | overhead (live − bare) | ratio live / bare | target |\n\
         |---|---|---|---|---|---|\n\
         | {l:.2} ms | {r:.2} ms | {b:.3} ms | {overhead:.2} ms | {ratio:.1} | overhead ≤ 50 ms, i.e. ≤ 1% of a 5 s model answer ({met}) |\n",
        files = FILES + 1,
        rounds = ROUNDS,
        prompt = prompt_bytes,
        ratio = l / b,
        met = if overhead <= 50.0 { "met" } else { "NOT met" },
    );
    println!("{body}");
    crate::report::write_section("synth", &body)
}
