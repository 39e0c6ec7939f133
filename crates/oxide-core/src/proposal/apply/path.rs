//! The path rules that need no base, and which paths are governance files.

use super::codes;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// Escapes one RFC 6901 reference token.
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Checks a path against the rules that need no base. `Err` carries (code, message).
pub fn check_path(path: &str) -> Result<(), (&'static str, String)> {
    if path.is_empty() {
        return Err((
            codes::PATH_INVALID,
            "the path is empty; give a repository-relative path such as `src/lib.rs`".into(),
        ));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err((
            codes::PATH_INVALID,
            format!(
                "the path is {} bytes long; at most {MAX_PATH_BYTES} are accepted",
                path.len()
            ),
        ));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err((
            codes::PATH_INVALID,
            "the path contains a control character".into(),
        ));
    }
    if let Some(c) = path.chars().find(|&c| is_invisible(c)) {
        return Err((
            codes::PATH_INVALID,
            format!(
                "the path contains the invisible character U+{:04X}; a path that looks like \
                 another one is refused (write it without invisible or look-alike spacing \
                 characters)",
                c as u32
            ),
        ));
    }
    if path.contains('\\') {
        return Err((
            codes::PATH_INVALID,
            format!("`{path}` contains a backslash; separate components with `/`"),
        ));
    }
    if path.starts_with('/') {
        return Err((
            codes::PATH_ESCAPE,
            format!("`{path}` is absolute; paths are relative to the repository root"),
        ));
    }
    let comps: Vec<&str> = path.split('/').collect();
    if comps[0].len() == 2
        && comps[0].ends_with(':')
        && comps[0].as_bytes()[0].is_ascii_alphabetic()
    {
        return Err((
            codes::PATH_ESCAPE,
            format!(
                "`{path}` starts with a drive letter; paths are relative to the repository root"
            ),
        ));
    }
    for c in &comps {
        match *c {
            "" => {
                return Err((
                    codes::PATH_INVALID,
                    format!("`{path}` has an empty component (`//` or a trailing `/`)"),
                ))
            }
            "." => {
                return Err((
                    codes::PATH_INVALID,
                    format!("`{path}` has a `.` component; write the path without it"),
                ))
            }
            ".." => {
                return Err((
                    codes::PATH_ESCAPE,
                    format!("`{path}` has a `..` component and could leave the repository"),
                ))
            }
            c if c.eq_ignore_ascii_case(".git") => {
                return Err((
                    codes::PATH_GIT_DIR,
                    format!("`{path}` is inside a `.git` directory, which no intent may touch"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A character a reviewer cannot see, or that looks like a plain space: Unicode format
/// characters (zero-width spaces and joiners, bidi controls, the BOM, tag characters), line and
/// paragraph separators, and every space separator but U+0020. Such a path can pass for
/// another (`Secrets\u{200B}/token` reads as `Secrets/token` but matches no path rule).
fn is_invisible(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    match get_general_category(c) {
        G::Format | G::LineSeparator | G::ParagraphSeparator => true,
        G::SpaceSeparator => c != ' ',
        _ => false,
    }
}
