//! The ACL tables and how commands change them.

use super::{
    AclCommand, AuthMethodRecord, BindingRuleRecord, PolicyRecord, RoleRecord, TokenRecord,
    ANONYMOUS_ID, GLOBAL_MANAGEMENT_ID,
};
use crate::catalog::state::{CatalogError, Touched, WatchKey};
use acl::Rules;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Parsed rules by policy ID: derived from the stored rules texts, never persisted.
#[derive(Debug, Clone, Default)]
pub(super) struct ParsedRules(pub(super) HashMap<String, Arc<Rules>>);

impl PartialEq for ParsedRules {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Accessors by the SHA-256 of their secrets.
#[derive(Debug, Clone, Default)]
pub(super) struct SecretIndex(HashMap<[u8; 32], String>);

fn digest(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

impl SecretIndex {
    pub(super) fn insert(&mut self, secret: &str, accessor_id: &str) {
        self.0.insert(digest(secret), accessor_id.to_string());
    }

    pub(super) fn remove(&mut self, secret: &str) {
        self.0.remove(&digest(secret));
    }

    pub(super) fn get(&self, secret: &str) -> Option<&String> {
        self.0.get(&digest(secret))
    }

    pub(super) fn contains_key(&self, secret: &str) -> bool {
        self.0.contains_key(&digest(secret))
    }
}

impl PartialEq for SecretIndex {
    fn eq(&self, _: &Self) -> bool {
        // Derived from the tokens, which are compared.
        true
    }
}

/// The ACL tables of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AclTables {
    pub(super) tokens: BTreeMap<String, TokenRecord>,
    pub(super) policies: BTreeMap<String, PolicyRecord>,
    pub(super) roles: BTreeMap<String, RoleRecord>,
    /// Auth methods by name (absent from snapshots written before they existed).
    #[serde(default)]
    pub(super) auth_methods: BTreeMap<String, AuthMethodRecord>,
    /// Binding rules by ID (likewise).
    #[serde(default)]
    pub(super) binding_rules: BTreeMap<String, BindingRuleRecord>,
    /// The index of the bootstrap (0: not bootstrapped yet).
    pub(super) bootstrap_index: u64,
    /// The index of the last ACL change.
    index: u64,
    #[serde(skip)]
    /// SHA-256 of each secret → accessor: a secret is found by its digest, so how long a
    /// lookup takes says nothing about the stored secrets.
    pub(super) by_secret: SecretIndex,
    #[serde(skip)]
    pub(super) parsed: ParsedRules,
}

impl AclTables {
    /// Rebuilds the derived maps after a snapshot was loaded.
    pub(in crate::catalog) fn reindex(&mut self) {
        self.by_secret = SecretIndex::default();
        for t in self.tokens.values() {
            self.by_secret.insert(&t.secret_id, &t.accessor_id);
        }
        self.parsed.0 = self
            .policies
            .values()
            .filter_map(|p| Some((p.id.clone(), Arc::new(Rules::parse(&p.rules).ok()?))))
            .collect();
    }

