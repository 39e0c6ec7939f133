//! Tidy checks in rust-analyzer's style: this test reads `oxide-core`'s source and fails when
//! the layering written in ARCHITECTURE.md is broken.
//!
//! - A module may name (`crate::x`, `super::super::x`, `use crate::{x, ..}`) only the modules
//!   `MATRIX` allows it; the matrix itself must follow the layers (foundation -> rooms -> read
//!   models and orchestrators) and have no cycle.
//! - A table or view (every `CREATE TABLE` / `CREATE VIEW` in `migrations/*.sql`) may be
//!   named in an SQL string only inside the module that owns it (`OWNERS`).
//! - ARCHITECTURE.md shows the matrix as `matrix_markdown()` renders it (`OXIDE_BLESS=1`
//!   rewrites that block) and its codemap names every module.
//!
//! Test code (`tests.rs`, `#[cfg(test)] mod ...`) is not checked: tests may set up and inspect
//! state across rooms.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may depend on its own layer and the layers below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &["actor", "canon", "clock", "store", "audit", "workspace"],
    ),
    (
        "rooms",
        &[
            "recent", "proposal", "signing", "memory", "binder", "skill", "workflow", "gitops",
            "checks", "synth", "policy",
        ],
    ),
    (
        "read models and orchestrators",
        &["views", "setup", "approval", "govern", "rollout", "sync"],
    ),
];

/// THE allowed-dependency matrix: every module of `oxide-core` and the modules it may name.
/// `error` (the aggregate of every room's error, `crate::Error`/`ErrorKind`/`ErrorDto`) is the
/// top of the crate: it names every room, and every module may name it (entry points return
/// the aggregate; `?` converts a room's error into it). Nothing else points up.
const MATRIX: &[(&str, &[&str])] = &[
    ("actor", &[]),
    ("canon", &[]),
    ("clock", &[]),
    ("store", &[]),
    ("audit", &["canon", "store"]),
    ("workspace", &["audit", "canon", "clock", "store"]),
    ("recent", &[]),
    ("proposal", &["canon", "clock", "store", "workspace"]),
    (
        "signing",
        &[
            "actor",
            "audit",
            "canon",
            "clock",
            "proposal",
            "store",
            "workspace",
        ],
    ),
    ("memory", &["audit", "canon", "store"]),
    ("binder", &["audit", "canon", "clock", "store", "workspace"]),
    (
        "skill",
        &["audit", "binder", "canon", "proposal", "store", "workspace"],
    ),
    (
        "workflow",
        &[
            "audit",
            "canon",
            "clock",
            "proposal",
            "signing",
            "store",
            "workspace",
        ],
    ),
    (
        "gitops",
        &["audit", "canon", "clock", "proposal", "store", "workspace"],
    ),
    (
        "checks",
        &[
            "audit",
            "binder",
            "canon",
            "clock",
            "gitops",
            "proposal",
            "store",
            "workflow",
            "workspace",
        ],
    ),
    (
        "synth",
        &[
            "audit",
            "canon",
            "clock",
            "gitops",
            "proposal",
            "skill",
            "store",
            "workflow",
            "workspace",
        ],
    ),
    (
        "policy",
        &[
            "audit",
            "binder",
            "canon",
            "checks",
            "clock",
            "gitops",
            "proposal",
            "skill",
            "store",
            "workflow",
            "workspace",
        ],
    ),
    (
        "views",
        &[
            "audit",
            "binder",
            "checks",
            "gitops",
            "policy",
            "proposal",
            "store",
            "synth",
            "workflow",
            "workspace",
        ],
    ),
    ("setup", &["clock", "policy", "signing", "workspace"]),
    (
        "approval",
        &[
            "actor",
            "audit",
            "canon",
            "checks",
            "clock",
            "gitops",
            "policy",
            "proposal",
            "signing",
            "skill",
            "store",
            "workflow",
            "workspace",
        ],
    ),
    (
        "govern",
        &[
            "canon",
            "checks",
            "policy",
            "proposal",
            "signing",
            "workflow",
            "workspace",
        ],
    ),
    (
        "rollout",
        &[
            "actor",
            "approval",
            "audit",
            "binder",
            "canon",
            "checks",
            "clock",
            "gitops",
            "memory",
            "policy",
            "proposal",
            "signing",
            "store",
            "workflow",
            "workspace",
        ],
    ),
    (
        "sync",
        &[
            "actor",
            "approval",
            "audit",
            "canon",
            "checks",
            "clock",
            "gitops",
            "proposal",
            "rollout",
            "signing",
            "store",
            "workflow",
            "workspace",
        ],
    ),
];

