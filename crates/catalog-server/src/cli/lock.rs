//! `consul lock [options] prefix child...`: runs a child while holding a lock (`-n=1`) or a
//! semaphore slot (`-n>1`) under `prefix`, as Consul's `api.Lock` / `api.Semaphore` take them:
//! a session renewed at half its 15s TTL, the `<prefix>/.lock` key acquired with it (lock) or
//! a contender key `<prefix>/<session>` plus the `.lock` key's holder set updated with CAS
//! (semaphore). Losing the lock, or SIGINT/SIGTERM, stops the child (SIGTERM, SIGKILL after a
//! grace period); at the end the lock is released, the session destroyed and the `.lock` key
//! removed when nobody uses it.

use super::goflags;
use super::http::{client_or_exit, HttpFlags};
use api_types::client::{Client, ClientError, KvPutOptions, QueryOptions};
use api_types::KvPair;
use clap::Parser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `api.LockFlagValue`: the flags of a lock's key.
const LOCK_FLAG: u64 = 0x2ddccbc058a50c18;
/// `api.SemaphoreFlagValue`: the flags of a semaphore's keys.
const SEMAPHORE_FLAG: u64 = 0xe0f69a2baa414de0;
/// How long a blocking query on the lock waits (`DefaultLockWaitTime`).
const LOCK_WAIT: Duration = Duration::from_secs(15);
/// The pause after a failed acquire (`DefaultLockRetryTime`, covering the lock-delay).
const RETRY: Duration = Duration::from_secs(5);
/// The session TTL (`DefaultLockSessionTTL`).
const SESSION_TTL: &str = "15s";
/// Between SIGTERM and SIGKILL for a child whose lock is gone.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Between retries of the lock monitor after a 500.
const MONITOR_RETRY_TIME: Duration = Duration::from_secs(1);

#[derive(Parser, Debug)]
struct LockFlags {
    #[command(flatten)]
    http: HttpFlags,
    /// Exit with 2 when the child fails (otherwise the child's failure is not reflected in the exit code).
    #[arg(long = "child-exit-code")]
    child_exit_code: bool,
    /// How many holders may run at once; above 1 a semaphore is used instead of a lock.
    #[arg(long = "n", default_value = "1")]
    n: i64,
    /// How many 500 answers (1s apart) the lock monitor tolerates before taking the lock as lost; 0 tolerates none.
    #[arg(long = "monitor-retry", default_value = "3")]
    monitor_retry: i64,
    /// Name of the lock's session (by default one naming the child command and prefix).
    #[arg(long, default_value = "")]
    name: String,
    /// Give the child this command's standard input.
    #[arg(long = "pass-stdin")]
    pass_stdin: bool,
    /// Use a shell to run the command (can set a custom shell via the SHELL environment variable).
    #[arg(long, value_parser = goflags::go_bool, default_value = "true")]
    shell: Option<bool>,
    /// Give up acquiring after this long (a Go duration such as 10s; 0 waits forever).
    #[arg(long, default_value = "0s")]
    timeout: String,
    /// Old name of -timeout.
    #[arg(long, default_value = "")]
    r#try: String,
    /// Print each step of acquiring, running and releasing.
    #[arg(long)]
    verbose: bool,
    args: Vec<String>,
}

const USAGE: &str = "Usage: consul lock [options] prefix child...\n\n  Runs the child command once it holds a lock (or, with -n above 1, one of n\n  semaphore slots) under the given KV prefix, and gives the lock back when the\n  child ends. Should the lock be lost, the child gets SIGTERM, then SIGKILL if\n  it is still running after a short grace period. The token used needs write\n  access to the prefix.";

/// The `.lock` key's value of a semaphore.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SemLock {
    #[serde(rename = "Limit")]
    limit: i64,
    #[serde(rename = "Holders")]
    holders: BTreeMap<String, bool>,
}

/// How acquiring ended without the lock.
enum NotAcquired {
    /// Shut down, or `-timeout` passed.
    Gave,
    Failed(String),
}

struct Ctx {
    client: Client,
    prefix: String,
    key: String,
    session: String,
    limit: i64,
    verbose: bool,
}

fn info(verbose: bool, msg: &str) {
    if verbose {
        println!("{msg}");
    }
}

fn is_500(e: &ClientError) -> bool {
    matches!(e, ClientError::Status { code: 500, .. })
}

