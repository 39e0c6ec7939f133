//! The one list of sensitive repository paths: governance, CI and repository-behaviour
//! files, secrets and protected folders, each entry with the reason it is on the list.
//!
//! Everything that judges a path by what it is uses this list and nothing else:
//! synthesis refuses intents touching the governance classes and never sends any listed
//! file to the model as context (`synth`), and the policy input carries each touched path's
//! matches (`input.paths`, filled by `policy::input`), so synthesis and policy cannot
//! disagree. `docs/policy.md` shows the table generated from [`RULES`] (a test fails when
//! it is stale).
//!
//! Matching: every pattern is a glob (`globset`) starting with `**/`, so it matches at any
//! depth (a nested copy may govern a nested project, and erring high only costs a review);
//! `*` never crosses `/`; and matching ignores case (`Secrets/`, `.PEM`, `.ENV`,
//! `.GitHub/Workflows/` are what their lower-case names are: file systems and forges that
//! fold case would treat them so).

use std::sync::LazyLock;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a listed path is. The default policy maps classes to risk: the governance classes
/// are critical, the others high.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum PathClass {
    /// OXIDE Review's own rules (`.oxide/`).
    Governance,
    /// Continuous-integration definitions: code that runs with the project's CI secrets.
    Ci,
    /// Files that change how git, the forge or developers' machines behave (attributes,
    /// submodules, hooks, code owners, bots).
    RepoBehaviour,
    /// Keys, credentials and environment files.
    ProtectedSecret,
    /// Folders holding secrets, authentication, security code or schema migrations.
    ProtectedFolder,
    /// Rules that decide which files git tracks or a package or image ships.
    IgnoreRules,
}

impl PathClass {
    pub const ALL: [PathClass; 6] = [
        PathClass::Governance,
        PathClass::Ci,
        PathClass::RepoBehaviour,
        PathClass::ProtectedSecret,
        PathClass::ProtectedFolder,
        PathClass::IgnoreRules,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PathClass::Governance => "governance",
            PathClass::Ci => "ci",
            PathClass::RepoBehaviour => "repo_behaviour",
            PathClass::ProtectedSecret => "protected_secret",
            PathClass::ProtectedFolder => "protected_folder",
            PathClass::IgnoreRules => "ignore_rules",
        }
    }

    /// A governance change: the rules, CI, or repository behaviour. Always the highest
    /// risk, and never proposed by O.X.I.D.E.
    pub fn is_governance(self) -> bool {
        matches!(
            self,
            PathClass::Governance | PathClass::Ci | PathClass::RepoBehaviour
        )
    }
}

/// One entry of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRule {
    pub class: PathClass,
    /// A glob over `/`-separated repository paths, matched case-insensitively.
    pub pattern: &'static str,
    /// Why the entry is on the list (shown in policy messages and `docs/policy.md`).
    pub reason: &'static str,
}

const fn rule(class: PathClass, pattern: &'static str, reason: &'static str) -> PathRule {
    PathRule {
        class,
        pattern,
        reason,
    }
}

use PathClass::*;

