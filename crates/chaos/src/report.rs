//! One line per scenario: its name, what was tried and how often, what came of it.

use std::fmt;

pub struct Outcome {
    pub name: String,
    /// What was tried, how often.
    pub tried: String,
    /// What held, or what broke.
    pub result: String,
    pub passed: bool,
}

impl Outcome {
    pub fn pass(name: &str, tried: impl Into<String>, result: impl Into<String>) -> Self {
        Outcome {
            name: name.to_string(),
            tried: tried.into(),
            result: result.into(),
            passed: true,
        }
    }

    pub fn fail(name: &str, tried: impl Into<String>, result: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            ..Outcome::pass(name, tried, result)
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.passed { "PASS" } else { "FAIL" };
        write!(
            f,
            "{mark} {:<22} {} => {}",
            self.name, self.tried, self.result
        )
    }
}
