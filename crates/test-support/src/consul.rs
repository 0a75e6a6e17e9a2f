//! Our `consul` binary as a child of a test or a bench, on sockets the caller bound.
//!
//! The HTTP listener, the server-port listener and the gossip socket (UDP, the server port's
//! number) are bound by this process ([`ReservedPort`]) and handed to the agent as fds 3, 4
//! and 5 with `LISTEN_FDNAMES=http:server:serf_lan` ([`crate::activation`]); the agent adopts them instead of
//! binding. `-http-port`, `-server-port`, `-bind` and `-client` are passed too, so what the
//! agent prints and advertises matches. The parent closes its copies once the child runs: when
//! the agent dies its ports refuse connections, and a restart binds the same ports again
//! (failing loudly if something else took one meanwhile).
//!
//! ```no_run
//! # async fn f() {
//! let consul = test_support::Consul::builder().node("n1").start().await;
//! let url = consul.url("/v1/kv/x");
//! # }
//! ```

use crate::process::{create, dump, read, send_signal, DUMP_LINES};
use crate::ReservedPort;
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long [`Consul::start`] waits for readiness by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the agent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `-dev`: in-memory server (no data dir).
    Dev,
    /// `-server -bootstrap`: a server electing itself (the default).
    Bootstrap,
    /// `-server -bootstrap-expect=<servers> -retry-join=<each of join>`: a cluster member.
    Expect { servers: usize, join: Vec<String> },
    /// `-server` alone: waits to be joined (`consul join`).
    Server,
    /// A client agent (no `-server`) joining `join` (`-retry-join=` each). It is handed no
    /// server-port socket; its gossip port is still the reserved server port's number.
    Client { join: Vec<String> },
}

/// What became of a wait for readiness.
#[derive(Debug)]
pub enum Ready {
    /// A leader is known and the agent's own node is in the catalog, after this long.
    Serving(Duration),
    /// The process exited with this status.
    Exited(ExitStatus),
    /// Neither in time; the process still runs.
    TimedOut,
}

/// Configures a [`Consul`]; every setting has a default (a `-server -bootstrap` agent named
/// `test-node` on 127.0.0.1, data dir in a temp dir, output captured there).
#[derive(Debug)]
pub struct ConsulBuilder {
    bin: Option<PathBuf>,
    mode: Mode,
    ip: IpAddr,
    node: String,
    data_dir: Option<PathBuf>,
    log_file: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    prefix: Vec<OsString>,
    http: Option<ReservedPort>,
    server: Option<ReservedPort>,
    ready_timeout: Duration,
    token: Option<String>,
}

impl Default for ConsulBuilder {
    fn default() -> Self {
        ConsulBuilder {
            bin: None,
            mode: Mode::Bootstrap,
            ip: IpAddr::from([127, 0, 0, 1]),
            node: "test-node".to_string(),
            data_dir: None,
            log_file: None,
            args: Vec::new(),
            env: Vec::new(),
            prefix: Vec::new(),
            http: None,
            server: None,
            ready_timeout: READY_TIMEOUT,
            token: None,
        }
    }
}

impl ConsulBuilder {
    /// The binary to run; default: the workspace's debug `consul` ([`crate::binary`]).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Some(path.into());
        self
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// `-dev`.
    pub fn dev(self) -> Self {
        self.mode(Mode::Dev)
    }

    /// A member of a cluster of `servers` that joins `join` (addresses, with or without port).
    pub fn member(self, servers: usize, join: &[String]) -> Self {
        self.mode(Mode::Expect {
            servers,
            join: join.to_vec(),
        })
    }

