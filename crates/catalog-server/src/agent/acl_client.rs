//! A client agent's ACLs (Consul's `ACLResolver` on a client): it holds no ACL tables, so a
//! request's secret is resolved by a server — `GET /v1/internal/acl/resolve` on its server
//! port with the secret as the request's token, answered with the token's identity and rules
//! (`catalog::acl::Identity`) or 403 `ACL not found` — and the authorizer built here under the
//! client's own `default_policy` is kept for `acl.token_ttl`. When no server answers,
//! `acl.down_policy` decides: `extend-cache` keeps using a cached answer however old (and
//! grants what the default policy grants where there is none), `async-cache` the same and an
//! expired answer is used at once while a background request refreshes it, `allow` and `deny`
//! grant as named. Servers without ACLs (401 `ACL support disabled`) let everything through
//! for 30 s before the client asks again, as Consul's clients do. The recovery token is
//! resolved by the agent itself, before any of this.
//!
//! The agent's own calls to the servers carry its tokens: anti-entropy and coordinates the
//! agent token, DNS and forwarded requests without a token of their own the default token.

use super::Agent;
use crate::catalog::acl::{AclRefusal, Authz, Identity, ANONYMOUS_SECRET};
use crate::config::acl::{AclConfig, DownPolicy};
use acl::DefaultPolicy;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server-port path a client resolves a secret on.
pub const RESOLVE_PATH: &str = "/v1/internal/acl/resolve";
/// How long a client takes servers without ACLs at their word (Consul's
/// `aclClientDisabledTTL`).
const DISABLED_TTL: Duration = Duration::from_secs(30);
/// At most this many resolved tokens are kept; past it the cache starts over.
const CAPACITY: usize = 4096;

/// The SHA-256 of a secret: secrets are not kept in memory longer than a request needs them.
type Key = [u8; 32];

fn key(secret: &str) -> Key {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

#[derive(Clone)]
struct Entry {
    authz: Authz,
    at: Instant,
}

/// A client's resolved tokens and how it resolves more.
pub struct AclClient {
    default: DefaultPolicy,
    down: DownPolicy,
    ttl: Duration,
    cache: Mutex<HashMap<Key, Entry>>,
    /// Secrets being refreshed in the background (`async-cache`).
    refreshing: Mutex<HashSet<Key>>,
    /// One turn per secret being asked about: requests with the same secret wait for the first
    /// one's answer instead of each asking a server (Consul's singleflight).
    asking: Mutex<HashMap<Key, Turn>>,
    /// Until when the servers said ACLs are disabled.
    disabled_until: Mutex<Option<Instant>>,
}

/// What a server said about a secret.
enum Fetched {
    Found(Identity),
    NotFound,
    /// 403 with another text (the ACL system not bootstrapped yet).
    Refused(String),
    /// The servers run without ACLs.
    Disabled,
    /// No server answered, or not in a way that resolves the secret.
    Unreachable(String),
}

/// One secret's turn to ask the servers, with the last answer given in it.
type Turn = Arc<tokio::sync::Mutex<Option<(Instant, Result<Authz, AclRefusal>)>>>;

/// A request's hold on its turn, given back when dropped.
struct TurnHeld<'a> {
    client: &'a AclClient,
    k: Key,
    turn: Turn,
}

impl Drop for TurnHeld<'_> {
    fn drop(&mut self) {
        self.client.end_turn(&self.k, &self.turn);
    }
}

impl AclClient {
    pub fn new(acl: &AclConfig) -> AclClient {
        AclClient {
            default: if acl.default_deny {
                DefaultPolicy::Deny
            } else {
                DefaultPolicy::Allow
            },
            down: acl.down_policy,
            ttl: acl.cache_ttl,
            cache: Mutex::default(),
            refreshing: Mutex::default(),
            asking: Mutex::default(),
            disabled_until: Mutex::default(),
        }
    }

