//! Go's nil slices and nil maps. In Go a `map[string]string` field that Consul sent as `null`
//! (or left out) is nil: templates see an empty map (`range`, `len`, `%v` as `map[]`) but
//! `encoding/json` prints `null`, where an empty map prints `{}`. The engine's [`Value`] has no
//! typed nil, so a nil collection is one shared, never-mutated empty list or map: clones keep
//! pointing at it (nil-ness travels with the value, as in Go), everything else treats it as
//! empty, and the JSON encoders ask [`is_nil`] to print `null`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use gotemplate::value::{Elem, Map};
use gotemplate::Value;

fn nil_list_arc() -> &'static Arc<Vec<Value>> {
    static NIL: OnceLock<Arc<Vec<Value>>> = OnceLock::new();
    NIL.get_or_init(|| Arc::new(Vec::new()))
}

fn nil_map_arc(elem: Elem) -> &'static Arc<Map> {
    static NIL_ANY: OnceLock<Arc<Map>> = OnceLock::new();
    static NIL_STR: OnceLock<Arc<Map>> = OnceLock::new();
    let cell = match elem {
        Elem::Any => &NIL_ANY,
        Elem::Str => &NIL_STR,
    };
    cell.get_or_init(|| {
        Arc::new(Map {
            entries: BTreeMap::new(),
            elem,
        })
    })
}

/// A nil slice (`[]T(nil)`).
pub fn nil_list() -> Value {
    Value::List(nil_list_arc().clone())
}

/// A nil `map[string]string`.
pub fn nil_str_map() -> Value {
    Value::Map(nil_map_arc(Elem::Str).clone())
}

/// A nil map of structs (`map[string]api.ServiceAddress`).
pub fn nil_map() -> Value {
    Value::Map(nil_map_arc(Elem::Any).clone())
}

/// Whether `v` is a nil slice or map (Go's `encoding/json` prints `null`).
pub fn is_nil(v: &Value) -> bool {
    match v {
        Value::List(l) => Arc::ptr_eq(l, nil_list_arc()),
        Value::Map(m) => {
            Arc::ptr_eq(m, nil_map_arc(Elem::Any)) || Arc::ptr_eq(m, nil_map_arc(Elem::Str))
        }
        _ => false,
    }
}

/// A string map that is nil when Consul sent none.
pub fn str_map_or_nil(m: Option<&BTreeMap<String, String>>) -> Value {
    match m {
        None => nil_str_map(),
        Some(m) => Value::str_map(m.iter().map(|(k, v)| (k.clone(), Value::str(v))).collect()),
    }
}

/// A string list that is nil when Consul sent none.
pub fn strings_or_nil(items: Option<&Vec<String>>) -> Value {
    match items {
        None => nil_list(),
        Some(items) => Value::list(items.iter().map(Value::str).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nil_travels_with_clones_and_nothing_else_is_nil() {
        let l = nil_list();
        assert!(is_nil(&l.clone()));
        assert!(!is_nil(&Value::list(vec![])));
        assert!(is_nil(&nil_str_map()));
        assert!(is_nil(&nil_map()));
        assert!(!is_nil(&Value::str_map(BTreeMap::new())));
        assert!(!l.truthy());
        assert_eq!(nil_str_map().to_string(), "map[]");
        assert_eq!(l.to_string(), "[]");
    }
}
