//! Go's texts for operating-system errors, as `os.Open` and friends print them
//! (`open /x: no such file or directory`), for messages scripts and users compare.

/// `op path: reason` with the reason as Go spells it (lower-case first letter, no
/// `(os error N)` suffix).
pub fn go_io_error(op: &str, path: &str, err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    let lowered: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{op} {path}: {lowered}")
}

#[cfg(test)]
mod tests {
    use super::go_io_error;

    #[test]
    fn go_shaped_io_errors() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        let real = std::fs::read("/nonexistent/x").expect_err("missing");
        assert_eq!(
            go_io_error("open", "/nonexistent/x", &real),
            "open /nonexistent/x: no such file or directory"
        );
        assert!(go_io_error("open", "f", &e).starts_with("open f: "));
    }
}