/// The list. Order is only presentation (classes together); a path reports every entry it
/// matches.
#[rustfmt::skip]
pub const RULES: &[PathRule] = &[
    // ------------------------------------------------------------------ governance
    rule(Governance, "**/.oxide/**", "OXIDE Review's own rules: settings, CI contract, policy, approvers"),
    // ------------------------------------------------------------------ CI systems
    rule(Ci, "**/.github/workflows/**", "GitHub Actions workflows: run code with the repository's secrets and token"),
    rule(Ci, "**/.github/actions/**", "local GitHub Actions that workflows run"),
    rule(Ci, "**/.gitlab-ci.yml", "GitLab CI pipeline"),
    rule(Ci, "**/.gitlab/**", "GitLab CI includes and templates, CODEOWNERS, merge-request settings"),
    rule(Ci, "**/.forgejo/workflows/**", "Forgejo Actions workflows"),
    rule(Ci, "**/.gitea/workflows/**", "Gitea Actions workflows"),
    rule(Ci, "**/.circleci/**", "CircleCI pipeline"),
    rule(Ci, "**/Jenkinsfile", "Jenkins pipeline"),
    rule(Ci, "**/Jenkinsfile.*", "Jenkins pipeline variants"),
    rule(Ci, "**/azure-pipelines.yml", "Azure Pipelines"),
    rule(Ci, "**/azure-pipelines.yaml", "Azure Pipelines"),
    rule(Ci, "**/.azure-pipelines/**", "Azure Pipelines templates"),
    rule(Ci, "**/.travis.yml", "Travis CI"),
    rule(Ci, "**/bitbucket-pipelines.yml", "Bitbucket Pipelines"),
    rule(Ci, "**/.buildkite/**", "Buildkite pipeline and hooks"),
    rule(Ci, "**/.drone.yml", "Drone CI pipeline"),
    rule(Ci, "**/.drone.yaml", "Drone CI pipeline"),
    rule(Ci, "**/.drone.star", "Drone CI pipeline (Starlark)"),
    rule(Ci, "**/.woodpecker.yml", "Woodpecker CI pipeline"),
    rule(Ci, "**/.woodpecker.yaml", "Woodpecker CI pipeline"),
    rule(Ci, "**/.woodpecker/**", "Woodpecker CI pipelines"),
    rule(Ci, "**/appveyor.yml", "AppVeyor"),
    rule(Ci, "**/.appveyor.yml", "AppVeyor"),
    rule(Ci, "**/.cirrus.yml", "Cirrus CI"),
    rule(Ci, "**/.semaphore/**", "Semaphore CI"),
    rule(Ci, "**/.tekton/**", "Tekton pipelines"),
    rule(Ci, "**/.teamcity/**", "TeamCity settings (Kotlin DSL)"),
    rule(Ci, "**/cloudbuild.yaml", "Google Cloud Build"),
    rule(Ci, "**/cloudbuild.yml", "Google Cloud Build"),
    rule(Ci, "**/buildspec.yml", "AWS CodeBuild"),
    rule(Ci, "**/.ci/**", "a common folder of CI scripts"),
    // ------------------------------------------------------------------ repository behaviour
    rule(RepoBehaviour, "**/.github/**", "forge settings: CODEOWNERS, Dependabot, repository settings apps, templates"),
    rule(RepoBehaviour, "**/.forgejo/**", "Forgejo forge settings and templates"),
    rule(RepoBehaviour, "**/.gitea/**", "Gitea forge settings and templates"),
    rule(RepoBehaviour, "**/CODEOWNERS", "who must review which paths"),
    rule(RepoBehaviour, "**/.gitattributes", "filters, diff and merge drivers, line endings; `-diff` or `linguist-generated` hide changes from review (any depth: attributes apply per folder)"),
    rule(RepoBehaviour, "**/.gitmodules", "submodule URLs: pull code from other repositories"),
    rule(RepoBehaviour, "**/.lfsconfig", "where Git LFS fetches and pushes objects"),
    rule(RepoBehaviour, "**/.husky/**", "git hooks (husky): run on every developer's commit and push"),
    rule(RepoBehaviour, "**/.githooks/**", "git hooks folder (core.hooksPath)"),
    rule(RepoBehaviour, "**/.git-hooks/**", "git hooks folder (core.hooksPath)"),
    rule(RepoBehaviour, "**/lefthook.*", "git hooks (lefthook)"),
    rule(RepoBehaviour, "**/.lefthook.*", "git hooks (lefthook)"),
    rule(RepoBehaviour, "**/lefthook-local.*", "git hooks (lefthook, local overrides)"),
    rule(RepoBehaviour, "**/.lefthook/**", "git hook scripts (lefthook)"),
    rule(RepoBehaviour, "**/.pre-commit-config.yaml", "pre-commit hooks: code run on developers' commits"),
    rule(RepoBehaviour, "**/.pre-commit-config.yml", "pre-commit hooks: code run on developers' commits"),
    rule(RepoBehaviour, "**/.pre-commit-hooks.yaml", "hooks this repository offers to pre-commit users"),
    rule(RepoBehaviour, "**/.overcommit.yml", "git hooks (overcommit)"),
    rule(RepoBehaviour, "**/renovate.json", "Renovate: a bot that opens and may auto-merge changes"),
    rule(RepoBehaviour, "**/renovate.json5", "Renovate: a bot that opens and may auto-merge changes"),
    rule(RepoBehaviour, "**/.renovaterc*", "Renovate: a bot that opens and may auto-merge changes"),
    rule(RepoBehaviour, "**/.mergify.yml", "Mergify: merge automation"),
    // ------------------------------------------------------------------ secrets
    rule(ProtectedSecret, "**/.env", "environment file: usually secrets"),
    rule(ProtectedSecret, "**/.env.*", "environment file variants (.env.production, ...)"),
    rule(ProtectedSecret, "**/*.env", "environment file (prod.env, ...)"),
    rule(ProtectedSecret, "**/*.pem", "PEM keys and certificates"),
    rule(ProtectedSecret, "**/*.key", "private keys"),
    rule(ProtectedSecret, "**/*.p12", "PKCS#12 key store"),
    rule(ProtectedSecret, "**/*.pfx", "PKCS#12 key store"),
    rule(ProtectedSecret, "**/*.p8", "PKCS#8 private key"),
    rule(ProtectedSecret, "**/*.jks", "Java key store"),
    rule(ProtectedSecret, "**/*.keystore", "key store"),
    rule(ProtectedSecret, "**/*.ppk", "PuTTY private key"),
    rule(ProtectedSecret, "**/*.kdbx", "KeePass database"),
    rule(ProtectedSecret, "**/*.asc", "ASCII-armoured OpenPGP keys"),
    rule(ProtectedSecret, "**/*.gpg", "OpenPGP keys and encrypted files"),
    rule(ProtectedSecret, "**/id_rsa*", "SSH key"),
    rule(ProtectedSecret, "**/id_dsa*", "SSH key"),
    rule(ProtectedSecret, "**/id_ecdsa*", "SSH key"),
    rule(ProtectedSecret, "**/id_ed25519*", "SSH key"),
    rule(ProtectedSecret, "**/.npmrc", "npm registry tokens"),
    rule(ProtectedSecret, "**/.pypirc", "PyPI upload credentials"),
    rule(ProtectedSecret, "**/.netrc", "login credentials for hosts"),
    rule(ProtectedSecret, "**/_netrc", "login credentials for hosts"),
    rule(ProtectedSecret, "**/.git-credentials", "git credentials"),
    rule(ProtectedSecret, "**/.pgpass", "PostgreSQL passwords"),
    rule(ProtectedSecret, "**/.htpasswd", "HTTP basic-auth passwords"),
    rule(ProtectedSecret, "**/.dockercfg", "container registry credentials"),
    rule(ProtectedSecret, "**/.docker/config.json", "container registry credentials"),
    rule(ProtectedSecret, "**/credentials", "cloud credentials (AWS and others)"),
    rule(ProtectedSecret, "**/credentials.json", "service credentials"),
    rule(ProtectedSecret, "**/kubeconfig", "Kubernetes cluster credentials"),
    rule(ProtectedSecret, "**/*.kubeconfig", "Kubernetes cluster credentials"),
    rule(ProtectedSecret, "**/*.tfstate", "Terraform state: holds resource secrets in clear"),
    rule(ProtectedSecret, "**/*.tfstate.*", "Terraform state backups"),
    rule(ProtectedSecret, "**/*.tfvars", "Terraform variables: often secrets"),
    rule(ProtectedSecret, "**/secrets.*", "secrets file (secrets.yml, secrets.json, ...)"),
    // ------------------------------------------------------------------ protected folders
    rule(ProtectedFolder, "**/secrets/**", "secrets folder"),
    rule(ProtectedFolder, "**/auth/**", "authentication code"),
    rule(ProtectedFolder, "**/security/**", "security code and policy"),
    rule(ProtectedFolder, "**/migrations/**", "schema migrations: change stored data irreversibly"),
    rule(ProtectedFolder, "**/.ssh/**", "SSH keys and configuration"),
    rule(ProtectedFolder, "**/.aws/**", "AWS credentials and configuration"),
    rule(ProtectedFolder, "**/.gnupg/**", "OpenPGP keyrings"),
    rule(ProtectedFolder, "**/.kube/**", "Kubernetes credentials"),
    // ------------------------------------------------------------------ ignore rules
    rule(IgnoreRules, "**/.gitignore", "an ignore rule removed lets local secrets (.env, keys) in with the next `git add -A`; one added hides new files from `git status` (high, not governance: changing it runs nothing)"),
    rule(IgnoreRules, "**/.dockerignore", "decides which files are copied into container images"),
    rule(IgnoreRules, "**/.npmignore", "decides which files an npm package publishes"),
];

