//! Printing: one JSON document on stdout with `--json`, human text otherwise; errors as
//! `{"error": {code, message}}` and the contract's exit codes.

use std::io::Write;
use std::process::ExitCode;

use oxide_core::{Error, ErrorKind};
use serde::Serialize;
use serde_json::{json, Value};

/// An error on its way out: the core's, or one of the shell's own (usage, I/O).
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub kind: ErrorKind,
}

impl CliError {
    pub fn io(what: &str, e: std::io::Error) -> CliError {
        CliError {
            code: "IO".into(),
            message: format!("{what}: {e}"),
            kind: ErrorKind::Internal,
        }
    }

    pub fn invalid(code: &str, message: impl Into<String>) -> CliError {
        CliError {
            code: code.into(),
            message: message.into(),
            kind: ErrorKind::Invalid,
        }
    }

    /// Exit 3 with a result document: a gate said no (e.g. `audit verify` not ok).
    pub fn refused(code: &str, message: impl Into<String>) -> CliError {
        CliError {
            code: code.into(),
            message: message.into(),
            kind: ErrorKind::Refused,
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError {
            code: e.code().to_string(),
            message: e.to_string(),
            kind: e.kind(),
        }
    }
}

fn exit_code(kind: ErrorKind) -> ExitCode {
    match kind {
        ErrorKind::Invalid => ExitCode::from(2),
        ErrorKind::Refused => ExitCode::from(3),
        ErrorKind::Internal => ExitCode::from(1),
    }
}

pub struct Out {
    json: bool,
    doc: Option<Value>,
    /// Set when the document is a result that nevertheless means "refused" (exit 3).
    refused: bool,
    /// Set when the document is a result that nevertheless means "invalid input" (exit 2).
    invalid: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            json,
            doc: None,
            refused: false,
            invalid: false,
        }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// The command's result: printed as JSON with `--json`, else `human` goes to stdout.
    pub fn result<T: Serialize>(&mut self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            self.doc = Some(serde_json::to_value(value).unwrap_or_else(
                |e| json!({"error": {"code": "SERIALIZE", "message": e.to_string()}}),
            ));
        } else {
            let text = human();
            if !text.is_empty() {
                let mut so = std::io::stdout().lock();
                let _ = writeln!(so, "{}", text.trim_end());
            }
        }
    }

    /// Like `result`, and the process exits 3 (a gate or check said no).
    pub fn refused_result<T: Serialize>(&mut self, value: &T, human: impl FnOnce() -> String) {
        self.refused = true;
        self.result(value, human);
    }

    /// Like `result`, and the process exits 2 (the input is invalid; nothing was written).
    pub fn invalid_result<T: Serialize>(&mut self, value: &T, human: impl FnOnce() -> String) {
        self.invalid = true;
        self.result(value, human);
    }

    pub fn finish(self, result: Result<(), CliError>) -> ExitCode {
        match result {
            Ok(()) => {
                if let Some(doc) = self.doc {
                    println!("{doc}");
                }
                if self.invalid {
                    ExitCode::from(2)
                } else if self.refused {
                    ExitCode::from(3)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                if self.json {
                    println!(
                        "{}",
                        json!({"error": {"code": e.code, "message": e.message}})
                    );
                }
                eprintln!("error[{}]: {}", e.code, e.message);
                exit_code(e.kind)
            }
        }
    }
}

pub fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or("invalid usage")
                .trim_start_matches("error: ")
                .to_string();
            if json {
                println!(
                    "{}",
                    json!({"error": {"code": "USAGE", "message": format!("{first} (see `oxide help`)")}})
                );
            }
            let _ = e.print();
            ExitCode::from(2)
        }
    }
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
