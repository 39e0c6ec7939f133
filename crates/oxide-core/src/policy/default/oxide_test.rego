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
	"validation": {
		"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1",
		"checks": [{"name": "unit", "status": "passed", "required": true, "sandboxed": true}],
	},
	"capsules": [],
	"actor": "alice",
	"settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"},
	"paths": [],
}

# A proposal touching `ps` with operation `op`, with the path facts the evaluator would
# hand in (`path_facts` below); undefined for a path missing there, so no test can pass by
# leaving a path unclassified.
with_paths(ps, op) := object.union(base, {
	"proposal": {
		"ops": [{"op": op, "path": p, "lines_added": 1, "lines_removed": 0} | some p in ps],
		"touched_paths": ps,
	},
	"paths": [object.union(f, {"path": p}) | some p in ps; some f in path_facts[p]],
}) if {
	every p in ps {
		path_facts[p]
	}
}

# ---------------------------------------------------------------- path classes

# The default risk of each class of the sensitive-path list.
class_risk := {
	"governance": "critical",
	"ci": "critical",
	"repo_behaviour": "critical",
	"protected_secret": "high",
	"protected_folder": "high",
	"ignore_rules": "high",
}

# One sample path per class.
class_samples := {
	"governance": ".oxide/checks.toml",
	"ci": ".gitlab-ci.yml",
	"repo_behaviour": "sub/dir/.gitattributes",
	"protected_secret": "keys/deploy.PEM",
	"protected_folder": "services/api/db/migrations/001.sql",
	"ignore_rules": "sub/.gitignore",
}

test_every_class_of_the_path_list_has_a_risk if {
	known := oxide.governance_classes | oxide.protected_classes
	every c in path_classes {
		c in known
		class_risk[c]
		class_samples[c]
	}
}

test_every_class_gets_its_risk_with_the_reason_shown if {
	every c, p in class_samples {
		some f in path_facts[p]
		f.class == c
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == class_risk[c]
		some e in d.escalations
		e.risk == class_risk[c]
		contains(e.message, p)
		contains(e.message, f.reason)
	}
}

test_oxide_may_not_propose_any_governance_class if {
	every c in oxide.governance_classes {
		inp := object.union(with_paths([class_samples[c]], "text_edit"), {"provenance": {"synthesizer": "replay"}})
		d := oxide.decision with input as inp
		some x in d.denials
		x.policy_reason_code == "GOVERNANCE_BY_OXIDE"
	}
}

test_case_does_not_hide_a_path if {
	every p in ["Secrets/token", "a/b/.ENV", "keys/deploy.PEM", "pkg/.Npmrc"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "high"
	}
	every p in [".GitHub/Workflows/ci.yml", "deep/nested/.GitLab-CI.yml"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "critical"
	}
}

test_folders_and_files_match_at_any_depth if {
	every p in ["services/api/db/migrations/001.sql", "home/.ssh/id_ed25519", "infra/terraform.tfstate"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "high"
	}
	every p in ["sub/dir/.gitattributes", "pkg/.husky/pre-commit", "svc/.circleci/config.yml"] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "critical"
	}
}

test_ci_systems_and_hook_managers_are_governance if {
	every p in [
		".husky/pre-commit", ".gitmodules", "Jenkinsfile", "lefthook.yml",
		".pre-commit-config.yaml", ".forgejo/workflows/ci.yml", ".github/CODEOWNERS",
	] {
		d := oxide.decision with input as with_paths([p], "text_edit")
		d.risk == "critical"
	}
}

# ---------------------------------------------------------------- decisions

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
	inp := object.union(base, {"validation": {"ran": true, "checks": [
		{"name": "unit", "status": "passed", "required": true, "sandboxed": true},
		{"name": "lint", "status": "failed", "required": false, "sandboxed": true},
	]}})
	d := oxide.decision with input as inp
	count(d.denials) == 0
}

# A proposal that edits a required check's harness is at least high.

test_harness_change_is_high if {
	inp := object.union(with_paths(["src/greeting.txt"], "text_edit"), {"harness_paths": [
		{"path": "src/greeting.txt", "check": "unit", "pattern": "src/**", "reason": "listed in the check's `harness`"},
	]})
	d := oxide.decision with input as inp
	d.risk == "high"
	d.required.roles == ["lead", "approver"]
	some e in d.escalations
	e.rule == "oxide.harness_change"
	contains(e.message, "check 'unit'")
}

