//! Assembling a `PolicyInput` from values the other rooms hand over. `assemble` and its
//! helpers are pure (no I/O); [`add_repo_facts`] adds what only the repository and the
//! proposal room know: the real diff's size and the rolling window of recent proposals.

use std::collections::BTreeSet;

use serde_json::Value;

use super::types::*;
use crate::proposal::{Bundle, Op, Synthesizer};
use crate::workspace::config::{RolloutMode, Settings};

/// The proposal row's facts that are not part of the immutable bundle.
#[derive(Debug, Clone)]
pub struct ProposalMeta {
    pub id: Option<String>,
    pub state: crate::workflow::State,
    pub failure_reason_code: Option<String>,
}

/// A bundle not stored yet: no id, state `discovered`.
impl Default for ProposalMeta {
    fn default() -> Self {
        ProposalMeta {
            id: None,
            state: crate::workflow::State::Discovered,
            failure_reason_code: None,
        }
    }
}

/// Lines of a text as a diff counts them: every `\n`, plus an unterminated last line.
pub fn count_lines(s: &str) -> u64 {
    let n = s.bytes().filter(|&b| b == b'\n').count() as u64;
    if !s.is_empty() && !s.ends_with('\n') {
        n + 1
    } else {
        n
    }
}

/// Lines added and removed by one operation. `base_lines(path)` gives the line count of a
/// file at the base commit (for deletions); `None` (unknown) counts as 0.
/// A JSON patch counts one line per added/replaced/removed member.
pub fn op_lines(op: &Op, base_lines: &dyn Fn(&str) -> Option<u64>) -> (u64, u64) {
    match op {
        Op::CreateFile { content, .. } => (count_lines(content), 0),
        Op::DeleteFile { path } => (0, base_lines(path).unwrap_or(0)),
        Op::TextEdit { find, replace, .. } => (count_lines(replace), count_lines(find)),
        Op::JsonPatch { patch, .. } => {
            let (mut add, mut rem) = (0, 0);
            for p in patch {
                match p.get("op").and_then(Value::as_str) {
                    Some("add") | Some("copy") => add += 1,
                    Some("remove") => rem += 1,
                    Some("replace") | Some("move") => {
                        add += 1;
                        rem += 1;
                    }
                    _ => {}
                }
            }
            (add, rem)
        }
        // A memory entry is no file line; its risk is `proposal.memory` (at least medium).
        Op::MemorySet { .. } => (0, 0),
    }
}

/// The file op's kind; `None` for a memory op (reported in `proposal.memory`).
fn op_kind(op: &Op) -> Option<OpKind> {
    match op {
        Op::CreateFile { .. } => Some(OpKind::CreateFile),
        Op::DeleteFile { .. } => Some(OpKind::DeleteFile),
        Op::TextEdit { .. } => Some(OpKind::TextEdit),
        Op::JsonPatch { .. } => Some(OpKind::JsonPatch),
        Op::MemorySet { .. } => None,
    }
}

/// The proposal part of the input, from a bundle.
pub fn proposal_facts(
    bundle: &Bundle,
    digest: &str,
    meta: &ProposalMeta,
    base_lines: &dyn Fn(&str) -> Option<u64>,
) -> ProposalFacts {
    let mut touched = BTreeSet::new();
    let mut memory = Vec::new();
    let (mut added, mut removed) = (0u64, 0u64);
    let ops = bundle
        .intent
        .ops
        .iter()
        .filter_map(|op| {
            let (Some(kind), Some(path)) = (op_kind(op), op.path()) else {
                if let Op::MemorySet { namespace, key, .. } = op {
                    memory.push(MemoryFact {
                        namespace: namespace.as_str().to_string(),
                        key: key.clone(),
                    });
                }
                return None;
            };
            let path = path.to_string();
            let (a, r) = op_lines(op, base_lines);
            added += a;
            removed += r;
            touched.insert(path.clone());
            Some(OpFacts {
                op: kind,
                path,
                lines_added: a,
                lines_removed: r,
            })
        })
        .collect();
    memory.sort();
    ProposalFacts {
        id: meta.id.clone(),
        digest: digest.to_string(),
        state: meta.state,
        failure_reason_code: meta.failure_reason_code.clone(),
        ops,
        touched_paths: touched.into_iter().collect(),
        lines_added: added,
        lines_removed: removed,
        size: None,
        risk_hints: bundle.intent.risk_hints.clone(),
        memory,
    }
}