/// Runs `consul lock`.
pub fn run(args: &[String]) -> i32 {
    let flags: LockFlags = match goflags::parse("lock", USAGE, args) {
        Ok(f) => f,
        Err(code) => return code,
    };
    if flags.n <= 0 {
        eprintln!("Lock holder limit must be positive");
        return 1;
    }
    if flags.args.len() < 2 {
        eprintln!("Key prefix and child command must be specified");
        return 1;
    }
    let timeout_text = if flags.r#try.is_empty() {
        flags.timeout.clone()
    } else {
        flags.r#try.clone()
    };
    let timeout = match api_types::duration::parse_go_duration(&timeout_text) {
        Ok(ns) => ns,
        Err(_) => {
            eprintln!("invalid value {timeout_text:?} for flag -timeout: parse error\n{USAGE}");
            return 1;
        }
    };
    let prefix = flags.args[0].trim_start_matches('/').to_string();
    if timeout < 0 {
        eprintln!("Timeout must be positive");
        return 1;
    }
    let child: Vec<String> = flags.args[1..].to_vec();
    let name = if flags.name.is_empty() {
        format!("Consul lock for '{}' at '{prefix}'", child.join(" "))
    } else {
        flags.name.clone()
    };
    if flags.monitor_retry < 0 {
        eprintln!("Number for 'monitor-retry' must be >= 0");
        return 1;
    }
    let Ok(client) = client_or_exit(&flags.http) else {
        return 1;
    };
    let wait = (timeout > 0).then(|| Duration::from_nanos(timeout as u64));
    super::block_on(async move {
        if let Err(e) = client.agent_self().await {
            eprintln!("Error querying Consul agent: {e}");
            return 1;
        }
        let mut shutdown = Box::pin(interrupted());
        let key = if prefix.is_empty() {
            ".lock".to_string()
        } else {
            format!("{}/.lock", prefix.trim_end_matches('/'))
        };
        if flags.verbose {
            if flags.n == 1 {
                println!("Setting up lock at path: {key}");
            } else {
                println!(
                    "Setting up semaphore (limit {}) at prefix: {prefix}",
                    flags.n
                );
            }
            println!("Attempting lock acquisition");
        }
        let body = serde_json::json!({"Name": name, "TTL": SESSION_TTL});
        let session = match client.session_create(&body).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("Lock acquisition failed: failed to create session: {e}");
                return 1;
            }
        };
        let ctx = Ctx {
            client,
            prefix,
            key,
            session,
            limit: flags.n,
            verbose: flags.verbose,
        };
        let renew = renew_session(&ctx.client, &ctx.session);
        tokio::pin!(renew);
        let acquired = tokio::select! {
            r = acquire(&ctx, wait) => r,
            _ = &mut shutdown => Err(NotAcquired::Gave),
            _ = &mut renew => Err(NotAcquired::Failed("session lost".into())),
        };
        if let Err(e) = acquired {
            if ctx.limit > 1 {
                let _ = ctx
                    .client
                    .kv_delete(&contender_key(&ctx), false, None)
                    .await;
            }
            let _ = ctx.client.session_destroy(&ctx.session).await;
            match e {
                NotAcquired::Gave => {
                    eprintln!("Shutdown triggered or timeout during lock acquisition")
                }
                NotAcquired::Failed(e) => eprintln!("Lock acquisition failed: {e}"),
            }
            return 1;
        }
        let code = {
            let monitor = monitor(&ctx, flags.monitor_retry as u32);
            tokio::pin!(monitor);
            run_child(
                &ctx,
                &child,
                flags.shell.unwrap_or(true),
                flags.pass_stdin,
                &mut shutdown,
                &mut monitor,
                &mut renew,
            )
            .await
        };
        if let Err(e) = release(&ctx).await {
            eprintln!("Lock release failed: {e}");
            return 1;
        }
        let _ = ctx.client.session_destroy(&ctx.session).await;
        match cleanup(&ctx).await {
            Ok(true) => info(ctx.verbose, "Cleanup succeeded"),
            Ok(false) => info(ctx.verbose, "Cleanup aborted, lock in use"),
            Err(e) => {
                eprintln!("Lock cleanup failed: {e}");
                return 1;
            }
        }
        if flags.child_exit_code {
            code
        } else {
            0
        }
    })
}

