//! Desktop journey: the maintainer's Timeline on a workspace with over a hundred thousand
//! audit events. It opens at the newest event, filters to one proposal, jumps to the oldest
//! event, opens an event's detail and verifies the chain; scrolling a page is timed at the
//! newest end and deep in the history, and both are printed. The Timeline and the Charts
//! are saved as the README's maintainer screenshots.
//!
//! A second journey: the device chip. Clone 2 of a team receives clone 1's audit chain
//! through `oxide sync` (as tests/tests/sync.rs builds two devices); the maintainer chooses
//! that device in the Timeline, sees its events (not this device's), verifies its chain and
//! sees which device an event's detail comes from. Attack: a local user of clone 2 edits a
//! received event in the database file past its trigger; the badge turns red naming the
//! first bad seq.

use std::time::Duration;

use oxide_journeys::desktop::{wait_until, DesktopApp, Launch};
use oxide_journeys::history::append_history;
use oxide_journeys::signing::{unique_person, Forget};
use oxide_journeys::{git, manual_bundle, Run, TestRepo};
use serde_json::json;

const EVENTS: u64 = 100_000;

/// Sets the filter field select and types a value, then adds the chip.
fn add_filter(app: &DesktopApp, field: &str, value: &str) {
    app.execute(
        "const s = document.querySelector('[data-testid=filter-field]'); s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true}));",
        &[json!(field)],
    );
    app.type_into("filter-value", value);
    app.click("filter-add");
}

