//! Desktop journeys: the real `oxide-review` binary in a real WebKit window (under Xvfb in
//! `scripts/test`), driven over W3C WebDriver through `tauri-driver`, which starts
//! `WebKitWebDriver` (Debian package `webkit2gtk-driver`), which starts the app.
//!
//! A journey in a few lines:
//!
//! ```no_run
//! use oxide_journeys::{desktop::Launch, TestRepo};
//! let repo = TestRepo::new();
//! repo.init();
//! let app = Launch::new("my-journey").workspace(&repo).start();
//! app.click("nav-timeline");
//! app.wait_text("verify-result", |t| t.contains("intact"));
//! app.screenshot("my-journey");
//! // dropping `app` closes the session and stops every process it started
//! ```
//!
//! Missing pieces (no display, no driver, no binary) fail the journey with what to do;
//! they never skip it.

pub mod webdriver;

use std::fs;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{target_dir, TestRepo};
pub use webdriver::{keys, ElementId, Session, WdError};

/// How long `find`/`wait_*` wait by default. Generous: CI runs on two shared cores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long starting the driver and the app may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// Workspace root (`tests/..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where screenshots and logs go: `OXIDE_ARTIFACTS`, else `<repo>/artifacts` (gitignored).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("OXIDE_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("artifacts"));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The built desktop binary: `OXIDE_REVIEW_BIN`, else `target/<profile>/oxide-review`.
pub fn app_bin() -> PathBuf {
    std::env::var_os("OXIDE_REVIEW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("oxide-review"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `tauri-driver`: `TAURI_DRIVER`, else on PATH or in ~/.cargo/bin.
pub fn tauri_driver_bin() -> Option<PathBuf> {
    std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| find_on_path("tauri-driver"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Checks everything a journey needs before starting anything; fails with what to do.
fn preflight() -> (PathBuf, PathBuf) {
    let mut problems = Vec::new();
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        problems.push(
            "no DISPLAY: desktop journeys need an X server. Run them through `bash scripts/test` \
             (it wraps the tests in xvfb-run and dbus-run-session), or prefix your command with \
             `xvfb-run -a -s \"-screen 0 1280x800x24\" dbus-run-session --`."
                .to_string(),
        );
    }
    let driver = tauri_driver_bin();
    if driver.is_none() {
        problems.push(
            "tauri-driver not found (PATH, ~/.cargo/bin or TAURI_DRIVER): run `bash scripts/setup.sh` \
             or `cargo install tauri-driver --locked`."
                .to_string(),
        );
    }
    if find_on_path("WebKitWebDriver").is_none() {
        problems.push(
            "WebKitWebDriver not found on PATH: install the Debian package webkit2gtk-driver \
             (`bash scripts/setup.sh` does)."
                .to_string(),
        );
    }
    let app = app_bin();
    if !app.is_file() {
        problems.push(format!(
            "the desktop app is not built at {}: run `npm --prefix ui run build && cargo build -p oxide-review` \
             (scripts/test does), or set OXIDE_REVIEW_BIN.",
            app.display()
        ));
    }
    assert!(
        problems.is_empty(),
        "desktop journey cannot run:\n  - {}",
        problems.join("\n  - ")
    );
    (driver.unwrap(), app)
}

/// How to start the app for one journey: its name (used for artifacts), env and arguments.
pub struct Launch {
    name: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
    data: Option<tempfile::TempDir>,
}

impl Launch {
    /// A journey called `name` (screenshots and logs are named after it).
    pub fn new(name: &str) -> Launch {
        Launch {
            name: name.to_string(),
            env: Vec::new(),
            args: Vec::new(),
            data: None,
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Launch {
        self.env.push((
            key.to_string(),
            value.as_ref().to_string_lossy().into_owned(),
        ));
        self
    }

    pub fn arg(mut self, arg: &str) -> Launch {
        self.args.push(arg.to_string());
        self
    }

    /// Starts on `repo` (OXIDE_WORKSPACE) with its database (OXIDE_DB) and the same
    /// XDG folders `repo.oxide(...)` uses, so the app sees what the CLI wrote.
    pub fn workspace(self, repo: &TestRepo) -> Launch {
        self.env("OXIDE_WORKSPACE", repo.path())
            .env("OXIDE_DB", repo.db())
            .env("XDG_DATA_HOME", repo.data.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", repo.data.path().join("xdg-config"))
    }

    /// Starts with no workspace given, in fresh XDG folders (first start: the demo).
    pub fn fresh_user(mut self) -> Launch {
        let data = tempfile::tempdir().expect("temp data dir");
        self = self
            .env("XDG_DATA_HOME", data.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", data.path().join("xdg-config"));
        self.data = Some(data);
        self
    }

    /// Starts tauri-driver and a session on the app; waits until the UI has mounted.
    pub fn start(self) -> DesktopApp {
        let (driver_bin, app) = preflight();
        let started = Instant::now();
        let artifacts = artifacts_dir();
        let log_path = artifacts.join(format!("{}-driver.log", self.name));
        let log = fs::File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let port = free_port();
        // WebKitWebDriver's own port must differ per journey too: nextest runs them in parallel.
        let native_port = free_port();
        let mut cmd = Command::new(&driver_bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
        // The app inherits this environment through the driver chain.
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // One process group: stopping the journey stops the driver, WebKitWebDriver and the app.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_bin.display()));
        let driver = DriverProcess { child };
        let base = format!("http://127.0.0.1:{port}");
        tracing_line(&format!(
            "[desktop:{}] tauri-driver on {base} (native {native_port}), app {}",
            self.name,
            app.display()
        ));

        wait_until(START_TIMEOUT, "tauri-driver to listen", || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .unwrap_or_else(|e| panic!("{e}; see {}", log_path.display()));

        let capabilities = json!({
            "browserName": "wry",
            "tauri:options": { "application": app, "args": self.args },
        });
        // WebKitWebDriver may still be starting behind tauri-driver: retry the session.
        let mut last = None;
        let session =
            wait_until(
                START_TIMEOUT,
                "a WebDriver session on the app",
                || match Session::create(&base, capabilities.clone()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        last = Some(e);
                        std::thread::sleep(Duration::from_millis(400));
                        None
                    }
                },
            )
            .unwrap_or_else(|e| {
                panic!(
                    "{e} (last error: {}); see {}",
                    last.map(|e| e.to_string()).unwrap_or_default(),
                    log_path.display()
                )
            });

        let app = DesktopApp {
            name: self.name,
            session: Some(session),
            driver: Some(driver),
            log_path,
            _data: self.data,
        };
        app.find("app-shell");
        tracing_line(&format!(
            "[desktop:{}] app up in {:.1}s",
            app.name,
            started.elapsed().as_secs_f32()
        ));
        app
    }
}

fn tracing_line(line: &str) {
    // Test output is captured by the harness and shown on failure.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Polls `f` every 100 ms until it returns `Some`, or fails naming what it waited for.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out after {:.0}s waiting for {what}",
                timeout.as_secs_f32()
            ));
        }
        std::thread::sleep(POLL);
    }
}

struct DriverProcess {
    child: Child,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

impl DriverProcess {
    fn stop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        #[allow(unsafe_code)] // std cannot signal a process group
        // SAFETY: kill(2) on our own process group; no memory is touched.
        unsafe {
            libc::kill(-pgid, libc::SIGTERM)
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (the app, WebKitWebDriver) goes too.
        #[allow(unsafe_code)] // as above
        // SAFETY: as above.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL)
        };
        let _ = self.child.wait();
    }
}

/// The running app under WebDriver. Every lookup is by `data-testid`. Dropping it closes the
/// session and stops every process the journey started; a failing journey leaves
/// `<name>-failure.png` and `<name>-driver.log` in the artifacts folder.
pub struct DesktopApp {
    pub name: String,
    session: Option<Session>,
    driver: Option<DriverProcess>,
    log_path: PathBuf,
    _data: Option<tempfile::TempDir>,
}

/// CSS selector for a `data-testid`.
pub fn by_testid(testid: &str) -> String {
    format!("[data-testid=\"{testid}\"]")
}

impl DesktopApp {
    pub fn session(&self) -> &Session {
        self.session.as_ref().expect("session is open")
    }

    fn fail(&self, what: String) -> ! {
        panic!(
            "[desktop:{}] {what}; driver log: {}",
            self.name,
            self.log_path.display()
        )
    }

    /// Waits for `f` (up to `timeout`); `what` names the condition in the failure.
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, f: impl FnMut() -> Option<T>) -> T {
        wait_until(timeout, what, f).unwrap_or_else(|e| self.fail(e))
    }

    /// The element with this testid, waiting for it to appear.
    pub fn find(&self, testid: &str) -> ElementId {
        let selector = by_testid(testid);
        self.wait_for(&format!("element {selector}"), DEFAULT_TIMEOUT, || {
            self.session().find_css(&selector).ok()
        })
    }

    /// The element with this testid if it is there now.
    pub fn try_find(&self, testid: &str) -> Option<ElementId> {
        match self.session().find_css(&by_testid(testid)) {
            Ok(el) => Some(el),
            Err(e) if e.is_missing() => None,
            Err(e) => self.fail(format!("looking for {testid}: {e}")),
        }
    }

    /// All elements with this testid now (possibly none).
    pub fn find_all(&self, testid: &str) -> Vec<ElementId> {
        self.session()
            .find_all_css(&by_testid(testid))
            .unwrap_or_else(|e| self.fail(format!("looking for all {testid}: {e}")))
    }

    /// The visible text of the element with this testid.
    pub fn text(&self, testid: &str) -> String {
        let el = self.find(testid);
        self.session()
            .text(&el)
            .unwrap_or_else(|e| self.fail(format!("text of {testid}: {e}")))
    }

    /// The texts of all elements with this testid.
    pub fn texts(&self, testid: &str) -> Vec<String> {
        self.find_all(testid)
            .iter()
            .filter_map(|el| self.session().text(el).ok())
            .collect()
    }

    /// Waits until the element's text satisfies `ok`; returns that text.
    pub fn wait_text(&self, testid: &str, ok: impl Fn(&str) -> bool) -> String {
        let selector = by_testid(testid);
        let mut seen = String::new();
        wait_until(DEFAULT_TIMEOUT, &selector, || {
            let el = self.session().find_css(&selector).ok()?;
            seen = self.session().text(&el).ok()?;
            ok(&seen).then(|| seen.clone())
        })
        .unwrap_or_else(|e| self.fail(format!("{e}: text was {seen:?}")))
    }

    /// Waits until at least one element with this testid exists; returns all their texts.
    pub fn wait_texts(&self, testid: &str) -> Vec<String> {
        self.wait_for(
            &format!("any {}", by_testid(testid)),
            DEFAULT_TIMEOUT,
            || {
                let texts = self.texts(testid);
                (!texts.is_empty()).then_some(texts)
            },
        )
    }

    pub fn attr(&self, testid: &str, name: &str) -> Option<String> {
        let el = self.find(testid);
        self.session()
            .attribute(&el, name)
            .unwrap_or_else(|e| self.fail(format!("attribute {name} of {testid}: {e}")))
    }

    /// Clicks the element with this testid once it exists and is enabled.
    pub fn click(&self, testid: &str) {
        let el = self.wait_for(&format!("{testid} to be enabled"), DEFAULT_TIMEOUT, || {
            let el = self.session().find_css(&by_testid(testid)).ok()?;
            self.session().is_enabled(&el).ok()?.then_some(el)
        });
        // Into the middle of the view first: WebDriver scrolls only as far as the bottom edge,
        // where the toasts sit, and a click there lands on a toast.
        let _ = self.session().execute(
            "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({block: 'center', inline: 'nearest'});",
            &[Value::String(by_testid(testid))],
        );
        self.session()
            .click(&el)
            .unwrap_or_else(|e| self.fail(format!("click {testid}: {e}")));
    }

    /// Types into the element with this testid.
    pub fn type_into(&self, testid: &str, text: &str) {
        let el = self.find(testid);
        self.session()
            .send_keys(&el, text)
            .unwrap_or_else(|e| self.fail(format!("type into {testid}: {e}")));
    }

    /// A key chord, e.g. `app.chord(&[keys::ALT], "5")`.
    pub fn chord(&self, modifiers: &[&str], key: &str) {
        self.session()
            .chord(modifiers, key)
            .unwrap_or_else(|e| self.fail(format!("keys {modifiers:?}+{key}: {e}")));
    }

    /// Runs JavaScript in the page.
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.session()
            .execute(script, args)
            .unwrap_or_else(|e| self.fail(format!("script failed: {e}")))
    }

    /// Saves `<artifacts>/<file>.png` and returns its path. Waits briefly first: a shot taken
    /// straight after a DOM change can show the previous frame.
    pub fn screenshot(&self, file: &str) -> PathBuf {
        std::thread::sleep(Duration::from_millis(300));
        let png = screenshot_while_drawing(self.session())
            .unwrap_or_else(|e| self.fail(format!("screenshot: {e}")));
        let path = artifacts_dir().join(format!("{file}.png"));
        fs::write(&path, &png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        tracing_line(&format!(
            "[desktop:{}] screenshot {}",
            self.name,
            path.display()
        ));
        path
    }
}

impl Drop for DesktopApp {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            if std::thread::panicking() {
                if let Ok(png) = screenshot_while_drawing(&session) {
                    let path = artifacts_dir().join(format!("{}-failure.png", self.name));
                    if fs::write(&path, png).is_ok() {
                        tracing_line(&format!(
                            "[desktop:{}] failure screenshot {}",
                            self.name,
                            path.display()
                        ));
                    }
                }
            }
            let _ = session.delete();
        }
        // Dropping the driver stops its whole process group.
        drop(self.driver.take());
    }
}

/// Starts a drawing the eye cannot see — a 1×1 px corner box whose background alternates
/// between fully transparent and 1 % black every frame (WebKit keeps 8-bit alpha: less rounds
/// to no change at all) — takes a WebDriver screenshot, and removes the box. Without it, a
/// shot of a page that stopped changing could wait forever where the app draws without GPU
/// compositing (no GPU render node, as under Xvfb): WebKitGTK 2.50 answers a screenshot only
/// after the web process drew something and the web view's next GTK draw followed
/// (`DrawingAreaCoordinatedGraphics::display` holds the callback while nothing is dirty;
/// `webkitWebViewBaseCallAfterNextPresentationUpdate`). It hung every second shot or so of a
/// settled page.
fn screenshot_while_drawing(session: &Session) -> Result<Vec<u8>, WdError> {
    const START: &str = r#"
let el = document.getElementById('oxide-shot-tick');
if (!el) {
  el = document.createElement('div');
  el.id = 'oxide-shot-tick';
  el.setAttribute('aria-hidden', 'true');
  Object.assign(el.style, { position: 'fixed', left: '0', top: '0', width: '1px', height: '1px',
    pointerEvents: 'none', zIndex: '2147483647' });
  document.documentElement.appendChild(el);
}
el.getAnimations().forEach((a) => a.cancel());
el.animate([{ backgroundColor: 'rgba(0,0,0,0)' }, { backgroundColor: 'rgba(0,0,0,0.01)' }],
  { duration: 32, iterations: Infinity, easing: 'steps(2)' });
return true;"#;
    const STOP: &str = "document.getElementById('oxide-shot-tick')?.remove(); return true;";
    session.execute(START, &[])?;
    let png = session.screenshot_png();
    let _ = session.execute(STOP, &[]);
    png
}

/// Checks that `bytes` is a PNG of at least `min_w` x `min_h` pixels; returns (width, height).
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}
