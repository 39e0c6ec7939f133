//! `propose`: skill → prompt → (Ollama | replay store) → validated intent → bundle →
//! `workflow::admit`. Every fault on the way ends in the no-op fallback (R-006): no
//! proposal row, no branch, one `synth.no_op` audit event and an attempt row with the
//! `failure_reason_code`. Never a partial proposal: the attempt, the stored answer, the
//! proposal (through `workflow::admit`) and the audit events are one transaction.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::canon;
use crate::clock::Stamp;
use crate::proposal::{
    self, schema, Base, BaseFiles, Bundle, Intent, Provenance, SynthOptions, Synthesizer,
    TreeFiles, BUNDLE_SCHEMA_VERSION,
};
use crate::skill::{self, Skill};
use crate::workflow::{self, ProposalRow, State, SupersedeEvidence, Transition};
use crate::{Error, Workspace};

use super::ollama::{reason, ChatAnswer, ChatOptions, ChatRequest, Client, Fault};
use super::probe::OllamaHost;
use super::prompt::{self, ContextFile, PromptInput, PROMPT_TEMPLATE_VERSION};
use super::store::{self, Attempt, ReplayEntry};
use super::verify::evaluate_answer;
use super::SynthError;

/// Ollama's `keep_alive` sent with every chat request.
pub const KEEP_ALIVE: &str = "5m";
/// Largest file read from the base for the context.
const MAX_CONTEXT_FILE: usize = 256 * 1024;

/// How to propose.
#[derive(Debug, Clone)]
pub struct ProposeOptions {
    /// Answer from the replay store only (also on when `[synth] replay = true`).
    pub replay: bool,
    /// The Ollama server.
    pub host: OllamaHost,
    /// Set to cancel: the attempt ends as `no_op` / `SYNTH_CANCELLED` at the next check.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// What `propose` answers (`{"id", "state", "digest", "failure_reason_code"}` and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposeOutcome {
    /// The proposal id; `null` for a no-op (no proposal exists).
    pub id: Option<String>,
    /// `proposed` (or the existing proposal's state) or `no_op`.
    pub state: State,
    pub digest: Option<String>,
    pub failure_reason_code: Option<String>,
    /// One sentence for people.
    pub message: String,
    /// The attempt row (see `oxide synth attempts`).
    pub attempt: i64,
    /// `ollama` or `replay`.
    pub source: String,
    pub model: String,
    pub request_sha256: Option<String>,
    /// The bundle was already a proposal (same request, same answer): nothing new was made.
    pub existing: bool,
    /// The proposal this one supersedes (re-synthesis for the same skill).
    pub supersedes: Option<String>,
    pub duration_ms: u64,
}

/// Everything prepared before asking the model.
struct Prepared {
    base: Base,
    request: ChatRequest,
    request_canonical: String,
    request_sha256: String,
    prompt_sha256: String,
}

/// Files and paths of the base tree.
fn tree_paths(repo: &Repository, tree: &git2::Tree<'_>) -> Vec<String> {
    let _ = repo;
    let mut out = Vec::new();
    let _ = tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            if let Some(name) = entry.name() {
                out.push(format!("{root}{name}"));
            }
        }
        TreeWalkResult::Ok
    });
    out.sort();
    out
}

fn context_files(base: &TreeFiles<'_>, skill: &Skill, all: &[String]) -> Vec<ContextFile> {
    let mut chosen = prompt::select_paths(&skill.descriptor.targets, all);
    if chosen.is_empty() {
        chosen = all
            .iter()
            .filter(|p| !p.contains('/') && p.to_ascii_lowercase().starts_with("readme"))
            .cloned()
            .collect();
    }
    chosen
        .into_iter()
        .filter(|p| !proposal::paths::is_listed(p))
        .filter_map(|p| {
            let content = base.read(&p)?;
            (content.len() <= MAX_CONTEXT_FILE).then_some(ContextFile { path: p, content })
        })
        .collect()
}

