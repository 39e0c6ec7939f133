//! O.X.I.D.E, the synthesis room: where its model server (Ollama) is and whether it answers
//! (`probe`), the Ollama client with the model pin (`ollama`), prompt building (`prompt`),
//! the replay store and attempt log (`store`, migration 0005), and `propose` with its no-op
//! fallback. `docs/ollama.md` documents the settings and every `failure_reason_code`.

pub mod ollama;
pub mod probe;
pub mod prompt;
pub mod propose;
pub mod store;

pub use ollama::reason;
pub use probe::{host_from_env, parse_host, probe, OllamaHost, OllamaStatus, DEFAULT_OLLAMA_HOST};
pub use propose::{propose, ProposeOptions, ProposeOutcome};
pub use store::{attempts, no_op_count, Attempt};

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