    /// What the holder of `secret` (`""`: the anonymous token) may do: a cached answer younger
    /// than the TTL, else a server's, else what the down policy grants.
    pub async fn resolve(&self, agent: &Arc<Agent>, secret: &str) -> Result<Authz, AclRefusal> {
        if self.disabled() {
            return Ok(Authz::manage_all());
        }
        let k = key(secret);
        let cached = self.entry(&k);
        if let Some(e) = &cached {
            if e.at.elapsed() < self.ttl {
                return live(e);
            }
            if self.down == DownPolicy::AsyncCache {
                self.refresh_in_background(agent, secret, k);
                return live(e);
            }
        }
        let waited_from = Instant::now();
        // Ended on drop too: a request whose client went away while it waited leaves nothing.
        let turn = TurnHeld {
            client: self,
            k,
            turn: self.turn(k),
        };
        let mut last = turn.turn.lock().await;
        match &*last {
            // Another request with this secret got an answer while this one waited, cached
            // or not (a refusal, servers down): take it rather than ask again in a queue.
            Some((at, answer)) if *at >= waited_from => answer.clone(),
            _ => {
                let cached = self.entry(&k).or(cached);
                let fetched = fetch(agent, secret).await;
                let answer = self.settle(k, fetched, cached);
                *last = Some((Instant::now(), answer.clone()));
                answer
            }
        }
    }

    fn turn(&self, k: Key) -> Turn {
        let mut asking = self.asking.lock().unwrap_or_else(|p| p.into_inner());
        asking.entry(k).or_default().clone()
    }

    /// Forgets the turn of `k` when no other request holds it.
    fn end_turn(&self, k: &Key, turn: &Turn) {
        let mut asking = self.asking.lock().unwrap_or_else(|p| p.into_inner());
        // Clones are only taken under this lock: the map's and `turn` are the last two.
        if Arc::strong_count(turn) <= 2 {
            asking.remove(k);
        }
    }

    /// The last answer for `secret`, however old (`None`: never resolved here).
    pub fn cached(&self, secret: &str) -> Option<Result<Authz, AclRefusal>> {
        self.entry(&key(secret)).map(|e| live(&e))
    }

    fn disabled(&self) -> bool {
        let until = self
            .disabled_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|u| Instant::now() < u)
    }

    fn entry(&self, k: &Key) -> Option<Entry> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(k).cloned()
    }

    fn put(&self, k: Key, authz: Authz) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(
            k,
            Entry {
                authz,
                at: Instant::now(),
            },
        );
    }

    fn forget(&self, k: &Key) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(k);
    }

    /// Turns a server's answer into the request's rights, keeping what the cache should.
    fn settle(&self, k: Key, fetched: Fetched, cached: Option<Entry>) -> Result<Authz, AclRefusal> {
        match fetched {
            Fetched::Found(identity) => {
                if identity.expired(crate::raft::now_ms()) {
                    self.forget(&k);
                    return Err(AclRefusal::NotFound);
                }
                let authz = identity.authz(self.default);
                self.put(k, authz.clone());
                Ok(authz)
            }
            Fetched::NotFound => {
                self.forget(&k);
                Err(AclRefusal::NotFound)
            }
            Fetched::Refused(text) => {
                self.forget(&k);
                Err(AclRefusal::Denied(text))
            }
            Fetched::Disabled => {
                tracing::debug!(target: "agent.acl", "ACLs disabled on servers, will retry: retry_interval={DISABLED_TTL:?}");
                *self
                    .disabled_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + DISABLED_TTL);
                Ok(Authz::manage_all())
            }
            Fetched::Unreachable(why) => {
                tracing::error!(target: "agent.acl", "Error resolving token: error=\"Error communicating with the ACL Datacenter: {why}\"");
                match (self.down, cached) {
                    (DownPolicy::ExtendCache | DownPolicy::AsyncCache, Some(e)) => {
                        self.put(k, e.authz.clone());
                        live(&e)
                    }
                    (DownPolicy::Allow, _) => Ok(Authz::servers_down(DefaultPolicy::Allow)),
                    (DownPolicy::Deny, _) => Ok(Authz::servers_down(DefaultPolicy::Deny)),
                    (DownPolicy::ExtendCache | DownPolicy::AsyncCache, None) => {
                        Ok(Authz::servers_down(self.default))
                    }
                }
            }
        }
    }

    /// Asks the servers about `secret` once more without making the request wait; the answer
    /// replaces the cached one (or, when none comes, the cached one is kept longer).
    fn refresh_in_background(&self, agent: &Arc<Agent>, secret: &str, k: Key) {
        {
            let mut busy = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            if !busy.insert(k) {
                return;
            }
        }
        let (agent, secret) = (agent.clone(), secret.to_string());
        tokio::spawn(async move {
            if let Some(me) = agent.acl_client() {
                let cached = me.entry(&k);
                let fetched = fetch(&agent, &secret).await;
                let _ = me.settle(k, fetched, cached);
                me.refreshing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&k);
            }
        });
    }
}

