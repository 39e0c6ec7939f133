//! A static check for recursive functions, which Rego forbids and OPA rejects at compile
//! time. regorus 0.14 catches recursive *rules* at run time, but a function calling itself
//! with changing arguments overflows the stack and aborts the process. So before a policy
//! is loaded, function calls are collected lexically (comments and strings removed) and any
//! cycle among functions refuses the policy, which then fails closed with `POLICY_ERROR`.
//!
//! Conservative on purpose: a call is any `name(` whose name resolves to a function defined
//! in the policy (same package, `data.<package>.` prefix, or an `import` alias).

use std::collections::{BTreeMap, BTreeSet};

/// Blanks out comments and string literals, keeping line structure.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                out.push(' ');
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => {
                            out.push('\n');
                            break;
                        }
                        _ => {}
                    }
                }
            }
            '`' => {
                out.push(' ');
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                    if d == '\n' {
                        out.push('\n');
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Dotted names immediately followed by `(`.
fn calls(body: &str) -> Vec<String> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_ident_start(chars[i]) && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '.'))
        {
            let start = i;
            while i < chars.len() && (is_ident(chars[i]) || chars[i] == '.') {
                i += 1;
            }
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && chars[j] == '(' {
                out.push(chars[start..i].iter().collect());
            }
        } else {
            i += 1;
        }
    }
    out
}

struct FileFacts {
    package: String,
    imports: BTreeMap<String, String>,
    /// (function name, body text)
    functions: Vec<(String, String)>,
}

fn file_facts(text: &str) -> FileFacts {
    let clean = strip(text);
    let mut package = String::new();
    let mut imports = BTreeMap::new();
    let mut functions: Vec<(String, String)> = Vec::new();
    let mut current: Option<usize> = None;
    for line in clean.lines() {
        let first = line.chars().next();
        let starts_def = first.is_some_and(is_ident_start) && !line.starts_with("else");
        if starts_def {
            current = None;
            let word: String = line
                .chars()
                .take_while(|c| is_ident(*c) || *c == '.')
                .collect();
            if word == "package" {
                package = line["package".len()..].trim().to_string();
                continue;
            }
            if word == "import" {
                let rest = line["import".len()..].trim();
                let mut parts = rest.split_whitespace();
                if let Some(path) = parts.next() {
                    let path = path.trim_start_matches("data.").to_string();
                    let alias = match (parts.next(), parts.next()) {
                        (Some("as"), Some(a)) => a.to_string(),
                        _ => path.rsplit('.').next().unwrap_or(&path).to_string(),
                    };
                    imports.insert(alias, path);
                }
                continue;
            }
            let rest = line[word.len()..].trim_start();
            if !word.is_empty() && word != "default" && rest.starts_with('(') {
                functions.push((word, line.to_string()));
                current = Some(functions.len() - 1);
                continue;
            }
        } else if let Some(i) = current {
            functions[i].1.push('\n');
            functions[i].1.push_str(line);
        }
    }
    // Drop the parameter list of each definition so `f(x)` is not read as a call of itself.
    for (_, body) in functions.iter_mut() {
        if let Some(close) = body.find(')') {
            *body = body[close + 1..].to_string();
        }
    }
    FileFacts {
        package,
        imports,
        functions,
    }
}

