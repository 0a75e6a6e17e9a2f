//! One integration-test binary for ctemplate: Go-syntax evaluator checks, helper-function
//! checks, the fixture suite (template + data + exact expected output) and handlebars.

#![allow(clippy::unwrap_used)]

mod common;
mod fixtures;
mod funcs;
mod go_syntax;
mod handlebars;
mod runtime;
mod sprig;
mod upstream_funcs;