/// A cached answer, unless its token has expired since.
fn live(e: &Entry) -> Result<Authz, AclRefusal> {
    if e.authz.expired(crate::raft::now_ms()) {
        return Err(AclRefusal::NotFound);
    }
    Ok(e.authz.clone())
}

/// Asks the servers what `secret` may do.
async fn fetch(agent: &Agent, secret: &str) -> Fetched {
    let secret = if secret.is_empty() {
        ANONYMOUS_SECRET
    } else {
        secret
    };
    match agent
        .ask_servers(reqwest::Method::GET, RESOLVE_PATH, None, Some(secret))
        .await
    {
        Err(e) => Fetched::Unreachable(e),
        Ok((server, 200, body)) => match serde_json::from_slice::<Identity>(&body) {
            Ok(identity) => Fetched::Found(identity),
            Err(e) => Fetched::Unreachable(format!("{server}: {e}")),
        },
        Ok((_, 403, body)) => {
            let text = String::from_utf8_lossy(&body).trim().to_string();
            if text == AclRefusal::NotFound.to_string() {
                Fetched::NotFound
            } else {
                Fetched::Refused(text)
            }
        }
        Ok((_, 401, _)) => Fetched::Disabled,
        Ok((server, status, body)) => Fetched::Unreachable(format!(
            "{server}: {status}: {}",
            String::from_utf8_lossy(&body).trim()
        )),
    }
}

impl Agent {
    /// A client's token resolution (`None` on a server, or without ACLs).
    pub(super) fn acl_client(&self) -> Option<&AclClient> {
        self.acl_client.as_ref()
    }

    /// The token a client hands the servers for a request that carries none (forwarded
    /// requests, alias checks): its default token, else, with ACLs on, the anonymous token's
    /// secret, so that a server resolves it as Consul's servers do (and not as its own default
    /// token).
    pub fn user_token_for_servers(&self) -> Option<String> {
        self.tokens
            .default_token()
            .or_else(|| self.acl_enabled().then(|| ANONYMOUS_SECRET.to_string()))
    }

    /// The token of a client's DNS reads from the servers (Consul's `coalesceDNSToken`): its
    /// DNS token, else as [`Agent::user_token_for_servers`].
    pub fn dns_token_for_servers(&self) -> Option<String> {
        self.tokens
            .dns_token()
            .or_else(|| self.acl_enabled().then(|| ANONYMOUS_SECRET.to_string()))
    }

