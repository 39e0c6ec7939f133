//! `oxide-bench desktop`: the desktop app's cold start to a drawn Inbox under Xvfb, and its
//! idle memory after opening a workspace with 1,000,000 audit events.
//!
//! The app is started the way the desktop journeys start it (tauri-driver → WebKitWebDriver →
//! the app). Start = the app process's own start time (`/proc/PID/stat`, clock ticks after
//! boot, placed on the wall clock by `/proc/uptime`); drawn = the `oxide:inbox-drawn` performance mark the UI sets on the second frame
//! callback after the Inbox and the workspace status were rendered (the first frame showing
//! them has been painted), read through WebDriver as wall-clock time. Neither end includes the
//! driver's own start. Memory = `VmRSS` of the app process, and of the app with the WebKit
//! processes it started (web content, network), after 5 s idle on the Inbox and again after
//! opening the Timeline. The workspace is `oxide-bench timeline`'s (built or reused from
//! target/oxide-bench/): 1,000,000 events with signed checkpoints.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::fixture::err;
use crate::report;
use crate::timeline::{self, BenchWorkspace, EVENTS};

const STARTS: usize = 5;
const BASELINE_STARTS: usize = 3;
const START_TARGET_S: f64 = 1.0;
const RSS_TARGET_MB: f64 = 150.0;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Boot time (Unix seconds, to 10 ms): the wall clock now minus `/proc/uptime`. Not
/// /proc/stat's `btime`: that one is whole seconds, so a process start computed from it was
/// early by up to a second (the same error on every run of one boot).
fn boot_time() -> Result<f64, String> {
    let up = std::fs::read_to_string("/proc/uptime").map_err(err("read /proc/uptime"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(err("read the clock"))?
        .as_secs_f64();
    let up: f64 = up
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or("no uptime in /proc/uptime")?;
    Ok(now - up)
}

/// A process's start (Unix seconds) and parent pid.
fn proc_start_and_parent(pid: u32) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid: u32 = f.get(1)?.parse().ok()?;
    let ticks: f64 = f.get(19)?.parse().ok()?;
    Some((boot_time().ok()? + ticks / clk_tck(), ppid))
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The newest running process whose executable is `bin`.
fn find_app(bin: &Path) -> Option<u32> {
    let bin = bin.canonicalize().ok()?;
    pids()
        .into_iter()
        .filter(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok().as_deref() == Some(&bin))
        .filter_map(|p| proc_start_and_parent(p).map(|(s, _)| (p, s)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(p, _)| p)
}

/// The app's RSS, and the RSS of the app plus every process below it (WebKit's).
fn rss_tree_mb(app: u32) -> (f64, f64) {
    let all = pids();
    let mut tree = vec![app];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for p in &all {
            if !tree.contains(p) && proc_start_and_parent(*p).map(|(_, pp)| pp) == Some(parent) {
                tree.push(*p);
            }
        }
        i += 1;
    }
    let mb = |kb: u64| kb as f64 / 1024.0;
    let own = mb(rss_kb(app).unwrap_or(0));
    let total = mb(tree.iter().filter_map(|p| rss_kb(*p)).sum());
    (own, total)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

struct Sample {
    start_s: f64,
    rss_inbox: (f64, f64),
    rss_timeline: (f64, f64),
    /// Where the start went: (stage, ms after the process started), in order.
    stages: Vec<(String, f64)>,
    /// The IPC calls made before the Inbox was drawn: (command, ms after the process started
    /// when it was called, ms until it answered).
    ipc: Vec<(String, f64, f64)>,
    /// The app process's resident memory by mapping (smaps), largest first.
    maps: Vec<(String, Resident)>,
}

/// The name the app is launched under: its log is `<artifacts>/<name>-driver.log`.
const LAUNCH_NAME: &str = "bench-desktop";

/// Starts the app as the timeline benchmark does, with the start-up stages logged
/// (`oxide_review::stage`, target `oxide_review::startup`).
fn launch(ws: &BenchWorkspace, xdg: &Path) -> oxide_journeys::desktop::DesktopApp {
    timeline::launch(ws, xdg, LAUNCH_NAME, "warn,oxide_review::startup=info")
}

/// The app's own start-up stages from its log: (stage, wall-clock ms).
fn rust_stages() -> Vec<(String, f64)> {
    let log = oxide_journeys::desktop::artifacts_dir().join(format!("{LAUNCH_NAME}-driver.log"));
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let field = |line: &str, key: &str| -> Option<String> {
        let at = line.find(&format!(" {key}="))? + key.len() + 2;
        let v = &line[at..];
        let v = v.strip_prefix('"').map_or_else(
            || v.split_whitespace().next().unwrap_or(""),
            |q| q.split('"').next().unwrap_or(""),
        );
        Some(v.to_string())
    };
    text.lines()
        .filter(|l| l.contains("oxide_review::startup"))
        .filter_map(|l| Some((field(l, "stage")?, field(l, "at_ms")?.parse().ok()?)))
        .collect()
}

/// The page's side of the start, in wall-clock ms: the navigation's milestones, the marks
/// the UI sets (`oxide:main`, `oxide:mounted`, `oxide:inbox-drawn`) and the IPC calls
/// (`oxide:ipc:<command>` measures).
const PAGE_TRACE: &str = r#"
const o = performance.timeOrigin;
const at = (t) => (t > 0 ? o + t : null);
const out = { stages: [], ipc: [] };
const nav = performance.getEntriesByType('navigation')[0];
if (nav) {
  out.stages.push(['page: request sent', at(nav.requestStart)]);
  out.stages.push(['page: HTML received', at(nav.responseEnd)]);
  out.stages.push(['page: DOM interactive', at(nav.domInteractive)]);
  out.stages.push(['page: DOMContentLoaded done', at(nav.domContentLoadedEventEnd)]);
}
out.stages.push(['page: time origin', o]);
for (const r of performance.getEntriesByType('resource')) {
  out.stages.push(['page: loaded ' + r.name.split('/').pop(), at(r.responseEnd)]);
}
for (const m of performance.getEntriesByType('mark')) {
  if (m.name.startsWith('oxide:')) out.stages.push(['page: ' + m.name, at(m.startTime)]);
}
for (const m of performance.getEntriesByType('measure')) {
  if (m.name.startsWith('oxide:ipc:')) out.ipc.push([m.name.slice(10), at(m.startTime), m.duration]);
}
return JSON.stringify(out);
"#;

/// One mapping's resident memory (MB): all of it, and the part other processes share.
#[derive(Debug, Clone, Copy, Default)]
struct Resident {
    rss: f64,
    shared: f64,
}

/// Resident memory of `pid` by mapping (file name, or [heap], [anon], ...), largest first.
fn smaps_mb(pid: u32) -> Vec<(String, Resident)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut current = String::new();
    let kb = |v: &str| -> u64 { v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0) };
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            let path = line.split_whitespace().nth(5).unwrap_or("[anon]");
            current = path.rsplit('/').next().unwrap_or(path).to_string();
        } else if let Some(v) = line.strip_prefix("Rss:") {
            by.entry(current.clone()).or_default().0 += kb(v);
        } else if let Some(v) = line
            .strip_prefix("Shared_Clean:")
            .or_else(|| line.strip_prefix("Shared_Dirty:"))
        {
            by.entry(current.clone()).or_default().1 += kb(v);
        }
    }
    let mut v: Vec<(String, Resident)> = by
        .into_iter()
        .map(|(k, (rss, shared))| {
            (
                k,
                Resident {
                    rss: rss as f64 / 1024.0,
                    shared: shared as f64 / 1024.0,
                },
            )
        })
        .collect();
    v.sort_by(|a, b| b.1.rss.total_cmp(&a.1.rss));
    v
}