fn prepare(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    branch: &str,
    skill: &Skill,
    settings: &crate::workspace::config::SynthSettings,
) -> Result<Prepared, Error> {
    let tree = commit.tree().map_err(SynthError::git)?;
    let all = tree_paths(repo, &tree);
    let files = context_files(&TreeFiles::new(repo, tree.clone()), skill, &all);
    let skill_canonical = canon::canonical_string(&skill.descriptor)?;
    let base = Base {
        branch: branch.to_string(),
        commit: commit.id().to_string(),
    };
    let schema_text = serde_json::to_string(schema::intent_schema())
        .map_err(|e| SynthError::Internal(e.to_string()))?;
    let p = prompt::build(&PromptInput {
        skill_canonical: &skill_canonical,
        skill_digest: &skill.digest,
        base_branch: &base.branch,
        base_commit: &base.commit,
        files: &files,
        all_paths: &all,
        schema: &schema_text,
    });
    let request = ChatRequest {
        model: settings.model.clone(),
        messages: p.messages,
        stream: false,
        format: schema::intent_schema().clone(),
        options: ChatOptions {
            temperature: 0.0,
            seed: settings.seed,
            num_ctx: settings.num_ctx,
        },
        keep_alive: KEEP_ALIVE.into(),
    };
    let request_canonical = canon::canonical_string(&request)?;
    let request_sha256 = canon::digest(&json!({
        "model_digest": super::ollama::normalize_digest(&settings.model_digest),
        "request": request,
    }))?;
    let prompt_sha256 = canon::digest(&request.messages)?;
    Ok(Prepared {
        base,
        request,
        request_canonical,
        request_sha256,
        prompt_sha256,
    })
}

fn cancelled(opts: &ProposeOptions) -> bool {
    opts.cancel
        .as_ref()
        .is_some_and(|c| c.load(Ordering::SeqCst))
}

/// Runs the chat call on a helper thread so a cancel is noticed within ~100 ms.
fn chat_cancellable(
    client: &Client,
    req: &ChatRequest,
    opts: &ProposeOptions,
) -> Result<ChatAnswer, Fault> {
    let Some(flag) = opts.cancel.clone() else {
        return client.chat(req);
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let (c, r) = (client.clone(), req.clone());
    std::thread::spawn(move || {
        let _ = tx.send(c.chat(&r));
    });
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(res) => return res,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if flag.load(Ordering::SeqCst) {
                    return Err(Fault::new(
                        reason::CANCELLED,
                        "cancelled while waiting for the model",
                    ));
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Fault::new(
                    reason::BAD_RESPONSE,
                    "the chat call ended without an answer",
                ));
            }
        }
    }
}

/// A synthesis fault, with the fresh answer to store when there was one.
struct CheckFail {
    fault: Fault,
    stored: Option<ReplayEntry>,
}

/// The target branch's head commit.
fn base_commit<'r>(repo: &'r Repository, branch: &str) -> Result<git2::Commit<'r>, Error> {
    let b = repo
        .find_branch(branch, git2::BranchType::Local)
        .map_err(|_| SynthError::NoBase {
            branch: branch.to_string(),
        })?;
    Ok(b.get().peel_to_commit().map_err(SynthError::git)?)
}

/// Proposals of the same skill: one whose bundle is `bundle` (whatever it supersedes) —
/// then nothing new is made — and else the newest still-open one, which a new bundle
/// supersedes (one the transition table lets `supersede` move).
fn find_related(
    conn: &rusqlite::Connection,
    bundle: &Bundle,
) -> Result<(Option<ProposalRow>, Option<String>), Error> {
    let want = bundle.digest()?;
    let mut predecessor = None;
    for row in workflow::rows::list(conn, None)? {
        if row.bundle.skill_digest != bundle.skill_digest {
            continue;
        }
        let mut plain = row.bundle.clone();
        plain.supersedes = None;
        if plain.digest()? == want {
            return Ok((Some(row), None));
        }
        if predecessor.is_none() && workflow::can(row.state, Transition::Supersede) {
            predecessor = Some(row.id.clone());
        }
    }
    Ok((None, predecessor))
}

