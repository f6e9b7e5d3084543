//! A small W3C WebDriver client (<https://www.w3.org/TR/webdriver2/>) for the browser tests,
//! over `reqwest` and `serde_json`: chromedriver speaks WebDriver as JSON over HTTP, and the
//! tests need only a few of its commands.
//!
//! Its methods are named as fantoccini's (`goto`, `find`, `execute`, `set_window_size`,
//! ...), which the tests used before. fantoccini was dropped because its protocol types
//! (the `webdriver` crate) alone brought four duplicate crate versions into the workspace
//! (base64 0.21, cookie 0.16, thiserror 1 and its derive), and fantoccini 0.22's
//! `webdriver` 0.53 adds a second ICU tree on top; this module brings no crate the tests
//! did not already build (deny.toml's `[bans]` has the figures).
//!
//! Every command answers `Result<_, WebDriverError>`: a driver's error keeps its W3C error
//! code and message, so a failing test says what chromedriver said.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

/// The key under which W3C WebDriver names an element in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// The longest a single command may take (a page load, an async script): a hung driver fails
/// the test instead of hanging it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What can go wrong talking to the driver.
#[derive(Debug, thiserror::Error)]
pub enum WebDriverError {
    /// The driver could not be reached, or its answer could not be read.
    #[error("WebDriver request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The driver answered with a W3C error (`no such element`, `javascript error`, ...).
    #[error("{error}: {message}")]
    Driver {
        /// The W3C error code.
        error: String,
        /// The driver's message.
        message: String,
    },
    /// The driver's answer is not what the protocol says it is.
    #[error("unexpected WebDriver answer: {0}")]
    Protocol(String),
}

/// How to find elements: CSS selectors are all the tests use.
#[derive(Debug, Clone, Copy)]
pub enum Locator<'a> {
    /// A CSS selector.
    Css(&'a str),
}

impl Locator<'_> {
    fn to_json(self) -> Value {
        match self {
            Locator::Css(selector) => json!({ "using": "css selector", "value": selector }),
        }
    }
}

/// A WebDriver session.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `{driver}/session/{id}`.
    session_url: String,
    session_id: String,
}

/// An element of the current page, as the driver names it.
#[derive(Debug, Clone)]
pub struct Element {
    client: Client,
    id: String,
}

impl Client {
    /// Opens a session on the driver at `driver_url` (as `http://127.0.0.1:9515`) with the
    /// capabilities `capabilities` (`alwaysMatch`).
    pub async fn connect(
        driver_url: &str,
        capabilities: serde_json::Map<String, Value>,
    ) -> Result<Self, WebDriverError> {
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()?;
        let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let url = format!("{}/session", driver_url.trim_end_matches('/'));
        let answer = send(&http, Method::POST, &url, Some(body)).await?;
        let session_id = answer["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError::Protocol(format!("no sessionId in {answer}")))?
            .to_owned();
        Ok(Self {
            http,
            session_url: format!("{url}/{session_id}"),
            session_id,
        })
    }

    /// The session's id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Any command of the session by its path under `/session/{id}/`, such as chromedriver's
    /// own `goog/cdp/execute`: the answer's `value`. `body` `None` sends no body (a `GET` or
    /// `DELETE`).
    pub async fn command(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("{}/{}", self.session_url, path.trim_start_matches('/'));
        send(&self.http, method, &url, body).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        self.command(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        self.command(Method::GET, path, None).await
    }

    /// Loads `url` and waits for the load event (the driver's default page load strategy).
    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.post("url", json!({ "url": url })).await.map(drop)
    }

    /// The current page's URL.
    pub async fn current_url(&self) -> Result<url::Url, WebDriverError> {
        let answer = self.get("url").await?;
        let text = answer
            .as_str()
            .ok_or_else(|| WebDriverError::Protocol(format!("URL is not a string: {answer}")))?;
        url::Url::parse(text).map_err(|e| WebDriverError::Protocol(format!("URL {text}: {e}")))
    }

    /// History back, as the browser's Back button.
    pub async fn back(&self) -> Result<(), WebDriverError> {
        self.post("back", json!({})).await.map(drop)
    }

    /// History forward, as the browser's Forward button.
    pub async fn forward(&self) -> Result<(), WebDriverError> {
        self.post("forward", json!({})).await.map(drop)
    }

    /// Reloads the page, as the browser's Reload button.
    pub async fn refresh(&self) -> Result<(), WebDriverError> {
        self.post("refresh", json!({})).await.map(drop)
    }

    /// Runs `script` (a function body; `return` a value) with `args` as `arguments`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        let body = json!({ "script": script, "args": args });
        self.post("execute/sync", body).await
    }