/// `Err(description of one cycle)` when some function can call itself.
pub fn check(files: &BTreeMap<String, String>) -> Result<(), String> {
    let facts: Vec<FileFacts> = files.values().map(|t| file_facts(t)).collect();
    let defined: BTreeSet<String> = facts
        .iter()
        .flat_map(|f| {
            f.functions
                .iter()
                .map(move |(n, _)| format!("{}.{}", f.package, n))
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &facts {
        for (name, body) in &f.functions {
            let from = format!("{}.{}", f.package, name);
            for call in calls(body) {
                let resolved = if let Some(rest) = call.strip_prefix("data.") {
                    rest.to_string()
                } else if let Some((head, tail)) = call.split_once('.') {
                    match f.imports.get(head) {
                        Some(path) => format!("{path}.{tail}"),
                        None => format!("{}.{}", f.package, call),
                    }
                } else {
                    format!("{}.{}", f.package, call)
                };
                if defined.contains(&resolved) {
                    edges.entry(from.clone()).or_default().insert(resolved);
                }
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let at = path.iter().position(|p| p == m).unwrap_or(0);
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in &defined {
        if !state.contains_key(n.as_str()) {
            if let Some(cycle) = visit(n, &edges, &mut state, &mut Vec::new()) {
                return Err(format!(
                    "recursion: function {} calls itself (Rego forbids recursion)",
                    cycle.join(" -> ")
                ));
            }
        }
    }
    Ok(())
}

/// Built-ins whose result is not a function of the input and policy (randomness, clock,
/// network, runtime). A policy calling one is refused, so replays stay exact.
pub const NONDETERMINISTIC: &[&str] = &[
    "rand.intn",
    "time.now_ns",
    "uuid.rfc4122",
    "http.send",
    "opa.runtime",
    "net.lookup_ip_addr",
];

/// `Err(description)` when any file calls a non-deterministic built-in.
pub fn check_deterministic(files: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, text) in files {
        for call in calls(&strip(text)) {
            if NONDETERMINISTIC.contains(&call.as_str()) {
                return Err(format!(
                    "{name}: {call} is not deterministic; a decision must depend only on the input and the policy"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<(), String> {
        let mut m = BTreeMap::new();
        m.insert("a.rego".to_string(), text.to_string());
        check(&m)
    }

    #[test]
    fn finds_direct_and_mutual_recursion() {
        assert!(one("package p\n\nf(x) := y if { y := f(x + 1) }\n").is_err());
        let e = one("package p\n\nf(x) := g(x)\n\ng(x) := y if {\n\ty := f(x)\n}\n").unwrap_err();
        assert!(
            e.contains("p.f -> p.g -> p.f") || e.contains("p.g -> p.f -> p.g"),
            "{e}"
        );
        assert!(one("package p\n\nf(x) := data.p.f(x)\n").is_err());
    }

    #[test]
    fn ignores_strings_comments_and_other_calls() {
        assert!(one(
            "package p\n\n# f(x) := f(x)\nf(x) := sprintf(\"f(%v)\", [x])\n\ng(x) := f(x)\n"
        )
        .is_ok());
        assert!(one(crate::policy::DEFAULT_POLICY).is_ok());
        let mut m = BTreeMap::new();
        m.insert(
            "a.rego".to_string(),
            crate::policy::DEFAULT_POLICY.to_string(),
        );
        m.insert(
            "b.rego".to_string(),
            crate::policy::DEFAULT_POLICY_TESTS.to_string(),
        );
        assert!(check(&m).is_ok());
    }

    #[test]
    fn refuses_nondeterministic_builtins() {
        let mut m = BTreeMap::new();
        m.insert(
            "a.rego".to_string(),
            "package a\n\nx := rand.intn(\"k\", 10)\n".to_string(),
        );
        assert!(check_deterministic(&m).unwrap_err().contains("rand.intn"));
        m.insert(
            "a.rego".to_string(),
            "package a\n\n# rand.intn(\"k\", 10)\nx := \"time.now_ns()\"\n".to_string(),
        );
        assert!(check_deterministic(&m).is_ok());
    }

    #[test]
    fn resolves_import_aliases_across_files() {
        let mut m = BTreeMap::new();
        m.insert(
            "a.rego".to_string(),
            "package a\n\nimport data.b as bb\n\nf(x) := bb.g(x)\n".to_string(),
        );
        m.insert(
            "b.rego".to_string(),
            "package b\n\nimport data.a\n\ng(x) := a.f(x)\n".to_string(),
        );
        assert!(check(&m).unwrap_err().contains("recursion"));
    }
}
