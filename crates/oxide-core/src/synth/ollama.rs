//! A small, blocking client for Ollama's documented HTTP API (`docs/api.md` in the ollama
//! repository): `GET /api/version`, `GET /api/tags` (the only place a model digest appears)
//! and `POST /api/chat` with `stream: false`. Plain HTTP (a local server); no proxies, no
//! redirects; connect and total timeouts on every call; bodies are size-capped.
//!
//! Every failure is a [`Fault`] carrying the `failure_reason_code` the no-op fallback
//! records (see `docs/ollama.md`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::probe::OllamaHost;

/// Largest response body read from Ollama.
pub const MAX_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;
/// Connect timeout (capped by the total timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Total timeout of the metadata calls (`/api/version`, `/api/tags`).
pub const META_TIMEOUT: Duration = Duration::from_secs(10);

/// The documented `failure_reason_code`s of synthesis (the no-op fallback, R-006).
pub mod reason {
    /// Nothing answers at OLLAMA_HOST (refused, unresolvable, not http).
    pub const UNREACHABLE: &str = "SYNTH_UNREACHABLE";
    /// Connecting or the whole call took longer than the timeout.
    pub const TIMEOUT: &str = "SYNTH_TIMEOUT";
    /// The pinned model is not on the server (absent from /api/tags, or HTTP 404).
    pub const MODEL_NOT_FOUND: &str = "SYNTH_MODEL_NOT_FOUND";
    /// The server's digest for the pinned model differs from `.oxide/oxide.toml`.
    pub const DIGEST_MISMATCH: &str = "SYNTH_DIGEST_MISMATCH";
    /// `.oxide/oxide.toml` has no `model_digest`: nothing unpinned is ever asked.
    pub const MODEL_NOT_PINNED: &str = "SYNTH_MODEL_NOT_PINNED";
    /// HTTP 503: the server's queue is full.
    pub const BUSY: &str = "SYNTH_BUSY";
    /// Any other HTTP error status (400, 429, 500, 502, ...).
    pub const HTTP_ERROR: &str = "SYNTH_HTTP_ERROR";
    /// A 2xx answer whose body is `{"error": ...}`.
    pub const SERVER_ERROR: &str = "SYNTH_SERVER_ERROR";
    /// The answer is not Ollama's JSON (not JSON, no `message.content`, cut off, too big).
    pub const BAD_RESPONSE: &str = "SYNTH_BAD_RESPONSE";
    /// `message.content` is not JSON (or stopped early, `done_reason: length`).
    pub const OUTPUT_NOT_JSON: &str = "SYNTH_OUTPUT_NOT_JSON";
    /// `message.content` is JSON that does not match the intent schema.
    pub const OUTPUT_SCHEMA: &str = "SYNTH_OUTPUT_SCHEMA";
    /// The intent is well-formed but does not apply to the base commit.
    pub const INTENT_NOT_APPLICABLE: &str = "SYNTH_INTENT_NOT_APPLICABLE";
    /// The intent touches a governance file (`.oxide/`, CI), which O.X.I.D.E never proposes.
    pub const GOVERNANCE_PATH: &str = "SYNTH_GOVERNANCE_PATH";
    /// Replay was asked for and the store has no answer to this exact request.
    pub const REPLAY_MISS: &str = "SYNTH_REPLAY_MISS";
    /// The stored answer's text does not hash to its recorded `response_sha256` (the replay
    /// store was edited): nothing is proposed from it.
    pub const REPLAY_TAMPERED: &str = "SYNTH_REPLAY_TAMPERED";
    /// A person cancelled the synthesis.
    pub const CANCELLED: &str = "SYNTH_CANCELLED";

    /// Every code, for docs and tests.
    pub const ALL: &[&str] = &[
        UNREACHABLE,
        TIMEOUT,
        MODEL_NOT_FOUND,
        DIGEST_MISMATCH,
        MODEL_NOT_PINNED,
        BUSY,
        HTTP_ERROR,
        SERVER_ERROR,
        BAD_RESPONSE,
        OUTPUT_NOT_JSON,
        OUTPUT_SCHEMA,
        INTENT_NOT_APPLICABLE,
        GOVERNANCE_PATH,
        REPLAY_MISS,
        REPLAY_TAMPERED,
        CANCELLED,
    ];
}

/// Why a call did not give a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: &'static str,
    pub message: String,
}

impl Fault {
    pub fn new(code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }
}

/// One model as `/api/tags` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagModel {
    pub name: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub digest: String,
}

/// `POST /api/chat` body. Field order is irrelevant: requests are keyed by their RFC 8785
/// form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    /// The intent JSON Schema (structured output).
    pub format: Value,
    pub options: ChatOptions,
    pub keep_alive: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatOptions {
    pub temperature: f64,
    pub seed: i64,
    pub num_ctx: u32,
}

/// What the non-streaming chat answer gave us.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatAnswer {
    /// `message.content`: the model's JSON text, untrusted.
    pub content: String,
    /// `done_reason` (`stop`, `length`, ...), when present.
    pub done_reason: Option<String>,
}