pub fn provenance_facts(bundle: &Bundle) -> ProvenanceFacts {
    ProvenanceFacts {
        synthesizer: match bundle.provenance.synthesizer {
            Synthesizer::Ollama => SynthesizerKind::Ollama,
            Synthesizer::Replay => SynthesizerKind::Replay,
            Synthesizer::Manual => SynthesizerKind::Manual,
        },
        model: bundle.provenance.model.clone(),
        model_digest: bundle.provenance.model_digest.clone(),
    }
}

pub fn settings_facts(settings: &Settings) -> SettingsFacts {
    SettingsFacts {
        target_branch: settings.workflow.target_branch.clone(),
        rollout_mode: match settings.binder.rollout_mode {
            RolloutMode::Shadow => RolloutModeFact::Shadow,
            RolloutMode::Guided => RolloutModeFact::Guided,
            RolloutMode::Prescriptive => RolloutModeFact::Prescriptive,
        },
        fallback_mode: serde_json::to_value(settings.binder.fallback_mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "strict".into()),
    }
}

/// The sensitive-path facts (`input.paths`) of these paths: every list entry each matches,
/// sorted by path then list order. The classification is `proposal::paths`, the same list
/// synthesis uses.
pub fn path_facts<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<PathFact> {
    let unique: BTreeSet<&str> = paths.into_iter().collect();
    unique
        .into_iter()
        .flat_map(|p| {
            crate::proposal::paths::classify(p)
                .into_iter()
                .map(move |r| PathFact {
                    path: p.to_string(),
                    class: r.class,
                    pattern: r.pattern.to_string(),
                    reason: r.reason.to_string(),
                })
        })
        .collect()
}

/// The path facts of a proposal: its touched paths and every operation's path.
pub fn proposal_path_facts(p: &ProposalFacts) -> Vec<PathFact> {
    path_facts(
        p.touched_paths
            .iter()
            .chain(p.ops.iter().map(|o| &o.path))
            .map(String::as_str),
    )
}

/// The document the policy sees: `input` with `paths` recomputed from its proposal facts
/// (a document's own `paths` is replaced, never trusted).
pub fn with_path_facts(input: &Value, typed: &PolicyInput) -> Value {
    let mut doc = input.clone();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "paths".into(),
            serde_json::to_value(proposal_path_facts(&typed.proposal))
                .expect("path facts are JSON"),
        );
    }
    doc
}

/// Everything the policy sees, from the other rooms' values.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    bundle: &Bundle,
    digest: &str,
    meta: &ProposalMeta,
    base_lines: &dyn Fn(&str) -> Option<u64>,
    skill: SkillFacts,
    validation: ValidationFacts,
    mut capsules: Vec<CapsuleFacts>,
    actor: &str,
    settings: &Settings,
) -> PolicyInput {
    capsules.sort_by(|a, b| a.upsert_key.cmp(&b.upsert_key));
    let proposal = proposal_facts(bundle, digest, meta, base_lines);
    PolicyInput {
        version: INPUT_VERSION.to_string(),
        paths: proposal_path_facts(&proposal),
        proposal,
        skill,
        provenance: provenance_facts(bundle),
        validation,
        capsules,
        actor: actor.to_string(),
        settings: settings_facts(settings),
        window: None,
        // Filled by the caller that has the contract (`evaluate::proposal_input`).
        harness_paths: Vec::new(),
    }
}