/// The first SIGINT or SIGTERM.
async fn interrupted() -> rustix::process::Signal {
    use rustix::process::Signal;
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => Signal::INT,
                _ = term.recv() => Signal::TERM,
            }
        }
        _ => std::future::pending().await,
    }
}

/// Sends `sig` to the child `pid`.
fn signal_child(pid: u32, sig: rustix::process::Signal) -> Result<(), rustix::io::Errno> {
    match i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        Some(p) => rustix::process::kill_process(p, sig),
        None => Err(rustix::io::Errno::SRCH),
    }
}

/// Renews the session at half its TTL; returns when it is gone.
async fn renew_session(client: &Client, id: &str) {
    let mut errors = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(7500)).await;
        match client.session_renew(id).await {
            Ok(Some(_)) => errors = 0,
            Ok(None) => return,
            Err(_) => {
                errors += 1;
                if errors > 3 {
                    return;
                }
            }
        }
    }
}

fn contender_key(ctx: &Ctx) -> String {
    let p = ctx.prefix.trim_end_matches('/');
    if p.is_empty() {
        ctx.session.clone()
    } else {
        format!("{p}/{}", ctx.session)
    }
}

/// Takes the lock or a semaphore slot; `wait` is `-timeout`: one attempt that long.
async fn acquire(ctx: &Ctx, wait: Option<Duration>) -> Result<(), NotAcquired> {
    let start = Instant::now();
    let fail =
        |what: &'static str| move |e: ClientError| NotAcquired::Failed(format!("{what}: {e}"));
    if ctx.limit > 1 {
        let put = KvPutOptions {
            flags: Some(SEMAPHORE_FLAG),
            acquire: Some(ctx.session.clone()),
            ..Default::default()
        };
        match ctx.client.kv_put(&contender_key(ctx), &[], &put).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(NotAcquired::Failed(
                    "failed to make contender entry: <nil>".into(),
                ))
            }
            Err(e) => return Err(fail("failed to make contender entry")(e)),
        }
    }
    let mut index = 0u64;
    let mut attempts = 0u32;
    loop {
        let mut wait_time = wait.unwrap_or(LOCK_WAIT);
        if let Some(w) = wait {
            if attempts > 0 {
                let elapsed = start.elapsed();
                if elapsed > w {
                    return Err(NotAcquired::Gave);
                }
                wait_time = w - elapsed;
            }
        }
        attempts += 1;
        let q = QueryOptions {
            index: (index > 0).then_some(index),
            wait: Some(wait_time),
            ..Default::default()
        };
        if ctx.limit == 1 {
            let (pair, meta) = ctx
                .client
                .kv_get(&ctx.key, &q)
                .await
                .map_err(fail("failed to read lock"))?;
            if let Some(p) = &pair {
                if p.flags != LOCK_FLAG {
                    return Err(NotAcquired::Failed(
                        "Existing key does not match lock use".into(),
                    ));
                }
                if !p.session.is_empty() {
                    index = meta.index.max(1);
                    continue;
                }
            }
            let put = KvPutOptions {
                flags: Some(LOCK_FLAG),
                acquire: Some(ctx.session.clone()),
                ..Default::default()
            };
            if ctx
                .client
                .kv_put(&ctx.key, &[], &put)
                .await
                .map_err(fail("failed to acquire lock"))?
            {
                return Ok(());
            }
            // Refused: a previous holder's lock-delay, or a race; try again a little later.
            tokio::time::sleep(RETRY).await;
        } else {
            let (pairs, meta) = ctx
                .client
                .kv_list(&format!("{}/", ctx.prefix.trim_end_matches('/')), &q)
                .await
                .map_err(fail("failed to read prefix"))?;
            let (mut sem, lock_pair) = decode_sem(ctx, &pairs).map_err(NotAcquired::Failed)?;
            if sem.limit != ctx.limit {
                return Err(NotAcquired::Failed(format!(
                    "semaphore limit conflict (lock: {}, local: {})",
                    sem.limit, ctx.limit
                )));
            }
            prune(&mut sem, &pairs);
            if sem.holders.len() as i64 >= ctx.limit {
                index = meta.index.max(1);
                continue;
            }
            sem.holders.insert(ctx.session.clone(), true);
            let put = KvPutOptions {
                flags: Some(SEMAPHORE_FLAG),
                cas: Some(lock_pair.map_or(0, |p| p.modify_index)),
                ..Default::default()
            };
            let body = serde_json::to_vec(&sem).unwrap_or_default();
            if ctx
                .client
                .kv_put(&ctx.key, &body, &put)
                .await
                .map_err(fail("failed to update lock"))?
            {
                return Ok(());
            }
            // Lost a race with another contender: read again.
        }
    }
}

