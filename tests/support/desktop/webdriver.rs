//! A small synchronous W3C WebDriver client: exactly the commands desktop journeys use,
//! with the protocol's errors turned into readable messages.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C key under which element references travel.
pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error: the protocol's `error` code and message, or a transport failure.
#[derive(Debug, Clone)]
pub struct WdError {
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

impl std::error::Error for WdError {}

impl WdError {
    fn transport(e: impl std::fmt::Display) -> WdError {
        WdError {
            error: "transport".into(),
            message: e.to_string(),
        }
    }

    /// The element is not (yet) there, or went away: worth waiting for.
    pub fn is_missing(&self) -> bool {
        matches!(
            self.error.as_str(),
            "no such element" | "stale element reference"
        )
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// A reference to an element in the current page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementId(pub String);

impl ElementId {
    fn from_value(v: &Value) -> WdResult<ElementId> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|s| ElementId(s.to_string()))
            .ok_or_else(|| WdError {
                error: "bad response".into(),
                message: format!("no element reference in {v}"),
            })
    }

    fn to_value(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// One WebDriver session on a driver at `base` (e.g. `http://127.0.0.1:4444`).
pub struct Session {
    agent: ureq::Agent,
    base: String,
    pub id: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn unwrap_value(status: u16, body: Value) -> WdResult<Value> {
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(WdError {
        error: value["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_string(),
        message: value["message"].as_str().unwrap_or_default().to_string(),
    })
}

fn send(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> WdResult<Value> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(b),
        (_, None) => agent.post(url).send_json(json!({})),
    };
    let mut response = response.map_err(WdError::transport)?;
    let status = response.status().as_u16();
    let body: Value = response
        .body_mut()
        .read_json()
        .map_err(WdError::transport)?;
    unwrap_value(status, body)
}

impl Session {
    /// `POST /session` with these capabilities (`alwaysMatch`).
    pub fn create(base: &str, capabilities: Value) -> WdResult<Session> {
        let agent = agent();
        let value = send(
            &agent,
            "POST",
            &format!("{base}/session"),
            Some(&json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WdError {
                error: "bad response".into(),
                message: format!("no sessionId in {value}"),
            })?
            .to_string();
        Ok(Session {
            agent,
            base: base.to_string(),
            id,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        let url = format!("{}/session/{}{}", self.base, self.id, path);
        send(&self.agent, method, &url, body.as_ref())
    }

    /// `DELETE /session/{id}`: closes the app.
    pub fn delete(&self) -> WdResult<()> {
        self.cmd("DELETE", "", None).map(|_| ())
    }

    pub fn find_css(&self, selector: &str) -> WdResult<ElementId> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": selector })),
        )?;
        ElementId::from_value(&v)
    }

    pub fn find_all_css(&self, selector: &str) -> WdResult<Vec<ElementId>> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": selector })),
        )?;
        v.as_array()
            .map(|a| a.iter().map(ElementId::from_value).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    }

    pub fn text(&self, el: &ElementId) -> WdResult<String> {
        let v = self.cmd("GET", &format!("/element/{}/text", el.0), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub fn attribute(&self, el: &ElementId, name: &str) -> WdResult<Option<String>> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)?;
        Ok(v.as_str().map(str::to_string))
    }

    pub fn is_enabled(&self, el: &ElementId) -> WdResult<bool> {
        let v = self.cmd("GET", &format!("/element/{}/enabled", el.0), None)?;
        Ok(v.as_bool().unwrap_or(false))
    }

    pub fn click(&self, el: &ElementId) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({})))
            .map(|_| ())
    }

    pub fn send_keys(&self, el: &ElementId, text: &str) -> WdResult<()> {
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// Presses `modifiers` (WebDriver key codes, e.g. `keys::ALT`), types `key`, releases all.
    pub fn chord(&self, modifiers: &[&str], key: &str) -> WdResult<()> {
        let mut actions: Vec<Value> = modifiers
            .iter()
            .map(|m| json!({ "type": "keyDown", "value": m }))
            .collect();
        actions.push(json!({ "type": "keyDown", "value": key }));
        actions.push(json!({ "type": "keyUp", "value": key }));
        actions.extend(
            modifiers
                .iter()
                .rev()
                .map(|m| json!({ "type": "keyUp", "value": m })),
        );
        self.cmd(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        )?;
        self.cmd("DELETE", "/actions", None).map(|_| ())
    }

    /// Runs a script in the page (`arguments` may hold element references).
    pub fn execute(&self, script: &str, args: &[Value]) -> WdResult<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    pub fn element_arg(el: &ElementId) -> Value {
        el.to_value()
    }

    pub fn title(&self) -> WdResult<String> {
        Ok(self
            .cmd("GET", "/title", None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The window's pixels as PNG bytes.
    pub fn screenshot_png(&self) -> WdResult<Vec<u8>> {
        let v = self.cmd("GET", "/screenshot", None)?;
        let b64 = v.as_str().ok_or_else(|| WdError {
            error: "bad response".into(),
            message: "screenshot is not a string".into(),
        })?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(WdError::transport)
    }
}

/// WebDriver key codes for `Session::chord`.
pub mod keys {
    pub const ALT: &str = "\u{E00A}";
    pub const CONTROL: &str = "\u{E009}";
    pub const SHIFT: &str = "\u{E008}";
    pub const ENTER: &str = "\u{E007}";
    pub const ESCAPE: &str = "\u{E00C}";
    pub const ARROW_DOWN: &str = "\u{E015}";
    pub const ARROW_UP: &str = "\u{E013}";
}