test_no_harness_facts_stay_low if {
	d := oxide.decision with input as base
	d.risk == "low"
}

test_harness_change_does_not_lower_critical if {
	inp := object.union(with_paths([".oxide/checks.toml"], "text_edit"), {"harness_paths": [
		{"path": ".oxide/checks.toml", "check": "unit", "pattern": "**", "reason": "x"},
	]})
	d := oxide.decision with input as inp
	d.risk == "critical"
}

# No allow without a passed validation of the branch's current commit.

test_validated_proposal_is_allowed if {
	d := oxide.decision with input as base
	count(d.denials) == 0
}

test_never_validated_is_not_allowed if {
	d := oxide.decision with input as object.union(base, {"validation": {"ran": false, "run_id": null, "branch_commit": null, "checks": []}})
	some x in d.denials
	x.policy_reason_code == "NOT_VALIDATED"
}

test_validation_of_another_commit_is_not_allowed if {
	d := oxide.decision with input as object.union(base, {"validation": {"head_commit": "c2"}})
	some x in d.denials
	x.policy_reason_code == "NOT_VALIDATED"
}

test_missing_run_facts_are_not_allowed if {
	inp := object.union(object.remove(base, ["validation"]), {"validation": {"ran": true, "checks": base.validation.checks}})
	d := oxide.decision with input as inp
	some x in d.denials
	x.policy_reason_code == "NOT_VALIDATED"
}