/// Asks the server: version, pin check, chat. Returns the answer as a replay entry.
fn ask(
    prep: &Prepared,
    synth: &crate::workspace::config::SynthSettings,
    opts: &ProposeOptions,
    prior: Option<ReplayEntry>,
    now: &str,
) -> Result<(ReplayEntry, bool), Fault> {
    let client = Client::new(&opts.host, Duration::from_secs(synth.timeout_s.max(1)));
    client.version()?;
    let tags = client.tags()?;
    super::ollama::check_pin(&tags, &synth.model, &synth.model_digest)?;
    if cancelled(opts) {
        return Err(Fault::new(
            reason::CANCELLED,
            "cancelled before asking the model",
        ));
    }
    let ans = chat_cancellable(&client, &prep.request, opts)?;
    let response_sha256 = canon::sha256_bytes(ans.content.as_bytes());
    let created_at = match prior {
        Some(p) if p.response_sha256 == response_sha256 => p.created_at,
        _ => now.to_string(),
    };
    Ok((
        ReplayEntry {
            request_sha256: prep.request_sha256.clone(),
            content: ans.content,
            done_reason: ans.done_reason,
            response_sha256,
            created_at,
        },
        true,
    ))
}

/// Step 1: the model's answer — from the replay store, or asked of the server. `Ok(Err(fault))`
/// is a synthesis fault (a no-op), `Err` a database error.
fn answer(
    ws: &Workspace,
    prep: &Prepared,
    synth: &crate::workspace::config::SynthSettings,
    opts: &ProposeOptions,
    replay: bool,
    now: &str,
) -> Result<Result<(ReplayEntry, bool), Fault>, Error> {
    if cancelled(opts) {
        return Ok(Err(Fault::new(
            reason::CANCELLED,
            "cancelled before asking the model",
        )));
    }
    let stored = store::replay_get(ws.store().conn(), &prep.request_sha256)?;
    if replay {
        return Ok(match stored {
            Some(e) => replay_verified(e),
            None => Err(Fault::new(
                reason::REPLAY_MISS,
                format!(
                    "the replay store has no answer to request {}; run `oxide propose` without --replay against the pinned model first",
                    prep.request_sha256
                ),
            )),
        });
    }
    Ok(ask(prep, synth, opts, stored, now))
}

/// A stored answer is replayed only when its text still hashes to the `response_sha256`
/// recorded with it: an edited replay store must not yield a bundle that looks model-made.
fn replay_verified(e: ReplayEntry) -> Result<(ReplayEntry, bool), Fault> {
    let actual = canon::sha256_bytes(e.content.as_bytes());
    if actual != e.response_sha256 {
        return Err(Fault::new(
            reason::REPLAY_TAMPERED,
            format!(
                "the stored answer to request {} hashes to {actual}, not to its recorded {}; the replay store was changed after the model answered, so nothing is proposed from it — run `oxide propose` without --replay against the pinned model",
                e.request_sha256, e.response_sha256
            ),
        ));
    }
    Ok((e, false))
}

/// An answer that passed every check, with the fresh answer to store when there was one.
struct Checked {
    entry: ReplayEntry,
    intent: Intent,
    stored: Option<ReplayEntry>,
}

/// Step 2: the answer checked (cancellation, JSON, schema, governance paths, applicability
/// at the base). A fresh answer is kept for storing even when it is unusable, so a replay
/// reproduces the same no-op.
fn check_answer(
    answer: Result<(ReplayEntry, bool), Fault>,
    opts: &ProposeOptions,
    files: &TreeFiles<'_>,
) -> Result<Checked, Box<CheckFail>> {
    let (entry, fresh) = answer.map_err(|fault| {
        Box::new(CheckFail {
            fault,
            stored: None,
        })
    })?;
    let stored = fresh.then(|| entry.clone());
    if cancelled(opts) {
        return Err(Box::new(CheckFail {
            fault: Fault::new(reason::CANCELLED, "cancelled after the model answered"),
            stored,
        }));
    }
    let ans = ChatAnswer {
        content: entry.content.clone(),
        done_reason: entry.done_reason.clone(),
    };
    match evaluate_answer(&ans, files) {
        Ok(intent) => Ok(Checked {
            entry,
            intent,
            stored,
        }),
        Err(fault) => Err(Box::new(CheckFail { fault, stored })),
    }
}