/// What the mapping is, for the memory table.
fn mapping_note(name: &str) -> &'static str {
    match name {
        n if n.starts_with("libLLVM") => {
            "LLVM, linked by Mesa's software GL driver (llvmpipe) that WebKitGTK and GTK load when the X server has no GPU"
        }
        n if n.starts_with("swrast_dri") => "Mesa's software GL driver (llvmpipe)",
        n if n.starts_with("libwebkit2gtk") => "WebKitGTK, the UI process's part",
        n if n.starts_with("libjavascriptcoregtk") => "JavaScriptCore",
        n if n.starts_with("libgtk-3") => "GTK 3",
        n if n.starts_with("libflite") => "speech synthesis voices WebKitGTK links",
        "oxide-review" => "the app's own code and data",
        "[anon]" | "[heap]" => "allocations (Rust, GTK, WebKit's UI process)",
        n if n.starts_with("memfd:WebKitSharedMemory") => "the page's painted frames, shared with the web process",
        n if n.starts_with("SYSV") => "X shared-memory images",
        _ => "",
    }
}

fn one_start(ws: &BenchWorkspace, xdg: &Path, bin: &Path) -> Result<Sample, String> {
    let app = launch(ws, xdg);
    let mark = app.wait_for("the Inbox to be drawn", Duration::from_secs(60), || {
        app.execute(
            "const m = performance.getEntriesByName('oxide:inbox-drawn')[0]; return m ? performance.timeOrigin + m.startTime : null;",
            &[],
        )
        .as_f64()
    });
    let pid = find_app(bin).ok_or("the app's process was not found in /proc")?;
    let (started, _) = proc_start_and_parent(pid).ok_or("the app's start time is unreadable")?;
    let start_s = mark / 1000.0 - started;
    let page: serde_json::Value =
        serde_json::from_str(app.execute(PAGE_TRACE, &[]).as_str().unwrap_or("{}"))
            .map_err(err("read the page's start-up trace"))?;
    let since = |wall_ms: f64| wall_ms - started * 1000.0;
    let mut stages: Vec<(String, f64)> = rust_stages()
        .into_iter()
        .map(|(n, t)| (format!("app: {n}"), since(t)))
        .collect();
    for e in page["stages"].as_array().into_iter().flatten() {
        if let (Some(n), Some(t)) = (e[0].as_str(), e[1].as_f64()) {
            stages.push((n.to_string(), since(t)));
        }
    }
    stages.sort_by(|a, b| a.1.total_cmp(&b.1));
    let ipc: Vec<(String, f64, f64)> = page["ipc"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e[0].as_str()?.to_string(),
                since(e[1].as_f64()?),
                e[2].as_f64()?,
            ))
        })
        .collect();
    // A command called twice (again after the workspace opened) is told apart by its turn.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let ipc = ipc
        .into_iter()
        .map(|(c, t, d)| {
            let n = seen.entry(c.clone()).or_default();
            *n += 1;
            let name = if *n == 1 {
                c
            } else {
                format!("{c} (call {n})")
            };
            (name, t, d)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    let rss_inbox = rss_tree_mb(pid);
    let maps = smaps_mb(pid);
    app.click("nav-timeline");
    app.wait_for("the Timeline's first page", Duration::from_secs(60), || {
        app.attr("vlist-viewport", "data-top-seq")
            .filter(|s| !s.is_empty())
    });
    std::thread::sleep(Duration::from_secs(5));
    let rss_timeline = rss_tree_mb(pid);
    drop(app);
    Ok(Sample {
        start_s,
        rss_inbox,
        rss_timeline,
        stages,
        ipc,
        maps,
    })
}

/// Prints one start's breakdown to stderr.
fn print_breakdown(s: &Sample) {
    for (n, t) in &s.stages {
        eprintln!("[desktop]   {t:8.0} ms  {n}");
    }
    for (c, t, d) in &s.ipc {
        eprintln!("[desktop]   {t:8.0} ms  ipc {c} answered in {d:.0} ms");
    }
    let top: Vec<String> = s
        .maps
        .iter()
        .take(12)
        .map(|(m, r)| format!("{m} {:.1}", r.rss))
        .collect();
    eprintln!("[desktop]   RSS by mapping (MB): {}", top.join(", "));
}

/// The median of each stage (and IPC call) over the starts, in the order of the first start.
fn breakdown_rows(samples: &[Sample]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let Some(first) = samples.first() else {
        return rows;
    };
    for (name, _) in &first.stages {
        let v: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.stages.iter().find(|(n, _)| n == name).map(|x| x.1))
            .collect();
        rows.push(vec![
            name.clone(),
            format!("{:.0} ms", median(&v)),
            String::new(),
        ]);
    }
    for (name, _, _) in &first.ipc {
        let at: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.ipc.iter().find(|(n, _, _)| n == name).map(|x| x.1))
            .collect();
        let took: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.ipc.iter().find(|(n, _, _)| n == name).map(|x| x.2))
            .collect();
        rows.push(vec![
            format!("IPC `{name}` called"),
            format!("{:.0} ms", median(&at)),
            format!("{:.0} ms", median(&took)),
        ]);
    }
    rows.sort_by(|a, b| {
        let ms = |r: &Vec<String>| r[1].trim_end_matches(" ms").parse::<f64>().unwrap_or(0.0);
        ms(a).total_cmp(&ms(b))
    });
    rows
}