/// The semaphore's `.lock` value (a fresh one when absent) and its pair.
fn decode_sem<'a>(ctx: &Ctx, pairs: &'a [KvPair]) -> Result<(SemLock, Option<&'a KvPair>), String> {
    let Some(p) = pairs.iter().find(|p| p.key == ctx.key) else {
        return Ok((
            SemLock {
                limit: ctx.limit,
                holders: BTreeMap::new(),
            },
            None,
        ));
    };
    if p.flags != SEMAPHORE_FLAG {
        return Err("Existing key does not match semaphore use".into());
    }
    let sem: SemLock = serde_json::from_slice(&p.value_bytes())
        .map_err(|e| format!("lock decoding failed: {e}"))?;
    Ok((sem, Some(p)))
}

/// Drops holders whose contender key no longer carries their session.
fn prune(sem: &mut SemLock, pairs: &[KvPair]) {
    sem.holders.retain(|s, _| {
        pairs
            .iter()
            .any(|p| !p.session.is_empty() && &p.session == s)
    });
}

/// Returns when the lock or slot is lost (blocking queries; `retries` 500s tolerated).
async fn monitor(ctx: &Ctx, retries: u32) {
    let mut index = 0u64;
    let mut failures = 0;
    loop {
        let q = QueryOptions {
            index: (index > 0).then_some(index),
            wait: Some(LOCK_WAIT),
            consistent: true,
            ..Default::default()
        };
        let held = if ctx.limit == 1 {
            ctx.client
                .kv_get(&ctx.key, &q)
                .await
                .map(|(p, m)| (p.is_some_and(|p| p.session == ctx.session), m.index))
        } else {
            ctx.client
                .kv_list(&format!("{}/", ctx.prefix.trim_end_matches('/')), &q)
                .await
                .map(|(pairs, m)| {
                    let held = decode_sem(ctx, &pairs)
                        .map(|(mut s, _)| {
                            prune(&mut s, &pairs);
                            s.holders.contains_key(&ctx.session)
                        })
                        .unwrap_or(false);
                    (held, m.index)
                })
        };
        match held {
            Ok((true, i)) => {
                failures = 0;
                index = i;
            }
            Ok((false, _)) => return,
            Err(e) if is_500(&e) && failures < retries => {
                failures += 1;
                tokio::time::sleep(MONITOR_RETRY_TIME).await;
            }
            Err(_) => return,
        }
    }
}

/// Runs the child until it exits, the lock is lost or we are told to stop; its exit code
/// for `-child-exit-code` (2 when it failed, as Consul).
async fn run_child<S, M, R>(
    ctx: &Ctx,
    child: &[String],
    shell: bool,
    pass_stdin: bool,
    shutdown: &mut S,
    monitor: &mut M,
    renew: &mut R,
) -> i32
where
    S: std::future::Future<Output = rustix::process::Signal> + Unpin,
    M: std::future::Future<Output = ()> + Unpin,
    R: std::future::Future<Output = ()> + Unpin,
{
    info(ctx.verbose, "Starting handler");
    let argv = crate::health::script::command_argv(child, shell);
    let Some((program, args)) = argv.split_first() else {
        eprintln!("Error starting handler: no command");
        return 2;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    cmd.env("CONSUL_LOCK_HELD", "true");
    if pass_stdin {
        info(ctx.verbose, "Stdin passed to handler process");
        cmd.stdin(std::process::Stdio::inherit());
    } else {
        cmd.stdin(std::process::Stdio::null());
    }
    let mut proc = match cmd.spawn() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Error starting handler: {e}");
            return 2;
        }
    };
    let exited = |r: std::io::Result<std::process::ExitStatus>| match r {
        Ok(s) if s.success() => 0,
        Ok(s) => {
            eprintln!("Error running handler: {}", describe(s));
            2
        }
        Err(e) => {
            eprintln!("Error running handler: {e}");
            2
        }
    };
    tokio::select! {
        r = proc.wait() => {
            let code = exited(r);
            info(ctx.verbose, "Child terminated, releasing lock");
            return code;
        }
        sig = shutdown => {
            // The signal goes on to the child first, as Consul forwards it.
            if let Some(pid) = proc.id() {
                if let Err(e) = signal_child(pid, sig) {
                    eprintln!("Warning, could not forward signal: {e}");
                }
            }
            info(ctx.verbose, "Shutdown triggered, killing child");
        }
        _ = monitor => info(ctx.verbose, "Lock lost, killing child"),
        _ = renew => info(ctx.verbose, "Lock lost, killing child"),
    }
    let Some(pid) = proc.id() else {
        info(ctx.verbose, "No child process to kill");
        return 0;
    };
    info(ctx.verbose, &format!("Terminating child pid {pid}"));
    if let Err(e) = signal_child(pid, rustix::process::Signal::TERM) {
        eprintln!("Failed to terminate {pid}: {e}");
    }
    match tokio::time::timeout(KILL_GRACE, proc.wait()).await {
        Ok(r) => {
            exited(r);
            info(ctx.verbose, "Child terminated");
        }
        Err(_) => {
            info(
                ctx.verbose,
                &format!("Child did not exit after grace period of {KILL_GRACE:?}"),
            );
            info(ctx.verbose, &format!("Killing child pid {pid}"));
            let _ = proc.start_kill();
            exited(proc.wait().await);
        }
    }
    0
}