// ------------------------------------------------------------------ size and window

/// The rolling window: proposals created within this many days ...
pub const WINDOW_DAYS: u32 = 7;
/// ... at most this many per window (newest first).
pub const WINDOW_MAX_PROPOSALS: u32 = 50;
/// Proposals that have landed or still can: the ones a split change is made of.
pub const WINDOW_STATES: &[crate::workflow::State] = &[
    crate::workflow::State::Discovered,
    crate::workflow::State::Proposed,
    crate::workflow::State::Validated,
    crate::workflow::State::Approved,
    crate::workflow::State::Promoted,
];

/// The size facts of a diff.
pub fn size_facts(stat: &crate::gitops::diffstat::DiffStat) -> SizeFacts {
    use crate::gitops::diffstat::FileChange;
    SizeFacts {
        files: stat
            .files
            .iter()
            .map(|f| FileSizeFacts {
                path: f.path.clone(),
                change: match f.change {
                    FileChange::Added => FileChangeKind::Added,
                    FileChange::Deleted => FileChangeKind::Deleted,
                    FileChange::Modified => FileChangeKind::Modified,
                    FileChange::TypeChanged => FileChangeKind::TypeChanged,
                },
                lines_added: f.lines_added,
                lines_removed: f.lines_removed,
                bytes_added: f.bytes_added,
                bytes_removed: f.bytes_removed,
                binary: f.binary,
            })
            .collect(),
        lines_added: stat.lines_added,
        lines_removed: stat.lines_removed,
        bytes_added: stat.bytes_added,
        bytes_removed: stat.bytes_removed,
        binary_files: stat.binary_files,
        files_deleted: stat.files_deleted,
        base_files: stat.base_files,
        base_bytes: stat.base_bytes,
        max_line_bytes: crate::gitops::diffstat::MAX_LINE_BYTES,
    }
}

/// Sets the proposal's size from the real diff: `size`, and the line totals policies read.
pub fn with_size(input: &mut PolicyInput, size: SizeFacts) {
    input.proposal.lines_added = size.lines_added;
    input.proposal.lines_removed = size.lines_removed;
    input.proposal.size = Some(size);
}

/// Adds one proposal's diff (or `None`: it could not be computed) to a window's totals.
pub fn add_to_window(w: &mut WindowTotals, id: &str, paths: &[String], size: Option<&SizeFacts>) {
    w.proposals += 1;
    w.ids.push(id.to_string());
    match size {
        Some(s) => {
            w.lines_added += s.lines_added;
            w.lines_removed += s.lines_removed;
            w.bytes_added += s.bytes_added;
            w.bytes_removed += s.bytes_removed;
            w.files_deleted += s.files_deleted;
        }
        None => w.not_sized += 1,
    }
    let mut all: BTreeSet<String> = w.touched_paths.drain(..).collect();
    all.extend(paths.iter().cloned());
    w.touched_paths = all.into_iter().collect();
}

fn row_skill_key(row: &crate::workflow::ProposalRow) -> &str {
    row.skill_id.as_deref().unwrap_or(&row.bundle.skill_digest)
}

