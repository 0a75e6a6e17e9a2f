//! `/v1/catalog/*` and `/v1/health/*`: the cluster-wide view of nodes, services and checks.

use super::{to_body, Client, ClientError, QueryOptions};
use crate::headers::QueryMeta;
use crate::{
    CatalogDeregistration, CatalogRegistration, CatalogService, HealthCheck, Node, NodeServiceList,
    NodeServices, ServiceEntry,
};
use reqwest::Method;
use std::collections::BTreeMap;

impl Client {
    /// `GET /v1/catalog/datacenters`.
    pub async fn catalog_datacenters(&self) -> Result<(Vec<String>, QueryMeta), ClientError> {
        self.get_json("/v1/catalog/datacenters", &QueryOptions::default(), &[])
            .await
    }

    /// `GET /v1/catalog/nodes`.
    pub async fn catalog_nodes(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<Node>, QueryMeta), ClientError> {
        self.get_json("/v1/catalog/nodes", q, &[]).await
    }

    /// `GET /v1/catalog/services`: service name → union of its tags.
    pub async fn catalog_services(
        &self,
        q: &QueryOptions,
    ) -> Result<(BTreeMap<String, Vec<String>>, QueryMeta), ClientError> {
        self.get_json("/v1/catalog/services", q, &[]).await
    }

    /// `GET /v1/catalog/service/:name` (`q.tag` filters).
    pub async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<CatalogService>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/catalog/service/{name}"), q, &[])
            .await
    }

    /// `GET /v1/catalog/node/:node`; `None` for an unknown node (Consul answers `null`).
    pub async fn catalog_node(
        &self,
        node: &str,
        q: &QueryOptions,
    ) -> Result<(Option<NodeServices>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/catalog/node/{node}"), q, &[])
            .await
    }

    /// `GET /v1/catalog/node-services/:node`; `None` for an unknown node.
    pub async fn catalog_node_services(
        &self,
        node: &str,
        q: &QueryOptions,
    ) -> Result<(Option<NodeServiceList>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/catalog/node-services/{node}"), q, &[])
            .await
    }

    /// `PUT /v1/catalog/register`.
    pub async fn catalog_register(&self, reg: &CatalogRegistration) -> Result<bool, ClientError> {
        let a = self
            .send_ok(
                Method::PUT,
                "/v1/catalog/register",
                Vec::new(),
                Some(to_body(reg)?),
            )
            .await?;
        super::decode(&a.body)
    }

    /// `PUT /v1/catalog/deregister`.
    pub async fn catalog_deregister(
        &self,
        dereg: &CatalogDeregistration,
    ) -> Result<bool, ClientError> {
        let a = self
            .send_ok(
                Method::PUT,
                "/v1/catalog/deregister",
                Vec::new(),
                Some(to_body(dereg)?),
            )
            .await?;
        super::decode(&a.body)
    }

    /// `GET /v1/health/service/:name` (`q.passing`, `q.tag`).
    pub async fn health_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<ServiceEntry>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/health/service/{name}"), q, &[])
            .await
    }

    /// `GET /v1/health/node/:node`.
    pub async fn health_node(
        &self,
        node: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/health/node/{node}"), q, &[])
            .await
    }

    /// `GET /v1/health/checks/:service`.
    pub async fn health_checks(
        &self,
        service: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/health/checks/{service}"), q, &[])
            .await
    }

    /// `GET /v1/health/state/:state` (`any passing warning critical`).
    pub async fn health_state(
        &self,
        state: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta), ClientError> {
        self.get_json(&format!("/v1/health/state/{state}"), q, &[])
            .await
    }
}
