# OXIDE Review default policy (Rego v1), written by `oxide init`.
#
# The evaluator asks for `data.oxide.decision` with the proposal as `input`
# (contract: docs/schemas/policy-input.schema.json) and expects
#   {"risk", "required": {"count", "roles"}, "denials", "warnings", "escalations"}
# (docs/schemas/policy-output.schema.json). Anything else, an error, or running past the
# time limit denies the proposal with POLICY_ERROR (fail closed).
#
# Risk is the highest level any escalation rule raises it to; approvals follow the risk.
# Edit the thresholds and path-class risks below to tune; `oxide policy sim` shows which
# past decisions a change would flip, `oxide policy test` runs the tests in oxide_test.rego.
package oxide

# ---------------------------------------------------------------- thresholds and path classes

# More changed lines (added + removed) than this is a medium-sized change ...
medium_change_lines := 50

# ... and more than this a large one.
large_change_lines := 200

# Touching more files than this raises risk to medium.
many_files := 10

# Size is the real diff of the base tree against the proposal's tree (`input.proposal.size`),
# never the intent's own count: a line longer than `size.max_line_bytes` counts as several
# lines, so `lines_added`/`lines_removed` cannot be kept small by writing one giant line.
# More changed bytes (added + removed) than this is a large change whatever the line count.
large_change_bytes := 65536

# Deleting more than this share of the base tree's files, or removing more than this share
# of its bytes, is high risk: most of a repository should not disappear in one review.
mass_deletion_share := 0.5

# Binary files cannot be reviewed as a diff: changing one is at least medium.
binary_change_risk := "medium"

# A change split into several proposals is judged as a whole: the recent proposals of the
# same skill and of the same submitter (`input.window`, the last days / proposals) are added
# to this one and judged by the size thresholds above.

# Sensitive paths are not listed here: OXIDE keeps ONE list (governance, CI, repository
# behaviour, secrets, protected folders, ignore rules; each entry with its reason, see
# docs/policy.md), defined in Rust and shared with synthesis, which never proposes a
# governance change nor shows a listed file to the model. The evaluator classifies every
# touched path with it (case-insensitive, at any depth) and hands the matches in as
# `input.paths`: [{"path", "class", "pattern", "reason"}]. Tune the risk of each class here;
# add project-specific paths with rules of your own below.

# Governance: changing these changes the rules themselves. Always critical; never
# proposable by O.X.I.D.E.
governance_classes := {"governance", "ci", "repo_behaviour"}

# Protected: secrets, keys, authentication, migrations, ignore rules. High risk.
protected_classes := {"protected_secret", "protected_folder", "ignore_rules"}

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

# Paths are classified by the evaluator (`input.paths`); here only set lookups, so a
# decision stays well under a millisecond. A path that is not normalized has its own
# critical rule and denial below, and is left out of the class rules.

governance_facts contains f if {
	some f in input.paths
	f.class in governance_classes
	not f.path in odd_paths
}

governance_touched := {f.path | some f in governance_facts}

protected_facts contains f if {
	some f in input.paths
	f.class in protected_classes
	not f.path in governance_touched
	not f.path in odd_paths
}

protected_touched := {f.path | some f in protected_facts}

# "path (class: why)" for each match, for the messages.
explain(facts) := concat(", ", sort({sprintf("%s (%s: %s)", [f.path, f.class, f.reason]) | some f in facts}))

# Paths that could dodge these tests: absolute, `.`/`..`/empty segments, backslashes.
odd_paths contains p if {
	some p in paths
	q := concat("", ["/", p, "/"])
	some bad in ["//", "/./", "/../", "\\"]
	contains(q, bad)
}

# The real diff's facts (`null` in a bare document: then only the intent's counts exist).
size := input.proposal.size if is_object(input.proposal.size)

changed_bytes := size.bytes_added + size.bytes_removed

binary_paths contains f.path if {
	some f in size.files
	f.binary
}

deleted_file_share := size.files_deleted / size.base_files if size.base_files > 0

removed_byte_share := size.bytes_removed / size.base_bytes if size.base_bytes > 0

# The windows of recent proposals that hold at least one other proposal.
window_kinds := {"skill", "submitter"}

window(kind) := w if {
	w := input.window[kind]
	is_object(w)
	w.proposals > 0
}

window_lines(w) := (changed_lines + w.lines_added) + w.lines_removed

window_bytes(w) := ((object.get(size, "bytes_added", 0) + object.get(size, "bytes_removed", 0)) + w.bytes_added) + w.bytes_removed

window_says(kind, w) := sprintf(
	"with the %d other recent proposal(s) of the same %s %s in the last %d days (%s)",
	[w.proposals, kind, w.key, input.window.days, concat(", ", w.ids)],
)

deleted contains op.path if {
	some op in input.proposal.ops
	op.op == "delete_file"
}

# Required checks that ran on the host: the committed contract says `sandbox = false`, so the
# proposal's code ran with the user's files, sockets and network. A missing `sandboxed` fact
# (an input recorded before the fact existed) counts as unsandboxed.
unsandboxed_required contains c.name if {
	some c in input.validation.checks
	c.required
	not c.sandboxed
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
		"message": sprintf("changes governance files: %s", [explain(governance_facts)]),
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
		"message": sprintf("touches protected paths: %s", [explain(protected_facts)]),
	}
}