/// What only the repository and the proposal room know, added to an assembled input:
/// `proposal.size` from git's diff of the base tree against the proposal's tree (built in
/// the object database as the proposal branch is; refs untouched), and `window`, the recent
/// proposals of the same skill and of the same submitter (read through
/// `workflow::rows::recent` and the skill room), each sized the same way.
#[tracing::instrument(name = "policy.repo_facts", skip_all)]
pub fn add_repo_facts(
    ws: &crate::Workspace,
    row: &crate::workflow::ProposalRow,
    input: &mut PolicyInput,
) -> Result<(), crate::Error> {
    use crate::gitops::diffstat::proposal_diffstat;
    let repo = git2::Repository::open(ws.root())
        .map_err(|e| crate::gitops::GitopsError::Git(e.message().to_string()))?;
    with_size(input, size_facts(&proposal_diffstat(&repo, &row.bundle)?));

    let conn = ws.store().conn();
    let since = ws.clock().now() - time::Duration::days(i64::from(WINDOW_DAYS));
    let recent = crate::workflow::rows::recent(
        conn,
        &crate::clock::format_ts(since),
        WINDOW_STATES,
        WINDOW_MAX_PROPOSALS * 10,
    )?;
    let key = row_skill_key(row).to_string();
    let submitter = input.skill.submitted_by.clone();
    let mut skill = WindowTotals {
        key: key.clone(),
        ..Default::default()
    };
    let mut by_submitter = submitter.as_ref().map(|s| WindowTotals {
        key: s.clone(),
        ..Default::default()
    });
    let mut submitters: std::collections::HashMap<String, Option<String>> = Default::default();
    for other in recent.iter().filter(|r| r.id != row.id) {
        let other_key = row_skill_key(other);
        let same_skill = other_key == key && skill.proposals < u64::from(WINDOW_MAX_PROPOSALS);
        let same_submitter = match (&by_submitter, &submitter) {
            (Some(w), Some(s)) if w.proposals < u64::from(WINDOW_MAX_PROPOSALS) => {
                if !submitters.contains_key(other_key) {
                    let who = crate::skill::get(conn, other_key)?.map(|k| k.submitted_by);
                    submitters.insert(other_key.to_string(), who);
                }
                submitters[other_key].as_deref() == Some(s.as_str())
            }
            _ => false,
        };
        if !same_skill && !same_submitter {
            continue;
        }
        let size = proposal_diffstat(&repo, &other.bundle)
            .ok()
            .map(|s| size_facts(&s));
        let mut paths: Vec<String> = other
            .bundle
            .intent
            .ops
            .iter()
            .filter_map(|o| o.path().map(str::to_string))
            .collect();
        if let Some(s) = &size {
            paths.extend(s.files.iter().map(|f| f.path.clone()));
        }
        if same_skill {
            add_to_window(&mut skill, &other.id, &paths, size.as_ref());
        }
        if same_submitter {
            if let Some(w) = by_submitter.as_mut() {
                add_to_window(w, &other.id, &paths, size.as_ref());
            }
        }
    }
    input.window = Some(WindowFacts {
        days: WINDOW_DAYS,
        max_proposals: WINDOW_MAX_PROPOSALS,
        skill,
        submitter: by_submitter,
    });
    Ok(())
}

