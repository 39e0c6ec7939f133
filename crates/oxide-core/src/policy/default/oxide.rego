# OXIDE Review default policy (Rego v1), written by `oxide init`.
#
# The evaluator asks for `data.oxide.decision` with the proposal as `input`
# (contract: docs/schemas/policy-input.schema.json) and expects
#   {"risk", "required": {"count", "roles"}, "denials", "warnings", "escalations"}
# (docs/schemas/policy-output.schema.json). Anything else, an error, or running past the
# time limit denies the proposal with POLICY_ERROR (fail closed).
#
# Risk is the highest level any escalation rule raises it to; approvals follow the risk.
# Edit the thresholds and path lists below to tune; `oxide policy sim` shows which past decisions
# a change would flip, `oxide policy test` runs the tests in oxide_test.rego.
package oxide

# ---------------------------------------------------------------- thresholds and path lists

# More changed lines (added + removed) than this is a medium-sized change ...
medium_change_lines := 50

# ... and more than this a large one.
large_change_lines := 200

# Touching more files than this raises risk to medium.
many_files := 10

# Governance: changing these changes the rules themselves. Always critical; never
# proposable by O.X.I.D.E. Matched case-insensitively: a folder prefix, or an exact file.
# (Plain string tests, not glob.match: they keep an evaluation well under a millisecond.)
governance_prefixes := [
	".oxide/",
	".github/workflows/",
	".github/actions/",
	".gitlab/",
	".circleci/",
	".buildkite/",
]

governance_files := {
	".github/codeowners",
	"codeowners",
	"docs/codeowners",
	".gitlab-ci.yml",
	"jenkinsfile",
	"azure-pipelines.yml",
	".gitmodules",
}

# Protected paths: secrets, keys, authentication, schema migrations. High risk.
protected_prefixes := ["migrations/"]

# Any folder of the path named like this.
protected_folders := {"secrets", "auth", "security"}

protected_suffixes := [".pem", ".key"]

# Who must approve, per risk level: `count` distinct persons, one role per person slot
# (`approver` = anyone in the trust registry).
required_by_risk := {
	"low": {"count": 1, "roles": ["approver"]},
	"medium": {"count": 2, "roles": ["approver", "approver"]},
	"high": {"count": 2, "roles": ["lead", "approver"]},
	"critical": {"count": 3, "roles": ["lead", "lead", "maintainer"]},
}

# ---------------------------------------------------------------- facts

levels := ["low", "medium", "high", "critical"]

rank := {"low": 0, "medium": 1, "high": 2, "critical": 3}

paths := input.proposal.touched_paths

changed_lines := input.proposal.lines_added + input.proposal.lines_removed

oxide_synthesized if input.provenance.synthesizer in {"ollama", "replay"}

# Per-path tests are written inline with built-ins (strings.any_prefix_match, set
# membership, contains) rather than as functions or glob.match: a decision then stays well
# under a millisecond.

governance_touched contains p if {
	some p in paths
	strings.any_prefix_match(lower(p), governance_prefixes)
}

governance_touched contains p if {
	some p in paths
	lower(p) in governance_files
}

# "/auth/" for "auth": a folder anywhere in "/<path>".
protected_folder_marks := {concat("", ["/", f, "/"]) | some f in protected_folders}

protected_candidates contains p if {
	some p in paths
	strings.any_prefix_match(p, protected_prefixes)
}

protected_candidates contains p if {
	some p in paths
	strings.any_suffix_match(p, protected_suffixes)
}

protected_candidates contains p if {
	some p in paths
	q := concat("", ["/", p])
	some mark in protected_folder_marks
	contains(q, mark)
}

# `.env` and `.env.*` files anywhere.
protected_candidates contains p if {
	some p in paths
	q := concat("", ["/", p])
	endswith(q, "/.env")
}

protected_candidates contains p if {
	some p in paths
	q := concat("", ["/", p])
	contains(q, "/.env.")
}

protected_touched := protected_candidates - governance_touched

# Paths that could dodge these tests: absolute, `.`/`..`/empty segments, backslashes.
odd_paths contains p if {
	some p in paths
	q := concat("", ["/", p, "/"])
	some bad in ["//", "/./", "/../", "\\"]
	contains(q, bad)
}

deleted contains op.path if {
	some op in input.proposal.ops
	op.op == "delete_file"
}

capsule_matches(t, p) if {
	t.kind in {"path", "file"}
	t.id == p
}

capsule_matches(t, p) if {
	t.kind in {"path", "file"}
	glob.match(t.id, ["/"], p)
}

capsule_hits contains c if {
	some c in input.capsules
	c.eligible
	some p in paths
	capsule_matches(c.target, p)
}

# ---------------------------------------------------------------- escalations

