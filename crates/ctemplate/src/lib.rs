//! `ctemplate`: a drop-in replacement for HashiCorp consul-template.
//!
//! This crate currently holds the template language: a Go `text/template` implementation
//! ([`template`]), the consul-template function set ([`funcs`]), the dependency model the
//! query functions record ([`dependency`]) and the front ends that tie them together
//! ([`engine`]: Go syntax and handlebars). The watch/runner layer calls
//! [`engine::CompiledTemplate::execute`] with a [`funcs::Store`] of the latest data and
//! learns which dependencies were used and which are still missing.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod dependency;
pub mod engine;
pub mod funcs;
mod hbs;
pub mod template;
