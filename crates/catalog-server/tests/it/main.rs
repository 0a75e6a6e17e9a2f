//! Integration tests: each starts the real `consul` binary on free loopback ports.

#![allow(clippy::unwrap_used)]

mod acl;
mod acl_auth;
mod acl_auth_cli;
mod acl_cli;
mod api;
mod blocking;
mod check_kinds;
mod checks;
mod cli;
mod clients;
mod cluster;
mod common;
mod debug_cli;
mod dns;
mod durability;
mod filter;
mod go_json;
mod h2c;
mod haproxy;
mod http_server;
mod https;
mod kv;
mod lifecycle;
mod linearizable;
mod mesh;
mod metrics;
mod operator;
mod prepared_query;
mod rpc_tls;
mod sessions;
mod storage;
mod tls_cli;
mod txn;
mod ui;
mod usage_cli;