/// What every record of one propose call shares.
struct Recording<'a> {
    skill: &'a Skill,
    prep: &'a Prepared,
    source: &'a str,
    model: &'a str,
    model_digest: &'a str,
    /// Who proposes, resolved on this device (`workflow::initiator_here`).
    initiator: &'a workflow::Initiator,
    stamp: Stamp<'a>,
}

impl Recording<'_> {
    /// Stores a fresh answer, or marks a replayed one as used.
    fn keep_answer(
        &self,
        tx: &rusqlite::Connection,
        stored: Option<&ReplayEntry>,
        used: Option<&ReplayEntry>,
    ) -> Result<(), Error> {
        if let Some(entry) = stored {
            store::replay_put(
                tx,
                entry,
                self.model,
                self.model_digest,
                &self.prep.request_canonical,
                self.stamp.at,
            )?;
        } else if let Some(entry) = used {
            store::replay_touch(tx, &entry.request_sha256, self.stamp.at)?;
        }
        Ok(())
    }

    /// Step 3a: a fault ends as a no-op: the answer kept, a `synth.no_op` event.
    fn no_op(
        &self,
        tx: &rusqlite::Connection,
        fail: CheckFail,
        attempt: &mut Attempt,
        out: &mut ProposeOutcome,
    ) -> Result<(), Error> {
        let CheckFail { fault, stored } = fail;
        self.keep_answer(tx, stored.as_ref(), None)?;
        let ev = audit::append(
            tx,
            NewEvent {
                actor: self.stamp.actor,
                kind: "synth.no_op",
                subject: &self.skill.id,
                payload: json!({
                    "failure_reason_code": fault.code,
                    "message": fault.message,
                    "source": self.source,
                    "model": self.model,
                    "model_digest": self.model_digest,
                    "request_sha256": self.prep.request_sha256,
                    "base_commit": self.prep.base.commit,
                }),
            },
            self.stamp.at,
        )?;
        attempt.outcome = State::NoOp.as_str().into();
        attempt.failure_reason_code = Some(fault.code.into());
        attempt.message = fault.message.clone();
        attempt.audit_seq = ev.seq;
        out.failure_reason_code = Some(fault.code.into());
        out.message = fault.message;
        Ok(())
    }

    /// The bundle an accepted answer makes.
    fn bundle(&self, entry: &ReplayEntry, intent: Intent) -> Bundle {
        Bundle {
            schema_version: BUNDLE_SCHEMA_VERSION.into(),
            skill_digest: self.skill.digest.clone(),
            base: self.prep.base.clone(),
            intent,
            provenance: Provenance {
                synthesizer: if self.source == "replay" {
                    Synthesizer::Replay
                } else {
                    Synthesizer::Ollama
                },
                model: Some(self.model.to_string()),
                model_digest: Some(self.model_digest.to_string()),
                options: Some(SynthOptions {
                    seed: self.prep.request.options.seed,
                    temperature: self.prep.request.options.temperature,
                    num_ctx: self.prep.request.options.num_ctx,
                }),
                prompt_template_version: Some(PROMPT_TEMPLATE_VERSION.into()),
                prompt_sha256: Some(self.prep.prompt_sha256.clone()),
                response_sha256: Some(entry.response_sha256.clone()),
            },
            created_at: entry.created_at.clone(),
            supersedes: None,
        }
    }

    /// Step 3b: an accepted answer becomes a proposal (admitted, superseding the skill's
    /// newest open one), or finds the proposal it already is.
    fn proposal(
        &self,
        tx: &rusqlite::Connection,
        checked: Checked,
        attempt: &mut Attempt,
        out: &mut ProposeOutcome,
    ) -> Result<(), Error> {
        let Checked {
            entry,
            intent,
            stored,
        } = checked;
        self.keep_answer(tx, stored.as_ref(), Some(&entry))?;
        let mut bundle = self.bundle(&entry, intent);
        let (mut existing, predecessor) = find_related(tx, &bundle)?;
        if existing.is_none() && bundle.provenance.synthesizer == Synthesizer::Replay {
            // The same (verified) answer already made a proposal when it was asked live: a
            // replay reproduces that proposal rather than relabelling it.
            let mut live = bundle.clone();
            live.provenance.synthesizer = Synthesizer::Ollama;
            existing = find_related(tx, &live)?.0;
        }
        if existing.is_none() {
            bundle.supersedes = predecessor.clone();
        }
        let (row, kind) = match existing {
            Some(row) => (row, "synth.existing"),
            None => {
                let row = workflow::admit(tx, &bundle, self.initiator, &self.stamp)?;
                if let Some(prev) = &predecessor {
                    workflow::supersede(
                        tx,
                        prev,
                        &SupersedeEvidence {
                            failure_reason_code: workflow::reason::RESYNTHESIZED.into(),
                            target_head: None,
                            superseded_by: Some(row.id.clone()),
                            problems: vec![],
                        },
                        &self.stamp,
                    )?;
                }
                (row, "synth.proposed")
            }
        };
        let ev = audit::append(
            tx,
            NewEvent {
                actor: self.stamp.actor,
                kind,
                subject: &self.skill.id,
                payload: json!({
                    "proposal_id": row.id,
                    "bundle_digest": row.digest,
                    "source": self.source,
                    "model": self.model,
                    "model_digest": self.model_digest,
                    "request_sha256": self.prep.request_sha256,
                    "response_sha256": entry.response_sha256,
                    "supersedes": bundle.supersedes,
                }),
            },
            self.stamp.at,
        )?;
        out.existing = kind == "synth.existing";
        attempt.outcome = if out.existing {
            "existing"
        } else {
            State::Proposed.as_str()
        }
        .into();
        attempt.proposal_id = Some(row.id.clone());
        attempt.audit_seq = ev.seq;
        attempt.message = if out.existing {
            format!(
                "the same bundle is already proposal {} ({})",
                row.id, row.state
            )
        } else {
            format!("proposal {} created from skill {}", row.id, self.skill.id)
        };
        out.message = attempt.message.clone();
        out.id = Some(row.id.clone());
        out.state = row.state;
        out.digest = Some(row.digest.clone());
        out.supersedes = row.bundle.supersedes.clone();
        Ok(())
    }
}

