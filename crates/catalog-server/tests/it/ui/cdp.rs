//! A headless Chromium driven over the DevTools protocol, for the UI tests: launches
//! `chromium --headless --remote-debugging-port=0`, connects a minimal WebSocket client (text
//! frames only, enough for CDP) to the first page, and offers navigate / evaluate / wait /
//! screenshot. `Browser::launch` fails the test when Chromium is not installed.

use base64::Engine;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: TcpStream,
    next_id: u64,
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| std::env::split_paths(&path).map(move |d| d.join(b)))
        .find(|p| p.is_file())
}

/// Where screenshots go: `<target>/ui-screenshots/` (the test binary is `<target>/debug/deps/it-*`).
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
    target.join("ui-screenshots")
}

impl Browser {
    pub async fn launch() -> Browser {
        let bin = chromium().expect("this test needs Chromium: apt-get install chromium");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromium");
        let port_file = profile.path().join("DevToolsActivePort");
        // A first start in a fresh machine builds chromium's caches; give it time under load.
        let end = Instant::now() + Duration::from_secs(90);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break p;
            }
            if Instant::now() >= end {
                // Leave no browser behind when giving up.
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not open its DevTools port");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let list: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .expect("devtools list")
            .json()
            .await
            .expect("devtools json");
        let page = list
            .as_array()
            .and_then(|a| a.iter().find(|t| t["type"] == "page"))
            .expect("a page target");
        let ws_url = page["webSocketDebuggerUrl"].as_str().expect("ws url");
        let path = ws_url.splitn(4, '/').nth(3).expect("ws path");
        let mut ws = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("ws connect");
        let req = format!(
            "GET /{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        ws.write_all(req.as_bytes()).await.expect("ws handshake");
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(ws.read_u8().await.expect("ws handshake reply"));
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Browser {
            child,
            _profile: profile,
            ws,
            next_id: 0,
        }
    }

    async fn send(&mut self, text: &str) {
        let p = text.as_bytes();
        let mut f = vec![0x81u8];
        match p.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n < 65536 => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        f.extend_from_slice(&mask);
        f.extend(p.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.ws.write_all(&f).await.expect("ws send");
    }

    async fn recv(&mut self) -> String {
        let mut msg = Vec::new();
        loop {
            let b0 = self.ws.read_u8().await.expect("ws read");
            let b1 = self.ws.read_u8().await.expect("ws read");
            let len = match b1 & 0x7f {
                126 => u64::from(self.ws.read_u16().await.expect("ws len")),
                127 => self.ws.read_u64().await.expect("ws len"),
                n => u64::from(n),
            };
            let mut buf = vec![0u8; len as usize];
            self.ws.read_exact(&mut buf).await.expect("ws payload");
            match b0 & 0x0f {
                0x8 => panic!("devtools closed the connection"),
                0x9 | 0xa => continue,
                _ => msg.extend_from_slice(&buf),
            }
            if b0 & 0x80 != 0 {
                return String::from_utf8_lossy(&msg).into_owned();
            }
        }
    }

    /// Sends one command and returns its `result`, skipping events.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"id": id, "method": method, "params": params}).to_string())
            .await;
        loop {
            let v: Value = serde_json::from_str(&self.recv().await).expect("cdp json");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }

    /// Evaluates `expr` in the page (awaiting promises) and returns its value.
    pub async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is truthy; panics with `what` and the page text after `secs`.
    pub async fn wait_for(&mut self, expr: &str, secs: u64, what: &str) {
        let end = Instant::now() + Duration::from_secs(secs);
        let probe =
            format!("(() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }})()");
        while Instant::now() < end {
            if self.eval(&probe).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("timed out waiting for {what} ({expr}); page text:\n{text}");
    }

    /// Saves a PNG of the viewport as `<target>/ui-screenshots/<name>.png`.
    pub async fn screenshot(&mut self, name: &str) {
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap_or_default())
            .expect("png base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