test_only_optional_checks_are_not_allowed if {
	d := oxide.decision with input as with_checks([{"name": "lint", "status": "passed", "required": false, "sandboxed": true}])
	some x in d.denials
	x.policy_reason_code == "NOT_VALIDATED"
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

# Checks that ran on the host (`sandbox = false` in the contract).

with_checks(cs) := object.union(base, {"validation": {"ran": true, "checks": cs}})

test_unsandboxed_required_check_is_high if {
	d := oxide.decision with input as with_checks([
		{"name": "unit", "status": "passed", "required": true, "sandboxed": false},
		{"name": "lint", "status": "passed", "required": true, "sandboxed": true},
	])
	d.risk == "high"
	d.required.roles == ["lead", "approver"]
	some e in d.escalations
	e.rule == "oxide.unsandboxed_check"
	contains(e.message, "unit")
	not contains(e.message, "lint")
	count(d.denials) == 0
}

test_missing_sandboxed_fact_counts_as_unsandboxed if {
	d := oxide.decision with input as with_checks([{"name": "unit", "status": "passed", "required": true}])
	d.risk == "high"
	some e in d.escalations
	e.rule == "oxide.unsandboxed_check"
}

test_unsandboxed_advisory_check_stays_low if {
	d := oxide.decision with input as with_checks([
		{"name": "unit", "status": "passed", "required": true, "sandboxed": true},
		{"name": "bench", "status": "passed", "required": false, "sandboxed": false},
	])
	d.risk == "low"
	every e in d.escalations {
		e.rule != "oxide.unsandboxed_check"
	}
}

test_unsandboxed_check_does_not_lower_a_critical_risk if {
	inp := object.union(with_paths([".oxide/checks.toml"], "text_edit"), {"validation": {"ran": true, "checks": [{"name": "unit", "status": "passed", "required": true, "sandboxed": false}]}})
	d := oxide.decision with input as inp
	d.risk == "critical"
}

# ---------------------------------------------------------------- size, deletions, window

# Size facts of a diff: `files` and the base tree's totals given; totals summed from files.
size_of(files, base_files, base_bytes) := {
	"files": files,
	"lines_added": sum([f.lines_added | some f in files]),
	"lines_removed": sum([f.lines_removed | some f in files]),
	"bytes_added": sum([f.bytes_added | some f in files]),
	"bytes_removed": sum([f.bytes_removed | some f in files]),
	"binary_files": count([f | some f in files; f.binary]),
	"files_deleted": count([f | some f in files; f.change == "deleted"]),
	"base_files": base_files,
	"base_bytes": base_bytes,
	"max_line_bytes": 200,
}

# `base` with the intent's ops/paths `ops` and the real diff `size`: the line totals the
# evaluator sets from it.
sized(ops, sz) := object.union(base, {"proposal": {
	"ops": ops,
	"touched_paths": sort({o.path | some o in ops}),
	"size": sz,
	"lines_added": sz.lines_added,
	"lines_removed": sz.lines_removed,
}})

fstat(path, change, la, lr, ba, br, bin) := {
	"path": path, "change": change, "lines_added": la, "lines_removed": lr,
	"bytes_added": ba, "bytes_removed": br, "binary": bin,
}

has_rule(d, rule, risk) if {
	some e in d.escalations
	e.rule == rule
	e.risk == risk
}

test_a_giant_single_line_is_a_large_change if {
	# One 1 MiB line: the intent says 1 line; the diff counts 1 MiB / 200 bytes.
	sz := size_of([fstat("src/blob.txt", "added", 5243, 0, 1048576, 0, false)], 40, 4000)
	d := oxide.decision with input as sized([{"op": "create_file", "path": "src/blob.txt", "lines_added": 1, "lines_removed": 0}], sz)
	d.risk == "high"
	has_rule(d, "oxide.large_change", "high")
	has_rule(d, "oxide.large_change_bytes", "high")
	some e in d.escalations
	contains(e.message, "1048576 bytes changed")
}

test_a_json_patch_with_a_huge_value_is_judged_by_its_bytes if {
	# One `replace` operation (1 line by the intent), a 300 kB value in the file.
	sz := size_of([fstat("config/app.json", "modified", 1501, 1, 300012, 20, false)], 40, 4000)
	d := oxide.decision with input as sized([{"op": "json_patch", "path": "config/app.json", "lines_added": 1, "lines_removed": 1}], sz)
	d.risk == "high"
	has_rule(d, "oxide.large_change_bytes", "high")
}

test_bytes_alone_raise_a_change_of_short_lines if {
	sz := size_of([fstat("src/a.txt", "modified", 10, 0, 70000, 0, false)], 40, 400000)
	d := oxide.decision with input as sized([{"op": "text_edit", "path": "src/a.txt", "lines_added": 1, "lines_removed": 0}], sz)
	has_rule(d, "oxide.large_change_bytes", "high")
}

test_deleting_a_binary_file_is_counted_and_flagged if {
	# An unreadable file: the intent counts 0 lines; the diff counts its bytes.
	sz := size_of([fstat("assets/logo.bin", "deleted", 0, 21, 0, 4096, true)], 40, 400000)
	d := oxide.decision with input as sized([{"op": "delete_file", "path": "assets/logo.bin", "lines_added": 0, "lines_removed": 0}], sz)
	d.risk == "medium"
	has_rule(d, "oxide.binary_change", "medium")
	has_rule(d, "oxide.deletion", "medium")
	some e in d.escalations
	e.rule == "oxide.binary_change"
	contains(e.message, "assets/logo.bin")
}

test_deleting_most_of_the_files_is_high if {
	files := [fstat(sprintf("src/f%d.txt", [i]), "deleted", 0, 1, 0, 2, false) | some i in numbers.range(1, 6)]
	sz := size_of(files, 10, 100000)
	ops := [{"op": "delete_file", "path": f.path, "lines_added": 0, "lines_removed": 1} | some f in files]
	d := oxide.decision with input as sized(ops, sz)
	d.risk == "high"
	has_rule(d, "oxide.mass_deletion", "high")
	some e in d.escalations
	contains(e.message, "deletes 6 of the repository's 10 files")
}

test_removing_most_of_the_bytes_is_high if {
	sz := size_of([fstat("data/big.txt", "deleted", 0, 40, 0, 8000, false)], 10, 10000)
	d := oxide.decision with input as sized([{"op": "delete_file", "path": "data/big.txt", "lines_added": 0, "lines_removed": 0}], sz)
	has_rule(d, "oxide.mass_deletion", "high")
}

test_deleting_one_file_of_many_stays_medium if {
	sz := size_of([fstat("src/old.txt", "deleted", 0, 4, 0, 19, false)], 10, 1000)
	d := oxide.decision with input as sized([{"op": "delete_file", "path": "src/old.txt", "lines_added": 0, "lines_removed": 4}], sz)
	d.risk == "medium"
	not has_rule(d, "oxide.mass_deletion", "high")
}

window_of(n, lines, bytes, deleted) := {
	"key": "k", "proposals": n, "ids": [sprintf("p%d", [i]) | some i in numbers.range(1, n)],
	"lines_added": lines, "lines_removed": 0, "bytes_added": bytes, "bytes_removed": 0,
	"files_deleted": deleted, "touched_paths": ["src/a.txt"], "not_sized": 0,
}

with_window(inp, skill, submitter) := object.union(inp, {"window": {
	"days": 7, "max_proposals": 50, "skill": skill, "submitter": submitter,
}})

small := sized(
	[{"op": "text_edit", "path": "src/a.txt", "lines_added": 40, "lines_removed": 0}],
	size_of([fstat("src/a.txt", "modified", 40, 0, 800, 0, false)], 40, 400000),
)

test_a_split_change_is_judged_as_a_whole if {
	# Each piece is low (40 lines), the skill's recent pieces make it 200+ lines.
	d0 := oxide.decision with input as small
	d0.risk == "low"
	d := oxide.decision with input as with_window(small, window_of(5, 200, 4000, 0), null)
	d.risk == "high"
	has_rule(d, "oxide.split_change", "high")
	some e in d.escalations
	e.rule == "oxide.split_change"
	contains(e.message, "5 other recent proposal(s) of the same skill")
	contains(e.message, "p1, p2, p3, p4, p5")
}

test_a_split_change_by_one_submitter_is_judged_as_a_whole if {
	d := oxide.decision with input as with_window(small, window_of(0, 0, 0, 0), window_of(2, 30, 600, 0))
	d.risk == "medium"
	has_rule(d, "oxide.split_change", "medium")
	d2 := oxide.decision with input as with_window(small, window_of(0, 0, 0, 0), window_of(3, 20, 90000, 0))
	has_rule(d2, "oxide.split_change", "high")
}

test_a_split_mass_deletion_is_high if {
	sz := size_of([fstat("src/f1.txt", "deleted", 0, 1, 0, 2, false)], 10, 100000)
	one := sized([{"op": "delete_file", "path": "src/f1.txt", "lines_added": 0, "lines_removed": 1}], sz)
	d0 := oxide.decision with input as one
	d0.risk == "medium"
	d := oxide.decision with input as with_window(one, window_of(5, 0, 0, 5), null)
	has_rule(d, "oxide.split_change", "high")
}

test_a_quiet_window_changes_nothing if {
	d := oxide.decision with input as with_window(small, window_of(1, 2, 40, 0), window_of(0, 0, 0, 0))
	d.risk == "low"
	d2 := oxide.decision with input as with_window(small, window_of(0, 0, 0, 0), null)
	d2.risk == "low"
}

# ---------------------------------------------------------------- generated
# BEGIN path facts: generated from proposal::paths (OXIDE_BLESS=1 cargo test -p oxide-core policy::input)
path_classes := {"governance", "ci", "repo_behaviour", "protected_secret", "protected_folder", "ignore_rules"}

path_facts := {
	"src/greeting.txt": [],
	"src/old.txt": [],
	"src/auth/login.rs": [{"class": "protected_folder", "pattern": "**/auth/**", "reason": "authentication code"}],
	"src/../.oxide/oxide.toml": [{"class": "governance", "pattern": "**/.oxide/**", "reason": "OXIDE Review's own rules: settings, CI contract, policy, approvers"}],
	"src/author.rs": [],
	"docs/environment.md": [],
	"src/keys.rs": [],
	".oxide/checks.toml": [{"class": "governance", "pattern": "**/.oxide/**", "reason": "OXIDE Review's own rules: settings, CI contract, policy, approvers"}],
	".github/workflows/ci.yml": [{"class": "ci", "pattern": "**/.github/workflows/**", "reason": "GitHub Actions workflows: run code with the repository's secrets and token"}, {"class": "repo_behaviour", "pattern": "**/.github/**", "reason": "forge settings: CODEOWNERS, Dependabot, repository settings apps, templates"}],
	".GitHub/Workflows/ci.yml": [{"class": "ci", "pattern": "**/.github/workflows/**", "reason": "GitHub Actions workflows: run code with the repository's secrets and token"}, {"class": "repo_behaviour", "pattern": "**/.github/**", "reason": "forge settings: CODEOWNERS, Dependabot, repository settings apps, templates"}],
	"config/.env": [{"class": "protected_secret", "pattern": "**/.env", "reason": "environment file: usually secrets"}, {"class": "protected_secret", "pattern": "**/*.env", "reason": "environment file (prod.env, ...)"}],
	".env.production": [{"class": "protected_secret", "pattern": "**/.env.*", "reason": "environment file variants (.env.production, ...)"}],
	"deploy/tls/server.key": [{"class": "protected_secret", "pattern": "**/*.key", "reason": "private keys"}],
	"secrets/token.txt": [{"class": "protected_folder", "pattern": "**/secrets/**", "reason": "secrets folder"}],
	"Secrets/token": [{"class": "protected_folder", "pattern": "**/secrets/**", "reason": "secrets folder"}],
	"a/b/.ENV": [{"class": "protected_secret", "pattern": "**/.env", "reason": "environment file: usually secrets"}, {"class": "protected_secret", "pattern": "**/*.env", "reason": "environment file (prod.env, ...)"}],
	"keys/deploy.PEM": [{"class": "protected_secret", "pattern": "**/*.pem", "reason": "PEM keys and certificates"}],
	"pkg/.Npmrc": [{"class": "protected_secret", "pattern": "**/.npmrc", "reason": "npm registry tokens"}],
	"services/api/db/migrations/001.sql": [{"class": "protected_folder", "pattern": "**/migrations/**", "reason": "schema migrations: change stored data irreversibly"}],
	"home/.ssh/id_ed25519": [{"class": "protected_secret", "pattern": "**/id_ed25519*", "reason": "SSH key"}, {"class": "protected_folder", "pattern": "**/.ssh/**", "reason": "SSH keys and configuration"}],
	"infra/terraform.tfstate": [{"class": "protected_secret", "pattern": "**/*.tfstate", "reason": "Terraform state: holds resource secrets in clear"}],
	".gitlab-ci.yml": [{"class": "ci", "pattern": "**/.gitlab-ci.yml", "reason": "GitLab CI pipeline"}],
	"deep/nested/.GitLab-CI.yml": [{"class": "ci", "pattern": "**/.gitlab-ci.yml", "reason": "GitLab CI pipeline"}],
	"sub/dir/.gitattributes": [{"class": "repo_behaviour", "pattern": "**/.gitattributes", "reason": "filters, diff and merge drivers, line endings; `-diff` or `linguist-generated` hide changes from review (any depth: attributes apply per folder)"}],
	"pkg/.husky/pre-commit": [{"class": "repo_behaviour", "pattern": "**/.husky/**", "reason": "git hooks (husky): run on every developer's commit and push"}],
	"svc/.circleci/config.yml": [{"class": "ci", "pattern": "**/.circleci/**", "reason": "CircleCI pipeline"}],
	".husky/pre-commit": [{"class": "repo_behaviour", "pattern": "**/.husky/**", "reason": "git hooks (husky): run on every developer's commit and push"}],
	".gitmodules": [{"class": "repo_behaviour", "pattern": "**/.gitmodules", "reason": "submodule URLs: pull code from other repositories"}],
	"Jenkinsfile": [{"class": "ci", "pattern": "**/Jenkinsfile", "reason": "Jenkins pipeline"}],
	"lefthook.yml": [{"class": "repo_behaviour", "pattern": "**/lefthook.*", "reason": "git hooks (lefthook)"}],
	".pre-commit-config.yaml": [{"class": "repo_behaviour", "pattern": "**/.pre-commit-config.yaml", "reason": "pre-commit hooks: code run on developers' commits"}],
	".forgejo/workflows/ci.yml": [{"class": "ci", "pattern": "**/.forgejo/workflows/**", "reason": "Forgejo Actions workflows"}, {"class": "repo_behaviour", "pattern": "**/.forgejo/**", "reason": "Forgejo forge settings and templates"}],
	".github/CODEOWNERS": [{"class": "repo_behaviour", "pattern": "**/.github/**", "reason": "forge settings: CODEOWNERS, Dependabot, repository settings apps, templates"}, {"class": "repo_behaviour", "pattern": "**/CODEOWNERS", "reason": "who must review which paths"}],
	"sub/.gitignore": [{"class": "ignore_rules", "pattern": "**/.gitignore", "reason": "an ignore rule removed lets local secrets (.env, keys) in with the next `git add -A`; one added hides new files from `git status` (high, not governance: changing it runs nothing)"}]
}
# END path facts

# Runtime memory (R-009): setting behavior/personality entries is at least medium, named.
test_a_runtime_memory_change_is_medium if {
	d := oxide.decision with input as object.union(base, {"proposal": {"memory": [{"namespace": "behavior", "key": "review.tone"}]}})
	d.risk == "medium"
	d.required.count == 2
	some e in d.escalations
	e.rule == "oxide.memory_change"
	contains(e.message, "behavior/review.tone")
}

test_no_memory_change_no_memory_rule if {
	d := oxide.decision with input as base
	every e in d.escalations {
		e.rule != "oxide.memory_change"
	}
}
