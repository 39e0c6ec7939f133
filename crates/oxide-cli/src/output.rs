//! Printing: one JSON document on stdout with `--json`, human text otherwise; errors as
//! `{"error": {code, message}}` and the contract's exit codes.
//!
//! A closed stdout (`oxide --json audit list | head -c 100`) is not an error: the reader has
//! what it wanted, so the rest is dropped quietly and the exit code is the command's own, as
//! git and ripgrep do. Rust ignores SIGPIPE, so the write fails with `BrokenPipe` instead of
//! killing the process; nothing here panics on a failed write.

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

/// Writes `text` and a newline to stdout. `Ok` also when the reader has gone away (a closed
/// pipe): there is no one left to tell.
fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut so = std::io::stdout().lock();
    match writeln!(so, "{text}").and_then(|()| so.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `text` and a newline to stderr; a failure there has nowhere to be reported.
fn write_stderr(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

pub struct Out {
    json: bool,
    doc: Option<Value>,
    /// Set when the document is a result that nevertheless means "refused" (exit 3).
    refused: bool,
    /// Set when the document is a result that nevertheless means "invalid input" (exit 2).
    invalid: bool,
    /// A failed write of human text to stdout (other than a closed pipe), reported at the end.
    write_failed: Option<std::io::Error>,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            json,
            doc: None,
            refused: false,
            invalid: false,
            write_failed: None,
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
            if !text.is_empty() && self.write_failed.is_none() {
                if let Err(e) = write_stdout(text.trim_end()) {
                    self.write_failed = Some(e);
                }
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
        let written = match (&result, self.write_failed) {
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => self
                .doc
                .as_ref()
                .map_or(Ok(()), |doc| write_stdout(&doc.to_string())),
            (Err(_), _) => Ok(()),
        };
        let result =
            result.and(written.map_err(|e| CliError::io("cannot write the result to stdout", e)));
        match result {
            Ok(()) => {
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
                    // The error document, if stdout still takes it; stderr says it anyway.
                    let _ = write_stdout(
                        &json!({"error": {"code": e.code, "message": e.message}}).to_string(),
                    );
                }
                write_stderr(&format!("error[{}]: {}", e.code, e.message));
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
                let _ = write_stdout(
                    &json!({"error": {"code": "USAGE", "message": format!("{first} (see `oxide help`)")}})
                        .to_string(),
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
