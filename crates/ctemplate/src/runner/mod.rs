//! The runner: one closed [`Event`] enum and one `select!` turning inputs — data from the
//! views, elapsed quiescence timers, signals, the exec child exiting — into passes
//! ([`pass`]). Only templates that use a changed dependency are executed again; updates that
//! are already queued when one arrives are applied together, so a burst becomes one pass and
//! one command run. Reload signals are coalesced the same way.

mod pass;

use std::collections::{BTreeMap, HashMap, HashSet};

use api_types::client::{Client, ClientConfig, ClientError};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::command::{Child, CommandError};
use crate::config::{Cli, Config, ConfigError};
use crate::dedup::{Dedup, DedupEvent};
use crate::dependency::Dependency;
use crate::render::RenderError;
use crate::signal::Signal;
use crate::watch::{Update, WatchOptions, Watcher};
use gotemplate::Value;

use pass::{PassContext, Tmpl};

/// Why the runner stopped with an error (exit code 14 unless noted).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration (exit 15).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Consul client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A template failed to read, parse or execute.
    #[error("{name}: {message}")]
    Template {
        /// Template source.
        name: String,
        /// Error text.
        message: String,
    },
    /// A file could not be written.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A command failed or timed out.
    #[error("failed to execute command from \"{source_name}\" => \"{destination}\": {error}")]
    Command {
        /// Template source.
        source_name: String,
        /// Template destination.
        destination: String,
        /// What happened.
        error: CommandError,
    },
    /// A view gave up (retries exhausted) or a file dependency failed.
    #[error("watcher reported error: {0}")]
    Watch(String),
    /// `token_file` could not be read (Consul's Go client's words).
    #[error("Error loading token file: {0}")]
    TokenFile(String),
    /// The exec child could not be started.
    #[error(transparent)]
    Exec(CommandError),
}

/// How a runner ended without error.
#[derive(Debug)]
pub enum Outcome {
    /// `-once` finished or the kill signal arrived.
    Stop,
    /// The reload signal arrived and the configuration resolved again.
    Reload(Box<Config>),
    /// The exec child exited with this code.
    ChildExited(i32),
}

/// Everything the loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// A view delivered data or gave up.
    Update(Update),
    /// At least one quiescence timer elapsed.
    QuiescenceElapsed,
    /// A signal arrived.
    Signal(Signal),
    /// The exec child exited.
    ChildExited(i32),
    /// The de-duplication manager: leadership moved or a leader stored data.
    Dedup(DedupEvent),
}

/// Signals, received once for the whole process life (they survive reloads).
pub type Signals = UnboundedReceiver<Signal>;

/// Runs one configuration until it stops, reloads or fails; the de-duplication manager, when
/// one ran, releases its session on the way out.
pub async fn run(config: &Config, cli: &Cli, signals: &mut Signals) -> Result<Outcome, RunError> {
    let mut dedup = None;
    let result = run_inner(config, cli, signals, &mut dedup).await;
    if let Some(d) = dedup {
        d.stop().await;
    }
    result
}

/// What de-duplication adds to the runner's state.
#[derive(Default)]
struct Shared {
    /// Per template: this instance holds its lock.
    leader: Vec<bool>,
    /// Raw answer behind each store value (views' and the leaders').
    raw: HashMap<Dependency, serde_json::Value>,
    /// Store values that came from this instance's own views.
    from_view: HashSet<Dependency>,
    /// What leaders stored: dependency string → raw answer.
    stored: HashMap<String, serde_json::Value>,
}

impl Shared {
    /// Whether template `i` watches `d` itself.
    fn watches(&self, i: usize, d: &Dependency) -> bool {
        self.leader.get(i).copied().unwrap_or(true) || !d.can_share()
    }