/// The start whose idle app RSS on the Inbox is the median.
fn median_sample(samples: &[Sample]) -> Option<&Sample> {
    let mut order: Vec<&Sample> = samples.iter().collect();
    order.sort_by(|a, b| a.rss_inbox.0.total_cmp(&b.rss_inbox.0));
    order.get(order.len() / 2).copied()
}

/// The memory table: the largest mappings of the start whose app RSS is the median, then the
/// rest summed.
fn memory_rows(samples: &[Sample]) -> Vec<Vec<String>> {
    let Some(s) = median_sample(samples) else {
        return Vec::new();
    };
    const SHOWN: usize = 10;
    let mut rows: Vec<Vec<String>> = s
        .maps
        .iter()
        .take(SHOWN)
        .map(|(name, r)| {
            vec![
                format!("`{name}`"),
                format!("{:.1} MB", r.rss),
                format!("{:.1} MB", r.shared),
                mapping_note(name).to_string(),
            ]
        })
        .collect();
    let rest = s
        .maps
        .iter()
        .skip(SHOWN)
        .fold(Resident::default(), |acc, (_, r)| Resident {
            rss: acc.rss + r.rss,
            shared: acc.shared + r.shared,
        });
    rows.push(vec![
        format!("{} other mappings", s.maps.len().saturating_sub(SHOWN)),
        format!("{:.1} MB", rest.rss),
        format!("{:.1} MB", rest.shared),
        String::new(),
    ]);
    rows
}