/// The aggregate error module every module may name (see `MATRIX`).
const TOP: &str = "error";

/// Which module owns each table or view. An entry ending in `*` owns every name with that
/// prefix.
const OWNERS: &[(&str, &str)] = &[
    ("workspaces", "workspace"),
    ("audit_events", "audit"),
    ("audit_head", "audit"),
    ("audit_fts", "audit"),
    ("skills", "skill"),
    ("proposals", "workflow"),
    ("transitions", "workflow"),
    ("memory_*", "memory"),
    ("binder_*", "binder"),
    ("mv_*", "binder"),
    ("synth_*", "synth"),
    ("proposal_branches", "gitops"),
    ("validation_runs", "checks"),
    ("check_results", "checks"),
    ("policy_decisions", "policy"),
    ("signing_keys", "signing"),
    ("approvals", "signing"),
    ("bundle_signatures", "signing"),
    ("audit_checkpoints", "signing"),
    ("promotions", "rollout"),
    ("promotion_intents", "rollout"),
    ("canary_runs", "rollout"),
    ("canary_events", "rollout"),
    ("rollbacks", "rollout"),
    ("rollback_intents", "rollout"),
    ("audit_device_events", "audit"),
    ("sync_*", "sync"),
];

// ------------------------------------------------------------------------------ the checker

/// A source file, reduced: code with comments and literals blanked, and its string literals.
struct Lexed {
    code: String,
    /// `(byte offset, text)` of every string literal.
    strings: Vec<(usize, String)>,
}

/// Blanks comments and string/char literals (keeping line structure) and collects the
/// string literals' text.
fn lex(src: &str) -> Lexed {
    let b = src.as_bytes();
    let mut code = String::with_capacity(src.len());
    let mut strings = Vec::new();
    let mut i = 0;
    let blank = |code: &mut String, s: &str| {
        for c in s.chars() {
            code.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(src.len(), |n| i + n);
            blank(&mut code, &src[i..end]);
            i = end;
        } else if rest.starts_with("/*") {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if src[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if src[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += src[j..].chars().next().map_or(1, char::len_utf8);
                }
            }
            blank(&mut code, &src[i..j]);
            i = j;
        } else if let Some((len, text)) = string_at(src, i) {
            strings.push((i, text));
            blank(&mut code, &src[i..i + len]);
            i += len;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            let len = char_literal_len(&src[i..]);
            blank(&mut code, &src[i..i + len]);
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            code.push(c);
            i += c.len_utf8();
        }
    }
    Lexed { code, strings }
}

/// A string literal starting at `i` (`"..."`, `r"..."`, `r#"..."#`, `b"..."`, `br"..."`):
/// its length in bytes and its text.
fn string_at(src: &str, i: usize) -> Option<(usize, String)> {
    let b = src.as_bytes();
    // Not the tail of an identifier such as `for"` (never valid Rust) or `bar"`.
    let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut j = i;
    if !prev_ident && b[j] == b'b' {
        j += 1;
    }
    if !prev_ident && j < b.len() && b[j] == b'r' {
        let mut k = j + 1;
        let mut hashes = 0;
        while k < b.len() && b[k] == b'#' {
            hashes += 1;
            k += 1;
        }
        if k < b.len() && b[k] == b'"' {
            let close = format!("\"{}", "#".repeat(hashes));
            let body_start = k + 1;
            let end = src[body_start..].find(&close)? + body_start;
            return Some((end + close.len() - i, src[body_start..end].to_string()));
        }
        return None;
    }
    if j < b.len() && b[j] == b'"' && (j == i || !prev_ident) {
        let mut k = j + 1;
        while k < b.len() {
            match b[k] {
                b'\\' => k += 2,
                b'"' => return Some((k + 1 - i, src[j + 1..k].to_string())),
                _ => k += 1,
            }
        }
    }
    None
}

