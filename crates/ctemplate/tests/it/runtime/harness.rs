//! Runtime-test harness: the real `consul` binary ([`test_support::Consul`]: on sockets the
//! test bound, temp data dir; a missing binary fails the test) with the calls these tests
//! make, the `consul-template` binary under test with its output captured, and `read`. Every
//! child is killed in `Drop`.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use api_types::client::{Client, KvPutOptions};
use ctemplate::signal::{self, Signal};
pub use test_support::{wait_until, ReservedPort};

/// Reads a file, empty when missing.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A consul agent (server, bootstrap, node `ct-node`); derefs to the harness.
pub struct Consul(test_support::Consul);

impl Deref for Consul {
    type Target = test_support::Consul;
    fn deref(&self) -> &test_support::Consul {
        &self.0
    }
}

impl DerefMut for Consul {
    fn deref_mut(&mut self) -> &mut test_support::Consul {
        &mut self.0
    }
}

impl Consul {
    fn builder() -> test_support::ConsulBuilder {
        test_support::Consul::builder()
            .node("ct-node")
            .arg("-log-level=warn")
    }

    /// Starts on a port of its own and waits until it serves.
    pub async fn start() -> Consul {
        Consul(Self::builder().start().await)
    }

    /// Starts with HTTP on `port`, held by the test until now.
    pub async fn start_on(port: ReservedPort) -> Consul {
        Consul(Self::builder().http_port(port).start().await)
    }

    /// Starts with an HTTPS listener (on a port of its own) serving `certs`' server
    /// certificate and requiring client certificates ([`test_support::tls`]); returns the
    /// agent and its HTTPS port.
    pub async fn start_https(certs: &Path) -> (Consul, u16) {
        let consul = Consul(
            Self::builder()
                .args(["-log-level=info".to_string(), "-https-port=0".to_string()])
                .args(["-hcl".to_string(), test_support::tls::https_hcl(certs)])
                .start()
                .await,
        );
        let mut port = None;
        wait_until(Duration::from_secs(10), || {
            port = test_support::tls::https_port(&consul.output());
            let found = port.is_some();
            async move { found }
        })
        .await;
        let port = port.unwrap_or_else(|| panic!("no HTTPS listener: {}", consul.output()));
        (consul, port)
    }

    /// Starts with `acl { enabled = true default_policy = "deny" }` and `management` as
    /// the initial management token, which the harness's own calls use.
    pub async fn start_acl(management: &str) -> Consul {
        Consul(
            Self::builder()
                .token(management)
                .args([
                    "-hcl".to_string(),
                    format!(
                        r#"acl {{ enabled = true default_policy = "deny" tokens {{ initial_management = "{management}" }} }}"#
                    ),
                ])
                .start()
                .await,
        )
    }

    /// Starts with ACLs (`default_policy = "deny"`, `management` as the initial management
    /// token) and an HTTPS listener requiring client certificates; returns the HTTPS port.
    pub async fn start_https_acl(certs: &Path, management: &str) -> (Consul, u16) {
        let consul = Consul(
            Self::builder()
                .token(management)
                .args(["-log-level=info".to_string(), "-https-port=0".to_string()])
                .args(["-hcl".to_string(), test_support::tls::https_hcl(certs)])
                .args([
                    "-hcl".to_string(),
                    format!(
                        r#"acl {{ enabled = true default_policy = "deny" tokens {{ initial_management = "{management}" }} }}"#
                    ),
                ])
                .start()
                .await,
        );
        let mut port = None;
        wait_until(Duration::from_secs(10), || {
            port = test_support::tls::https_port(&consul.output());
            let found = port.is_some();
            async move { found }
        })
        .await;
        let port = port.unwrap_or_else(|| panic!("no HTTPS listener: {}", consul.output()));
        (consul, port)
    }

    /// A client for this agent (with its management token, when it has ACLs).
    pub fn client(&self) -> Client {
        let c = Client::new(&self.addr()).expect("client");
        match self.token() {
            Some(t) => c.with_token(t),
            None => c,
        }
    }

    /// Registers service `id` named `name` at 127.0.0.1:`port`.
    pub async fn register(&self, id: &str, name: &str, port: u16) {
        let reg = serde_json::from_value(serde_json::json!({
            "ID": id, "Name": name, "Port": port, "Address": "127.0.0.1"
        }))
        .expect("registration");
        self.client()
            .service_register(&reg)
            .await
            .expect("register");
    }

    /// Deregisters service `id`.
    pub async fn deregister(&self, id: &str) {
        self.client()
            .service_deregister(id)
            .await
            .expect("deregister");
    }

    /// `PUT /v1/kv/<key>`.
    pub async fn put(&self, key: &str, value: &str) {
        self.client()
            .kv_put(key, value.as_bytes(), &KvPutOptions::default())
            .await
            .expect("kv put");
    }

    /// Kills the agent (data dir kept).
    pub fn kill(&mut self) {
        self.0.kill9();
    }
}

/// A running `consul-template` with stdout/stderr captured.
pub struct Ct {
    proc: test_support::Process,
    /// Exit code once known.
    pub code: Option<i32>,
}

impl Ct {
    /// Starts `consul-template args...`.
    pub fn start(args: &[String]) -> Ct {
        Ct::start_env(args, &[])
    }

    /// Starts `consul-template args...` with `env` added to its environment.
    pub fn start_env(args: &[String], env: &[(&str, &str)]) -> Ct {
        let mut cmd = Command::new(test_support::binary("consul-template"));
        cmd.args(args)
            .env_remove("CONSUL_HTTP_ADDR")
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        Ct {
            proc: test_support::Process::spawn(cmd),
            code: None,
        }
    }

    /// Starts `consul-template args...` in directory `cwd` (relative template paths).
    pub fn start_in(args: &[String], cwd: &Path) -> Ct {
        let mut cmd = Command::new(test_support::binary("consul-template"));
        cmd.args(args)
            .current_dir(cwd)
            .env_remove("CONSUL_HTTP_ADDR")
            .stdin(Stdio::null());
        Ct {
            proc: test_support::Process::spawn(cmd),
            code: None,
        }
    }

    /// Its process ID.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// SIGKILL, and reaps it.
    pub fn kill9(&mut self) {
        self.proc.kill();
    }

    /// Captured stdout.
    pub fn stdout(&self) -> String {
        self.proc.stdout()
    }

    /// Captured stderr (the log).
    pub fn stderr(&self) -> String {
        self.proc.stderr()
    }

    /// Sends a signal.
    pub fn signal(&self, sig: Signal) {
        signal::send(self.proc.pid(), sig, false).expect("signal");
    }

    /// Waits for the process to exit; its code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let st = self.proc.wait_exit(timeout).await?;
        self.code = st.code();
        self.code
    }
}

/// `-template` value for src:dst(:cmd).
pub fn tpl(src: &Path, dst: &Path, cmd: Option<&str>) -> String {
    match cmd {
        Some(c) => format!("{}:{}:{c}", src.display(), dst.display()),
        None => format!("{}:{}", src.display(), dst.display()),
    }
}