    /// The token of the agent's own calls to the servers (anti-entropy, coordinates): the
    /// agent token, else as [`Agent::user_token_for_servers`].
    pub fn agent_token_for_servers(&self) -> Option<String> {
        self.tokens
            .agent_token()
            .or_else(|| self.user_token_for_servers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acl::{Access, Resource};

    fn client(down: DownPolicy, default_deny: bool) -> AclClient {
        AclClient::new(&AclConfig {
            default_deny,
            down_policy: down,
            cache_ttl: Duration::from_secs(30),
            enable_token_persistence: false,
            enable_key_list_policy: false,
            tokens: Default::default(),
        })
    }

    fn kv_reader() -> Identity {
        Identity {
            accessor_id: "a1".into(),
            management: false,
            rules: vec![r#"key_prefix "" { policy = "read" }"#.into()],
            expires_ms: None,
        }
    }

    fn down() -> Fetched {
        Fetched::Unreachable("No known Consul servers".into())
    }

    #[test]
    fn a_resolved_token_is_cached_and_extended_while_the_servers_are_down() {
        for policy in [DownPolicy::ExtendCache, DownPolicy::AsyncCache] {
            let c = client(policy, true);
            let k = key("s1");
            let z = c.settle(k, Fetched::Found(kv_reader()), None).unwrap();
            assert!(z.allows(Resource::Key, "x", Access::Read));
            let cached = c.entry(&k);
            assert!(cached.is_some());
            let z = c.settle(k, down(), cached).unwrap();
            assert_eq!(z.accessor_id(), "a1");
            assert!(z.allows(Resource::Key, "x", Access::Read));
            // A token never resolved here: the default policy alone.
            let z = c.settle(key("s2"), down(), None).unwrap();
            assert_eq!(z.accessor_id(), "primary-dc-down");
            assert!(!z.allows(Resource::Key, "x", Access::Read));
            let z = client(policy, false)
                .settle(key("s2"), down(), None)
                .unwrap();
            assert!(z.allows(Resource::Key, "x", Access::Read));
            assert!(!z.allows(Resource::Acl, "", Access::Read));
        }
    }

    #[test]
    fn requests_with_one_secret_share_a_turn_that_is_forgotten_after() {
        let c = client(DownPolicy::ExtendCache, true);
        let (a, b) = (c.turn(key("s1")), c.turn(key("s1")));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c.turn(key("s2"))));
        c.end_turn(&key("s2"), &c.turn(key("s2")));
        c.end_turn(&key("s1"), &a);
        assert_eq!(c.asking.lock().unwrap().len(), 1);
        drop(a);
        c.end_turn(&key("s1"), &b);
        assert!(c.asking.lock().unwrap().is_empty());
    }

    #[test]
    fn a_turn_dropped_unfinished_is_forgotten() {
        let c = client(DownPolicy::ExtendCache, true);
        let held = TurnHeld {
            client: &c,
            k: key("s1"),
            turn: c.turn(key("s1")),
        };
        assert_eq!(c.asking.lock().unwrap().len(), 1);
        drop(held); // what a request cancelled while it waited does
        assert!(c.asking.lock().unwrap().is_empty());
    }

    #[test]
    fn allow_and_deny_ignore_the_cache() {
        let c = client(DownPolicy::Deny, false);
        let k = key("s1");
        c.settle(k, Fetched::Found(kv_reader()), None).unwrap();
        let z = c.settle(k, down(), c.entry(&k)).unwrap();
        assert_eq!(z.accessor_id(), "primary-dc-down");
        assert!(!z.allows(Resource::Key, "x", Access::Read));
        let err = z
            .require(Resource::Agent, "n1", Access::Read)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'primary-dc-down'"), "{err}");
        let c = client(DownPolicy::Allow, true);
        let z = c.settle(k, down(), None).unwrap();
        assert!(z.allows(Resource::Service, "any", Access::Write));
    }

    #[test]
    fn unknown_expired_and_refused_tokens_and_servers_without_acls() {
        let c = client(DownPolicy::ExtendCache, true);
        let k = key("s1");
        c.settle(k, Fetched::Found(kv_reader()), None).unwrap();
        // Deleted on the servers: forgotten here, so a later outage does not revive it.
        assert_eq!(
            c.settle(k, Fetched::NotFound, c.entry(&k)).unwrap_err(),
            AclRefusal::NotFound
        );
        assert!(c.entry(&k).is_none());
        let expired = Identity {
            expires_ms: Some(1),
            ..kv_reader()
        };
        assert_eq!(
            c.settle(k, Fetched::Found(expired), None).unwrap_err(),
            AclRefusal::NotFound
        );
        assert!(c.entry(&k).is_none());
        let text = "ACL system must be bootstrapped before making any requests that require authorization: ACL not found";
        assert_eq!(
            c.settle(k, Fetched::Refused(text.into()), None)
                .unwrap_err()
                .to_string(),
            text
        );
        assert!(!c.disabled());
        let z = c.settle(k, Fetched::Disabled, None).unwrap();
        assert!(z.allows(Resource::Acl, "", Access::Write));
        assert!(c.disabled());
    }
}