fn char_literal_len(s: &str) -> usize {
    let b = s.as_bytes();
    if b.len() >= 2 && b[1] == b'\\' {
        // An escape: up to the closing quote.
        return s[2..].find('\'').map_or(1, |n| n + 3);
    }
    let mut chars = s.char_indices().skip(1);
    if let (Some((_, _)), Some((k, '\''))) = (chars.next(), chars.next()) {
        return k + 1;
    }
    1 // a lifetime's quote
}

/// Blanks `#[cfg(test)]`-gated items (`mod tests { .. }` / `mod tests;`) in lexed code;
/// returns the code and the blanked byte ranges.
fn strip_tests(code: &str) -> (String, Vec<std::ops::Range<usize>>) {
    let mut out = String::with_capacity(code.len());
    let mut ranges = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The gated item ends at its `;` or at the brace closing its first `{`.
        let semi = after.find(';');
        let brace = after.find('{');
        let end = match (semi, brace) {
            (Some(s), Some(b)) if s < b => s + 1,
            (_, Some(b)) => {
                let mut depth = 0;
                let mut end = after.len();
                for (k, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (Some(s), None) => s + 1,
            (None, None) => after.len(),
        };
        let start = out.len();
        for c in after[..end].chars() {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
        ranges.push(start..start + end);
        rest = &after[end..];
    }
    out.push_str(rest);
    (out, ranges)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The first segments named by a path continuing at `s` (after `crate::` or the `super::`s):
/// one identifier, or each item of a `{..}` group.
fn first_segments(s: &str) -> Vec<String> {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let mut out = Vec::new();
        let mut depth = 0;
        let mut item_start = true;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && is_ident(c) => {
                    out.push(ident_at(&group[k..]).to_string());
                    item_start = false;
                }
                _ => {}
            }
        }
        out
    } else {
        vec![ident_at(s).to_string()]
    }
}

/// The module path of a file under `src/` (`workflow/rows.rs` -> `[workflow, rows]`).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    match last.as_str() {
        "mod.rs" | "lib.rs" => {}
        name => parts.push(name.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// A broken rule, for the failure message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    line: usize,
    what: String,
}

/// The crate's top-level modules and what the crate root re-exports (`Workspace` ->
/// `workspace`), read from lib.rs.
struct Root {
    modules: BTreeSet<String>,
    reexports: BTreeMap<String, String>,
}

fn read_root(lib_rs: &str) -> Root {
    let code = lex(lib_rs).code;
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        if let Some(m) = stmt.strip_prefix("pub mod ").or(stmt.strip_prefix("mod ")) {
            modules.insert(m.trim().to_string());
        } else if let Some(u) = stmt.strip_prefix("pub use ") {
            let module = ident_at(u).to_string();
            if let Some((_, names)) = u.split_once("::") {
                let names = names.trim().trim_start_matches('{').trim_end_matches('}');
                for n in names.split(',') {
                    let n = n.trim();
                    let name = n.rsplit("::").next().unwrap_or(n);
                    let name = name.split(" as ").last().unwrap_or(name).trim();
                    if !name.is_empty() {
                        reexports.insert(name.to_string(), module.clone());
                    }
                }
            }
        }
    }
    Root { modules, reexports }
}

fn line_of(code: &str, at: usize) -> usize {
    code[..at].matches('\n').count() + 1
}