    /// Puts what leaders stored into the store for the dependencies of templates this
    /// instance follows; marks the templates using a changed value dirty.
    fn fill(&mut self, templates: &mut [Tmpl], store: &mut HashMap<Dependency, Value>) -> bool {
        let mut changed: Vec<Dependency> = Vec::new();
        for (i, t) in templates.iter().enumerate() {
            for d in &t.used {
                // a view of this instance's (another template leads it) is fresher
                if self.watches(i, d) || self.from_view.contains(d) || changed.contains(d) {
                    continue;
                }
                let Some(j) = self.stored.get(&d.to_string()) else {
                    continue;
                };
                if self.raw.get(d) == Some(j) {
                    continue;
                }
                match d.decode(j) {
                    Ok(v) => {
                        store.insert(d.clone(), v);
                        self.raw.insert(d.clone(), j.clone());
                        self.from_view.remove(d);
                        changed.push(d.clone());
                    }
                    Err(e) => crate::warn!("(dedup) {d}: stored data not usable: {e}"),
                }
            }
        }
        for t in templates.iter_mut() {
            if changed.iter().any(|d| t.used.contains(d)) {
                t.dirty = true;
            }
        }
        !changed.is_empty()
    }

    /// The data a leader stores for template `t`: every shareable dependency's raw answer,
    /// provided each came from this instance's own views (not from a previous leader).
    fn data_of(&self, t: &Tmpl) -> Option<BTreeMap<String, serde_json::Value>> {
        let mut out = BTreeMap::new();
        for d in t.used.iter().filter(|d| d.can_share()) {
            if !self.from_view.contains(d) {
                return None;
            }
            out.insert(d.to_string(), self.raw.get(d)?.clone());
        }
        Some(out)
    }
}