/// Proposes a change for `skill_id` (see the module docs). Input errors (unknown skill, no
/// target branch, bad settings) are errors that write nothing; every synthesis fault is a
/// `no_op` outcome that is recorded and audited.
#[tracing::instrument(name = "synth.propose", skip_all, fields(skill = %skill_id, replay = opts.replay))]
pub fn propose(
    ws: &mut Workspace,
    skill_id: &str,
    opts: &ProposeOptions,
    actor: &str,
) -> Result<ProposeOutcome, Error> {
    let started = Instant::now();
    let skill = skill::require(ws.store().conn(), skill_id)?;
    let settings = ws.settings()?;
    let synth = settings.synth.clone();
    let replay = opts.replay || synth.replay;
    let branch = settings.workflow.target_branch.clone();
    let repo = Repository::open(ws.root()).map_err(SynthError::git)?;
    let commit = base_commit(&repo, &branch)?;
    let prep = prepare(&repo, &commit, &branch, &skill, &synth)?;
    let tree = commit.tree().map_err(SynthError::git)?;
    let files = TreeFiles::new(&repo, tree);
    let source = if replay { "replay" } else { "ollama" };

    // 1. Ask (or look up), 2. check.
    let now = ws.clock().now_rfc3339();
    let checked = check_answer(answer(ws, &prep, &synth, opts, replay, &now)?, opts, &files);
    let duration_ms = started.elapsed().as_millis() as u64;
    let model_digest = super::ollama::normalize_digest(&synth.model_digest);
    let initiator = workflow::initiator_here(ws)?;
    let ts = ws.clock().now_rfc3339();
    let rec = Recording {
        skill: &skill,
        prep: &prep,
        source,
        model: &synth.model,
        model_digest: &model_digest,
        initiator: &initiator,
        stamp: Stamp::new(actor, &ts),
    };

    // 3. One transaction: the answer, the proposal or the no-op, the attempt.
    let outcome = ws
        .store_mut()
        .write(|tx| -> Result<ProposeOutcome, Error> {
            let mut attempt = Attempt {
                id: 0,
                skill_id: skill.id.clone(),
                outcome: String::new(),
                proposal_id: None,
                failure_reason_code: None,
                message: String::new(),
                source: source.into(),
                model: synth.model.clone(),
                model_digest: model_digest.clone(),
                request_sha256: Some(prep.request_sha256.clone()),
                base_commit: Some(prep.base.commit.clone()),
                duration_ms: duration_ms as i64,
                at: ts.clone(),
                audit_seq: 0,
            };
            let mut out = ProposeOutcome {
                id: None,
                state: State::NoOp,
                digest: None,
                failure_reason_code: None,
                message: String::new(),
                attempt: 0,
                source: source.into(),
                model: synth.model.clone(),
                request_sha256: Some(prep.request_sha256.clone()),
                existing: false,
                supersedes: None,
                duration_ms,
            };
            match checked {
                Err(fail) => rec.no_op(tx, *fail, &mut attempt, &mut out)?,
                Ok(checked) => rec.proposal(tx, checked, &mut attempt, &mut out)?,
            }
            out.attempt = store::attempt_insert(tx, &attempt)?;
            Ok(out)
        })?;
    tracing::info!(state = %outcome.state, code = ?outcome.failure_reason_code, ms = outcome.duration_ms, "propose finished");
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::MapBase;

    fn ans(content: &str, done: &str) -> ChatAnswer {
        ChatAnswer {
            content: content.into(),
            done_reason: Some(done.into()),
        }
    }

    #[test]
    fn answers_are_checked_in_order() {
        let base = MapBase::new().with_file("README.md", "hello world\n");
        let good = json!({"rationale": "r", "ops": [
            {"op": "text_edit", "path": "README.md", "find": "world", "replace": "oxide"}]});
        let intent = evaluate_answer(&ans(&good.to_string(), "stop"), &base).unwrap();
        assert_eq!(intent.ops.len(), 1);
        let code = |content: &str, done: &str| {
            evaluate_answer(&ans(content, done), &base)
                .unwrap_err()
                .code
        };
        assert_eq!(code("Sure!", "stop"), reason::OUTPUT_NOT_JSON);
        let cut = evaluate_answer(&ans("{\"rationale\": \"r\", \"ops\": [", "length"), &base)
            .unwrap_err();
        assert_eq!(cut.code, reason::OUTPUT_NOT_JSON);
        assert!(cut.message.contains("num_ctx"), "{}", cut.message);
        assert_eq!(
            code(r#"{"rationale": "r", "ops": [], "extra": 1}"#, "stop"),
            reason::OUTPUT_SCHEMA
        );
        assert_eq!(
            code(&json!({"rationale": "r", "ops": [{"op": "delete_file", "path": ".github/workflows/ci.yml"}]}).to_string(), "stop"),
            reason::GOVERNANCE_PATH
        );
        let na = evaluate_answer(
            &ans(&json!({"rationale": "r", "ops": [{"op": "text_edit", "path": "README.md", "find": "o", "replace": "0"}]}).to_string(), "stop"),
            &base,
        )
        .unwrap_err();
        assert_eq!(na.code, reason::INTENT_NOT_APPLICABLE);
        assert!(na.message.contains("/intent/ops/0/find"), "{}", na.message);
        // An empty intent is schema-valid but changes nothing: it does not apply.
        assert_eq!(
            code(r#"{"rationale": "r", "ops": []}"#, "stop"),
            reason::INTENT_NOT_APPLICABLE
        );
    }
}