/// The top-level modules a file names, with the line of each mention.
fn referenced_modules(code: &str, path: &[String], root: &Root) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let resolve = |seg: &str| -> Option<String> {
        if root.modules.contains(seg) {
            Some(seg.to_string())
        } else {
            root.reexports.get(seg).cloned()
        }
    };
    let bytes = code.as_bytes();
    let word_start = |at: usize| at == 0 || !is_ident(bytes[at - 1] as char);
    for (at, _) in code.match_indices("crate::") {
        if !word_start(at) {
            continue;
        }
        for seg in first_segments(&code[at + "crate::".len()..]) {
            if let Some(m) = resolve(&seg) {
                out.push((m, line_of(code, at)));
            }
        }
    }
    let mut at = 0;
    while let Some(found) = code[at..].find("super::") {
        let start = at + found;
        if !word_start(start) {
            at = start + 1;
            continue;
        }
        let mut k = start;
        let mut ups = 0;
        while code[k..].starts_with("super::") {
            ups += 1;
            k += "super::".len();
        }
        at = k;
        // As many `super`s as the file is deep reach the crate root, where the next segment
        // is a top-level module (fewer stay inside the file's own module). Inline `mod x {}`
        // blocks are not tracked; the crate keeps modules in files.
        if ups == path.len() {
            for seg in first_segments(&code[k..]) {
                if let Some(m) = resolve(&seg) {
                    out.push((m, line_of(code, start)));
                }
            }
        }
    }
    out
}

/// Whether a string literal reads like SQL.
fn is_sql(s: &str) -> bool {
    [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "DROP ", "ALTER ", " FROM ",
    ]
    .iter()
    .any(|k| s.contains(k))
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_ident(c)).filter(|w| !w.is_empty())
}

fn owner_of<'a>(table: &str, owners: &'a [(&'a str, &'a str)]) -> Option<&'a str> {
    owners.iter().find_map(|(name, owner)| {
        let hit = match name.strip_suffix('*') {
            Some(prefix) => table.starts_with(prefix),
            None => table == *name,
        };
        hit.then_some(*owner)
    })
}