static SET: LazyLock<GlobSet> = LazyLock::new(|| {
    let mut b = GlobSetBuilder::new();
    for r in RULES {
        b.add(
            GlobBuilder::new(r.pattern)
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .expect("every pattern of the path list is a valid glob (tested)"),
        );
    }
    b.build().expect("the path list builds (tested)")
});

/// Every entry `path` matches, in list order.
pub fn classify(path: &str) -> Vec<&'static PathRule> {
    let mut hits = SET.matches(path);
    hits.sort_unstable();
    hits.into_iter().map(|i| &RULES[i]).collect()
}

/// A governance change (`.oxide/`, CI, repository behaviour): the highest risk, never
/// proposed by O.X.I.D.E.
pub fn is_governance(path: &str) -> bool {
    classify(path).iter().any(|r| r.class.is_governance())
}

/// Any listed path: its contents are never sent to the model as context.
pub fn is_listed(path: &str) -> bool {
    SET.is_match(path)
}

/// The list as a Markdown table (the generated part of `docs/policy.md`).
pub fn markdown_table() -> String {
    let mut out = String::from("| class | pattern | why |\n| --- | --- | --- |\n");
    for r in RULES {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            r.class.as_str(),
            r.pattern,
            r.reason.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(p: &str) -> Vec<PathClass> {
        let mut v: Vec<PathClass> = classify(p).iter().map(|r| r.class).collect();
        v.dedup();
        v
    }

    #[test]
    fn every_pattern_is_a_valid_glob_anchored_at_any_depth() {
        assert_eq!(SET.len(), RULES.len());
        for r in RULES {
            assert!(r.pattern.starts_with("**/"), "{}", r.pattern);
            assert!(!r.reason.is_empty(), "{}", r.pattern);
        }
        for c in PathClass::ALL {
            assert!(RULES.iter().any(|r| r.class == c), "{c:?} has entries");
        }
    }

    // Moved from `proposal::apply` (the old governance list); assertions kept.
    #[test]
    fn governance_paths() {
        for p in [
            ".oxide/oxide.toml",
            ".github/workflows/ci.yml",
            ".GitHub/x",
            ".ci/run",
            ".gitlab-ci.yml",
            "Jenkinsfile",
        ] {
            assert!(is_governance(p), "{p}");
        }
        for p in ["src/.oxide", "docs/github.md", "ci/run"] {
            assert!(!is_governance(p), "{p}");
        }
    }

    #[test]
    fn ci_systems_and_repository_behaviour_are_governance() {
        for p in [
            ".gitlab-ci.yml",
            ".circleci/config.yml",
            "Jenkinsfile",
            "azure-pipelines.yml",
            ".travis.yml",
            "bitbucket-pipelines.yml",
            ".buildkite/pipeline.yml",
            ".drone.yml",
            ".woodpecker.yml",
            ".woodpecker/build.yaml",
            ".forgejo/workflows/ci.yml",
            ".gitea/workflows/ci.yml",
            ".github/actions/setup/action.yml",
            ".github/CODEOWNERS",
            ".github/dependabot.yml",
            "docs/CODEOWNERS",
            "sub/dir/.gitattributes",
            ".gitmodules",
            ".husky/pre-commit",
            "lefthook.yml",
            ".pre-commit-config.yaml",
            ".githooks/pre-push",
            "renovate.json",
        ] {
            assert!(is_governance(p), "{p}");
            assert!(is_listed(p), "{p}");
        }
    }

    #[test]
    fn matching_ignores_case_and_folders_match_at_any_depth() {
        for (p, c) in [
            ("Secrets/token", ProtectedFolder),
            ("a/b/.ENV", ProtectedSecret),
            ("keys/deploy.PEM", ProtectedSecret),
            ("services/api/db/migrations/001.sql", ProtectedFolder),
            ("x/Auth/login.rs", ProtectedFolder),
            ("deep/.GitLab-CI.yml", Ci),
            ("pkg/.Husky/pre-commit", RepoBehaviour),
            ("sub/dir/.GitAttributes", RepoBehaviour),
            ("Sub/.OXIDE/checks.toml", Governance),
            ("infra/prod/Terraform.TFSTATE", ProtectedSecret),
            ("home/.SSH/id_ED25519", ProtectedSecret),
            ("a/.gitignore", IgnoreRules),
        ] {
            assert!(classes(p).contains(&c), "{p}: {:?}", classes(p));
        }
        // Both the specific and the general entry are reported.
        assert_eq!(classes(".github/workflows/ci.yml"), [Ci, RepoBehaviour]);
    }

    #[test]
    fn similar_names_are_not_listed() {
        for p in [
            "src/author.rs",
            "docs/environment.md",
            "src/keys.rs",
            "src/.oxide",
            "docs/github.md",
            "ci/run",
            "src/secrets.rs.txt/x",
            "README.md",
            "src/migration.rs",
            "src/env.rs",
            "key",
        ] {
            assert!(classify(p).is_empty(), "{p}: {:?}", classify(p));
            assert!(!is_listed(p), "{p}");
        }
    }

    #[test]
    fn the_table_in_docs_is_current() {
        const BEGIN: &str = "<!-- BEGIN path list: generated from proposal::paths::RULES -->\n";
        const END: &str = "<!-- END path list -->";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("docs/policy.md lacks the path list markers");
        };
        let want = markdown_table();
        let have = &text[b + BEGIN.len()..e];
        if have != want && std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1") {
            let fresh = format!("{}{want}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(&path, fresh).unwrap();
            return;
        }
        assert_eq!(
            have, want,
            "docs/policy.md's path list is stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core proposal::paths"
        );
    }
}
