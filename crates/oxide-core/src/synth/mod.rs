//! O.X.I.D.E, the synthesis room: where its model server (Ollama) is and whether it answers
//! (`probe`), the Ollama client with the model pin (`ollama`), prompt building (`prompt`),
//! the replay store and attempt log (`store`, migration 0005), and `propose` with its no-op
//! fallback. `docs/ollama.md` documents the settings and every `failure_reason_code`.

pub mod ollama;
pub mod probe;
pub mod prompt;
pub mod propose;
pub mod store;
pub mod verify;

pub use ollama::reason;
pub use probe::{host_from_env, parse_host, probe, OllamaHost, OllamaStatus, DEFAULT_OLLAMA_HOST};
pub use propose::{propose, ProposeOptions, ProposeOutcome};
pub use store::{attempts, no_op_count, Attempt};

/// Whether the pinned model can be used: the server answers, has the model, and its digest
/// is the pinned one. For the desktop banner and `oxide synth pin`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PinStatus {
    pub reachable: bool,
    pub host: String,
    pub version: Option<String>,
    pub model: String,
    pub pinned_digest: String,
    /// The digest `/api/tags` reports for the model, when listed.
    pub server_digest: Option<String>,
    /// Reachable, listed and matching the pin: synthesis may ask this model.
    pub ok: bool,
    /// The `failure_reason_code` a synthesis would end with now, when not ok.
    pub code: Option<String>,
    pub message: String,
}

/// Checks the pin against the server (never an error: the status says what happened).
#[tracing::instrument(name = "synth.pin_status", skip_all)]
pub fn pin_status(
    settings: &crate::workspace::config::SynthSettings,
    host: &OllamaHost,
) -> PinStatus {
    let client = ollama::Client::new(host, ollama::META_TIMEOUT);
    let mut st = PinStatus {
        reachable: false,
        host: client.base_url().to_string(),
        version: None,
        model: settings.model.clone(),
        pinned_digest: ollama::normalize_digest(&settings.model_digest),
        server_digest: None,
        ok: false,
        code: None,
        message: String::new(),
    };
    let fail = |mut st: PinStatus, f: ollama::Fault| {
        st.code = Some(f.code.to_string());
        st.message = f.message;
        st
    };
    match client.version() {
        Ok(v) => {
            st.reachable = true;
            st.version = Some(v);
        }
        Err(f) => return fail(st, f),
    }
    let tags = match client.tags() {
        Ok(t) => t,
        Err(f) => return fail(st, f),
    };
    st.server_digest = tags
        .iter()
        .find(|m| ollama::normalize_model(&m.name) == ollama::normalize_model(&settings.model))
        .map(|m| ollama::normalize_digest(&m.digest));
    match ollama::check_pin(&tags, &settings.model, &settings.model_digest) {
        Ok(_) => {
            st.ok = true;
            st.message = format!(
                "{} answers with {} at the pinned digest.",
                st.host, settings.model
            );
            st
        }
        Err(f) => fail(st, f),
    }
}

/// `GET /api/tags`: the server's models and the digests to pin (`oxide synth models`).
pub fn models(host: &OllamaHost) -> Result<Vec<ollama::TagModel>, SynthError> {
    ollama::Client::new(host, ollama::META_TIMEOUT)
        .tags()
        .map_err(|f| SynthError::Ollama {
            code: f.code,
            message: f.message,
        })
}

/// Errors of the `synth` room: input or environment problems that stop `propose` before
/// anything is asked or written. (Synthesis faults are not errors: they are `no_op`
/// outcomes, recorded and audited.)
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("the target branch '{branch}' does not exist in this repository; commit to it or set `[workflow] target_branch` in .oxide/oxide.toml. Nothing was written")]
    NoBase { branch: String },
    #[error("cannot read the repository: {0}")]
    Git(String),
    #[error("synthesis failed unexpectedly: {0}")]
    Internal(String),
    #[error("{message} [{code}]")]
    Ollama { code: &'static str, message: String },
}

impl SynthError {
    pub(crate) fn git(e: git2::Error) -> SynthError {
        SynthError::Git(e.message().to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            SynthError::NoBase { .. } => "SYNTH_NO_BASE",
            SynthError::Git(_) => "SYNTH_GIT",
            SynthError::Internal(_) => "SYNTH_INTERNAL",
            SynthError::Ollama { code, .. } => code,
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            SynthError::NoBase { .. } => crate::ErrorKind::Invalid,
            SynthError::Git(_) | SynthError::Internal(_) | SynthError::Ollama { .. } => {
                crate::ErrorKind::Internal
            }
        }
    }
}
