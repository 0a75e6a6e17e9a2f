//! Go's `strconv.ParseBool`: the one table every flag, query parameter, URI option and
//! template function of the three programs reads a boolean with.

/// The value Go's `strconv.ParseBool` gives `s`, or `None` where Go returns an error.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn go_table() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        for s in ["", "yes", "no", "tRUE", "on", " true", "2"] {
            assert_eq!(parse_bool(s), None, "{s:?}");
        }
    }
}