/// How the app chose to draw, from its log (`stage="renderer"`, written only when it asked
/// WebKit for software drawing).
fn renderer_note() -> String {
    let log = oxide_journeys::desktop::artifacts_dir().join(format!("{LAUNCH_NAME}-driver.log"));
    let text = std::fs::read_to_string(log).unwrap_or_default();
    match text
        .lines()
        .find(|l| l.contains("stage=\"renderer\""))
        .and_then(|l| l.split(" set=").nth(1))
    {
        Some(set) => format!(
            "The app found no GPU render node here (Xvfb) and drew in software, without GL in \
             its own process; it set `{}`. With a GPU it leaves WebKit's GPU compositing on.",
            set.trim()
        ),
        None => "The app's log does not say it chose software drawing: WebKit drew as configured \
                 (GPU compositing by default, or the renderer a `WEBKIT_*` variable chose)."
            .into(),
    }
}

/// When Mesa's software GL is in the app process (an X server without a GPU, as Xvfb): how
/// much of the RSS it is, measured, and what the app holds without it.
fn software_gl_note(samples: &[Sample]) -> String {
    let Some(s) = median_sample(samples) else {
        return String::new();
    };
    let gl: f64 = s
        .maps
        .iter()
        .filter(|(n, _)| n.starts_with("libLLVM") || n.starts_with("swrast_dri"))
        .map(|(_, r)| r.rss)
        .sum();
    if gl == 0.0 {
        return String::new();
    }
    format!(
        "\nMesa's software GL (`libLLVM` + `swrast_dri.so`) is {gl:.0} MB of the app process's \
         {:.0} MB: GTK 3 (its GLX set-up when the display opens) and WebKitGTK's UI process (its \
         EGL display) loaded the GL driver, which on Mesa links all of LLVM. Without it the app \
         process would hold at most {:.0} MB (Mesa's smaller libraries and heap not counted). \
         The app keeps it out when it finds no GPU render node, \
         unless a `WEBKIT_*` renderer variable was set (`startup::software_rendering_env`).\n",
        s.rss_inbox.0,
        s.rss_inbox.0 - gl
    )
}