async fn run_inner(
    config: &Config,
    cli: &Cli,
    signals: &mut Signals,
    dedup_slot: &mut Option<Dedup>,
) -> Result<Outcome, RunError> {
    crate::info!(
        "(runner) creating new runner (dry: {}, once: {})",
        config.dry,
        config.once
    );
    let mut templates = config
        .templates
        .iter()
        .map(Tmpl::load)
        .collect::<Result<Vec<_>, _>>()?;
    if config.parse_only {
        crate::info!("(runner) ParseOnly mode and all templates parsed");
        return Ok(Outcome::Stop);
    }
    let mut token = config.consul.token.clone().filter(|t| !t.is_empty());
    if let Some(p) = &config.consul.token_file {
        // Consul's Go client: read once per client, a non-empty file wins over the token
        let text = std::fs::read_to_string(p)
            .map_err(|e| RunError::TokenFile(format!("{}: {e}", p.display())))?;
        if !text.trim().is_empty() {
            token = Some(text.trim().to_string());
        }
    }
    let env = ClientConfig::from_env();
    let ssl = &config.consul.ssl;
    let client = Client::from_config(ClientConfig {
        address: config.consul.address.clone(),
        token,
        ssl: ssl.enabled || env.ssl,
        ssl_verify: if ssl.verify {
            env.ssl_verify
        } else {
            Some(false)
        },
        ca_file: ssl.ca_cert.clone().or(env.ca_file.clone()),
        client_cert: ssl.cert.clone().or(env.client_cert.clone()),
        client_key: ssl.key.clone().or(env.client_key.clone()),
        http_auth: config.consul.auth.clone().or(env.http_auth.clone()),
        transport: config.consul.transport.client(
            ssl.enabled
                || env.ssl
                || config
                    .consul
                    .address
                    .as_deref()
                    .or(env.address.as_deref())
                    .is_some_and(|a| a.trim().starts_with("https://")),
        ),
        h2c_log: Some(log_h2c),
        ..env
    })?;
    let env = command_env(config, &client);
    let dedup_on = config.dedup.is_enabled() && !config.once;
    if config.dedup.is_enabled() && config.once {
        crate::info!("(runner) disabling de-duplication in once mode");
    }
    crate::info!("(runner) creating watcher");
    let (mut watcher, mut updates) = Watcher::new(
        client.clone(),
        WatchOptions {
            max_stale: config.max_stale,
            wait: config.block_query_wait,
            retry: config.consul.retry,
            once: config.once,
            keep_raw: dedup_on,
        },
    );
    crate::info!("(runner) starting");
    let mut shared = Shared::default();
    let mut dedup_events = None;
    if dedup_on {
        let ids = templates.iter().map(|t| t.id.clone()).collect();
        let (d, rx) = Dedup::start(client, config.dedup.clone(), ids);
        *dedup_slot = Some(d);
        dedup_events = Some(rx);
        shared.leader = vec![false; templates.len()];
    }
    let mut rewatch = false;
    let mut store: HashMap<Dependency, Value> = HashMap::new();
    let mut users: HashMap<Dependency, Vec<usize>> = HashMap::new();
    let mut child: Option<Child> = None;
    let mut event: Option<Event> = None;
    loop {
        match event.take() {
            None => {}
            Some(Event::Update(u)) => {
                let mut next = Some(u);
                while let Some(u) = next {
                    match u {
                        Update::Data(dep, value, raw) => {
                            for &i in users.get(&dep).into_iter().flatten() {
                                templates[i].dirty = true;
                            }
                            if let Some(raw) = raw {
                                shared.raw.insert(dep.clone(), raw);
                                shared.from_view.insert(dep.clone());
                            }
                            store.insert(dep, value);
                        }
                        Update::Failed(_, e) => return Err(RunError::Watch(e)),
                    }
                    next = updates.try_recv().ok();
                }
            }
            Some(Event::QuiescenceElapsed) => {}
            Some(Event::Signal(sig)) => {
                let mut sigs = vec![sig];
                while let Ok(s) = signals.try_recv() {
                    sigs.push(s);
                }
                if sigs.iter().any(|s| {
                    Some(*s) == config.kill_signal || *s == Signal::INT || *s == Signal::TERM
                }) {
                    eprintln!("Cleaning up...");
                    crate::info!("(runner) stopping");
                    if let Some(c) = child.take() {
                        c.stop().await;
                    }
                    return Ok(Outcome::Stop);
                }
                if sigs.iter().any(|s| Some(*s) == config.reload_signal) {
                    eprintln!("Reloading configuration...");
                    match crate::config::resolve(cli) {
                        Ok(new) => {
                            if let Some(c) = child.take() {
                                c.stop().await;
                            }
                            return Ok(Outcome::Reload(Box::new(new)));
                        }
                        Err(e) => crate::error!(
                            "(cli) reload failed, keeping the running configuration: {e}"
                        ),
                    }
                }
                for s in sigs.iter().filter(|s| Some(**s) != config.reload_signal) {
                    if let Some(c) = &child {
                        c.signal(*s);
                    }
                }
                continue;
            }
            Some(Event::ChildExited(code)) => {
                crate::info!("(runner) child exited with code {code}");
                return Ok(Outcome::ChildExited(code));
            }
            Some(Event::Dedup(e)) => {
                crate::info!("(runner) watcher triggered by de-duplication manager");
                let mut next = Some(e);
                while let Some(e) = next {
                    match e {
                        DedupEvent::Leader { template, leader } => {
                            if let Some(l) = shared.leader.get_mut(template) {
                                *l = leader;
                            }
                            if let Some(t) = templates.get_mut(template) {
                                t.dirty = true;
                            }
                            if !leader {
                                if let Some(d) = dedup_slot.as_ref() {
                                    d.forget(template);
                                }
                            }
                            rewatch = true;
                        }
                        DedupEvent::Data { data, .. } => shared.stored.extend(data),
                    }
                    next = dedup_events.as_mut().and_then(|rx| rx.try_recv().ok());
                }
                shared.fill(&mut templates, &mut store);
            }
        }
        let cx = PassContext {
            store: &store,
            wait: config.wait,
            once: config.once,
            dry: config.dry,
        };
        let result = pass::run(&mut templates, &cx)?;
        if let Some(d) = dedup_slot.as_ref() {
            for &i in &result.complete {
                if shared.leader.get(i).copied().unwrap_or(false) {
                    if let Some(data) = shared.data_of(&templates[i]) {
                        d.update(i, data);
                    }
                }
            }
        }
        if result.deps_changed || rewatch {
            rewatch = false;
            users.clear();
            let mut wanted = HashSet::new();
            for (i, t) in templates.iter().enumerate() {
                for d in &t.used {
                    users.entry(d.clone()).or_default().push(i);
                    if dedup_slot.is_none() || shared.watches(i, d) {
                        wanted.insert(d.clone());
                    }
                }
            }
            let before = watcher.len();
            for d in &wanted {
                watcher.watch(d);
            }
            watcher.retain(&wanted);
            shared.from_view.retain(|d| wanted.contains(d));
            if watcher.len() > 128 && before <= 128 {
                crate::warn!(
                    "(runner) watching {} dependencies - watching this many dependencies could DDoS your servers",
                    watcher.len()
                );
            }
        }
        if !config.dry {
            pass::commands(&templates, &result.changed, &env).await?;
        }
        let all_rendered = templates.iter().all(|t| t.rendered);
        if let Some(exec) = &config.exec {
            if all_rendered && child.is_none() {
                child = Some(Child::spawn(exec, &env).map_err(RunError::Exec)?);
            } else if !result.changed.is_empty() {
                if let Some(c) = child.take() {
                    child = Some(c.reload(&env).await.map_err(RunError::Exec)?);
                }
            }
        }
        if config.once && all_rendered {
            crate::info!("(runner) once mode and all templates rendered");
            if let Some(c) = child.as_mut() {
                return Ok(Outcome::ChildExited(c.wait().await));
            }
            return Ok(Outcome::Stop);
        }
        if dedup_slot.is_some() && shared.fill(&mut templates, &mut store) {
            // newly used dependencies a leader already stored: execute again now
            continue;
        }
        let next_quiet = templates
            .iter()
            .filter_map(|t| t.quiet.map(|q| q.fire_at))
            .min();
        event = Some(tokio::select! {
            Some(u) = updates.recv() => Event::Update(u),
            Some(s) = signals.recv() => Event::Signal(s),
            _ = sleep_until(next_quiet) => Event::QuiescenceElapsed,
            code = wait_child(&mut child) => Event::ChildExited(code),
            Some(e) = recv_dedup(&mut dedup_events) => Event::Dedup(e),
        });
    }
}

