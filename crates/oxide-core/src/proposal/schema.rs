//! JSON Schemas (2020-12) generated from the bundle types, and validation against them.
//!
//! - [`bundle_schema`]: the proposal bundle, published as `docs/schemas/proposal.schema.json`;
//! - [`intent_schema`]: the intent alone, with every sub-schema inlined (no `$ref`), sent to
//!   Ollama as the chat request's `format` and published as `docs/schemas/intent.schema.json`.
//!
//! A test fails when a committed file is stale; `OXIDE_BLESS=1 cargo test -p oxide-core
//! schema` rewrites them.

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::apply::{codes, Problem};
use super::types::{Bundle, Intent};

/// The bundle schema, as published.
pub fn bundle_schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        let gen = SchemaSettings::draft2020_12().into_generator();
        let mut v = gen.into_root_schema_for::<Bundle>().to_value();
        v["$id"] = Value::from("urn:oxide-review:schema:proposal:v1");
        v
    })
}

/// The intent schema with every sub-schema inlined: what the model must return.
pub fn intent_schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        let gen = SchemaSettings::draft2020_12()
            .with(|s| s.inline_subschemas = true)
            .into_generator();
        let mut v = gen.into_root_schema_for::<Intent>().to_value();
        v["$id"] = Value::from("urn:oxide-review:schema:intent:v1");
        v
    })
}

fn validator(schema: &'static Value) -> &'static jsonschema::Validator {
    static B: OnceLock<jsonschema::Validator> = OnceLock::new();
    static I: OnceLock<jsonschema::Validator> = OnceLock::new();
    let cell = if std::ptr::eq(schema, bundle_schema()) {
        &B
    } else {
        &I
    };
    cell.get_or_init(|| jsonschema::validator_for(schema).expect("generated schemas are valid"))
}

fn problems(schema: &'static Value, instance: &Value, prefix: &str) -> Vec<Problem> {
    let mut out: Vec<Problem> = validator(schema)
        .iter_errors(instance)
        .map(|e| {
            // `masked` leaves the (untrusted) instance value out of the message.
            Problem::new(
                format!("{prefix}{}", e.instance_path()),
                codes::SCHEMA,
                format!("does not match the schema: {}", e.masked()),
            )
        })
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    out.dedup();
    out
}

/// Schema problems of a bundle document; pointers are into the bundle.
pub fn check_bundle(instance: &Value) -> Vec<Problem> {
    problems(bundle_schema(), instance, "")
}

/// Schema problems of an intent document; pointers are prefixed with `/intent` so they read
/// the same as for a bundle.
pub fn check_intent(instance: &Value) -> Vec<Problem> {
    problems(intent_schema(), instance, "/intent")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;

    fn docs() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas")
    }

    fn check_committed(name: &str, schema: &Value) {
        let path = docs().join(name);
        let want = serde_json::to_string_pretty(schema).unwrap() + "\n";
        if std::env::var_os("OXIDE_BLESS").is_some() {
            std::fs::create_dir_all(docs()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale; regenerate it with `OXIDE_BLESS=1 cargo test -p oxide-core schema`",
            path.display()
        );
    }

    #[test]
    fn schema_files_are_current() {
        check_committed("proposal.schema.json", bundle_schema());
        check_committed("intent.schema.json", intent_schema());
    }

    #[test]
    fn intent_schema_has_no_refs_for_ollama() {
        let text = intent_schema().to_string();
        assert!(!text.contains("$ref"), "{text}");
        assert!(text.contains("text_edit") && text.contains("json_patch"));
    }

    #[test]
    fn schema_problems_carry_pointers() {
        let ok = json!({"rationale": "r", "ops": [{"op": "delete_file", "path": "a"}]});
        assert!(check_intent(&ok).is_empty());
        let bad = json!({"rationale": "r", "ops": [{"op": "delete_file", "path": "a"},
                                                    {"op": "text_edit", "path": "b", "find": 3}]});
        let p = check_intent(&bad);
        assert!(!p.is_empty());
        assert!(
            p.iter().all(|p| p.pointer.starts_with("/intent/ops/1")),
            "{p:?}"
        );
        let p = check_intent(&json!({"ops": []}));
        assert_eq!(p[0].pointer, "/intent");
        assert!(p[0].message.contains("rationale"), "{p:?}");
        let p = check_bundle(&json!({"schema_version": 1}));
        assert!(p.iter().any(|p| p.pointer == "/schema_version"), "{p:?}");
    }
}