/// A manual bundle of `ops` (for the room's tests).
#[cfg(test)]
pub(crate) fn tests_bundle(ops: Vec<Op>) -> Bundle {
    tests::bundle(ops, Synthesizer::Manual)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::{Base, Intent, Provenance, BUNDLE_SCHEMA_VERSION};
    use serde_json::json;

    pub(crate) fn bundle(ops: Vec<Op>, synth: Synthesizer) -> Bundle {
        Bundle {
            schema_version: BUNDLE_SCHEMA_VERSION.into(),
            skill_digest: format!("sha256:{}", "1".repeat(64)),
            base: Base {
                branch: "main".into(),
                commit: "0".repeat(40),
            },
            intent: Intent {
                rationale: "r".into(),
                risk_hints: vec!["hint".into()],
                ops,
            },
            provenance: Provenance {
                synthesizer: synth,
                model: None,
                model_digest: None,
                options: None,
                prompt_template_version: None,
                prompt_sha256: None,
                response_sha256: None,
            },
            created_at: "2026-01-01T00:00:00Z".into(),
            supersedes: None,
        }
    }

    #[test]
    fn counts_lines_like_a_diff() {
        assert_eq!(count_lines(""), 0);
        assert_eq!(count_lines("a"), 1);
        assert_eq!(count_lines("a\n"), 1);
        assert_eq!(count_lines("a\nb"), 2);
        assert_eq!(count_lines("a\nb\n\n"), 3);
    }

    #[test]
    fn assembles_touched_paths_and_line_counts() {
        let b = bundle(
            vec![
                Op::CreateFile {
                    path: "b/new.txt".into(),
                    content: "1\n2\n3\n".into(),
                },
                Op::DeleteFile {
                    path: "a/old.txt".into(),
                },
                Op::TextEdit {
                    path: "b/new.txt".into(),
                    find: "1\n".into(),
                    replace: "one\nuno\n".into(),
                },
                Op::JsonPatch {
                    path: "c.json".into(),
                    patch: vec![
                        json!({"op": "replace", "path": "/x", "value": 1}),
                        json!({"op": "add", "path": "/y", "value": 2}),
                    ],
                },
            ],
            Synthesizer::Ollama,
        );
        let lines = |p: &str| (p == "a/old.txt").then_some(10);
        let input = assemble(
            &b,
            "sha256:x",
            &ProposalMeta {
                id: Some("p".into()),
                state: crate::workflow::State::Validated,
                failure_reason_code: Some("TEST_FAIL".into()),
            },
            &lines,
            SkillFacts {
                digest: "d".into(),
                source: SkillSourceFact::Host,
                submitted_by: Some("bob".into()),
            },
            ValidationFacts {
                ran: false,
                checks: vec![],
                ..Default::default()
            },
            vec![],
            "bob",
            &Settings::default(),
        );
        let p = &input.proposal;
        assert_eq!(p.touched_paths, vec!["a/old.txt", "b/new.txt", "c.json"]);
        assert_eq!(p.lines_added, 3 + 2 + 2);
        assert_eq!(p.lines_removed, 10 + 1 + 1);
        assert_eq!(p.failure_reason_code.as_deref(), Some("TEST_FAIL"));
        assert_eq!(input.provenance.synthesizer, SynthesizerKind::Ollama);
        assert_eq!(input.settings.rollout_mode, RolloutModeFact::Shadow);
        assert_eq!(input.settings.fallback_mode, "strict");
        assert_eq!(input.version, INPUT_VERSION);
    }

    #[test]
    fn size_replaces_the_intents_count_and_windows_add_up() {
        use crate::gitops::diffstat::{DiffStat, FileChange, FileStat};
        let b = bundle(
            vec![Op::CreateFile {
                path: "src/one.txt".into(),
                content: "x".repeat(1 << 20),
            }],
            Synthesizer::Manual,
        );
        let mut input = assemble(
            &b,
            "sha256:x",
            &ProposalMeta::default(),
            &|_| None,
            SkillFacts {
                digest: "d".into(),
                source: SkillSourceFact::Manual,
                submitted_by: None,
            },
            ValidationFacts {
                ran: true,
                checks: vec![],
                ..Default::default()
            },
            vec![],
            "bob",
            &Settings::default(),
        );
        // The intent's count: one line.
        assert_eq!(input.proposal.lines_added, 1);
        let stat = DiffStat {
            files: vec![FileStat {
                path: "src/one.txt".into(),
                change: FileChange::Added,
                lines_added: 5243,
                lines_removed: 0,
                bytes_added: 1 << 20,
                bytes_removed: 0,
                binary: false,
            }],
            lines_added: 5243,
            bytes_added: 1 << 20,
            base_files: 3,
            base_bytes: 90,
            ..Default::default()
        };
        with_size(&mut input, size_facts(&stat));
        assert_eq!(input.proposal.lines_added, 5243);
        let size = input.proposal.size.as_ref().unwrap();
        assert_eq!(size.files[0].change, FileChangeKind::Added);
        assert_eq!(size.max_line_bytes, crate::gitops::diffstat::MAX_LINE_BYTES);

        let mut w = WindowTotals::default();
        add_to_window(&mut w, "a", &["src/b".into(), "src/a".into()], Some(size));
        add_to_window(&mut w, "b", &["src/a".into()], None);
        assert_eq!(w.proposals, 2);
        assert_eq!(w.ids, ["a", "b"]);
        assert_eq!(w.lines_added, 5243);
        assert_eq!(w.bytes_added, 1 << 20);
        assert_eq!(w.not_sized, 1);
        assert_eq!(w.touched_paths, ["src/a", "src/b"]);
    }

    /// Every path the default policy's tests (`oxide_test.rego`) use, with the case and
    /// depth samples of each class.
    const REGO_TEST_PATHS: &[&str] = &[
        "src/greeting.txt",
        "src/old.txt",
        "src/auth/login.rs",
        "src/../.oxide/oxide.toml",
        "src/author.rs",
        "docs/environment.md",
        "src/keys.rs",
        ".oxide/checks.toml",
        ".github/workflows/ci.yml",
        ".GitHub/Workflows/ci.yml",
        "config/.env",
        ".env.production",
        "deploy/tls/server.key",
        "secrets/token.txt",
        "Secrets/token",
        "a/b/.ENV",
        "keys/deploy.PEM",
        "pkg/.Npmrc",
        "services/api/db/migrations/001.sql",
        "home/.ssh/id_ed25519",
        "infra/terraform.tfstate",
        ".gitlab-ci.yml",
        "deep/nested/.GitLab-CI.yml",
        "sub/dir/.gitattributes",
        "pkg/.husky/pre-commit",
        "svc/.circleci/config.yml",
        ".husky/pre-commit",
        ".gitmodules",
        "Jenkinsfile",
        "lefthook.yml",
        ".pre-commit-config.yaml",
        ".forgejo/workflows/ci.yml",
        ".github/CODEOWNERS",
        "sub/.gitignore",
    ];

    fn rego_fixture() -> String {
        use crate::proposal::paths::PathClass;
        let q = |s: &str| serde_json::to_string(s).unwrap();
        let classes: Vec<String> = PathClass::ALL.iter().map(|c| q(c.as_str())).collect();
        let mut out = format!("path_classes := {{{}}}\n\n", classes.join(", "));
        out.push_str("path_facts := {\n");
        let rows: Vec<String> = REGO_TEST_PATHS
            .iter()
            .map(|p| {
                let facts: Vec<String> = path_facts([*p])
                    .iter()
                    .map(|f| {
                        format!(
                            "{{\"class\": {}, \"pattern\": {}, \"reason\": {}}}",
                            q(f.class.as_str()),
                            q(&f.pattern),
                            q(&f.reason)
                        )
                    })
                    .collect();
                format!("\t{}: [{}]", q(p), facts.join(", "))
            })
            .collect();
        out.push_str(&rows.join(",\n"));
        out.push_str("\n}\n");
        out
    }

    /// The path facts in `oxide_test.rego` are what this build's list gives.
    #[test]
    fn rego_test_path_facts_are_current() {
        const BEGIN: &str = "# BEGIN path facts: generated from proposal::paths (OXIDE_BLESS=1 cargo test -p oxide-core policy::input)\n";
        const END: &str = "# END path facts";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/policy/default/oxide_test.rego");
        let text = std::fs::read_to_string(&path).unwrap();
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("oxide_test.rego lacks the path facts markers");
        };
        let want = rego_fixture();
        let have = &text[b + BEGIN.len()..e];
        if have != want && std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1") {
            let fresh = format!("{}{want}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(&path, fresh).unwrap();
            return;
        }
        assert_eq!(
            have, want,
            "oxide_test.rego's path facts are stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core policy::input"
        );
        // The embedded copy (what `oxide init` writes) is the file on disk.
        assert_eq!(crate::policy::DEFAULT_POLICY_TESTS, text);
    }

    #[test]
    fn path_facts_classify_touched_and_op_paths() {
        let b = bundle(
            vec![
                Op::CreateFile {
                    path: "Secrets/token".into(),
                    content: "x".into(),
                },
                Op::DeleteFile {
                    path: "sub/dir/.gitattributes".into(),
                },
                Op::CreateFile {
                    path: "src/ok.rs".into(),
                    content: "x".into(),
                },
            ],
            Synthesizer::Manual,
        );
        let input = assemble(
            &b,
            "sha256:x",
            &ProposalMeta::default(),
            &|_| None,
            SkillFacts {
                digest: "d".into(),
                source: SkillSourceFact::Manual,
                submitted_by: None,
            },
            ValidationFacts {
                ran: false,
                checks: vec![],
                ..Default::default()
            },
            vec![],
            "bob",
            &Settings::default(),
        );
        let got: Vec<(&str, &str)> = input
            .paths
            .iter()
            .map(|f| (f.path.as_str(), f.class.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Secrets/token", "protected_folder"),
                ("sub/dir/.gitattributes", "repo_behaviour")
            ]
        );
        assert!(input.paths.iter().all(|f| !f.reason.is_empty()));
        // A document's own facts are replaced by the evaluator's.
        let mut doc = serde_json::to_value(&input).unwrap();
        doc["paths"] = json!([]);
        let typed: PolicyInput = serde_json::from_value(doc.clone()).unwrap();
        let seen = with_path_facts(&doc, &typed);
        assert_eq!(seen["paths"], serde_json::to_value(&input.paths).unwrap());
    }

    /// A bare document cannot drop or forge path facts: the evaluator recomputes them.
    #[test]
    fn the_evaluator_recomputes_path_facts() {
        let policy = crate::policy::PolicySet::from_files(
            [(
                "oxide.rego".to_string(),
                crate::policy::DEFAULT_POLICY.to_string(),
            )]
            .into_iter()
            .collect(),
        )
        .unwrap();
        let b = bundle(
            vec![Op::CreateFile {
                path: "Sub/.GitHub/Workflows/x.yml".into(),
                content: "x".into(),
            }],
            Synthesizer::Manual,
        );
        let input = assemble(
            &b,
            "sha256:x",
            &ProposalMeta::default(),
            &|_| None,
            SkillFacts {
                digest: "d".into(),
                source: SkillSourceFact::Manual,
                submitted_by: None,
            },
            ValidationFacts {
                ran: true,
                checks: vec![],
                ..Default::default()
            },
            vec![],
            "bob",
            &Settings::default(),
        );
        let mut doc = serde_json::to_value(&input).unwrap();
        assert_eq!(policy.evaluate("s", &doc).risk, Risk::Critical);
        // Dropped facts: still critical.
        doc["paths"] = json!([]);
        assert_eq!(policy.evaluate("s", &doc).risk, Risk::Critical);
        doc.as_object_mut().unwrap().remove("paths");
        let d = policy.evaluate("s", &doc);
        assert_eq!(d.risk, Risk::Critical, "{d:#?}");
        assert!(d.escalations[0]
            .message
            .contains("Sub/.GitHub/Workflows/x.yml (ci: "));
        // Forged facts on a harmless path: replaced, so nothing is raised.
        let mut plain = serde_json::to_value(assemble(
            &bundle(
                vec![Op::CreateFile {
                    path: "src/a.rs".into(),
                    content: "x".into(),
                }],
                Synthesizer::Manual,
            ),
            "sha256:x",
            &ProposalMeta::default(),
            &|_| None,
            SkillFacts {
                digest: "d".into(),
                source: SkillSourceFact::Manual,
                submitted_by: None,
            },
            ValidationFacts {
                ran: true,
                checks: vec![],
                ..Default::default()
            },
            vec![],
            "bob",
            &Settings::default(),
        ))
        .unwrap();
        plain["paths"] = json!([{"path": "src/a.rs", "class": "governance", "pattern": "x", "reason": "forged"}]);
        assert_eq!(policy.evaluate("s", &plain).risk, Risk::Low);
    }
}