    /// The loopback address of `-bind`, `-client` and both listeners (default 127.0.0.1).
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip
            .parse()
            .unwrap_or_else(|e| panic!("{ip:?} is not an IP address: {e}"));
        self
    }

    /// `-node` (default `test-node`); readiness waits for this node in the catalog.
    pub fn node(mut self, node: &str) -> Self {
        self.node = node.to_string();
        self
    }

    /// The data dir to use (created if missing, kept on drop); default `<temp dir>/data`.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// Both stdout and stderr appended to this file (kept on drop), instead of two files in the
    /// temp dir.
    pub fn log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// One more agent flag, after the harness's own (a later flag wins).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An environment variable of the agent.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Programs the agent runs under, each `exec`ing the next (e.g.
    /// `["setpriv", "--pdeathsig", "KILL", "--"]`).
    pub fn prefix<S: Into<OsString>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.prefix.extend(argv.into_iter().map(Into::into));
        self
    }

    /// The HTTP socket, when the test must know the port before the agent starts (default: a
    /// port chosen on the builder's IP). Its IP becomes the builder's IP.
    pub fn http_port(mut self, port: ReservedPort) -> Self {
        self.ip = port.ip();
        self.http = Some(port);
        self
    }

    /// The server-port socket (a cluster's shared port, see [`ReservedPort::shared`]).
    pub fn server_port(mut self, port: ReservedPort) -> Self {
        self.server = Some(port);
        self
    }

    /// How long [`Consul::start`] waits (default 30 s).
    /// The ACL token the readiness probe reads the catalog with (an agent with
    /// `default_policy = "deny"` shows the anonymous token nothing).
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The agent, not started.
    pub fn build(self) -> Consul {
        let bin = self.bin.unwrap_or_else(|| crate::binary("consul"));
        let ip = self.ip;
        let http = self
            .http
            .unwrap_or_else(|| ReservedPort::on(&ip.to_string()));
        let server = self
            .server
            .unwrap_or_else(|| ReservedPort::on(&ip.to_string()));
        assert_eq!(
            server.ip(),
            ip,
            "the server port is bound on {} but the agent binds {ip}",
            server.ip()
        );
        let dir = crate::temp_dir("consul-test-");
        let data_dir = self.data_dir.unwrap_or_else(|| dir.path().join("data"));
        let (stdout, stderr) = match self.log_file {
            Some(f) => (f.clone(), f),
            None => (dir.path().join("stdout"), dir.path().join("stderr")),
        };
        Consul {
            bin,
            mode: self.mode,
            ip,
            node: self.node,
            http_port: http.port(),
            server_port: server.port(),
            held: Some((http, server)),
            data_dir,
            args: self.args,
            env: self.env,
            prefix: self.prefix,
            stdout,
            stderr,
            ready_timeout: self.ready_timeout,
            token: self.token,
            child: None,
            exit: None,
            _dir: dir,
        }
    }

    /// The agent, started, not waited for.
    pub fn spawn(self) -> Consul {
        let mut c = self.build();
        c.spawn();
        c
    }

    /// The agent, started and ready ([`Consul::start`]).
    pub async fn start(self) -> Consul {
        let mut c = self.build();
        c.start().await;
        c
    }

    /// [`ConsulBuilder::start`] without a runtime.
    pub fn start_blocking(self) -> Consul {
        let mut c = self.build();
        c.start_blocking();
        c
    }
}

/// A `consul agent` child process: its sockets, data dir and captured output. Dropping it
/// kills and reaps the process and removes its temp dir (a given data dir or log file stays);
/// when the test is failing, the tail of the output is printed first.
pub struct Consul {
    bin: PathBuf,
    mode: Mode,
    ip: IpAddr,
    node: String,
    http_port: u16,
    server_port: u16,
    /// The sockets while no process holds them (before a start, after an exit).
    held: Option<(ReservedPort, ReservedPort)>,
    data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    prefix: Vec<OsString>,
    stdout: PathBuf,
    stderr: PathBuf,
    ready_timeout: Duration,
    /// The ACL token the readiness probe reads with (`?token=`).
    token: Option<String>,
    child: Option<Child>,
    exit: Option<ExitStatus>,
    _dir: tempfile::TempDir,
}