fn describe(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(libc::SIGINT)) => "signal: interrupt".into(),
        (None, Some(libc::SIGTERM)) => "signal: terminated".into(),
        (None, Some(libc::SIGKILL)) => "signal: killed".into(),
        (None, Some(n)) => format!("signal: {n}"),
        _ => "unknown".into(),
    }
}

/// Gives the lock (or slot) back.
async fn release(ctx: &Ctx) -> Result<(), String> {
    if ctx.limit == 1 {
        let put = KvPutOptions {
            flags: Some(LOCK_FLAG),
            release: Some(ctx.session.clone()),
            ..Default::default()
        };
        ctx.client
            .kv_put(&ctx.key, &[], &put)
            .await
            .map_err(|e| format!("failed to release lock: {e}"))?;
        return Ok(());
    }
    loop {
        let (pair, _) = ctx
            .client
            .kv_get(&ctx.key, &QueryOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let Some(pair) = pair else { break };
        let mut sem: SemLock = serde_json::from_slice(&pair.value_bytes())
            .map_err(|e| format!("lock decoding failed: {e}"))?;
        if sem.holders.remove(&ctx.session).is_none() {
            break;
        }
        let put = KvPutOptions {
            flags: Some(SEMAPHORE_FLAG),
            cas: Some(pair.modify_index),
            ..Default::default()
        };
        let body = serde_json::to_vec(&sem).unwrap_or_default();
        if ctx
            .client
            .kv_put(&ctx.key, &body, &put)
            .await
            .map_err(|e| format!("failed to update lock: {e}"))?
        {
            break;
        }
    }
    ctx.client
        .kv_delete(&contender_key(ctx), false, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Deletes the `.lock` key if nobody holds it; `Ok(false)` when it is in use.
async fn cleanup(ctx: &Ctx) -> Result<bool, String> {
    let pair = if ctx.limit == 1 {
        let (pair, _) = ctx
            .client
            .kv_get(&ctx.key, &QueryOptions::default())
            .await
            .map_err(|e| format!("failed to read lock: {e}"))?;
        let Some(pair) = pair else { return Ok(true) };
        if pair.flags != LOCK_FLAG {
            return Err("Existing key does not match lock use".into());
        }
        if !pair.session.is_empty() {
            return Ok(false);
        }
        pair
    } else {
        let (pairs, _) = ctx
            .client
            .kv_list(
                &format!("{}/", ctx.prefix.trim_end_matches('/')),
                &QueryOptions::default(),
            )
            .await
            .map_err(|e| format!("failed to read prefix: {e}"))?;
        let (mut sem, pair) = decode_sem(ctx, &pairs)?;
        let Some(pair) = pair.cloned() else {
            return Ok(true);
        };
        prune(&mut sem, &pairs);
        if !sem.holders.is_empty() {
            return Ok(false);
        }
        pair
    };
    ctx.client
        .kv_delete(&ctx.key, false, Some(pair.modify_index))
        .await
        .map_err(|e| format!("failed to remove lock: {e}"))
}
