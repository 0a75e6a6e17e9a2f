//! Go durations: Consul speaks `time.Duration` everywhere (`"10s"`, `"1m30s"`, `"9.873s"`,
//! `"60000ms"`), and a bare JSON number means nanoseconds. One parser and one formatter serve
//! flags, query parameters and request bodies.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("time: invalid duration {0:?}")]
pub struct DurationError(pub String);

/// Parses a Go duration string (`"300ms"`, `"-1.5h"`, `"2h45m"`, `"0"`) into nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i64, DurationError> {
    let err = || DurationError(s.to_string());
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_end == 0 {
            return Err(err());
        }
        let num: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += num * mult;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
}

/// Parses a Go duration into a non-negative [`Duration`].
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let ns = parse_go_duration(s)?;
    Ok(Duration::from_nanos(ns.max(0) as u64))
}

/// Formats nanoseconds the way Go's `time.Duration.String` does (`"10s"`, `"1m30s"`, `"1.5ms"`, `"0s"`).
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: use the largest unit with a fraction.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac(u, div));
        out.push_str(unit);
    } else {
        let h = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let m = rem / 60_000_000_000;
        let s_ns = rem % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac(s_ns, 1_000_000_000));
        out.push('s');
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Serde helper: a duration field that accepts a Go duration string or a number of nanoseconds,
/// held as nanoseconds.
pub mod nanos {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        from_value(&v).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*v)
    }

    /// Reads a JSON value as a duration: string → Go syntax, number → nanoseconds, null → 0.
    pub fn from_value(v: &serde_json::Value) -> Result<i64, String> {
        match v {
            serde_json::Value::Null => Ok(0),
            serde_json::Value::String(s) if s.is_empty() => Ok(0),
            serde_json::Value::String(s) => parse_go_duration(s).map_err(|e| e.to_string()),
            serde_json::Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .ok_or_else(|| format!("invalid duration {n}")),
            other => Err(format!("invalid duration {other}")),
        }
    }
}

/// Serde helper: an optional duration written as a Go duration string, or omitted when zero.
pub mod string_nanos {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        super::nanos::deserialize(d)
    }

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        if *v == 0 {
            s.serialize_str("")
        } else {
            s.serialize_str(&format_go_duration(*v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        assert_eq!(parse_go_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("9.873s"), Ok(9_873_000_000));
        assert_eq!(parse_go_duration("60000ms"), Ok(60_000_000_000));
        assert_eq!(parse_go_duration("1.5µs"), Ok(1_500));
        assert_eq!(parse_go_duration("-2h"), Ok(-7_200_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("abc").is_err());
        assert!(parse_go_duration("5x").is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(0), "0s");
        assert_eq!(format_go_duration(10_000_000_000), "10s");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(5_400_000_000_000), "1h30m0s");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(43_300_000), "43.3ms");
        assert_eq!(format_go_duration(86_400_000_000_000), "24h0m0s");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
    }
}

/// A duration field of a wire type: decoded from a Go duration string or a number of
/// nanoseconds, encoded as a Go duration string (`"10s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub i64);

impl GoDuration {
    pub fn from_secs(s: i64) -> Self {
        GoDuration(s * 1_000_000_000)
    }
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
    /// The duration as a std [`Duration`], negative values clamped to zero.
    pub fn as_std(&self) -> Duration {
        Duration::from_nanos(self.0.max(0) as u64)
    }
    /// Go's string form, or `""` when zero (how Consul prints unset check intervals).
    pub fn to_string_or_empty(&self) -> String {
        if self.0 == 0 {
            String::new()
        } else {
            format_go_duration(self.0)
        }
    }
}

impl std::fmt::Display for GoDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

impl serde::Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_go_duration(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        nanos::deserialize(d).map(GoDuration)
    }
}