impl Consul {
    pub fn builder() -> ConsulBuilder {
        ConsulBuilder::default()
    }

    /// The agent's command line after `consul`.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["agent".to_string()];
        match &self.mode {
            Mode::Dev => a.push("-dev".into()),
            Mode::Bootstrap => a.extend(["-server".into(), "-bootstrap".into()]),
            Mode::Expect { servers, join } => {
                a.push("-server".into());
                a.push(format!("-bootstrap-expect={servers}"));
                a.extend(join.iter().map(|j| format!("-retry-join={j}")));
            }
            Mode::Server => a.push("-server".into()),
            Mode::Client { join } => {
                a.extend(join.iter().map(|j| format!("-retry-join={j}")));
            }
        }
        if self.mode != Mode::Dev {
            a.push(format!("-data-dir={}", self.data_dir.display()));
        }
        a.extend([
            format!("-bind={}", self.ip),
            format!("-client={}", self.ip),
            format!("-node={}", self.node),
            format!("-http-port={}", self.http_port),
            format!("-server-port={}", self.server_port),
            // Gossip on the server port's number, over UDP: `-retry-join=<ip>` finds it.
            format!("-serf-lan-port={}", self.server_port),
        ]);
        let joins = matches!(&self.mode,
            Mode::Expect { join, .. } | Mode::Client { join } if !join.is_empty());
        if joins
            && !self
                .args
                .iter()
                .any(|x| x.trim_start_matches('-').starts_with("retry-interval"))
        {
            a.push("-retry-interval=1s".into());
        }
        // The DNS interface listens on 8600 by default: off unless the test asks for it
        // (`-dns-port=0`), so agents started side by side do not collide.
        if !self
            .args
            .iter()
            .any(|x| x.trim_start_matches('-').starts_with("dns-port"))
        {
            a.push("-dns-port=-1".into());
        }
        a.extend(self.args.iter().cloned());
        a
    }

    /// Adds an agent flag for the next start.
    pub fn push_arg(&mut self, arg: impl Into<String>) {
        self.args.push(arg.into());
    }

    /// Runs the agent under `argv` (see [`ConsulBuilder::prefix`]) from the next start on.
    pub fn set_prefix<S: Into<OsString>>(&mut self, argv: impl IntoIterator<Item = S>) {
        self.prefix = argv.into_iter().map(Into::into).collect();
    }

    /// Uses another data dir from the next start on.
    pub fn set_data_dir(&mut self, path: impl Into<PathBuf>) {
        self.data_dir = path.into();
    }

    /// Starts the process on its sockets, without waiting. Panics when it already runs, or
    /// when a port it had is taken by someone else since.
    pub fn spawn(&mut self) {
        assert!(
            !self.running(),
            "consul {} is already running (pid {:?})",
            self.node,
            self.pid()
        );
        let (http, server) = match self.held.take() {
            Some(held) => held,
            None => (self.rebind(self.http_port), self.rebind(self.server_port)),
        };
        if self.mode != Mode::Dev {
            std::fs::create_dir_all(&self.data_dir).unwrap_or_else(|e| {
                panic!("cannot create data dir {}: {e}", self.data_dir.display())
            });
        }
        let (http_addr, server_addr) = (http.addr(), server.addr());
        let http = http
            .listen()
            .unwrap_or_else(|e| panic!("cannot listen on {http_addr}: {e}"));
        let (server, serf) = server
            .listen_with_udp()
            .unwrap_or_else(|e| panic!("cannot listen on {server_addr}: {e}"));
        // fds 3, 4, 5: http, server (a client has none), serf_lan.
        let mut sockets = vec![("http", http.as_fd())];
        if !matches!(self.mode, Mode::Client { .. }) {
            sockets.push(("server", server.as_fd()));
        }
        sockets.push(("serf_lan", serf.as_fd()));
        let mut cmd =
            crate::activation::command_with_prefix(&self.prefix, &self.bin, self.args(), &sockets)
                .unwrap_or_else(|e| panic!("cannot hand the sockets over: {e}"));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(create(&self.stdout))
            .stderr(create(&self.stderr));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        // The child holds the sockets now; ours close with `http`, `server` and `cmd`.
        self.child = Some(child);
        self.exit = None;
    }

    fn rebind(&self, port: u16) -> ReservedPort {
        let addr = SocketAddr::new(self.ip, port);
        ReservedPort::at(addr).unwrap_or_else(|e| {
            panic!(
                "consul {}: cannot bind {addr} again to restart on it: {e} (something else took the port)",
                self.node
            )
        })
    }

    /// Starts the process and waits until it is ready; panics with its output otherwise.
    pub async fn start(&mut self) {
        self.spawn();
        let ready = self.wait_ready(self.ready_timeout).await;
        self.expect_ready(ready);
    }

    /// [`Consul::start`] without a runtime.
    pub fn start_blocking(&mut self) {
        self.spawn();
        let ready = self.wait_ready_blocking(self.ready_timeout);
        self.expect_ready(ready);
    }

    fn expect_ready(&self, ready: Ready) {
        let why = match ready {
            Ready::Serving(_) => return,
            Ready::Exited(st) => format!("exited ({st})"),
            Ready::TimedOut => format!("was not ready within {:?}", self.ready_timeout),
        };
        panic!(
            "consul {} (http {}) {why}: {}\n{}",
            self.node,
            self.http_addr(),
            self.bin.display(),
            self.output_tail()
        );
    }

    /// Waits until the agent is ready (a leader is known, its node is in the catalog), it
    /// exits, or `timeout` passes.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Ready {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.try_wait() {
                return Ready::Exited(st);
            }
            let (addr, node, token) = (self.http_addr(), self.node.clone(), self.token.clone());
            let server = !matches!(self.mode, Mode::Client { .. });
            let ok =
                tokio::task::spawn_blocking(move || probe(addr, &node, token.as_deref(), server))
                    .await
                    .unwrap_or(false);
            if ok {
                return Ready::Serving(t0.elapsed());
            }
            if t0.elapsed() >= timeout {
                return Ready::TimedOut;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// [`Consul::wait_ready`] without a runtime.
    pub fn wait_ready_blocking(&mut self, timeout: Duration) -> Ready {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.try_wait() {
                return Ready::Exited(st);
            }
            if self.is_ready() {
                return Ready::Serving(t0.elapsed());
            }
            if t0.elapsed() >= timeout {
                return Ready::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// One probe: `GET /v1/status/leader` names a leader and `GET /v1/catalog/node/<node>`
    /// lists the agent's own `consul` service (blocking, up to a few seconds).
    pub fn is_ready(&self) -> bool {
        probe(
            self.http_addr(),
            &self.node,
            self.token.as_deref(),
            !matches!(self.mode, Mode::Client { .. }),
        )
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The ACL token this harness reads with ([`ConsulBuilder::token`]).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.http_port)
    }

    pub fn server_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.server_port)
    }

    /// `<ip>:<http port>`, as `CONSUL_HTTP_ADDR` and `-consul-addr` take it.
    pub fn addr(&self) -> String {
        self.http_addr().to_string()
    }

    /// `http://<ip>:<http port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http_addr())
    }

    /// `http://<ip>:<http port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The running process's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the agent printed on stdout (its log) over all its runs.
    pub fn stdout(&self) -> String {
        read(&self.stdout)
    }

    /// Everything it printed on stderr over all its runs.
    pub fn stderr(&self) -> String {
        if self.stderr == self.stdout {
            return String::new();
        }
        read(&self.stderr)
    }

    /// stdout, then stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    fn output_tail(&self) -> String {
        let err = self.stderr();
        format!(
            "--- stdout ({}):\n{}\n--- stderr:\n{}",
            self.stdout.display(),
            crate::tail(&self.stdout(), DUMP_LINES),
            crate::tail(&err, DUMP_LINES)
        )
    }

    /// The exit status once the process has exited (reaped then; its ports are bound again
    /// by this harness, so they refuse connections and stay ours for a restart).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(st)) => {
                self.reaped(st);
                Some(st)
            }
            _ => None,
        }
    }

    fn reaped(&mut self, st: ExitStatus) {
        self.child = None;
        self.exit = Some(st);
        // Hold the ports again at once; if one is taken meanwhile, the next spawn says so.
        let http = ReservedPort::at(self.http_addr());
        let server = ReservedPort::at(self.server_addr());
        if let (Ok(h), Ok(s)) = (http, server) {
            self.held = Some((h, s));
        }
    }

    /// Whether the process runs (reaps it if it has exited).
    pub fn running(&mut self) -> bool {
        self.try_wait();
        self.child.is_some()
    }

    /// The status of the last run that ended.
    pub fn last_exit(&self) -> Option<ExitStatus> {
        self.exit
    }

    /// Sends `sig` to the process (e.g. `libc::SIGHUP`); false when it does not run.
    pub fn signal(&self, sig: i32) -> bool {
        self.pid().is_some_and(|pid| send_signal(pid, sig))
    }

    /// Waits up to `timeout` for the process to exit on its own (a refused start, `consul
    /// leave`); `None` if it still runs. When it had already exited, the status of that run.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if self.child.is_none() {
                return self.exit;
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Consul::wait_exit`] that yields to the runtime while waiting.
    pub async fn wait_exit_async(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait() {
                return Some(st);
            }
            if self.child.is_none() {
                return self.exit;
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, and reaps the process.
    pub fn kill9(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let _ = c.kill();
        let st = c.wait().ok()?;
        self.reaped(st);
        Some(st)
    }

    /// SIGTERM and waits for the exit (SIGKILL after 15 s); the status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.terminate_within(Duration::from_secs(15))
    }

    /// SIGTERM and waits up to `grace` for the exit, then SIGKILL.
    pub fn terminate_within(&mut self, grace: Duration) -> Option<ExitStatus> {
        if !self.signal(libc::SIGTERM) {
            return self.try_wait();
        }
        self.wait_exit(grace).or_else(|| self.kill9())
    }

    /// [`Consul::terminate`] that yields to the runtime while waiting.
    pub async fn terminate_async(&mut self) -> Option<ExitStatus> {
        if !self.signal(libc::SIGTERM) {
            return self.try_wait();
        }
        match self.wait_exit_async(Duration::from_secs(15)).await {
            Some(st) => Some(st),
            None => self.kill9(),
        }
    }

    /// Runs the `consul` CLI (`args`) against this agent; exit code, stdout, stderr.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(&self.bin)
            .args(args)
            .env("CONSUL_HTTP_ADDR", self.addr())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Consul {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            dump(&format!("consul {}", self.node), &self.stdout, &self.stderr);
        }
    }
}

/// The readiness probe: a leader, and the node's own registration.
fn probe(addr: SocketAddr, node: &str, token: Option<&str>, server: bool) -> bool {
    let t = Duration::from_secs(2);
    let leader = matches!(
        crate::http_get(addr, "/v1/status/leader", t),
        Ok((200, body)) if body.trim().len() > 2
    );
    leader
        && matches!(
            crate::http_get(
                addr,
                &match token {
                    Some(tok) => format!("/v1/catalog/node/{node}?token={tok}"),
                    None => format!("/v1/catalog/node/{node}"),
                },
                t
            ),
            // A server carries the `consul` service; a client's node is there once synced.
            Ok((200, body)) if if server {
                body.contains("\"consul\"")
            } else {
                body.contains(&format!("\"Node\":\"{node}\""))
            }
        )
}