/// The client: a base URL and timeouts.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    scheme: String,
    total: Duration,
}

impl Client {
    /// A client for `host` whose chat calls give up after `total`.
    pub fn new(host: &OllamaHost, total: Duration) -> Client {
        Client {
            base: host.base_url(),
            scheme: host.scheme.clone(),
            total,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn agent(&self, total: Duration) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT.min(total)))
            .timeout_global(Some(total))
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .user_agent("oxide-review")
            .build()
            .into()
    }

    fn check_scheme(&self) -> Result<(), Fault> {
        if self.scheme == "http" {
            Ok(())
        } else {
            Err(Fault::new(
                reason::UNREACHABLE,
                format!(
                    "{} uses {}; OXIDE Review talks to Ollama over plain http (set OLLAMA_HOST to an http:// address)",
                    self.base, self.scheme
                ),
            ))
        }
    }

    fn transport_fault(&self, what: &str, e: ureq::Error, total: Duration) -> Fault {
        match e {
            ureq::Error::Timeout(_) => Fault::new(
                reason::TIMEOUT,
                format!(
                    "{what}: no complete answer from {} within {} s",
                    self.base,
                    total.as_secs_f64()
                ),
            ),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Fault::new(
                reason::TIMEOUT,
                format!(
                    "{what}: no complete answer from {} within {} s",
                    self.base,
                    total.as_secs_f64()
                ),
            ),
            ureq::Error::HostNotFound => Fault::new(
                reason::UNREACHABLE,
                format!(
                    "{what}: cannot resolve the host of {}; check OLLAMA_HOST",
                    self.base
                ),
            ),
            ureq::Error::ConnectionFailed => Fault::new(
                reason::UNREACHABLE,
                format!(
                    "{what}: cannot connect to {} (is `ollama serve` running?)",
                    self.base
                ),
            ),
            ureq::Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
                ) =>
            {
                Fault::new(
                    reason::UNREACHABLE,
                    format!(
                        "{what}: connection to {} refused (is `ollama serve` running?)",
                        self.base
                    ),
                )
            }
            ureq::Error::BodyExceedsLimit(n) => Fault::new(
                reason::BAD_RESPONSE,
                format!("{what}: the answer is larger than {n} bytes"),
            ),
            other => Fault::new(
                reason::BAD_RESPONSE,
                format!("{what}: the exchange with {} failed: {other}", self.base),
            ),
        }
    }

    /// Sends a request, returns (status, body) — transport problems become faults.
    fn exchange(
        &self,
        what: &str,
        path: &str,
        body: Option<&[u8]>,
        total: Duration,
    ) -> Result<(u16, Vec<u8>), Fault> {
        self.check_scheme()?;
        let url = format!("{}{}", self.base, path);
        let agent = self.agent(total);
        let res = match body {
            None => agent.get(&url).header("accept", "application/json").call(),
            Some(b) => agent
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .send(b),
        };
        let mut resp = res.map_err(|e| self.transport_fault(what, e, total))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_fault(what, e, total))?;
        Ok((status, bytes))
    }

    /// Maps a non-2xx status (with Ollama's `{"error": ...}` body, if any) to a fault.
    fn status_fault(what: &str, status: u16, body: &[u8]) -> Fault {
        let said = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_string))
            .map(|e| format!(": {}", truncate(&e, 300)))
            .unwrap_or_default();
        let code = match status {
            404 => reason::MODEL_NOT_FOUND,
            503 => reason::BUSY,
            _ => reason::HTTP_ERROR,
        };
        let hint = match status {
            404 => " (pull the model with `ollama pull`, then pin it)",
            503 => " (the server's queue is full; try again later)",
            _ => "",
        };
        Fault::new(
            code,
            format!("{what}: Ollama answered HTTP {status}{said}{hint}"),
        )
    }

    fn json_2xx(&self, what: &str, status: u16, body: &[u8]) -> Result<Value, Fault> {
        if !(200..300).contains(&status) {
            return Err(Self::status_fault(what, status, body));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            Fault::new(
                reason::BAD_RESPONSE,
                format!("{what}: the answer is not JSON ({e})"),
            )
        })?;
        if let Some(err) = v.get("error") {
            let text = err
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            return Err(Fault::new(
                reason::SERVER_ERROR,
                format!("{what}: Ollama reported an error: {}", truncate(&text, 300)),
            ));
        }
        Ok(v)
    }

    /// `GET /api/version` → the version string.
    #[tracing::instrument(name = "synth.ollama.version", skip_all)]
    pub fn version(&self) -> Result<String, Fault> {
        let total = META_TIMEOUT.min(self.total.max(Duration::from_secs(1)));
        let (status, body) = self.exchange("GET /api/version", "/api/version", None, total)?;
        let v = self.json_2xx("GET /api/version", status, &body)?;
        v.get("version")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                Fault::new(
                    reason::BAD_RESPONSE,
                    format!(
                        "{} answered /api/version without a version; is it Ollama?",
                        self.base
                    ),
                )
            })
    }

    /// `GET /api/tags` → the local models with their digests.
    #[tracing::instrument(name = "synth.ollama.tags", skip_all)]
    pub fn tags(&self) -> Result<Vec<TagModel>, Fault> {
        let total = META_TIMEOUT.min(self.total.max(Duration::from_secs(1)));
        let (status, body) = self.exchange("GET /api/tags", "/api/tags", None, total)?;
        let v = self.json_2xx("GET /api/tags", status, &body)?;
        let models = v.get("models").cloned().unwrap_or(Value::Null);
        serde_json::from_value(models).map_err(|e| {
            Fault::new(
                reason::BAD_RESPONSE,
                format!("GET /api/tags: no model list ({e})"),
            )
        })
    }

    /// `POST /api/chat` with `stream: false`.
    #[tracing::instrument(name = "synth.ollama.chat", skip_all)]
    pub fn chat(&self, req: &ChatRequest) -> Result<ChatAnswer, Fault> {
        let body = serde_json::to_vec(req).map_err(|e| {
            Fault::new(
                reason::BAD_RESPONSE,
                format!("cannot encode the request: {e}"),
            )
        })?;
        let (status, bytes) =
            self.exchange("POST /api/chat", "/api/chat", Some(&body), self.total)?;
        let v = self.json_2xx("POST /api/chat", status, &bytes)?;
        let content = v
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Fault::new(
                    reason::BAD_RESPONSE,
                    "POST /api/chat: the answer has no message.content",
                )
            })?;
        Ok(ChatAnswer {
            content: content.to_string(),
            done_reason: v
                .get("done_reason")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// Normalises a digest for comparison: `/api/tags` reports bare hex; people may write
/// `sha256:<hex>`.
pub fn normalize_digest(d: &str) -> String {
    d.trim().trim_start_matches("sha256:").to_ascii_lowercase()
}

/// Model names as Ollama resolves them: a name without a tag means `:latest`.
pub fn normalize_model(name: &str) -> String {
    let n = name.trim();
    let last = n.rsplit('/').next().unwrap_or(n);
    if last.contains(':') {
        n.to_string()
    } else {
        format!("{n}:latest")
    }
}

/// The pin check (pure): the configured model must be listed with the configured digest.
pub fn check_pin(models: &[TagModel], model: &str, pinned_digest: &str) -> Result<String, Fault> {
    if pinned_digest.trim().is_empty() {
        let seen = models
            .iter()
            .find(|m| normalize_model(&m.name) == normalize_model(model))
            .map(|m| {
                format!(
                    " The server has {model} with digest {}; pin it if you trust it.",
                    m.digest
                )
            })
            .unwrap_or_default();
        return Err(Fault::new(
            reason::MODEL_NOT_PINNED,
            format!("`[synth] model_digest` is not set in .oxide/oxide.toml; O.X.I.D.E only asks a pinned model.{seen}"),
        ));
    }
    let Some(found) = models.iter().find(|m| {
        normalize_model(&m.name) == normalize_model(model)
            || m.model.as_deref().map(normalize_model) == Some(normalize_model(model))
    }) else {
        return Err(Fault::new(
            reason::MODEL_NOT_FOUND,
            format!("the pinned model {model} is not on the server (pull it with `ollama pull {model}`)"),
        ));
    };
    if normalize_digest(&found.digest) != normalize_digest(pinned_digest) {
        return Err(Fault::new(
            reason::DIGEST_MISMATCH,
            format!(
                "the server's {model} has digest {}, but .oxide/oxide.toml pins {}; refusing to use a model that drifted",
                found.digest, pinned_digest
            ),
        ));
    }
    Ok(normalize_digest(&found.digest))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, digest: &str) -> TagModel {
        TagModel {
            name: name.into(),
            model: Some(name.into()),
            digest: digest.into(),
        }
    }

    #[test]
    fn pin_check() {
        let models = vec![m("llama3.2:latest", "abc123"), m("qwen2.5:7b", "def456")];
        assert_eq!(
            check_pin(&models, "llama3.2", "sha256:ABC123").unwrap(),
            "abc123"
        );
        assert_eq!(
            check_pin(&models, "llama3.2:latest", "abc124")
                .unwrap_err()
                .code,
            reason::DIGEST_MISMATCH
        );
        assert_eq!(
            check_pin(&models, "mistral", "abc").unwrap_err().code,
            reason::MODEL_NOT_FOUND
        );
        let e = check_pin(&models, "qwen2.5:7b", "").unwrap_err();
        assert_eq!(e.code, reason::MODEL_NOT_PINNED);
        assert!(e.message.contains("def456"));
    }

    #[test]
    fn status_faults() {
        assert_eq!(
            Client::status_fault("x", 404, br#"{"error":"model 'm' not found"}"#).code,
            reason::MODEL_NOT_FOUND
        );
        assert_eq!(Client::status_fault("x", 503, b"").code, reason::BUSY);
        let f = Client::status_fault("x", 500, br#"{"error":"boom"}"#);
        assert_eq!(f.code, reason::HTTP_ERROR);
        assert!(f.message.contains("boom"));
    }

    #[test]
    fn codes_are_unique() {
        let mut all = reason::ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), reason::ALL.len());
    }
}