    /// Runs `script` asynchronously: it calls its last argument with its result.
    pub async fn execute_async(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, WebDriverError> {
        let body = json!({ "script": script, "args": args });
        self.post("execute/async", body).await
    }

    /// The first element that `locator` finds.
    pub async fn find(&self, locator: Locator<'_>) -> Result<Element, WebDriverError> {
        let answer = self.post("element", locator.to_json()).await?;
        self.element(&answer)
    }

    /// Every element that `locator` finds, in document order.
    pub async fn find_all(&self, locator: Locator<'_>) -> Result<Vec<Element>, WebDriverError> {
        let answer = self.post("elements", locator.to_json()).await?;
        let found = answer
            .as_array()
            .ok_or_else(|| WebDriverError::Protocol(format!("not a list: {answer}")))?;
        found.iter().map(|e| self.element(e)).collect()
    }

    fn element(&self, reference: &Value) -> Result<Element, WebDriverError> {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| WebDriverError::Protocol(format!("not an element: {reference}")))?;
        Ok(Element {
            client: self.clone(),
            id: id.to_owned(),
        })
    }

    /// Sets the window's outer size, in CSS pixels.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), WebDriverError> {
        let body = json!({ "width": width, "height": height });
        self.post("window/rect", body).await.map(drop)
    }

    /// A PNG screenshot of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, WebDriverError> {
        let answer = self.get("screenshot").await?;
        let encoded = answer
            .as_str()
            .ok_or_else(|| WebDriverError::Protocol("screenshot is not a string".to_owned()))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| WebDriverError::Protocol(format!("screenshot is not base64: {e}")))
    }

    /// Ends the session: the driver closes the browser.
    pub async fn close(&self) -> Result<(), WebDriverError> {
        self.command(Method::DELETE, "", None).await.map(drop)
    }
}

impl Element {
    async fn post(&self, command: &str, body: Value) -> Result<Value, WebDriverError> {
        let path = format!("element/{}/{command}", self.id);
        self.client.post(&path, body).await
    }

    async fn get(&self, command: &str) -> Result<Value, WebDriverError> {
        let path = format!("element/{}/{command}", self.id);
        self.client.get(&path).await
    }

    /// Clicks the element (scrolled into view, as a user would).
    pub async fn click(&self) -> Result<(), WebDriverError> {
        self.post("click", json!({})).await.map(drop)
    }

    /// Empties a field.
    pub async fn clear(&self) -> Result<(), WebDriverError> {
        self.post("clear", json!({})).await.map(drop)
    }

    /// Types `text` into the element, key by key.
    pub async fn send_keys(&self, text: &str) -> Result<(), WebDriverError> {
        self.post("value", json!({ "text": text })).await.map(drop)
    }

    /// The element's rendered text.
    pub async fn text(&self) -> Result<String, WebDriverError> {
        let answer = self.get("text").await?;
        Ok(answer.as_str().unwrap_or_default().to_owned())
    }

    /// The element's attribute `name`, if it has it.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, WebDriverError> {
        let answer = self.get(&format!("attribute/{name}")).await?;
        Ok(answer.as_str().map(str::to_owned))
    }

    /// The element's DOM property `name`, as a string, if it is one.
    pub async fn prop(&self, name: &str) -> Result<Option<String>, WebDriverError> {
        let answer = self.get(&format!("property/{name}")).await?;
        Ok(answer.as_str().map(str::to_owned))
    }
}

/// Sends one command and unwraps the W3C answer `{"value": ...}`; a W3C error answer (its
/// `value` has `error` and `message`) becomes [`WebDriverError::Driver`].
async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let text = request.send().await?.text().await?;
    let mut answer: Value = serde_json::from_str(&text)
        .map_err(|e| WebDriverError::Protocol(format!("{e}: {text}")))?;
    let value = answer["value"].take();
    match value["error"].as_str() {
        Some(error) => Err(WebDriverError::Driver {
            error: error.to_owned(),
            message: value["message"].as_str().unwrap_or_default().to_owned(),
        }),
        None => Ok(value),
    }
}
