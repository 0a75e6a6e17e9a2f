//! `/v1/acl/*` and `/v1/agent/token/*`: bootstrap, tokens, policies, roles, and the tokens an
//! agent uses. Reads that Go's `api` package answers with `nil` on a 404 (policy and role by
//! name, role by ID) answer `None` here; the others turn any non-200 into
//! [`ClientError::Status`], as Go's `requireOK` does.

use super::{decode, params, status_error, to_body, Client, ClientError, QueryOptions};
use crate::acl::{
    AclAuthMethod, AclAuthMethodStub, AclBindingRule, AclLoginParams, AclPolicy, AclPolicyStub,
    AclRole, AclToken, AclTokenClone, AgentTokenUpdate,
};
use crate::headers::QueryMeta;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

/// `PUT /v1/acl/bootstrap`'s optional body.
#[derive(serde::Serialize)]
struct BootstrapRequest<'a> {
    #[serde(rename = "BootstrapSecret")]
    bootstrap_secret: &'a str,
}

/// A name percent-encoded whole for a path segment (`/` too, as Go's `url.QueryEscape`; a
/// space is `%20`, which the server decodes, not `+`).
fn escape_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// `PUT path` with a JSON body, decoding the JSON answer (200 required).
    async fn acl_put<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let body = match body {
            Some(b) => Some(to_body(b)?),
            None => None,
        };
        let a = self.send_ok(Method::PUT, path, Vec::new(), body).await?;
        decode(&a.body)
    }

    /// `GET path` (already percent-encoded); `None` on 404 (Go's `requireNotFoundOrOK`).
    async fn acl_get_opt<T: DeserializeOwned>(
        &self,
        escaped_path: &str,
        q: &QueryOptions,
    ) -> Result<(Option<T>, QueryMeta), ClientError> {
        let url = self.url_escaped(escaped_path, params(q, &[]))?;
        let a = self.send_url(Method::GET, url, None).await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((None, a.meta)),
            StatusCode::OK => Ok((Some(decode(&a.body)?), a.meta)),
            _ => Err(status_error(&a)),
        }
    }

    /// `GET path`, a JSON list where `null` is empty.
    async fn acl_list<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<T>, QueryMeta), ClientError> {
        let (list, meta) = self.get_json::<Option<Vec<T>>>(path, q, &[]).await?;
        Ok((list.unwrap_or_default(), meta))
    }

    /// `DELETE path` (200 required; the `true` answer is not looked at).
    async fn acl_delete(&self, path: &str) -> Result<(), ClientError> {
        self.send_ok(Method::DELETE, path, Vec::new(), None)
            .await
            .map(|_| ())
    }

    /// `PUT /v1/acl/bootstrap`: the initial management token; `secret` chooses its SecretID.
    pub async fn acl_bootstrap(&self, secret: Option<&str>) -> Result<AclToken, ClientError> {
        let body = secret.filter(|s| !s.is_empty()).map(|s| BootstrapRequest {
            bootstrap_secret: s,
        });
        self.acl_put("/v1/acl/bootstrap", body.as_ref()).await
    }

    /// `PUT /v1/acl/token`: creates a token; the answer is the stored token.
    pub async fn acl_token_create(&self, token: &AclToken) -> Result<AclToken, ClientError> {
        self.acl_put("/v1/acl/token", Some(token)).await
    }

    /// `PUT /v1/acl/token/:accessor`: replaces the token named by `token.accessor_id` (which
    /// must be set).
    pub async fn acl_token_update(&self, token: &AclToken) -> Result<AclToken, ClientError> {
        self.acl_put(&format!("/v1/acl/token/{}", token.accessor_id), Some(token))
            .await
    }

    /// `PUT /v1/acl/token/:accessor/clone`: a new token with the same links.
    pub async fn acl_token_clone(
        &self,
        accessor_id: &str,
        description: &str,
    ) -> Result<AclToken, ClientError> {
        let body = AclTokenClone {
            description: description.to_string(),
        };
        self.acl_put(&format!("/v1/acl/token/{accessor_id}/clone"), Some(&body))
            .await
    }

    /// `DELETE /v1/acl/token/:accessor`.
    pub async fn acl_token_delete(&self, accessor_id: &str) -> Result<(), ClientError> {
        self.acl_delete(&format!("/v1/acl/token/{accessor_id}"))
            .await
    }

    /// `GET /v1/acl/token/:accessor` (a 404 is an error, as in Go).
    pub async fn acl_token_read(
        &self,
        accessor_id: &str,
        q: &QueryOptions,
    ) -> Result<(AclToken, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/acl/token/{accessor_id}"), q, &[])
            .await
    }

    /// `GET /v1/acl/token/self`: the token the request is made with.
    pub async fn acl_token_read_self(
        &self,
        q: &QueryOptions,
    ) -> Result<(AclToken, QueryMeta), ClientError> {
        self.get_json("/v1/acl/token/self", q, &[]).await
    }

    /// `GET /v1/acl/tokens`: every token (secrets shown only to `acl:write`).
    pub async fn acl_token_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AclToken>, QueryMeta), ClientError> {
        self.acl_list("/v1/acl/tokens", q).await
    }

    /// `PUT /v1/acl/policy`: creates a policy (`ID` left empty).
    pub async fn acl_policy_create(&self, policy: &AclPolicy) -> Result<AclPolicy, ClientError> {
        self.acl_put("/v1/acl/policy", Some(policy)).await
    }

    /// `PUT /v1/acl/policy/:id`: replaces the policy named by `policy.id` (which must be set).
    pub async fn acl_policy_update(&self, policy: &AclPolicy) -> Result<AclPolicy, ClientError> {
        self.acl_put(&format!("/v1/acl/policy/{}", policy.id), Some(policy))
            .await
    }

    /// `DELETE /v1/acl/policy/:id`.
    pub async fn acl_policy_delete(&self, id: &str) -> Result<(), ClientError> {
        self.acl_delete(&format!("/v1/acl/policy/{id}")).await
    }

    /// `GET /v1/acl/policy/:id` (a 404 is an error, as in Go).
    pub async fn acl_policy_read(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(AclPolicy, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/acl/policy/{id}"), q, &[]).await
    }

    /// `GET /v1/acl/policy/name/:name`; `None` when there is no such policy.
    pub async fn acl_policy_read_by_name(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Option<AclPolicy>, QueryMeta), ClientError> {
        self.acl_get_opt(&format!("/v1/acl/policy/name/{}", escape_segment(name)), q)
            .await
    }

    /// `GET /v1/acl/policies`: every policy, without rules.
    pub async fn acl_policy_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AclPolicyStub>, QueryMeta), ClientError> {
        self.acl_list("/v1/acl/policies", q).await
    }

    /// `PUT /v1/acl/role`: creates a role (`ID` left empty).
    pub async fn acl_role_create(&self, role: &AclRole) -> Result<AclRole, ClientError> {
        self.acl_put("/v1/acl/role", Some(role)).await
    }

    /// `PUT /v1/acl/role/:id`: replaces the role named by `role.id` (which must be set).
    pub async fn acl_role_update(&self, role: &AclRole) -> Result<AclRole, ClientError> {
        self.acl_put(&format!("/v1/acl/role/{}", role.id), Some(role))
            .await
    }

    /// `DELETE /v1/acl/role/:id`.
    pub async fn acl_role_delete(&self, id: &str) -> Result<(), ClientError> {
        self.acl_delete(&format!("/v1/acl/role/{id}")).await
    }

    /// `GET /v1/acl/role/:id`; `None` when there is no such role.
    pub async fn acl_role_read(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Option<AclRole>, QueryMeta), ClientError> {
        self.acl_get_opt(&format!("/v1/acl/role/{}", escape_segment(id)), q)
            .await
    }

    /// `GET /v1/acl/role/name/:name`; `None` when there is no such role.
    pub async fn acl_role_read_by_name(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Option<AclRole>, QueryMeta), ClientError> {
        self.acl_get_opt(&format!("/v1/acl/role/name/{}", escape_segment(name)), q)
            .await
    }

    /// `GET /v1/acl/roles`: every role.
    pub async fn acl_role_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AclRole>, QueryMeta), ClientError> {
        self.acl_list("/v1/acl/roles", q).await
    }

    /// `PUT /v1/acl/auth-method`: creates an auth method.
    pub async fn acl_auth_method_create(
        &self,
        method: &AclAuthMethod,
    ) -> Result<AclAuthMethod, ClientError> {
        self.acl_put("/v1/acl/auth-method", Some(method)).await
    }

    /// `PUT /v1/acl/auth-method/:name`: replaces the auth method named by `method.name`.
    pub async fn acl_auth_method_update(
        &self,
        method: &AclAuthMethod,
    ) -> Result<AclAuthMethod, ClientError> {
        let path = format!("/v1/acl/auth-method/{}", escape_segment(&method.name));
        let url = self.url_escaped(&path, Vec::new())?;
        let a = self
            .send_url(Method::PUT, url, Some(to_body(method)?))
            .await?;
        if a.status != StatusCode::OK {
            return Err(status_error(&a));
        }
        decode(&a.body)
    }

    /// `DELETE /v1/acl/auth-method/:name`.
    pub async fn acl_auth_method_delete(&self, name: &str) -> Result<(), ClientError> {
        let path = format!("/v1/acl/auth-method/{}", escape_segment(name));
        let url = self.url_escaped(&path, Vec::new())?;
        let a = self.send_url(Method::DELETE, url, None).await?;
        if a.status != StatusCode::OK {
            return Err(status_error(&a));
        }
        Ok(())
    }

    /// `GET /v1/acl/auth-method/:name`; `None` when there is no such method.
    pub async fn acl_auth_method_read(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Option<AclAuthMethod>, QueryMeta), ClientError> {
        self.acl_get_opt(&format!("/v1/acl/auth-method/{}", escape_segment(name)), q)
            .await
    }

    /// `GET /v1/acl/auth-methods`: every auth method, without its config.
    pub async fn acl_auth_method_list(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<AclAuthMethodStub>, QueryMeta), ClientError> {
        self.acl_list("/v1/acl/auth-methods", q).await
    }

    /// `PUT /v1/acl/binding-rule`: creates a binding rule (`ID` left empty).
    pub async fn acl_binding_rule_create(
        &self,
        rule: &AclBindingRule,
    ) -> Result<AclBindingRule, ClientError> {
        self.acl_put("/v1/acl/binding-rule", Some(rule)).await
    }

    /// `PUT /v1/acl/binding-rule/:id`: replaces the rule named by `rule.id`.
    pub async fn acl_binding_rule_update(
        &self,
        rule: &AclBindingRule,
    ) -> Result<AclBindingRule, ClientError> {
        self.acl_put(&format!("/v1/acl/binding-rule/{}", rule.id), Some(rule))
            .await
    }

    /// `DELETE /v1/acl/binding-rule/:id`.
    pub async fn acl_binding_rule_delete(&self, id: &str) -> Result<(), ClientError> {
        self.acl_delete(&format!("/v1/acl/binding-rule/{id}")).await
    }

    /// `GET /v1/acl/binding-rule/:id`; `None` when there is no such rule.
    pub async fn acl_binding_rule_read(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Option<AclBindingRule>, QueryMeta), ClientError> {
        self.acl_get_opt(&format!("/v1/acl/binding-rule/{}", escape_segment(id)), q)
            .await
    }

    /// `GET /v1/acl/binding-rules[?authmethod=]`: the rules, of one auth method when given.
    pub async fn acl_binding_rule_list(
        &self,
        auth_method: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<AclBindingRule>, QueryMeta), ClientError> {
        let extra: Vec<(&str, &str)> = if auth_method.is_empty() {
            Vec::new()
        } else {
            vec![("authmethod", auth_method)]
        };
        let (list, meta) = self
            .get_json::<Option<Vec<AclBindingRule>>>("/v1/acl/binding-rules", q, &extra)
            .await?;
        Ok((list.unwrap_or_default(), meta))
    }

    /// `POST /v1/acl/login`: a token for the bearer token the auth method validates.
    pub async fn acl_login(&self, params: &AclLoginParams) -> Result<AclToken, ClientError> {
        let a = self
            .send_ok(
                Method::POST,
                "/v1/acl/login",
                Vec::new(),
                Some(to_body(params)?),
            )
            .await?;
        decode(&a.body)
    }

    /// `POST /v1/acl/logout`: deletes the client's token (one a login created).
    pub async fn acl_logout(&self) -> Result<(), ClientError> {
        self.send_ok(Method::POST, "/v1/acl/logout", Vec::new(), None)
            .await
            .map(|_| ())
    }

    /// `PUT /v1/agent/token/:kind` with `{"Token": token}`. Like Go's client, the older names
    /// of a kind are tried in turn while the agent answers 404 (`default` then `acl_token`,
    /// `agent_recovery` then `agent_master` and `acl_agent_master_token`, ...).
    pub async fn agent_token_set(&self, kind: &str, token: &str) -> Result<(), ClientError> {
        let targets: Vec<&str> = match kind {
            "default" => vec!["default", "acl_token"],
            "agent" => vec!["agent", "acl_agent_token"],
            "agent_recovery" => vec!["agent_recovery", "agent_master", "acl_agent_master_token"],
            "agent_master" => vec!["agent_master", "acl_agent_master_token"],
            "replication" => vec!["replication", "acl_replication_token"],
            other => vec![other],
        };
        let body = AgentTokenUpdate {
            token: token.to_string(),
        };
        let (last, earlier) = targets.split_last().unwrap_or((&kind, &[]));
        for target in earlier {
            let path = format!("/v1/agent/token/{target}");
            match self
                .put_unit(&path, Vec::new(), Some(to_body(&body)?))
                .await
            {
                Err(e) if e.status() == Some(404) => continue,
                done => return done,
            }
        }
        let path = format!("/v1/agent/token/{last}");
        self.put_unit(&path, Vec::new(), Some(to_body(&body)?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_whole() {
        assert_eq!(escape_segment("kv-read_1.x"), "kv-read_1.x");
        assert_eq!(escape_segment("a b/c"), "a%20b%2Fc");
        let c = Client::new("127.0.0.1:8500").expect("client");
        let path = format!(
            "/v1/acl/policy/name/{}",
            escape_segment("builtin/global-read-only")
        );
        assert_eq!(
            c.url_escaped(&path, Vec::new()).expect("url").as_str(),
            "http://127.0.0.1:8500/v1/acl/policy/name/builtin%2Fglobal-read-only"
        );
    }
}