escalations contains e if {
	count(governance_touched) > 0
	e := {
		"rule": "oxide.governance_change",
		"risk": "critical",
		"message": sprintf("changes governance files: %s", [concat(", ", sort(governance_touched))]),
	}
}

escalations contains e if {
	count(odd_paths) > 0
	e := {
		"rule": "oxide.path_not_normalized",
		"risk": "critical",
		"message": sprintf("paths are not normalized repository paths: %s", [concat(", ", sort(odd_paths))]),
	}
}

escalations contains e if {
	count(protected_touched) > 0
	e := {
		"rule": "oxide.protected_path",
		"risk": "high",
		"message": sprintf("touches protected paths: %s", [concat(", ", sort(protected_touched))]),
	}
}

escalations contains e if {
	changed_lines > large_change_lines
	e := {
		"rule": "oxide.large_change",
		"risk": "high",
		"message": sprintf("%d lines changed, more than %d", [changed_lines, large_change_lines]),
	}
}

escalations contains e if {
	changed_lines > medium_change_lines
	changed_lines <= large_change_lines
	e := {
		"rule": "oxide.medium_change",
		"risk": "medium",
		"message": sprintf("%d lines changed, more than %d", [changed_lines, medium_change_lines]),
	}
}

escalations contains e if {
	count(deleted) > 0
	e := {
		"rule": "oxide.deletion",
		"risk": "medium",
		"message": sprintf("deletes files: %s", [concat(", ", sort(deleted))]),
	}
}

escalations contains e if {
	count(paths) > many_files
	e := {
		"rule": "oxide.many_files",
		"risk": "medium",
		"message": sprintf("touches %d files, more than %d", [count(paths), many_files]),
	}
}

# ---------------------------------------------------------------- denials

denials contains d if {
	count(governance_touched) > 0
	oxide_synthesized
	d := {
		"policy_reason_code": "GOVERNANCE_BY_OXIDE",
		"rule": "oxide.governance_by_oxide",
		"message": sprintf(
			"O.X.I.D.E (%s) may not propose governance changes: %s",
			[input.provenance.synthesizer, concat(", ", sort(governance_touched))],
		),
	}
}

denials contains d if {
	count(odd_paths) > 0
	d := {
		"policy_reason_code": "PATH_NOT_NORMALIZED",
		"rule": "oxide.path_not_normalized",
		"message": sprintf("paths must be normalized repository paths: %s", [concat(", ", sort(odd_paths))]),
	}
}

denials contains d if {
	some c in input.validation.checks
	c.required
	c.status != "passed"
	d := {
		"policy_reason_code": "REQUIRED_CHECK_FAILED",
		"rule": "oxide.required_checks",
		"message": sprintf("required check '%s' did not pass (%s)", [c.name, c.status]),
	}
}

denials contains d if {
	input.settings.rollout_mode == "prescriptive"
	some c in capsule_hits
	d := {
		"policy_reason_code": "CAPSULE_PRESCRIPTIVE",
		"rule": "oxide.capsule_gate",
		"message": sprintf(
			"an eligible failure capsule (%s, confidence %v) matches %s %s; prescriptive mode denies",
			[c.failure_reason_code, c.confidence, c.target.kind, c.target.id],
		),
	}
}

# ---------------------------------------------------------------- warnings

warnings contains w if {
	input.settings.rollout_mode == "guided"
	some c in capsule_hits
	w := {
		"code": "CAPSULE_GUIDED",
		"rule": "oxide.capsule_gate",
		"message": sprintf(
			"an eligible failure capsule (%s, confidence %v) matches %s %s; this change failed like this before",
			[c.failure_reason_code, c.confidence, c.target.kind, c.target.id],
		),
	}
}

warnings contains w if {
	not input.validation.ran
	w := {
		"code": "CHECKS_NOT_RUN",
		"rule": "oxide.required_checks",
		"message": "the CI contract has not run for this proposal yet; run `oxide validate` before approving",
	}
}

# ---------------------------------------------------------------- the decision

# The evaluator checks the input against its contract first; this guard keeps the policy
# fail-closed on its own too (e.g. under `opa eval`): no decision without the facts it reads.
input_ok if {
	input.version == "oxide.policy.input/v1"
	is_array(input.proposal.touched_paths)
	is_array(input.proposal.ops)
	is_number(input.proposal.lines_added)
	is_number(input.proposal.lines_removed)
	is_string(input.provenance.synthesizer)
	is_boolean(input.validation.ran)
	is_array(input.validation.checks)
	is_array(input.capsules)
	is_string(input.settings.rollout_mode)
}

risk := levels[max({0} | {rank[e.risk] | some e in escalations})]

decision := {
	"risk": risk,
	"required": required_by_risk[risk],
	"denials": [d | some d in denials],
	"warnings": [w | some w in warnings],
	"escalations": [e | some e in escalations],
} if input_ok
