use super::*;

fn entry(path: &str, at: &str) -> RecentWorkspace {
    RecentWorkspace {
        path: path.into(),
        opened_at: at.into(),
    }
}

fn paths(list: &[RecentWorkspace]) -> Vec<&str> {
    list.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn remember_puts_newest_first_without_duplicates() {
    let list = vec![entry("/a", "1"), entry("/b", "2"), entry("/c", "3")];
    let out = remember(&list, "/b", "9", MAX_RECENT);
    assert_eq!(paths(&out), ["/b", "/a", "/c"]);
    assert_eq!(out[0].opened_at, "9");
}

#[test]
fn remember_caps_the_list() {
    let list: Vec<_> = (0..MAX_RECENT)
        .map(|i| entry(&format!("/w{i}"), "t"))
        .collect();
    let out = remember(&list, "/new", "t", MAX_RECENT);
    assert_eq!(out.len(), MAX_RECENT);
    assert_eq!(out[0].path, "/new");
    assert_eq!(out.last().unwrap().path, format!("/w{}", MAX_RECENT - 2));
}

#[test]
fn forget_removes_one() {
    let list = vec![entry("/a", "1"), entry("/b", "2")];
    assert_eq!(paths(&forget(&list, "/a")), ["/b"]);
}

#[test]
fn parse_tolerates_garbage_and_cleans_entries() {
    assert!(parse("not json").is_empty());
    assert!(parse(r#"{"version": 99, "workspaces": []}"#).is_empty());
    let text = r#"{"version":1,"workspaces":[
        {"path":"/a","opened_at":"1"},{"path":"  ","opened_at":"2"},{"path":"/a","opened_at":"3"}]}"#;
    assert_eq!(parse(text), vec![entry("/a", "1")]);
}

#[test]
fn save_then_load_round_trips_and_missing_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/recent.json");
    assert!(load(&file).is_empty());
    let list = vec![entry("/a", "1"), entry("/b", "2")];
    save(&file, &list).unwrap();
    assert_eq!(load(&file), list);
    assert!(!file.with_extension("json.tmp").exists());
}

#[test]
fn retain_existing_drops_vanished_folders() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().display().to_string();
    let list = vec![entry(&here, "1"), entry("/definitely/not/here", "2")];
    assert_eq!(paths(&retain_existing(&list)), [here.as_str()]);
}