escalations contains e if {
	count(unsandboxed_required) > 0
	e := {
		"rule": "oxide.unsandboxed_check",
		"risk": "high",
		"message": sprintf(
			"required checks ran without the sandbox (sandbox = false in the contract), with the user's files, sockets and network: %s",
			[concat(", ", sort(unsandboxed_required))],
		),
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

# Runtime memory (R-009): a proposal setting behavior/personality entries of the shared
# memory changes how the brains act, with no diff to review in the repository. At least
# medium (the evaluator denies a lower rating whatever the policy says).
memory_risk := "medium"

escalations contains e if {
	count(object.get(input.proposal, "memory", [])) > 0
	e := {
		"rule": "oxide.memory_change",
		"risk": memory_risk,
		"message": sprintf("sets runtime memory entries: %s", [concat(", ", sort({sprintf("%s/%s", [m.namespace, m.key]) | some m in input.proposal.memory}))]),
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
	changed_bytes > large_change_bytes
	e := {
		"rule": "oxide.large_change_bytes",
		"risk": "high",
		"message": sprintf("%d bytes changed, more than %d (%d lines, a line longer than %d bytes counted as several)", [changed_bytes, large_change_bytes, changed_lines, size.max_line_bytes]),
	}
}

escalations contains e if {
	deleted_file_share > mass_deletion_share
	e := {
		"rule": "oxide.mass_deletion",
		"risk": "high",
		"message": sprintf("deletes %d of the repository's %d files, more than a share of %v", [size.files_deleted, size.base_files, mass_deletion_share]),
	}
}

escalations contains e if {
	removed_byte_share > mass_deletion_share
	e := {
		"rule": "oxide.mass_deletion",
		"risk": "high",
		"message": sprintf("removes %d of the repository's %d bytes, more than a share of %v", [size.bytes_removed, size.base_bytes, mass_deletion_share]),
	}
}

escalations contains e if {
	count(binary_paths) > 0
	e := {
		"rule": "oxide.binary_change",
		"risk": binary_change_risk,
		"message": sprintf("changes binary files, which cannot be reviewed as a diff: %s", [concat(", ", sort(binary_paths))]),
	}
}

escalations contains e if {
	some kind in window_kinds
	w := window(kind)
	total := window_lines(w)
	total > large_change_lines
	e := {
		"rule": "oxide.split_change",
		"risk": "high",
		"message": sprintf("%s, %d lines changed, more than %d", [window_says(kind, w), total, large_change_lines]),
	}
}

escalations contains e if {
	some kind in window_kinds
	w := window(kind)
	total := window_lines(w)
	total > medium_change_lines
	total <= large_change_lines
	e := {
		"rule": "oxide.split_change",
		"risk": "medium",
		"message": sprintf("%s, %d lines changed, more than %d", [window_says(kind, w), total, medium_change_lines]),
	}
}

escalations contains e if {
	some kind in window_kinds
	w := window(kind)
	total := window_bytes(w)
	total > large_change_bytes
	e := {
		"rule": "oxide.split_change",
		"risk": "high",
		"message": sprintf("%s, %d bytes changed, more than %d", [window_says(kind, w), total, large_change_bytes]),
	}
}

escalations contains e if {
	some kind in window_kinds
	w := window(kind)
	size.base_files > 0
	n_deleted := size.files_deleted + w.files_deleted
	n_deleted / size.base_files > mass_deletion_share
	e := {
		"rule": "oxide.split_change",
		"risk": "high",
		"message": sprintf("%s, %d of the repository's %d files deleted, more than a share of %v", [window_says(kind, w), n_deleted, size.base_files, mass_deletion_share]),
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

# A touched path is part of a required check's harness (the script it runs, its build/test
# configuration, or a `harness` glob in the contract): the proposal decides what its own
# required checks run, so their "passed" proves little. Facts: `input.harness_paths`, from
# the contract committed on the target branch (absent in older inputs: none).
harness_touched contains sprintf("%s (check '%s': %s)", [h.path, h.check, h.reason]) if {
	some h in object.get(input, "harness_paths", [])
}

escalations contains e if {
	count(harness_touched) > 0
	e := {
		"rule": "oxide.harness_change",
		"risk": "high",
		"message": sprintf(
			"changes what required checks run, so their result cannot vouch for it: %s",
			[concat(", ", sort(harness_touched))],
		),
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

# No allow without a passed validation of the proposal branch's current commit: a finished
# run (`run_id`) of the commit the branch is at now (`branch_commit == head_commit`) with at
# least one required check. Failed required checks are REQUIRED_CHECK_FAILED above. The
# evaluator enforces the same rule on any policy's allow (defence in depth).
validated if {
	input.validation.ran
	is_string(input.validation.run_id)
	is_string(input.validation.branch_commit)
	input.validation.branch_commit == input.validation.head_commit
	some c in input.validation.checks
	c.required
}

denials contains d if {
	not validated
	d := {
		"policy_reason_code": "NOT_VALIDATED",
		"rule": "oxide.not_validated",
		"message": "no passed validation of the proposal branch's current commit (a finished run with at least one required check); run `oxide validate ID`, then evaluate again",
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
	is_array(input.paths)
}

risk := levels[max({0} | {rank[e.risk] | some e in escalations})]

decision := {
	"risk": risk,
	"required": required_by_risk[risk],
	"denials": [d | some d in denials],
	"warnings": [w | some w in warnings],
	"escalations": [e | some e in escalations],
} if input_ok