pub fn run() -> Result<(), String> {
    if let Some(why) = timeline::desktop_missing() {
        return Err(format!(
            "the desktop app cannot be driven here: {why}; run `scripts/bench desktop`"
        ));
    }
    let bin = timeline::sibling_bin("OXIDE_REVIEW_BIN", "oxide-review")?;
    let dir = tempfile::tempdir().map_err(err("temp dir"))?;
    let xdg = dir.path().join("xdg");
    // The same app on a workspace holding only what `oxide init` writes: how much of the
    // start and the memory the million events account for.
    let small_dir = tempfile::tempdir().map_err(err("temp dir"))?;
    let small = small_workspace(small_dir.path())?;
    if std::env::var_os("OXIDE_BENCH_DESKTOP_SMALL").is_some() {
        return run_small(&small, &xdg, &bin);
    }
    let ws = timeline::workspace()?;
    let samples = starts(&ws, &xdg, &bin, "start")?;
    let mut base = Vec::new();
    for i in 0..BASELINE_STARTS {
        let s = one_start(&small, &xdg, &bin)?;
        eprintln!(
            "[desktop] baseline start {}: {:.3}s to the drawn Inbox; RSS inbox {:.0}/{:.0} MB",
            i + 1,
            s.start_s,
            s.rss_inbox.0,
            s.rss_inbox.1
        );
        print_breakdown(&s);
        base.push(s);
    }
    let base_start = median(&base.iter().map(|s| s.start_s).collect::<Vec<_>>());
    let base_own = median(&base.iter().map(|s| s.rss_inbox.0).collect::<Vec<_>>());
    let base_all = median(&base.iter().map(|s| s.rss_inbox.1).collect::<Vec<_>>());
    let col = |f: &dyn Fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    let start = col(&|s| s.start_s);
    let first = samples[0].start_s;
    let (own_i, all_i) = (col(&|s| s.rss_inbox.0), col(&|s| s.rss_inbox.1));
    let (own_t, all_t) = (col(&|s| s.rss_timeline.0), col(&|s| s.rss_timeline.1));
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    let body = format!(
        "## desktop: cold start to a drawn Inbox, idle memory at 1,000,000 events\n\n\
         `scripts/bench desktop` under Xvfb; app measured: {build}. Workspace: the timeline \
         benchmark's, {EVENTS} audit events (a proposal-lifecycle mix appended through \
         `audit::append` after `oxide init`, with signed checkpoints). {STARTS} starts; medians. Start = the app process's start time \
         (`/proc/PID/stat`, placed on the wall clock by `/proc/uptime`: `btime` is whole \
         seconds and made every start read up to 1 s long before) to the `oxide:inbox-drawn` \
         mark (the second frame after the Inbox's own data — who I am, what waits for me — \
         was rendered with the workspace status, so a painted frame shows it), so the \
         WebDriver chain's own start is not counted. The database file had just been read (the workspace is built, or \
         reused and checked, before the starts), so the page cache is warm; a cold disk is \
         not measured. RSS = `VmRSS`; \"with WebKit\" adds the web \
         content and network processes the app starts. Load average {load} on 2 cores. \
         {renderer}\n\n\
         {table}\n\
         Where the start goes (1,000,000-event workspace, medians; ms after the app process \
         started; `app:` stages from the app's log, `page:` ones from the page's performance \
         timeline, IPC calls from the call to the answer):\n\n{stages}\n\
         Where the idle app process's memory goes (on the Inbox, the median start's \
         `/proc/PID/smaps` by mapping; \"shared\" = pages other processes map too, e.g. a \
         library's code the web process also runs):\n\n{memory}{software_gl}",
        stages = report::table(&["stage", "at", "took"], &breakdown_rows(&samples)),
        memory = report::table(&["mapping", "RSS", "of it shared", "what it is"], &memory_rows(&samples)),
        software_gl = software_gl_note(&samples),
        renderer = renderer_note(),
        build = timeline::build_of(&bin),
        table = report::table(
            &["measure", "value", "target", ""],
            &[
                vec![
                    "start → Inbox drawn (median)".into(),
                    format!("{start:.3} s"),
                    format!("≤ {START_TARGET_S} s"),
                    verdict(start <= START_TARGET_S).into(),
                ],
                vec![
                    format!("baseline: start → Inbox drawn, a workspace of `oxide init` only (median of {BASELINE_STARTS})"),
                    format!("{base_start:.3} s"),
                    String::new(),
                    String::new(),
                ],
                vec![
                    "baseline: idle RSS on the Inbox, app process / with WebKit".into(),
                    format!("{base_own:.0} MB / {base_all:.0} MB"),
                    String::new(),
                    String::new(),
                ],
                vec![
                    "start → Inbox drawn (first start)".into(),
                    format!("{first:.3} s"),
                    String::new(),
                    String::new(),
                ],
                vec![
                    "idle RSS on the Inbox, app process".into(),
                    format!("{own_i:.0} MB"),
                    format!("≤ {RSS_TARGET_MB} MB"),
                    verdict(own_i <= RSS_TARGET_MB).into(),
                ],
                vec![
                    "idle RSS on the Inbox, with WebKit".into(),
                    format!("{all_i:.0} MB"),
                    String::new(),
                    String::new(),
                ],
                vec![
                    "idle RSS on the Timeline, app process".into(),
                    format!("{own_t:.0} MB"),
                    format!("≤ {RSS_TARGET_MB} MB"),
                    verdict(own_t <= RSS_TARGET_MB).into(),
                ],
                vec![
                    "idle RSS on the Timeline, with WebKit".into(),
                    format!("{all_t:.0} MB"),
                    String::new(),
                    String::new(),
                ],
            ],
        ),
    );
    report::write_section("desktop", &body)?;
    println!("{body}");
    Ok(())
}

