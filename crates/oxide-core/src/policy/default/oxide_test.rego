# Tests of the default policy; `oxide policy test` runs every `test_*` rule (like `opa test`).
package oxide_test

import data.oxide

base := {
	"version": "oxide.policy.input/v1",
	"proposal": {
		"id": "p1",
		"digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"state": "validated",
		"failure_reason_code": null,
		"ops": [{"op": "text_edit", "path": "src/greeting.txt", "lines_added": 1, "lines_removed": 1}],
		"touched_paths": ["src/greeting.txt"],
		"lines_added": 1,
		"lines_removed": 1,
		"risk_hints": [],
	},
	"skill": {"digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "source": "manual", "submitted_by": "alice"},
	"provenance": {"synthesizer": "manual", "model": null, "model_digest": null},
	"validation": {"ran": true, "checks": [{"name": "unit", "status": "passed", "required": true}]},
	"capsules": [],
	"actor": "alice",
	"settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"},
}

with_paths(ps, op) := object.union(base, {"proposal": {
	"ops": [{"op": op, "path": p, "lines_added": 1, "lines_removed": 0} | some p in ps],
	"touched_paths": ps,
}})

test_small_change_is_low_with_one_approver if {
	d := oxide.decision with input as base
	d.risk == "low"
	d.required == {"count": 1, "roles": ["approver"]}
	count(d.denials) == 0
}

test_governance_change_is_critical if {
	d := oxide.decision with input as with_paths([".oxide/checks.toml"], "text_edit")
	d.risk == "critical"
	d.required.count == 3
	count(d.denials) == 0
}

test_governance_by_oxide_is_denied if {
	inp := object.union(with_paths([".github/workflows/ci.yml"], "text_edit"), {"provenance": {"synthesizer": "ollama"}})
	d := oxide.decision with input as inp
	some x in d.denials
	x.policy_reason_code == "GOVERNANCE_BY_OXIDE"
}

test_governance_match_ignores_case if {
	d := oxide.decision with input as with_paths([".GitHub/Workflows/ci.yml"], "text_edit")
	d.risk == "critical"
}

test_deletion_is_medium if {
	d := oxide.decision with input as with_paths(["src/old.txt"], "delete_file")
	d.risk == "medium"
	d.required.count == 2
}

test_protected_path_is_high if {
	d := oxide.decision with input as with_paths(["src/auth/login.rs"], "text_edit")
	d.risk == "high"
	d.required.roles == ["lead", "approver"]
}

test_failed_required_check_denies if {
	inp := object.union(base, {"validation": {"ran": true, "checks": [{"name": "unit", "status": "failed", "required": true}]}})
	d := oxide.decision with input as inp
	some x in d.denials
	x.policy_reason_code == "REQUIRED_CHECK_FAILED"
}

test_failed_advisory_check_does_not_deny if {
	inp := object.union(base, {"validation": {"ran": true, "checks": [{"name": "lint", "status": "failed", "required": false}]}})
	d := oxide.decision with input as inp
	count(d.denials) == 0
}

test_dot_dot_path_is_denied if {
	d := oxide.decision with input as with_paths(["src/../.oxide/oxide.toml"], "text_edit")
	some x in d.denials
	x.policy_reason_code == "PATH_NOT_NORMALIZED"
}

test_no_decision_without_the_facts if {
	not oxide.decision with input as {}
}

test_checks_not_run_warns if {
	d := oxide.decision with input as object.union(base, {"validation": {"ran": false, "checks": []}})
	some w in d.warnings
	w.code == "CHECKS_NOT_RUN"
}

test_env_files_and_key_suffixes_are_protected if {
	every p in ["config/.env", ".env.production", "deploy/tls/server.key", "secrets/token.txt"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "high"
	}
}

test_similar_names_are_not_protected if {
	every p in ["src/author.rs", "docs/environment.md", "src/keys.rs"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "low"
	}
}
