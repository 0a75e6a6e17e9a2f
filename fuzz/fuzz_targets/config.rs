//! The config parsers. The first byte chooses: consul's HCL source, consul's JSON source (each
//! one file's text → normalised layer → merged → resolved `Config`, as `consul agent` does), or
//! consul-template's config file (JSON or HCL, strict keys → `Config`, validated).
#![no_main]

use catalog_server::config::{merge, parse_layer, resolve, Format};
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::path::Path;

fn consul(text: &str, format: Format) {
    let Ok(layer) = parse_layer("fuzz.cfg", text, format) else {
        return;
    };
    assert!(layer.is_object());
    let _ = resolve(&layer, false);
    // Over the `-dev` defaults, as a later file would be.
    let dev = json!({"server": true, "bootstrap": true, "bind_addr": "127.0.0.1"});
    let _ = resolve(&merge(dev, layer.clone()), true);
    let _ = resolve(&merge(layer.clone(), layer), false);
}

fn ctemplate(text: &str) {
    let mut config = ctemplate::config::Config::default();
    if ctemplate::config::load_text(Path::new("fuzz.hcl"), text, &mut config).is_ok() {
        let _ = config.validate();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 3 {
        0 => consul(text, Format::Hcl),
        1 => consul(text, Format::Json),
        _ => ctemplate(text),
    }
});