/// The seq shown at the top of the list.
fn top_seq(app: &DesktopApp) -> i64 {
    app.attr("vlist-viewport", "data-top-seq")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

/// Waits until the list shows `seq` at the top and has settled (no page in flight).
fn wait_top(app: &DesktopApp, what: &str, ok: impl Fn(i64) -> bool) -> i64 {
    app.wait_for(what, Duration::from_secs(30), || {
        let idle = app.attr("vlist-viewport", "data-loading").as_deref() == Some("false");
        let top = top_seq(app);
        (idle && ok(top)).then_some(top)
    })
}

/// Presses Page Down in the list `n` times and returns each time, in milliseconds, from the
/// key to the next frame drawn with the new top row.
fn time_pages(app: &DesktopApp, n: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..n {
        app.execute(
            "const v = document.querySelector('[data-testid=vlist-viewport]');
             const before = v.dataset.topSeq;
             const t = { start: performance.now(), end: null };
             window.__oxidePage = t;
             const done = () => requestAnimationFrame(() => { t.end = performance.now(); });
             const obs = new MutationObserver(() => {
               if (v.dataset.topSeq !== before) { obs.disconnect(); done(); }
             });
             obs.observe(v, { attributes: true, subtree: true, childList: true });
             v.dispatchEvent(new KeyboardEvent('keydown', { key: 'PageDown', bubbles: true, cancelable: true }));",
            &[],
        );
        let ms = wait_until(Duration::from_secs(20), "a page to scroll", || {
            app.execute(
                "const t = window.__oxidePage; return t.end === null ? null : t.end - t.start;",
                &[],
            )
            .as_f64()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        times.push(ms);
        // Let the prefetch of the next page settle, as a reader's pause would.
        wait_top(app, "the list to settle", |_| true);
    }
    times
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

#[test]
fn timeline_stays_quick_at_a_hundred_thousand_events() {
    let repo = TestRepo::new();
    repo.init();
    let base = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let bundle = manual_bundle(
        &base,
        &"ab".repeat(32),
        "fix the greeting",
        json!([{"op": "create_file", "path": "NOTES.md", "content": "hello\n"}]),
        "2026-11-20T10:00:00Z",
    );
    let proposal = repo.import_bundle("greeting", &bundle);
    // Many proposals' worth of history; one in a thousand events is about `proposal`.
    let mut subjects: Vec<String> = (0..999).map(|i| format!("p-{i:06x}")).collect();
    subjects.push(proposal.clone());
    let started = std::time::Instant::now();
    let head = append_history(&repo.db(), EVENTS, &subjects, 1_795_000_000);
    eprintln!(
        "[timeline] {EVENTS} events appended in {:.1}s; head seq {head}",
        started.elapsed().as_secs_f64()
    );
    assert!(head > EVENTS as i64);

    let app = Launch::new("desktop-timeline").workspace(&repo).start();
    app.click("nav-timeline");
    app.wait_text("view-title", |t| t == "Timeline");

    // Opens at the newest event.
    let top = wait_top(&app, "the newest event at the top", |s| s > 0);
    assert_eq!(top, head, "the timeline opens at the newest event");
    let first_rows = app.texts("audit-seq");
    assert_eq!(first_rows[0], head.to_string());
    assert_eq!(first_rows[1], (head - 1).to_string(), "newest first");

    // Time scrolling a page at the newest end…
    let at_start = time_pages(&app, 7);
    // …and deep in the history, a few thousand events from the oldest.
    app.type_into("jump-seq", "3000");
    app.click("jump-seq-go");
    wait_top(&app, "seq 3000 at the top", |s| s == 3000);
    let at_end = time_pages(&app, 7);
    let (start_ms, end_ms) = (median(&at_start), median(&at_end));
    eprintln!(
        "[timeline] page scroll at the newest end: median {start_ms:.1} ms {at_start:?}; \
         near the oldest end: median {end_ms:.1} ms {at_end:?}"
    );
    assert!(
        end_ms <= (start_ms * 3.0).max(start_ms + 50.0),
        "a page near the oldest end ({end_ms:.1} ms) must not take much longer than at the newest ({start_ms:.1} ms)"
    );

    // Filter to one proposal: every row is about it.
    add_filter(&app, "subject", &proposal);
    app.wait_for("the filter to apply", Duration::from_secs(30), || {
        // textContent, not the rendered text: with an event's detail open beside the list the
        // subject column can be too narrow to show its text.
        let subjects: Vec<String> = serde_json::from_value(app.execute(
            "return Array.from(document.querySelectorAll('[data-testid=audit-subject]')).map(e => e.textContent.trim());",
            &[],
        ))
        .unwrap_or_default();
        (!subjects.is_empty() && subjects.iter().all(|s| s == &proposal)).then_some(())
    });
    let filtered_top = wait_top(&app, "the filtered list", |s| s > 0);
    assert!(filtered_top <= head);
    assert_eq!(app.texts("filter-chip").len(), 1);

    // Jump to the oldest event of the filtered set: the import's own event comes first.
    app.click("jump-oldest");
    app.wait_for(
        "the oldest matching event at the bottom",
        Duration::from_secs(30),
        || {
            let seqs = app.texts("audit-seq");
            let last: i64 = seqs.last()?.parse().ok()?;
            (last < 10).then_some(())
        },
    );

    // Without the filter, the oldest event is seq 1, the workspace's init.
    app.click("filter-remove");
    app.click("jump-oldest");
    app.wait_for("seq 1 at the bottom", Duration::from_secs(30), || {
        (app.texts("audit-seq").last().map(String::as_str) == Some("1")).then_some(())
    });
    let kinds = app.texts("audit-kind");
    assert_eq!(kinds.last().map(String::as_str), Some("workspace.init"));

    // Open an event's detail: its canonical payload, hash and prev.
    app.execute(
        "[...document.querySelectorAll('[data-testid=vlist-row]')].find(r => r.dataset.seq === '2').click()",
        &[],
    );
    app.wait_text("event-detail-seq", |t| t == "2");
    let hash = app.wait_text("event-detail-hash", |t| t.starts_with("sha256:"));
    let prev = app.text("event-detail-prev");
    assert!(
        prev.starts_with("sha256:") && prev != hash,
        "{prev} / {hash}"
    );
    let payload = app.text("event-detail-payload");
    serde_json::from_str::<serde_json::Value>(&payload)
        .unwrap_or_else(|e| panic!("the payload is JSON ({e}): {payload}"));
    // The list beside the open detail still gives the subject room (it used to be squeezed
    // to a sliver by the fixed columns).
    let widths = app.execute(
        "return [...document.querySelectorAll('[data-testid=audit-subject]')].map(e => e.getBoundingClientRect().width);",
        &[],
    );
    let widths: Vec<f64> = widths
        .as_array()
        .map(|a| a.iter().filter_map(|w| w.as_f64()).collect())
        .unwrap_or_default();
    assert!(!widths.is_empty(), "subject cells are shown");
    let narrowest = widths.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        narrowest >= 100.0,
        "the subject column is squeezed to {narrowest:.0} px beside the open detail: {widths:?}"
    );
    app.screenshot("docs-maintainer-timeline");

    // Verify the whole chain, with progress, to the end.
    app.click("verify-button");
    let verdict = app.wait_for("the verification", Duration::from_secs(180), || {
        app.try_find("verify-result")
            .map(|_| app.text("verify-result"))
    });
    assert_eq!(
        verdict,
        format!("Chain intact · {head} events"),
        "every event verifies"
    );

    // The charts of the same history: events per day by kind among them.
    app.click("nav-charts");
    app.wait_for("the charts", Duration::from_secs(60), || {
        (app.attr("charts-view", "data-loaded").as_deref() == Some("true")).then_some(())
    });
    app.find("canvas-events");
    app.screenshot("docs-maintainer-charts");
}

fn ox(repo: &TestRepo, args: &[&str], actor: &str) -> Run {
    repo.oxide_env(args, &[("OXIDE_ACTOR", actor)])
}

fn commit_all(dir: &std::path::Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
}

/// (seq, actor, kind) of events as `oxide audit list --json` gives them.
fn rows_of(doc: &serde_json::Value) -> Vec<(i64, String, String)> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["actor"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (seq, actor, kind) of the rows the Timeline shows, top to bottom.
fn shown_rows(app: &DesktopApp) -> Vec<(i64, String, String)> {
    let v = app.execute(
        "return [...document.querySelectorAll('[data-testid=vlist-row]')].map(r => [
           Number(r.querySelector('[data-testid=audit-seq]').textContent),
           r.querySelector('.c-actor').textContent.trim(),
           r.querySelector('[data-testid=audit-kind]').textContent.trim()]);",
        &[],
    );
    serde_json::from_value(v).unwrap_or_default()
}

#[test]
fn the_device_chip_shows_and_verifies_a_synced_device_chain() {
    // Two clones of one repository, one maintainer registered (committed) who endorses both
    // devices; clone 1 works, both sync, clone 2 holds clone 1's chain.
    let person = unique_person("maint");
    let _forget = Forget(vec![person.clone()]);
    let c1 = TestRepo::new();
    c1.init();
    ox(
        &c1,
        &["--json", "keys", "generate", "--person", &person],
        &person,
    )
    .expect(0);
    ox(
        &c1,
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &person,
            "--name",
            &person,
            "--role",
            "maintainer",
        ],
        &person,
    )
    .expect(0);
    commit_all(c1.path(), "governance: the maintainer");
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let url = format!("file://{}", bare.path().display());
    git(c1.path(), &["remote", "add", "origin", &url]);
    git(c1.path(), &["push", "-q", "origin", "main"]);
    let c2 = TestRepo {
        dir: tempfile::tempdir().unwrap(),
        data: tempfile::tempdir().unwrap(),
    };
    git(c2.path(), &["clone", "-q", &url, "."]);
    c2.init();
    let base = git(c1.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let bundle = manual_bundle(
        &base,
        &"cd".repeat(32),
        "notes from clone 1",
        json!([{"op": "create_file", "path": "NOTES.md", "content": "from clone 1\n"}]),
        "2026-11-30T10:00:00Z",
    );
    c1.import_bundle("notes", &bundle);
    let s1 = ox(&c1, &["--json", "sync", "--person", &person], &person)
        .expect(0)
        .json();
    let device1 = s1["device"].as_str().unwrap().to_string();
    // The maintainer's key is in this machine's keyring: it endorses clone 2 too.
    let s2 = ox(&c2, &["--json", "sync", "--person", &person], &person)
        .expect(0)
        .json();
    assert!(
        s2["received"]["events"].as_u64().unwrap() > 0,
        "clone 2 received clone 1's chain: {s2:#}"
    );
    let theirs = rows_of(
        &c2.oxide(&["--json", "audit", "list", "--device", &device1, "--reverse"])
            .expect(0)
            .json(),
    );
    let ours = rows_of(
        &c2.oxide(&["--json", "audit", "list", "--reverse"])
            .expect(0)
            .json(),
    );
    assert!(theirs.len() >= 3, "{theirs:?}");
    let n = theirs.len();

    let app = Launch::new("desktop-timeline-device")
        .workspace(&c2)
        .start();
    app.click("nav-timeline");
    app.wait_text("view-title", |t| t == "Timeline");
    wait_top(&app, "this device's newest event", |s| s == ours[0].0);

    // The chip lists this device and the received one with its endorsing person.
    let options: Vec<(String, String)> = serde_json::from_value(app.execute(
        "return [...document.querySelectorAll('[data-testid=device-select] option')].map(o => [o.value, o.textContent.trim()]);",
        &[],
    ))
    .unwrap();
    assert_eq!(options.len(), 2, "{options:?}");
    assert_eq!(options[0].0, "", "this device first: {options:?}");
    assert!(options[0].1.starts_with("This device"), "{options:?}");
    assert_eq!(options[1].0, device1);
    assert!(
        options[1].1.contains(&person) && options[1].1.contains(&format!("{n} events")),
        "{options:?}"
    );

    // Choose clone 1's device: the rows are its chain's, newest first, not this device's.
    app.execute(
        "const s = document.querySelector('[data-testid=device-select]'); s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true}));",
        &[json!(device1)],
    );
    app.wait_for("the device's chain", Duration::from_secs(30), || {
        (app.attr("audit-table", "data-device").as_deref() == Some(device1.as_str())
            && app.attr("vlist-viewport", "data-loading").as_deref() == Some("false")
            && top_seq(&app) == theirs[0].0)
            .then_some(())
    });
    let shown = shown_rows(&app);
    assert!(!shown.is_empty());
    assert_eq!(
        shown,
        theirs[..shown.len()],
        "the rows are device 1's events"
    );
    assert_ne!(
        shown,
        ours[..shown.len().min(ours.len())],
        "not this device's"
    );
    assert!(app.text("device-chip").contains(&person));
    app.wait_text("timeline-count", |t| t == format!("{n} events"));

    // The badge verifies that device's chain (endorsement, links, signed checkpoint).
    app.click("verify-button");
    let verdict = app.wait_for("the device's verification", Duration::from_secs(60), || {
        app.try_find("verify-result")
            .map(|_| app.text("verify-result"))
    });
    assert_eq!(
        verdict,
        format!("{}: chain intact · {n} events", &device1[..12])
    );
    assert_eq!(
        app.attr("verify-result", "data-tone").as_deref(),
        Some("ok")
    );

    // A filter narrows that device's chain (served by its device-scoped index): the rows are
    // exactly what `oxide audit list --device D --kind K` lists.
    let kind = theirs[0].2.clone();
    let narrowed = rows_of(
        &c2.oxide(&[
            "--json",
            "audit",
            "list",
            "--device",
            &device1,
            "--kind",
            &kind,
            "--reverse",
        ])
        .expect(0)
        .json(),
    );
    assert!(!narrowed.is_empty() && narrowed.len() < n, "{narrowed:?}");
    add_filter(&app, "kind", &kind);
    app.wait_for(
        "the device's filtered rows",
        Duration::from_secs(30),
        || (shown_rows(&app) == narrowed).then_some(()),
    );
    let m = narrowed.len();
    app.wait_text("timeline-count", |t| {
        t == format!(
            "{m} {}",
            if m == 1 {
                "event matches"
            } else {
                "events match"
            }
        )
    });
    app.click("filter-remove");
    app.wait_for(
        "the device's whole chain again",
        Duration::from_secs(30),
        || (shown_rows(&app) == theirs[..theirs.len().min(shown.len())]).then_some(()),
    );

    // An event's detail says which device's chain holds it.
    app.execute(
        "[...document.querySelectorAll('[data-testid=vlist-row]')].find(r => r.dataset.seq === '2').click()",
        &[],
    );
    app.wait_text("event-detail-seq", |t| t == "2");
    let named = app.wait_text("event-detail-device", |t| t.contains(&device1));
    assert!(named.contains(&person), "{named}");
    assert_eq!(
        app.attr("event-detail-device", "data-device").as_deref(),
        Some(device1.as_str())
    );

    // Attack: a local user with the database file edits received event 2 (dropping the
    // append-only trigger first). The badge turns red and names seq 2.
    {
        let db = rusqlite::Connection::open(c2.db()).unwrap();
        db.execute_batch("DROP TRIGGER audit_device_events_no_update;")
            .unwrap();
        let changed = db
            .execute(
                "UPDATE audit_device_events SET actor = 'mallory' WHERE device = ?1 AND seq = 2",
                [&device1],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    app.click("verify-button");
    let red = app.wait_for(
        "the tampered chain's verdict",
        Duration::from_secs(60),
        || {
            let t = app
                .try_find("verify-result")
                .map(|_| app.text("verify-result"))?;
            t.contains("broken").then_some(t)
        },
    );
    assert_eq!(red, format!("{}: broken at seq 2", &device1[..12]));
    assert_eq!(
        app.attr("verify-result", "data-tone").as_deref(),
        Some("bad")
    );
    assert!(
        app.text("verify-problem").contains("event 2 was altered"),
        "{}",
        app.text("verify-problem")
    );
    app.screenshot("desktop-timeline-device-tampered");
    // The CLI's audit verify --all-devices agrees (exit 3, the same seq).
    let cli = c2.oxide(&["--json", "audit", "verify", "--all-devices"]);
    assert_eq!(cli.code, 3, "{}", cli.stdout);
    let doc = cli.json();
    assert_eq!(doc["devices"][0]["first_bad_seq"], 2, "{doc:#}");
}
