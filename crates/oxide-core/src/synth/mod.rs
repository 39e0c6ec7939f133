//! O.X.I.D.E, the synthesis room. So far: where its model server (Ollama) is and whether it
//! answers (`probe`). Prompt building, the Ollama client, the model pin and the replay cache
//! arrive with the synthesis issue.

pub mod probe;

pub use probe::{host_from_env, parse_host, probe, OllamaHost, OllamaStatus, DEFAULT_OLLAMA_HOST};
