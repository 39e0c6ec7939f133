//! Desktop journey (issue 3): the Capsules view in the real app over a workspace whose
//! envelopes were ingested by the real `oxide binder ingest`.

use oxide_journeys::desktop::{keys, Launch};
use oxide_journeys::{git, TestRepo};
use serde_json::{json, Value};

fn envelope(n: u32, signal: &str, target: &str, reason: &str) -> Value {
    let mut v = json!({
        "event_id": format!("ev-{n}"), "sequence": n, "run_id": format!("run-{}", n / 10),
        "group_id": "g1", "task_id": format!("task-{n}"), "signal": signal,
        "wrapper_policy": "strict",
        "taskspec": {"scope": "repo", "target": {"kind": "file", "id": target}, "action": {"kind": "edit"}},
        "gates": [{"name": "unit", "version": "1.0", "status": if signal == "fail" { "fail" } else { "pass" }}],
        "env": {"os": "linux"},
        "evidence_refs": [format!("ci://log/{n}")],
        // three different days, so the chart has three groups
        "observed_at": format!("2026-10-0{}T12:00:00Z", 1 + n % 3),
    });
    match signal {
        "fail" => v["taskspec"]["failure_reason_code"] = json!(reason),
        "deny" => v["policy_reason_code"] = json!(reason),
        _ => {}
    }
    v
}

#[test]
fn desktop_capsules_table_filters_sorts_and_shows_detail_chart_and_quarantine() {
    let repo = TestRepo::new();
    repo.init();
    let toml = repo.path().join(".oxide/oxide.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace(
        "rollout_mode = \"shadow\"",
        "rollout_mode = \"guided\"\nmin_support = 5\nstaleness_days = 36500",
    );
    std::fs::write(&toml, text).unwrap();
    // Settings are in force once committed on the target branch.
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "guided rollout"]);

    let mut lines: Vec<String> = (0..12)
        .map(|n| envelope(n, "fail", "src/lib.rs", "TEST_FAILED").to_string())
        .collect();
    lines.push(envelope(20, "pass", "src/lib.rs", "").to_string());
    lines.push(envelope(21, "deny", "src/main.rs", "GOVERNANCE_FILE").to_string());
    lines.push(envelope(22, "fail", "src/other.rs", "LINT_FAILED").to_string());
    lines.push("{\"event_id\": \"cut".into());
    lines.push(json!({"event_id": "x"}).to_string());
    let file = repo.data.path().join("envelopes.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let r = repo
        .oxide(&["--json", "binder", "ingest", file.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(
        (r["accepted"].as_u64(), r["quarantined"].as_u64()),
        (Some(15), Some(2))
    );

    let app = Launch::new("desktop-capsules").workspace(&repo).start();
    app.wait_text("workspace-name", |t| !t.is_empty());

    // Alt+4 is Capsules.
    app.chord(&[keys::ALT], "4");
    app.wait_text("view-title", |t| t == "Capsules");
    app.wait_text("capsules-count", |t| t == "3 of 3");
    assert!(app.text("capsules-rollout").contains("guided"));
    // Default order: confidence descending; the one eligible capsule first.
    assert_eq!(app.texts("capsule-eligibility")[0], "eligible");
    assert_eq!(app.texts("capsule-target")[0], "repo/file:src/lib.rs");

    // Filter: eligible only.
    app.click("capsules-eligible-only");
    app.wait_text("capsules-count", |t| t == "1 of 3");
    app.click("capsules-eligible-only");
    app.wait_text("capsules-count", |t| t == "3 of 3");

    // Sort by support: descending, then ascending.
    app.click("sort-support");
    assert_eq!(app.texts("capsule-support"), ["12", "1", "1"]);
    app.click("sort-support");
    assert_eq!(app.texts("capsule-support")[2], "12");

    // Detail of the eligible capsule: counts, no reasons, a chart that adds up.
    let targets = app.texts("capsule-target");
    let idx = targets
        .iter()
        .position(|t| t == "repo/file:src/lib.rs")
        .unwrap();
    let open = app.find_all("capsule-open");
    app.session().click(&open[idx]).unwrap();
    app.wait_text("capsule-detail-counts", |t| t == "12 / 1 / 0");
    app.find("capsule-detail-eligible");
    let sum = |testid: &str| -> i64 {
        app.execute(
            &format!(
                "return [...document.querySelectorAll('[data-testid={testid}]')].reduce((a, e) => a + Number(e.dataset.value), 0)"
            ),
            &[],
        )
        .as_i64()
        .unwrap()
    };
    assert_eq!(app.find_all("chart-support").len(), 3, "one bar per day");
    assert_eq!(sum("chart-support"), 12);
    assert_eq!(sum("chart-contradiction"), 1);
    app.execute(
        "document.querySelector('[data-testid=capsule-chart]').scrollIntoView()",
        &[],
    );
    app.screenshot("desktop-capsules-detail");

    // Filter by reason code: the lint capsule, ineligible for low support, with its reason.
    app.type_into("capsules-filter-reason", "LINT");
    app.wait_text("capsules-count", |t| t == "1 of 3");
    assert_eq!(app.texts("capsule-target"), ["repo/file:src/other.rs"]);
    app.click("capsule-open");
    let reasons = app.wait_texts("capsule-detail-reason");
    assert!(reasons[0].starts_with("low_support"), "{reasons:?}");
    assert!(reasons[0].contains("at least 5"), "{reasons:?}");

    // Filter by target (on top of the reason filter): nothing matches.
    app.type_into("capsules-filter-target", "main.rs");
    app.wait_text("capsules-count", |t| t == "0 of 3");
    app.find("capsules-empty");

    // The quarantine lists both bad lines with their codes.
    let codes = app.wait_texts("quarantine-code");
    assert_eq!(codes, ["BINDER_MALFORMED_JSON", "BINDER_MISSING_FIELD"]);
    app.execute(
        "document.querySelector('[data-testid=quarantine-panel]').scrollIntoView()",
        &[],
    );
    app.screenshot("desktop-capsules-quarantine");
}
