//! The timeline against an oracle (every event loaded and filtered in Rust), its bad input,
//! and `EXPLAIN QUERY PLAN` for every filter combination.

use super::*;
use crate::audit::{append, NewEvent};
use crate::store::Store;
use serde_json::json;

const KINDS: [&str; 5] = [
    "workflow.admit",
    "workflow.validate",
    "policy.decision",
    "checks.run_started",
    "skill.added",
];
const ACTORS: [&str; 3] = ["alice", "oxide", "bob"];

fn ts_of(i: i64) -> String {
    // One event a minute from 2026-01-01; every 7th with a fraction of a second, so stored
    // times have varying fraction digits like real ones.
    let t = OffsetDateTime::parse("2026-01-01T00:00:00Z", &Rfc3339).unwrap()
        + time::Duration::minutes(i)
        + time::Duration::milliseconds(if i % 7 == 0 { 120 } else { 0 });
    t.format(&Rfc3339).unwrap()
}

/// `n` events of a mix: kind i%5, actor i%3, subject p-(i%11) (skill ids every 13th).
fn store_with(n: i64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    store
        .write(|tx| -> Result<(), AuditError> {
            for i in 0..n {
                let subject = if i % 13 == 0 {
                    format!("skill-{}", i % 4)
                } else {
                    format!("p-{:02x}a{}", i % 11, i % 11)
                };
                append(
                    tx,
                    NewEvent {
                        actor: ACTORS[(i % 3) as usize],
                        kind: KINDS[(i % 5) as usize],
                        subject: &subject,
                        payload: json!({ "i": i }),
                    },
                    &ts_of(i),
                )?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn all(store: &Store) -> Vec<AuditEvent> {
    crate::audit::list(store.conn(), None, None).unwrap()
}

fn words(e: &AuditEvent) -> Vec<String> {
    [&e.kind, &e.actor, &e.subject]
        .iter()
        .flat_map(|s| {
            s.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// What `f` must match, computed without SQL.
fn oracle(events: &[AuditEvent], f: &TimelineFilter) -> Vec<i64> {
    let t = |s: &Option<String>| s.as_deref().map(|s| parse_time(s).unwrap());
    let (since, until) = (t(&f.since), t(&f.until));
    events
        .iter()
        .filter(|e| f.kinds.is_empty() || f.kinds.contains(&e.kind))
        .filter(|e| f.actor.as_ref().is_none_or(|a| a == &e.actor))
        .filter(|e| f.subject.as_ref().is_none_or(|s| s == &e.subject))
        .filter(|e| {
            let ts = parse_time(&e.ts).unwrap();
            since.is_none_or(|s| ts >= s) && until.is_none_or(|u| ts < u)
        })
        .filter(|e| {
            f.search.as_ref().is_none_or(|q| {
                let ws = words(e);
                q.split_whitespace().all(|term| {
                    // A quoted term is a phrase of its tokens, the last one a prefix.
                    let toks: Vec<String> = term
                        .split(|c: char| !c.is_alphanumeric())
                        .filter(|w| !w.is_empty())
                        .map(str::to_lowercase)
                        .collect();
                    ws.windows(toks.len()).any(|win| {
                        win.iter().zip(&toks).enumerate().all(|(i, (w, t))| {
                            if i + 1 == toks.len() {
                                w.starts_with(t.as_str())
                            } else {
                                w == t
                            }
                        })
                    })
                })
            })
        })
        .map(|e| e.seq)
        .collect()
}

fn filters() -> Vec<TimelineFilter> {
    let mut out = Vec::new();
    let kinds: [Vec<String>; 3] = [
        vec![],
        vec!["workflow.validate".into()],
        vec!["workflow.validate".into(), "skill.added".into()],
    ];
    let times: [(Option<&str>, Option<&str>); 4] = [
        (None, None),
        (Some("2026-01-01T01:00:00Z"), None),
        (None, Some("2026-01-01T03:00:00.120Z")),
        (Some("2026-01-01T00:30:00Z"), Some("2026-01-01T02:45:30Z")),
    ];
    for k in &kinds {
        for actor in [None, Some("oxide")] {
            for subject in [None, Some("p-03a3")] {
                for (since, until) in times {
                    for search in [None, Some("valid"), Some("p-03")] {
                        out.push(TimelineFilter {
                            kinds: k.clone(),
                            actor: actor.map(String::from),
                            subject: subject.map(String::from),
                            since: since.map(String::from),
                            until: until.map(String::from),
                            search: search.map(String::from),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Walks the whole filtered timeline page by page in both orders and both directions and
/// compares with the oracle; counts and ranks too.
#[test]
fn pages_walk_every_filter_like_the_oracle() {
    let (_d, store) = store_with(300);
    let conn = store.conn();
    let events = all(&store);
    for f in filters() {
        let want = oracle(&events, &f);
        let mut newest: Vec<i64> = want.iter().rev().copied().collect();
        // Newest first, following older cursors.
        let mut got = Vec::new();
        let mut q = TimelineQuery {
            filter: f.clone(),
            limit: Some(7),
            ..Default::default()
        };
        let mut first = true;
        loop {
            let p = query(conn, &q).unwrap();
            assert!(p.events.len() <= 7);
            assert_eq!(p.has_newer, !first && !want.is_empty(), "{f:?}");
            got.extend(p.events.iter().map(|e| e.seq));
            first = false;
            if !p.has_older {
                break;
            }
            q.before = p.older_cursor;
        }
        assert_eq!(got, newest, "newest first walk of {f:?}");
        // Back up again following newer cursors from the oldest page (newest-first pages).
        let mut back = Vec::new();
        let mut q = TimelineQuery {
            filter: f.clone(),
            after: Some(0),
            limit: Some(5),
            ..Default::default()
        };
        loop {
            let p = query(conn, &q).unwrap();
            let mut page: Vec<i64> = p.events.iter().map(|e| e.seq).collect();
            assert!(page.windows(2).all(|w| w[0] > w[1]), "reading order");
            page.reverse();
            back.extend(page);
            if !p.has_newer {
                break;
            }
            q.after = p.newer_cursor;
        }
        assert_eq!(back, want, "oldest-up walk of {f:?}");
        // Oldest first.
        let mut up = Vec::new();
        let mut q = TimelineQuery {
            filter: f.clone(),
            order: Order::OldestFirst,
            limit: Some(9),
            ..Default::default()
        };
        loop {
            let p = query(conn, &q).unwrap();
            up.extend(p.events.iter().map(|e| e.seq));
            if !p.has_newer {
                break;
            }
            q.after = p.newer_cursor;
        }
        assert_eq!(up, want, "oldest first walk of {f:?}");
        assert_eq!(count_matching(conn, &f).unwrap(), want.len() as u64);
        if let Some(&mid) = want.get(want.len() / 2) {
            let rank_new = position_of(conn, &f, Order::NewestFirst, mid).unwrap();
            assert_eq!(newest[rank_new as usize], mid, "{f:?}");
            let rank_old = position_of(conn, &f, Order::OldestFirst, mid).unwrap();
            assert_eq!(want[rank_old as usize], mid);
            assert_eq!(
                seq_at_position(conn, &f, Order::NewestFirst, rank_new).unwrap(),
                Some(mid)
            );
            assert_eq!(
                seq_at_position(conn, &f, Order::OldestFirst, rank_old).unwrap(),
                Some(mid)
            );
        }
        assert_eq!(
            seq_at_position(conn, &f, Order::OldestFirst, want.len() as u64).unwrap(),
            None
        );
        newest.clear();
    }
}

#[test]
fn a_range_between_cursors_and_the_page_flags() {
    let (_d, store) = store_with(100);
    let conn = store.conn();
    let p = query(
        conn,
        &TimelineQuery {
            after: Some(10),
            before: Some(20),
            limit: Some(4),
            ..Default::default()
        },
    )
    .unwrap();
    let seqs: Vec<i64> = p.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![19, 18, 17, 16], "newest first from before");
    assert!(p.has_newer && p.has_older);
    assert_eq!((p.newer_cursor, p.older_cursor), (Some(19), Some(16)));
    let p = query(
        conn,
        &TimelineQuery {
            order: Order::OldestFirst,
            after: Some(10),
            before: Some(20),
            limit: Some(4),
            ..Default::default()
        },
    )
    .unwrap();
    let seqs: Vec<i64> = p.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![11, 12, 13, 14]);
    // The default page: the newest events, nothing newer.
    let p = query(conn, &TimelineQuery::default()).unwrap();
    assert_eq!(p.events.len(), 50);
    assert_eq!(p.events[0].seq, 100);
    assert!(!p.has_newer && p.has_older);
    assert_eq!(p.anchor, None);
}

#[test]
fn jumps_open_at_a_seq_or_a_time() {
    let (_d, store) = store_with(200);
    let conn = store.conn();
    let page = |jump: Jump, order: Order, filter: TimelineFilter| {
        query(
            conn,
            &TimelineQuery {
                filter,
                order,
                jump: Some(jump),
                limit: Some(3),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let seqs = |p: &TimelinePage| p.events.iter().map(|e| e.seq).collect::<Vec<_>>();
    let p = page(Jump::Seq(120), Order::NewestFirst, Default::default());
    assert_eq!(seqs(&p), vec![120, 119, 118]);
    assert_eq!(p.anchor, Some(120));
    assert!(p.has_newer && p.has_older);
    let p = page(Jump::Seq(120), Order::OldestFirst, Default::default());
    assert_eq!(seqs(&p), vec![120, 121, 122]);
    // Oldest end.
    let p = page(Jump::Seq(1), Order::NewestFirst, Default::default());
    assert_eq!(seqs(&p), vec![1]);
    assert!(p.has_newer && !p.has_older);
    // Event seq s has time minute s-1. 01:00 = seq 61; 01:00:30 lies between 61 and 62.
    let p = page(
        Jump::Time("2026-01-01T01:00:30Z".into()),
        Order::NewestFirst,
        Default::default(),
    );
    assert_eq!(seqs(&p), vec![61, 60, 59]);
    let p = page(
        Jump::Time("2026-01-01T01:00:30Z".into()),
        Order::OldestFirst,
        Default::default(),
    );
    assert_eq!(seqs(&p), vec![62, 63, 64]);
    // Exactly at a time with a fraction (seq 64 = minute 63, 63 % 7 == 0: .120).
    let p = page(
        Jump::Time("2026-01-01T01:03:00.12Z".into()),
        Order::OldestFirst,
        Default::default(),
    );
    assert_eq!(seqs(&p)[0], 64);
    // With a filter: the nearest matching event at or below the seq.
    let f = TimelineFilter {
        kinds: vec!["policy.decision".into()],
        ..Default::default()
    };
    let p = page(Jump::Seq(100), Order::NewestFirst, f);
    assert!(p.events.iter().all(|e| e.kind == "policy.decision"));
    assert_eq!(seqs(&p), vec![98, 93, 88]);
    assert_eq!(p.anchor, Some(98));
    // Before every event / after every event.
    let p = page(
        Jump::Time("2025-01-01".into()),
        Order::NewestFirst,
        Default::default(),
    );
    assert!(p.events.is_empty() && p.has_newer && !p.has_older);
    let p = page(
        Jump::Time("2030-01-01".into()),
        Order::OldestFirst,
        Default::default(),
    );
    assert!(p.events.is_empty() && !p.has_newer && p.has_older);
}

#[test]
fn bad_input_is_refused_with_a_code_and_reads_nothing() {
    let (_d, store) = store_with(20);
    let conn = store.conn();
    let refuse = |q: TimelineQuery, needle: &str| {
        let e = query(conn, &q).unwrap_err();
        assert_eq!(e.code(), "AUDIT_BAD_QUERY", "{e}");
        assert_eq!(e.kind(), crate::ErrorKind::Invalid);
        assert!(e.to_string().contains(needle), "{e} should say {needle}");
    };
    let f = |f: TimelineFilter| TimelineQuery {
        filter: f,
        ..Default::default()
    };
    refuse(
        f(TimelineFilter {
            since: Some("yesterday".into()),
            ..Default::default()
        }),
        "not a time",
    );
    refuse(
        f(TimelineFilter {
            since: Some("2026-01-02".into()),
            until: Some("2026-01-01".into()),
            ..Default::default()
        }),
        "not before until",
    );
    refuse(
        f(TimelineFilter {
            search: Some("-- *".into()),
            ..Default::default()
        }),
        "no letters or digits",
    );
    refuse(
        f(TimelineFilter {
            kinds: vec![" ".into()],
            ..Default::default()
        }),
        "empty kind",
    );
    refuse(
        f(TimelineFilter {
            actor: Some(String::new()),
            ..Default::default()
        }),
        "empty actor",
    );
    refuse(
        TimelineQuery {
            after: Some(5),
            before: Some(5),
            ..Default::default()
        },
        "must be less than before",
    );
    refuse(
        TimelineQuery {
            limit: Some(0),
            ..Default::default()
        },
        "out of range",
    );
    refuse(
        TimelineQuery {
            limit: Some(MAX_LIMIT + 1),
            ..Default::default()
        },
        "out of range",
    );
    refuse(
        TimelineQuery {
            jump: Some(Jump::Seq(3)),
            before: Some(9),
            ..Default::default()
        },
        "either a jump",
    );
    refuse(
        TimelineQuery {
            jump: Some(Jump::Time("soon".into())),
            ..Default::default()
        },
        "not a time",
    );
}

#[test]
fn search_words_are_data_not_fts_syntax() {
    let (_d, store) = store_with(50);
    let conn = store.conn();
    for q in [
        "OR",
        "NEAR(a b)",
        "kind:x",
        "\"",
        "valid\"* OR",
        "a AND",
        "^p",
        "{kind}",
    ] {
        let f = TimelineFilter {
            search: Some(q.into()),
            ..Default::default()
        };
        match query(
            conn,
            &TimelineQuery {
                filter: f.clone(),
                ..Default::default()
            },
        ) {
            Ok(p) => {
                let want: Vec<i64> = oracle(&all(&store), &f)
                    .into_iter()
                    .rev()
                    .take(50)
                    .collect();
                assert_eq!(
                    p.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
                    want,
                    "{q}"
                );
            }
            Err(e) => assert_eq!(e.code(), "AUDIT_BAD_QUERY", "{q}: {e}"),
        }
    }
    // Case-insensitive token prefixes over kind, actor and subject.
    let p = query(
        conn,
        &TimelineQuery {
            filter: TimelineFilter {
                search: Some("SKILL ADD".into()),
                ..Default::default()
            },
            limit: Some(1000),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!p.events.is_empty());
    assert!(p.events.iter().all(|e| e.kind == "skill.added"));
}

#[test]
fn filtered_export_and_listing_follow_the_query() {
    let (d, store) = store_with(60);
    let conn = store.conn();
    let f = TimelineFilter {
        actor: Some("bob".into()),
        ..Default::default()
    };
    let want = oracle(&all(&store), &f);
    let out = d.path().join("bob.jsonl");
    let n = crate::audit::export_matching(
        conn,
        &out,
        &TimelineQuery {
            filter: f.clone(),
            order: Order::OldestFirst,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(n, want.len() as u64);
    let lines: Vec<AuditEvent> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.iter().map(|e| e.seq).collect::<Vec<_>>(), want);
    // Bad input writes no file.
    let bad_out = d.path().join("bad.jsonl");
    let e = crate::audit::export_matching(
        conn,
        &bad_out,
        &TimelineQuery {
            filter: TimelineFilter {
                until: Some("noon".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "AUDIT_BAD_QUERY");
    assert!(!bad_out.exists());
    let temporaries = std::fs::read_dir(d.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".oxide-export-")
        })
        .count();
    assert_eq!(temporaries, 0, "no temporary file left");
    // A limited listing with `before` alone reads the events just below it.
    let mut seen = Vec::new();
    for_each_matching(
        conn,
        &TimelineQuery {
            order: Order::OldestFirst,
            before: Some(40),
            limit: Some(3),
            ..Default::default()
        },
        |e| {
            seen.push(e.seq);
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(seen, vec![37, 38, 39]);
}

/// Every filter combination, each cursor shape and both orders: the plan walks an index
/// (or the table by seq range, or the FTS index) and never sorts.
#[test]
fn every_filter_combination_is_served_by_an_index() {
    let (_d, store) = store_with(50);
    let conn = store.conn();
    let mut shown = std::collections::BTreeSet::new();
    for f in filters() {
        for (after, before) in [
            (None, None),
            (Some(3), None),
            (None, Some(40)),
            (Some(3), Some(40)),
        ] {
            for order in [Order::NewestFirst, Order::OldestFirst] {
                let q = TimelineQuery {
                    filter: f.clone(),
                    order,
                    after,
                    before,
                    ..Default::default()
                };
                let plan = explain(conn, &q).unwrap();
                let text = plan.join("\n");
                for line in &plan {
                    let line = line.trim();
                    assert!(
                        !line.contains("TEMP B-TREE"),
                        "a sort in the plan of {f:?}:\n{text}"
                    );
                    if line.starts_with("SCAN") {
                        assert!(
                            line.starts_with("SCAN audit_fts VIRTUAL TABLE"),
                            "a full scan in the plan of {f:?}:\n{text}"
                        );
                    }
                }
                assert!(
                    plan.iter()
                        .any(|l| l.contains("USING INDEX audit_events_by")
                            || l.contains("USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")
                            || l.contains("VIRTUAL TABLE INDEX")),
                    "{text}"
                );
                let shape = (
                    f.kinds.len(),
                    f.actor.is_some(),
                    f.subject.is_some(),
                    f.search.is_some(),
                );
                if shown.insert(shape) {
                    println!("filter {f:?}\n  {}", plan.join("\n  "));
                }
            }
        }
    }
    assert_eq!(shown.len(), 3 * 2 * 2 * 2, "every shape was planned");
}

/// `n` events 37 minutes apart from 2026-01-01 (about a week), with the same kinds, actors
/// and subjects as `store_with`.
fn store_over_days(n: i64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let start = OffsetDateTime::parse("2026-01-01T00:00:00Z", &Rfc3339).unwrap();
    store
        .write(|tx| -> Result<(), AuditError> {
            for i in 0..n {
                let ts = (start + time::Duration::minutes(37 * i))
                    .format(&Rfc3339)
                    .unwrap();
                append(
                    tx,
                    NewEvent {
                        actor: ACTORS[(i % 3) as usize],
                        kind: KINDS[(i % 5) as usize],
                        subject: &format!("p-{:02x}a{}", i % 11, i % 11),
                        payload: json!({ "i": i }),
                    },
                    &ts,
                )?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

/// The events-per-day chart is counted by SQLite, equals counting the oracle's events by
/// day and kind for every filter, and a time window alone is one walk of the (day, kind)
/// index: no event row read, no sort.
#[test]
fn events_per_day_counts_in_sql_like_the_oracle() {
    let (_d, store) = store_over_days(300);
    let conn = store.conn();
    let events = all(&store);
    let mut fs = filters();
    for (since, until) in [
        (Some("2026-01-02"), None),
        (None, Some("2026-01-04T13:30:00Z")),
        (Some("2026-01-02T06:00:00Z"), Some("2026-01-05")),
        (Some("2026-01-03T23:59:59Z"), Some("2026-01-04T00:00:01Z")),
    ] {
        fs.push(TimelineFilter {
            since: since.map(String::from),
            until: until.map(String::from),
            ..Default::default()
        });
        fs.push(TimelineFilter {
            kinds: vec!["policy.decision".into()],
            since: since.map(String::from),
            until: until.map(String::from),
            ..Default::default()
        });
    }
    let mut windows = 0;
    for f in &fs {
        let mut want: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for seq in oracle(&events, f) {
            let e = &events[(seq - 1) as usize];
            *want
                .entry((e.ts[..10].to_string(), e.kind.clone()))
                .or_default() += 1;
        }
        let want: Vec<DayKindCount> = want
            .into_iter()
            .map(|((day, kind), count)| DayKindCount { day, kind, count })
            .collect();
        assert_eq!(events_per_day(conn, f).unwrap(), want, "{f:?}");

        let plan = explain_events_per_day(conn, f).unwrap();
        let text = plan.join("\n");
        let only_time =
            f.kinds.is_empty() && f.actor.is_none() && f.subject.is_none() && f.search.is_none();
        if only_time && !want.is_empty() {
            windows += 1;
            assert!(
                plan.iter()
                    .any(|l| l.contains("INDEX audit_events_by_day_kind")),
                "{f:?}:\n{text}"
            );
            assert!(!text.contains("TEMP B-TREE"), "a sort for {f:?}:\n{text}");
            if f.since.is_some() || f.until.is_some() {
                assert!(
                    plan.iter()
                        .any(|l| l.starts_with("SEARCH audit_events USING")),
                    "a window walks a range of the index, {f:?}:\n{text}"
                );
            }
            if windows == 1 || f.since.is_some() && f.until.is_some() {
                println!("{f:?}\n  {}", plan.join("\n  "));
            }
        }
    }
    assert!(windows >= 6, "time windows were planned: {windows}");
    let total: u64 = events_per_day(conn, &TimelineFilter::default())
        .unwrap()
        .iter()
        .map(|d| d.count)
        .sum();
    assert_eq!(total, 300);
}

/// A plain search word is asked as the whole words it starts (FTS5 walks those lazily; a
/// prefix query merges every match first); once a non-ASCII name is recorded the prefix
/// query is used again. Both find what the oracle finds.
#[test]
fn search_words_expand_to_the_words_they_start() {
    let (_d, mut store) = store_with(60);
    let q = fts_query(store.conn(), "valid P-03 zzz").unwrap().unwrap();
    assert_eq!(q, r#"("validate") AND "P-03"* AND "zzz""#);
    let q = fts_query(store.conn(), "o").unwrap().unwrap();
    assert_eq!(q, r#"("oxide")"#);
    let search = |store: &Store, s: &str| {
        let f = TimelineFilter {
            search: Some(s.into()),
            ..Default::default()
        };
        let page = query(
            store.conn(),
            &TimelineQuery {
                filter: f.clone(),
                limit: Some(1000),
                ..Default::default()
            },
        )
        .unwrap();
        let mut got: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
        got.reverse();
        assert_eq!(got, oracle(&all(store), &f), "{s}");
        got.len()
    };
    assert!(search(&store, "valid") > 0);
    assert!(search(&store, "sk") > 0);
    assert_eq!(search(&store, "zzz"), 0);
    store
        .write(|tx| -> Result<(), AuditError> {
            append(
                tx,
                NewEvent {
                    actor: "zoë",
                    kind: "workflow.validate",
                    subject: "p-00a0",
                    payload: json!({}),
                },
                &ts_of(61),
            )?;
            Ok(())
        })
        .unwrap();
    let q = fts_query(store.conn(), "valid").unwrap().unwrap();
    assert_eq!(q, r#""valid"*"#, "non-ASCII names: FTS5's own prefix query");
    assert!(search(&store, "valid") > 0);
    assert!(search(&store, "zo") > 0);
}

/// The time bounds' search guesses by interpolating between the times it knows; on a chain
/// whose pace is anything but even (bursts a millisecond apart, a month's silence, events
/// sharing one time) it must still land exactly where a walk over every event would, for
/// `since`, `until` and a jump to a time in both reading orders.
#[test]
fn time_bounds_are_exact_on_an_uneven_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let start = OffsetDateTime::parse("2026-01-01T00:00:00Z", &Rfc3339).unwrap();
    let mut at = start;
    let mut times = Vec::new();
    for i in 0..1500i64 {
        at += match i {
            0..=299 => time::Duration::seconds(1),
            300 => time::Duration::days(30),
            301..=899 => time::Duration::milliseconds(1),
            900..=999 => time::Duration::ZERO,
            1000 => time::Duration::days(400),
            _ => time::Duration::seconds((i * 7919) % 97),
        };
        times.push(at);
    }
    store
        .write(|tx| -> Result<(), AuditError> {
            for (i, t) in times.iter().enumerate() {
                append(
                    tx,
                    NewEvent {
                        actor: "a",
                        kind: "k",
                        subject: "s",
                        payload: json!({ "i": i }),
                    },
                    &t.format(&Rfc3339).unwrap(),
                )?;
            }
            Ok(())
        })
        .unwrap();
    let events = all(&store);
    // Query times: every event's own time, a millisecond either side, and points in the gaps.
    let mut probes: Vec<OffsetDateTime> = Vec::new();
    for (i, t) in times.iter().enumerate().step_by(37) {
        probes.extend([
            *t,
            *t - time::Duration::milliseconds(1),
            *t + time::Duration::milliseconds(1),
        ]);
        if i == 0 {
            probes.push(*t - time::Duration::days(1));
        }
    }
    probes.push(times[299] + time::Duration::days(3));
    probes.push(times[999]);
    probes.push(times[1000] - time::Duration::days(1));
    probes.push(times[1499] + time::Duration::days(1));
    let every = |q: TimelineQuery| -> Vec<i64> {
        query(
            store.conn(),
            &TimelineQuery {
                limit: Some(MAX_LIMIT),
                ..q
            },
        )
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect()
    };
    for t in probes {
        let text = t.format(&Rfc3339).unwrap();
        let since = TimelineFilter {
            since: Some(text.clone()),
            ..Default::default()
        };
        let mut want = oracle(&events, &since);
        want.reverse();
        want.truncate(MAX_LIMIT as usize);
        assert_eq!(
            every(TimelineQuery {
                filter: since,
                ..Default::default()
            }),
            want,
            "since {text}"
        );
        let until = TimelineFilter {
            until: Some(text.clone()),
            ..Default::default()
        };
        let mut want = oracle(&events, &until);
        want.reverse();
        want.truncate(MAX_LIMIT as usize);
        assert_eq!(
            every(TimelineQuery {
                filter: until,
                ..Default::default()
            }),
            want,
            "until {text}"
        );
        // Newest first: opens at the newest event at or before t.
        let newest = events
            .iter()
            .rev()
            .find(|e| parse_time(&e.ts).unwrap() <= t)
            .map(|e| e.seq);
        let page = query(
            store.conn(),
            &TimelineQuery {
                jump: Some(Jump::Time(text.clone())),
                limit: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            page.events.first().map(|e| e.seq),
            newest,
            "jump newest-first to {text}"
        );
        // Oldest first: at the oldest event at or after t.
        let oldest = events
            .iter()
            .find(|e| parse_time(&e.ts).unwrap() >= t)
            .map(|e| e.seq);
        let page = query(
            store.conn(),
            &TimelineQuery {
                jump: Some(Jump::Time(text.clone())),
                order: Order::OldestFirst,
                limit: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            page.events.first().map(|e| e.seq),
            oldest,
            "jump oldest-first to {text}"
        );
    }
}

/// A row a holder of the database file inserted at the far end of the seq range does not
/// make the time search overflow (it would panic, or in a release build land anywhere): the
/// page is still exactly the events in the time range.
#[test]
fn a_row_at_the_lowest_seq_does_not_break_the_time_search() {
    let (_d, store) = store_with(40);
    store
        .conn()
        .execute(
            "INSERT INTO audit_events (seq, ts, actor, kind, subject, payload, prev, hash) \
             VALUES (?1, '2025-12-31T00:00:00Z', 'mallory', 'x.y', 's', '{}', NULL, 'h')",
            [i64::MIN],
        )
        .unwrap();
    let events = all(&store);
    for since in [
        "2025-12-30",
        "2026-01-01T00:10:00Z",
        "2026-01-01T00:39:00Z",
        "2027-01-01",
    ] {
        let f = TimelineFilter {
            since: Some(since.into()),
            ..Default::default()
        };
        let mut want = oracle(&events, &f);
        want.reverse();
        let got: Vec<i64> = query(
            store.conn(),
            &TimelineQuery {
                filter: f,
                limit: Some(MAX_LIMIT),
                ..Default::default()
            },
        )
        .unwrap()
        .events
        .iter()
        .map(|e| e.seq)
        .collect();
        assert_eq!(got, want, "since {since}");
    }
}