/// Checks one file (`rel` is its path under `src/`) against the matrix and the owners.
fn check_file(
    rel: &Path,
    src: &str,
    root: &Root,
    matrix: &[(&str, &[&str])],
    tables: &BTreeMap<String, String>,
) -> Vec<Violation> {
    let path = module_path(rel);
    let Some(module) = path.first() else {
        return vec![]; // lib.rs: the crate root only declares and re-exports.
    };
    if rel.file_name().is_some_and(|n| n == "tests.rs") {
        return vec![];
    }
    let file = rel.display().to_string();
    let lexed = lex(src);
    let (code, test_ranges) = strip_tests(&lexed.code);
    let mut out = Vec::new();
    if module != TOP {
        let allowed: Option<&[&str]> = matrix
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, deps)| *deps);
        match allowed {
            None => out.push(Violation {
                file: file.clone(),
                line: 1,
                what: format!("module `{module}` is not in the dependency matrix"),
            }),
            Some(allowed) => {
                for (dep, line) in referenced_modules(&code, &path, root) {
                    if dep != *module && dep != TOP && !allowed.contains(&dep.as_str()) {
                        out.push(Violation {
                            file: file.clone(),
                            line,
                            what: format!("`{module}` may not depend on `{dep}`"),
                        });
                    }
                }
            }
        }
    }
    // SQL: string literals outside test code.
    let strings = lexed
        .strings
        .iter()
        .filter(|(at, _)| !test_ranges.iter().any(|r| r.contains(at)));
    for (at, s) in strings.filter(|(_, s)| is_sql(s)) {
        for w in words(s) {
            if let Some(owner) = tables.get(w) {
                if owner != module {
                    out.push(Violation {
                        file: file.clone(),
                        line: line_of(&lexed.code, *at),
                        what: format!("SQL names `{w}`, a table of `{owner}`, in `{module}`"),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
/// Table and view names created by the migrations.
fn migration_tables(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let ws: Vec<&str> = text.split_whitespace().collect();
        for k in 0..ws.len() {
            if !ws[k].eq_ignore_ascii_case("CREATE") {
                continue;
            }
            let mut j = k + 1;
            if ws.get(j).is_some_and(|w| {
                w.eq_ignore_ascii_case("TEMP") || w.eq_ignore_ascii_case("VIRTUAL")
            }) {
                j += 1;
            }
            if !ws
                .get(j)
                .is_some_and(|w| w.eq_ignore_ascii_case("TABLE") || w.eq_ignore_ascii_case("VIEW"))
            {
                continue;
            }
            j += 1;
            if ws.get(j).is_some_and(|w| w.eq_ignore_ascii_case("IF")) {
                j += 3; // IF NOT EXISTS
            }
            if let Some(name) = ws.get(j) {
                out.insert(ident_at(name).to_string());
            }
        }
    }
    out
}

/// Checks the matrix itself: every module once, the layers respected, no cycle.
fn check_matrix(matrix: &[(&str, &[&str])], layers: &[(&str, &[&str])]) -> Vec<String> {
    let mut problems = Vec::new();
    let layer_of = |m: &str| layers.iter().position(|(_, ms)| ms.contains(&m));
    let mut seen = BTreeSet::new();
    for (m, deps) in matrix {
        if !seen.insert(*m) {
            problems.push(format!("`{m}` is in the matrix twice"));
        }
        let Some(lm) = layer_of(m) else {
            problems.push(format!("`{m}` is in no layer"));
            continue;
        };
        for d in *deps {
            match layer_of(d) {
                None => problems.push(format!("`{m}` depends on `{d}`, which is in no layer")),
                Some(ld) if ld > lm => problems.push(format!(
                    "`{m}` ({}) depends on `{d}` ({}), a layer above",
                    layers[lm].0, layers[ld].0
                )),
                Some(_) => {}
            }
        }
    }
    // No cycle: repeatedly remove modules whose dependencies are all removed.
    let mut left: BTreeMap<&str, BTreeSet<&str>> = matrix
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    loop {
        let ready: Vec<&str> = left
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !left.contains_key(d)))
            .map(|(m, _)| *m)
            .collect();
        if ready.is_empty() {
            break;
        }
        for m in ready {
            left.remove(m);
        }
    }
    if !left.is_empty() {
        problems.push(format!(
            "the matrix has a cycle among {:?}",
            left.keys().collect::<Vec<_>>()
        ));
    }
    problems
}

/// The matrix as the markdown table ARCHITECTURE.md shows.
fn matrix_markdown() -> String {
    let mut s = String::from("| layer | module | may use |\n| --- | --- | --- |\n");
    for (layer, modules) in LAYERS {
        for m in *modules {
            let deps = MATRIX
                .iter()
                .find(|(x, _)| x == m)
                .map(|(_, d)| d.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>())
                .unwrap_or_default();
            let deps = if deps.is_empty() {
                "—".to_string()
            } else {
                deps.join(", ")
            };
            s.push_str(&format!("| {layer} | `{m}` | {deps} |\n"));
        }
    }
    s.push_str(&format!(
        "| top | `{TOP}` | every module (and every module may name `crate::Error`) |\n"
    ));
    s
}

// ------------------------------------------------------------------------------ the tests

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn table_owners(tables: &BTreeSet<String>) -> (BTreeMap<String, String>, Vec<String>) {
    let mut owners = BTreeMap::new();
    let mut unowned = Vec::new();
    for t in tables {
        match owner_of(t, OWNERS) {
            Some(o) => {
                owners.insert(t.clone(), o.to_string());
            }
            None => unowned.push(t.clone()),
        }
    }
    (owners, unowned)
}

#[test]
fn layers_point_down_and_rooms_keep_to_their_tables() {
    let src = crate_dir().join("src");
    let root = read_root(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let tables = migration_tables(&crate_dir().join("../../migrations"));
    assert!(tables.contains("proposals"), "migrations were read");
    let (owners, unowned) = table_owners(&tables);
    assert!(
        unowned.is_empty(),
        "tables without an owner in OWNERS: {unowned:?}"
    );
    let mut problems = check_matrix(MATRIX, LAYERS);
    for m in &root.modules {
        if m != TOP && !MATRIX.iter().any(|(x, _)| x == m) {
            problems.push(format!("module `{m}` is not in the dependency matrix"));
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let text = fs::read_to_string(&f).unwrap();
        for v in check_file(rel, &text, &root, MATRIX, &owners) {
            problems.push(format!("{}:{}: {}", v.file, v.line, v.what));
        }
    }
    assert!(
        problems.is_empty(),
        "the layering in ARCHITECTURE.md is broken (fix the code, or change MATRIX/OWNERS in crates/oxide-core/tests/tidy.rs and ARCHITECTURE.md together):\n{}",
        problems.join("\n")
    );
}

const MATRIX_START: &str = "<!-- tidy:matrix:start -->\n";
const MATRIX_END: &str = "<!-- tidy:matrix:end -->";

/// ARCHITECTURE.md shows the matrix as it is here and its codemap names every module;
/// `OXIDE_BLESS=1` rewrites the matrix block.
#[test]
fn architecture_md_shows_the_matrix_and_every_module() {
    let path = crate_dir().join("../../ARCHITECTURE.md");
    let text = fs::read_to_string(&path).unwrap();
    let (Some(a), Some(b)) = (text.find(MATRIX_START), text.find(MATRIX_END)) else {
        panic!("ARCHITECTURE.md has no {MATRIX_START:?} ... {MATRIX_END:?} block");
    };
    let want = matrix_markdown();
    let current = &text[a + MATRIX_START.len()..b];
    if current != want && std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1") {
        let new = format!("{}{want}{}", &text[..a + MATRIX_START.len()], &text[b..]);
        fs::write(&path, new).unwrap();
    } else {
        assert_eq!(
            current, want,
            "ARCHITECTURE.md's dependency matrix is stale; rewrite it with OXIDE_BLESS=1 cargo test -p oxide-core --test tidy"
        );
    }
    let root = read_root(&fs::read_to_string(crate_dir().join("src/lib.rs")).unwrap());
    for m in &root.modules {
        let named = text.contains(&format!("src/{m}/")) || text.contains(&format!("src/{m}.rs"));
        assert!(named, "ARCHITECTURE.md's codemap does not name src/{m}");
    }
    for e in fs::read_dir(crate_dir().join("src")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        assert!(
            name == "lib.rs" || root.modules.contains(module),
            "src/{name} is not a module of lib.rs"
        );
    }
}

// ----------------------------------------------------------------- the checker's own tests

fn fixture_root() -> Root {
    read_root(
        "//! doc\npub mod canon;\npub mod workspace;\npub mod policy;\npub mod synth;\n\
         pub mod audit;\npub mod error;\npub use workspace::{InitReport, Workspace};\n\
         pub use error::{Error, ErrorKind};\n",
    )
}

fn fixture_matrix() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("canon", &[]),
        ("audit", &["canon"]),
        ("workspace", &["audit", "canon"]),
        ("synth", &["audit", "workspace"]),
        ("policy", &["audit", "workspace"]),
    ]
}

fn fixture_tables() -> BTreeMap<String, String> {
    [("proposals", "workflow"), ("workspaces", "workspace")]
        .iter()
        .map(|(t, o)| (t.to_string(), o.to_string()))
        .collect()
}

fn check(rel: &str, src: &str) -> Vec<String> {
    check_file(
        Path::new(rel),
        src,
        &fixture_root(),
        &fixture_matrix(),
        &fixture_tables(),
    )
    .into_iter()
    .map(|v| v.what)
    .collect()
}

#[test]
fn checker_reports_a_forbidden_import_in_every_form() {
    // `use crate::x::..`
    assert_eq!(
        check(
            "workspace/defaults.rs",
            "use crate::policy::DEFAULT_POLICY;\n"
        ),
        vec!["`workspace` may not depend on `policy`"]
    );
    // a path in an expression
    assert_eq!(
        check(
            "workspace/mod.rs",
            "fn f() { let n = crate::synth::no_op_count(c); }\n"
        ),
        vec!["`workspace` may not depend on `synth`"]
    );
    // a `use crate::{..}` group, nested items included
    assert_eq!(
        check(
            "workspace/mod.rs",
            "use crate::{canon, synth::{no_op_count, Attempt}, Error};\n"
        ),
        vec!["`workspace` may not depend on `synth`"]
    );
    // `super::super::x` reaching the crate root from workspace/config/mod.rs
    assert_eq!(
        check(
            "workspace/config/mod.rs",
            "use super::super::policy::Risk;\n"
        ),
        vec!["`workspace` may not depend on `policy`"]
    );
    // a root re-export names its module
    assert_eq!(
        check("canon/mod.rs", "fn f(ws: &crate::Workspace) {}\n"),
        vec!["`canon` may not depend on `workspace`"]
    );
}

#[test]
fn checker_allows_what_the_matrix_allows_and_ignores_non_code() {
    let ok = "//! crate::policy in a doc comment\n\
              use crate::audit::{self, NewEvent};\n\
              use crate::{canon, Error, ErrorKind};\n\
              use super::config::Settings;\n\
              /* crate::synth in a block comment */\n\
              const S: &str = \"crate::synth::x\";\n\
              fn f<'a>(c: char) -> bool { c == '\\'' || c == '{' }\n\
              #[cfg(test)]\nmod tests {\n    use crate::policy::DEFAULT_POLICY;\n    \
              const Q: &str = \"SELECT count(*) FROM proposals\";\n}\n";
    assert_eq!(check("workspace/mod.rs", ok), Vec::<String>::new());
    // A module the matrix does not know is reported.
    assert_eq!(
        check("nowhere/mod.rs", "use crate::audit;\n"),
        vec!["module `nowhere` is not in the dependency matrix"]
    );
}

#[test]
fn checker_reports_sql_on_a_foreign_table() {
    assert_eq!(
        check(
            "workspace/mod.rs",
            "fn f() { c.prepare(\"SELECT state, count(*) FROM proposals GROUP BY state\"); }\n"
        ),
        vec!["SQL names `proposals`, a table of `workflow`, in `workspace`"]
    );
    assert_eq!(
        check(
            "workspace/mod.rs",
            "fn f() { c.execute(r#\"INSERT INTO workspaces (path) VALUES (?1)\"#, []); }\n"
        ),
        Vec::<String>::new(),
        "a room's own table"
    );
    // The word outside SQL (a path, a message) is not a query.
    assert_eq!(
        check(
            "workspace/mod.rs",
            "const P: &str = \"oxide/proposals/\";\n"
        ),
        Vec::<String>::new()
    );
}

#[test]
fn checker_reports_a_bad_matrix() {
    let layers: &[(&str, &[&str])] = &[("foundation", &["a"]), ("rooms", &["b", "c"])];
    assert!(check_matrix(&[("a", &[]), ("b", &["c"]), ("c", &["a"])], layers).is_empty());
    let cycle = check_matrix(&[("a", &[]), ("b", &["c"]), ("c", &["b"])], layers);
    assert!(cycle.iter().any(|p| p.contains("cycle")), "{cycle:?}");
    let upward = check_matrix(&[("a", &["b"]), ("b", &[]), ("c", &[])], layers);
    assert!(
        upward.iter().any(|p| p.contains("a layer above")),
        "{upward:?}"
    );
}

#[test]
fn migrations_name_their_tables() {
    let d = tempfile::tempdir().unwrap();
    fs::write(
        d.path().join("0001_x.sql"),
        "CREATE TABLE a (id INTEGER);\ncreate table if not exists b(x);\nCREATE VIEW v AS SELECT 1;\nCREATE INDEX i ON a(id);\n",
    )
    .unwrap();
    let got: Vec<String> = migration_tables(d.path()).into_iter().collect();
    assert_eq!(got, vec!["a", "b", "v"]);
    assert_eq!(owner_of("binder_capsules", OWNERS), Some("binder"));
    assert_eq!(owner_of("proposals", OWNERS), Some("workflow"));
    assert_eq!(owner_of("nope", OWNERS), None);
}