async fn recv_dedup(
    rx: &mut Option<tokio::sync::mpsc::UnboundedReceiver<DedupEvent>>,
) -> Option<DedupEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn wait_child(child: &mut Option<Child>) -> i32 {
    match child {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

/// What the Consul client's h2c negotiation decided, at debug level.
fn log_h2c(what: &str) {
    crate::debug!("(clients) {what}");
}

fn command_env(config: &Config, client: &Client) -> Vec<(String, String)> {
    let mut env = vec![(
        "CONSUL_HTTP_ADDR".to_string(),
        config
            .consul
            .address
            .clone()
            .unwrap_or_else(|| client.address().to_string()),
    )];
    if let Some(t) = config.consul.token.as_ref().filter(|t| !t.is_empty()) {
        env.push(("CONSUL_HTTP_TOKEN".to_string(), t.clone()));
    }
    if let Some(p) = &config.consul.token_file {
        env.push((
            "CONSUL_HTTP_TOKEN_FILE".to_string(),
            p.display().to_string(),
        ));
    }
    let ssl = &config.consul.ssl;
    env.push(("CONSUL_HTTP_SSL".to_string(), ssl.enabled.to_string()));
    env.push(("CONSUL_HTTP_SSL_VERIFY".to_string(), ssl.verify.to_string()));
    env
}
