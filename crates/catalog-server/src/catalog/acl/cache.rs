//! Resolved tokens, kept per ACL-tables index: a request with a token seen since the last ACL
//! change reuses its authorizer instead of merging its policies again.

use super::Authz;
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many tokens are kept; past it the cache starts over.
const CAPACITY: usize = 4096;

/// Authorizers by the SHA-256 of the secret, valid for one ACL-tables index.
#[derive(Debug, Default)]
pub struct AuthzCache {
    entries: Mutex<HashMap<[u8; 32], (u64, Authz)>>,
}

fn key(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

impl AuthzCache {
    /// The authorizer resolved for `secret` at ACL index `index`, unless the token has expired.
    pub fn get(&self, secret: &str, index: u64, now_ms: u64) -> Option<Authz> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (at, z) = entries.get(&key(secret))?;
        (*at == index && z.expires_ms.is_none_or(|e| e > now_ms)).then(|| z.clone())
    }

    pub fn put(&self, secret: &str, index: u64, z: &Authz) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key(secret), (index, z.clone()));
    }
}
