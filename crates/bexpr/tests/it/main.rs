//! One integration-test binary for the bexpr crate: `parse` checks the trees and syntax errors,
//! `consul` evaluates filters over recorded-shape Consul JSON, `fields` the creation-time checks.

mod common;
mod consul;
mod fields;
mod parse;