/// `OXIDE_BENCH_DESKTOP_SMALL=1`: only the workspace of `oxide init`, with the breakdown of
/// each start, printed (docs/benchmarks.md is not rewritten: its section is about the
/// 1,000,000-event workspace).
/// [`STARTS`] starts of the app on `ws`, each printed with its breakdown as `label N`.
fn starts(ws: &BenchWorkspace, xdg: &Path, bin: &Path, label: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for i in 0..STARTS {
        let s = one_start(ws, xdg, bin)?;
        eprintln!(
            "[desktop] {label} {}: {:.3}s to the drawn Inbox; RSS inbox {:.0}/{:.0} MB, timeline {:.0}/{:.0} MB",
            i + 1,
            s.start_s,
            s.rss_inbox.0,
            s.rss_inbox.1,
            s.rss_timeline.0,
            s.rss_timeline.1
        );
        print_breakdown(&s);
        samples.push(s);
    }
    Ok(samples)
}

fn run_small(small: &BenchWorkspace, xdg: &Path, bin: &Path) -> Result<(), String> {
    let samples = starts(small, xdg, bin, "small start")?;
    let col = |f: &dyn Fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "desktop (small workspace, {} starts, medians; {}; load {}): start → Inbox drawn {:.3} s; \
         idle RSS on the Inbox {:.0} MB app / {:.0} MB with WebKit; on the Timeline {:.0} / {:.0} MB \
         (docs/benchmarks.md not rewritten)\n\n{}",
        STARTS,
        timeline::build_of(bin),
        load.split_whitespace().next().unwrap_or("?"),
        col(&|s| s.start_s),
        col(&|s| s.rss_inbox.0),
        col(&|s| s.rss_inbox.1),
        col(&|s| s.rss_timeline.0),
        col(&|s| s.rss_timeline.1),
        report::table(&["stage", "at", "took"], &breakdown_rows(&samples)),
    );
    Ok(())
}

/// A git repository after `oxide init` (a handful of audit events), for the baseline.
fn small_workspace(dir: &Path) -> Result<BenchWorkspace, String> {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).map_err(err("create the repository dir"))?;
    crate::fixture::git(&repo, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo.join("README.md"), "bench\n").map_err(err("write README"))?;
    crate::fixture::git(&repo, &["add", "."])?;
    crate::fixture::git(&repo, &["commit", "-q", "-m", "start"])?;
    let db = dir.join("data").join("oxide.sqlite3");
    std::fs::create_dir_all(db.parent().unwrap()).map_err(err("create the data dir"))?;
    oxide_core::setup::init(
        &repo,
        Some(&db),
        "bench",
        oxide_core::clock::Clock::system(),
    )
    .map_err(err("oxide init"))?;
    Ok(BenchWorkspace {
        repo,
        db,
        built: None,
        resumed_from: None,
    })
}