    /// A snapshot restore replaced the tables at `index`.
    pub(in crate::catalog) fn restored_at(&mut self, index: u64) {
        self.index = index;
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn bootstrap_index(&self) -> u64 {
        self.bootstrap_index
    }

    /// Whether the built-ins (or the initial management token `initial`) are missing.
    pub fn needs_init(&self, initial: Option<&str>) -> bool {
        !self.policies.contains_key(GLOBAL_MANAGEMENT_ID)
            || !self
                .policies
                .contains_key(acl::builtin::GLOBAL_READ_ONLY_ID)
            || !self.tokens.contains_key(ANONYMOUS_ID)
            || initial.is_some_and(|s| !self.by_secret.contains_key(s))
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrap_index != 0
    }

    fn touch(&mut self, index: u64, t: &mut Touched) {
        self.index = index;
        t.push(WatchKey::Acl);
    }

    fn put_token(&mut self, index: u64, mut tok: TokenRecord, t: &mut Touched) {
        if let Some(old) = self.tokens.get(&tok.accessor_id) {
            tok.create_index = old.create_index;
            self.by_secret.remove(&old.secret_id);
        } else {
            tok.create_index = index;
        }
        tok.modify_index = index;
        self.by_secret.insert(&tok.secret_id, &tok.accessor_id);
        self.tokens.insert(tok.accessor_id.clone(), tok);
        self.touch(index, t);
    }

    fn put_policy(&mut self, index: u64, mut p: PolicyRecord, t: &mut Touched) {
        p.create_index = self
            .policies
            .get(&p.id)
            .map_or(index, |old| old.create_index);
        p.modify_index = index;
        match Rules::parse(&p.rules) {
            Ok(r) => {
                self.parsed.0.insert(p.id.clone(), Arc::new(r));
            }
            Err(_) => {
                self.parsed.0.remove(&p.id);
            }
        }
        self.policies.insert(p.id.clone(), p);
        self.touch(index, t);
    }

    /// Applies an ACL command (called by `State::apply`).
    pub(in crate::catalog) fn apply(
        &mut self,
        index: u64,
        cmd: &AclCommand,
        t: &mut Touched,
    ) -> Result<(), CatalogError> {
        match cmd {
            AclCommand::Init {
                policies,
                anonymous,
                initial,
            } => {
                for p in policies {
                    if !self.policies.contains_key(&p.id) {
                        self.put_policy(index, p.clone(), t);
                    }
                }
                if !self.tokens.contains_key(&anonymous.accessor_id) {
                    self.put_token(index, anonymous.clone(), t);
                }
                if let Some(tok) = initial {
                    if !self.by_secret.contains_key(&tok.secret_id)
                        && !self.tokens.contains_key(&tok.accessor_id)
                    {
                        self.put_token(index, tok.clone(), t);
                    }
                    if self.bootstrap_index == 0 {
                        self.bootstrap_index = index;
                    }
                }
                Ok(())
            }
            AclCommand::Bootstrap { token, reset_index } => {
                if self.bootstrap_index != 0 && *reset_index != Some(self.bootstrap_index) {
                    return Err(CatalogError::AclBootstrapDone(self.bootstrap_index));
                }
                self.bootstrap_index = index;
                self.put_token(index, token.clone(), t);
                Ok(())
            }
            AclCommand::TokenSet { token, create } => {
                if *create && self.tokens.contains_key(&token.accessor_id) {
                    return Err(CatalogError::AclInvalid(
                        "Invalid Token: AccessorID is already in use".into(),
                    ));
                }
                if !*create && !self.tokens.contains_key(&token.accessor_id) {
                    return Err(CatalogError::AclInvalid(format!(
                        "Cannot find token {:?}",
                        token.accessor_id
                    )));
                }
                if !token.auth_method.is_empty()
                    && !self.auth_methods.contains_key(&token.auth_method)
                {
                    return Err(CatalogError::AclInvalid(format!(
                        "No such auth method with Name: {}",
                        token.auth_method
                    )));
                }
                if let Some(owner) = self.by_secret.get(&token.secret_id) {
                    if owner != &token.accessor_id {
                        return Err(CatalogError::AclInvalid(
                            "Invalid Token: SecretID is already in use".into(),
                        ));
                    }
                }
                self.put_token(index, token.clone(), t);
                Ok(())
            }
            AclCommand::TokenDelete { accessor_id } => {
                if let Some(old) = self.tokens.remove(accessor_id) {
                    self.by_secret.remove(&old.secret_id);
                    self.touch(index, t);
                }
                Ok(())
            }
            AclCommand::PolicySet { policy } => {
                if let Some(other) = self
                    .policies
                    .values()
                    .find(|p| p.name == policy.name && p.id != policy.id)
                {
                    return Err(CatalogError::AclInvalid(format!(
                        "Invalid Policy: A Policy with Name {:?} already exists",
                        other.name
                    )));
                }
                self.put_policy(index, policy.clone(), t);
                Ok(())
            }
            AclCommand::PolicyDelete { id } => {
                if self.policies.remove(id).is_some() {
                    self.parsed.0.remove(id);
                    self.touch(index, t);
                }
                Ok(())
            }
            AclCommand::RoleSet { role } => {
                if let Some(other) = self
                    .roles
                    .values()
                    .find(|r| r.name == role.name && r.id != role.id)
                {
                    return Err(CatalogError::AclInvalid(format!(
                        "Invalid Role: A Role with Name {:?} already exists",
                        other.name
                    )));
                }
                let mut r = role.clone();
                r.create_index = self.roles.get(&r.id).map_or(index, |o| o.create_index);
                r.modify_index = index;
                self.roles.insert(r.id.clone(), r);
                self.touch(index, t);
                Ok(())
            }
            AclCommand::RoleDelete { id } => {
                if self.roles.remove(id).is_some() {
                    self.touch(index, t);
                }
                Ok(())
            }
            AclCommand::AuthMethodSet { method } => {
                let mut m = method.clone();
                m.create_index = self
                    .auth_methods
                    .get(&m.name)
                    .map_or(index, |o| o.create_index);
                m.modify_index = index;
                self.auth_methods.insert(m.name.clone(), m);
                self.touch(index, t);
                Ok(())
            }
            AclCommand::AuthMethodDelete { name } => {
                if self.auth_methods.remove(name).is_none() {
                    return Ok(());
                }
                self.binding_rules.retain(|_, r| &r.auth_method != name);
                let gone: Vec<TokenRecord> = self
                    .tokens
                    .values()
                    .filter(|tok| &tok.auth_method == name)
                    .cloned()
                    .collect();
                for tok in gone {
                    self.by_secret.remove(&tok.secret_id);
                    self.tokens.remove(&tok.accessor_id);
                }
                self.touch(index, t);
                Ok(())
            }
            AclCommand::BindingRuleSet { rule } => {
                if !self.auth_methods.contains_key(&rule.auth_method) {
                    return Err(CatalogError::AclInvalid(format!(
                        "failed inserting acl binding rule: auth method not found: {}",
                        rule.auth_method
                    )));
                }
                let mut r = rule.clone();
                r.create_index = self
                    .binding_rules
                    .get(&r.id)
                    .map_or(index, |o| o.create_index);
                r.modify_index = index;
                self.binding_rules.insert(r.id.clone(), r);
                self.touch(index, t);
                Ok(())
            }
            AclCommand::BindingRuleDelete { id } => {
                if self.binding_rules.remove(id).is_some() {
                    self.touch(index, t);
                }
                Ok(())
            }
        }
    }
}
