//! The README's screenshots (issue 14, item 7): every `docs/screens/*.png` the README shows
//! exists and is a real screenshot. They are produced by the desktop journeys (`docs-*.png`
//! under `$OXIDE_ARTIFACTS`) and copied by `scripts/screens`; this fails when one is missing,
//! so a README picture never silently disappears.

use oxide_journeys::desktop::{png_size, repo_root};

/// The README's main screens, one per person the product is for.
const REQUIRED: &[&str] = &[
    "docs/screens/approver-page.png",
    "docs/screens/lead-inbox.png",
    "docs/screens/maintainer-timeline.png",
    "docs/screens/maintainer-charts.png",
    "docs/screens/maintainer-governance.png",
];

/// Every `docs/screens/<name>.png` the text mentions, in order, without duplicates.
fn referenced(readme: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = readme;
    while let Some(i) = rest.find("docs/screens/") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            .unwrap_or(tail.len());
        let path = &tail[..end];
        if path.ends_with(".png") && !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
        rest = &tail[end.max(1)..];
    }
    out
}

#[test]
fn referenced_finds_every_png_once() {
    let text = "![a](docs/screens/a-b.png) and <img src=\"docs/screens/c.png\"> docs/screens/a-b.png docs/screens/x.txt";
    assert_eq!(
        referenced(text),
        ["docs/screens/a-b.png", "docs/screens/c.png"]
    );
}

#[test]
fn every_readme_screenshot_exists() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let refs = referenced(&readme);
    for r in REQUIRED {
        assert!(
            refs.iter().any(|x| x == r),
            "README.md does not show {r} (its Screens section must)"
        );
    }
    let mut missing = Vec::new();
    for r in &refs {
        match std::fs::read(root.join(r)) {
            Ok(bytes) => {
                let (w, h) = png_size(&bytes)
                    .unwrap_or_else(|| panic!("{r} is not a PNG; re-run scripts/screens"));
                assert!(
                    w >= 640 && h >= 400,
                    "{r} is {w}x{h}: not a window screenshot"
                );
            }
            Err(_) => missing.push(r.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "README.md shows screenshots that do not exist: {missing:?}. Run the desktop journeys \
         (bash scripts/test), then `bash scripts/screens`, and commit docs/screens/"
    );
}
