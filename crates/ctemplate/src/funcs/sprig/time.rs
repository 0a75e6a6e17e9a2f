//! sprig's hermetic `time.Time` functions (`date.go`): `toDate`/`mustToDate` read a time with a
//! Go reference layout (`2006-01-02 15:04:05`) in the local zone, `unixEpoch` gives its epoch
//! seconds, `mustDateModify` adds a Go duration, `ago` the time since it (or since epoch
//! seconds) rounded to seconds. A time prints as Go's `time.Time` does
//! (`2017-12-31 00:00:00 +0000 UTC`); a zone other than UTC shows its offset as its name (no
//! zone database here).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone, Timelike, Utc};

use super::super::{string, Func};
use super::want;
use gotemplate::{FuncError, Object, Value};

pub(super) const FUNCS: &[(&str, Func)] = &[
    ("sprig_toDate", |_, a| {
        want(&a, 2)?;
        let t = parse(&string(&a[0])?, &string(&a[1])?).unwrap_or_else(|_| zero());
        Ok(time(t))
    }),
    ("sprig_mustToDate", |_, a| {
        want(&a, 2)?;
        parse(&string(&a[0])?, &string(&a[1])?)
            .map(time)
            .map_err(FuncError::call)
    }),
    ("sprig_unixEpoch", |_, a| {
        want(&a, 1)?;
        Ok(Value::str(time_arg(&a[0])?.timestamp().to_string()))
    }),
    ("sprig_mustDateModify", |_, a| date_modify(a)),
    ("sprig_must_date_modify", |_, a| date_modify(a)),
    ("sprig_ago", |_, a| {
        want(&a, 1)?;
        let t = match &a[0] {
            Value::Int(secs) => Utc
                .timestamp_opt(*secs, 0)
                .single()
                .map(|t| t.fixed_offset())
                .unwrap_or_else(zero),
            Value::Object(_) => time_arg(&a[0])?,
            _ => Utc::now().fixed_offset(),
        };
        let since = Utc::now().signed_duration_since(t);
        let ns = since.num_nanoseconds().unwrap_or(i64::MAX);
        // time.Duration.Round(time.Second): half away from zero.
        let s = 1_000_000_000i64;
        let rounded = if ns >= 0 {
            (ns + s / 2) / s * s
        } else {
            -((-ns + s / 2) / s * s)
        };
        Ok(Value::str(api_types::format_go_duration(rounded)))
    }),
];

/// A `time.Time`.
#[derive(Debug)]
struct Time(DateTime<FixedOffset>);

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }
    fn format_v(&self) -> String {
        let t = &self.0;
        let mut s = t.format("%Y-%m-%d %H:%M:%S").to_string();
        let nanos = t.nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        let off = t.offset().fix().local_minus_utc();
        let sign = if off < 0 { '-' } else { '+' };
        let (h, m) = (off.abs() / 3600, off.abs() % 3600 / 60);
        let name = if off == 0 {
            "UTC".to_string()
        } else {
            format!("{sign}{h:02}{m:02}")
        };
        format!("{s} {sign}{h:02}{m:02} {name}")
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Nanoseconds since a `time.Time` value (for `durationRound`), if `v` is one.
pub(super) fn since_ns(v: &Value) -> Option<i64> {
    let Value::Object(o) = v else { return None };
    let t = o.as_any().downcast_ref::<Time>()?;
    Utc::now().signed_duration_since(t.0).num_nanoseconds()
}

fn time(t: DateTime<FixedOffset>) -> Value {
    Value::Object(Arc::new(Time(t)))
}

/// Go's zero `time.Time`.
fn zero() -> DateTime<FixedOffset> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().fixed_offset())
        .unwrap_or_else(|| Utc::now().fixed_offset())
}

fn time_arg(v: &Value) -> Result<DateTime<FixedOffset>, FuncError> {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<Time>()
            .map(|t| t.0)
            .ok_or_else(|| super::wrong_type("time.Time", v)),
        other => Err(super::wrong_type("time.Time", other)),
    }
}

fn date_modify(a: Vec<Value>) -> Result<Value, FuncError> {
    want(&a, 2)?;
    let d = string(&a[0])?;
    let t = time_arg(&a[1])?;
    let ns = api_types::parse_go_duration(&d).map_err(|_| {
        FuncError::call(format!(
            "time: invalid duration {}",
            gotemplate::gofmt::go_quote(&d)
        ))
    })?;
    Ok(time(t + chrono::Duration::nanoseconds(ns)))
}

/// The layout elements Go's `time.Parse` knows that this parser reads.
const CHUNKS: &[&str] = &[
    "January", "Monday", "2006", "-07:00", "-0700", "Z07:00", "Z0700", "__2", "002", "Jan", "Mon",
    "MST", "-07", "Z07", "01", "02", "03", "04", "05", "06", "15", "PM", "pm", "_2", "1", "2", "3",
    "4", "5",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// `time.ParseInLocation(layout, value, time.Local)` for the common layout elements
/// (numeric and named dates, 12/24-hour clocks, fractions, numeric zones, `Z`, `MST`).
fn parse(layout: &str, value: &str) -> Result<DateTime<FixedOffset>, String> {
    let fail = |elem: &str, rest: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            gotemplate::gofmt::go_quote(value),
            gotemplate::gofmt::go_quote(layout),
            gotemplate::gofmt::go_quote(rest),
            gotemplate::gofmt::go_quote(elem)
        )
    };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) =
        (1i32, 1u32, 1u32, 0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let (mut l, mut v) = (layout, value);
    while !l.is_empty() {
        // Fractional seconds: `.000` / `.999` (and `,`).
        if (l.starts_with(".0")
            || l.starts_with(".9")
            || l.starts_with(",0")
            || l.starts_with(",9"))
            && l[1..]
                .chars()
                .take_while(|c| *c == '0' || *c == '9')
                .count()
                > 0
        {
            let n = l[1..]
                .chars()
                .take_while(|c| *c == '0' || *c == '9')
                .count();
            l = &l[1 + n..];
            if v.starts_with(['.', ',']) {
                let digits: String = v[1..].chars().take_while(char::is_ascii_digit).collect();
                v = &v[1 + digits.len()..];
                let padded = format!("{digits:0<9}");
                nanos = padded[..9].parse().unwrap_or(0);
            }
            continue;
        }
        let Some(chunk) = CHUNKS.iter().find(|c| l.starts_with(**c)) else {
            let c = l.chars().next().unwrap_or(' ');
            if !v.starts_with(c) {
                return Err(fail(l, v));
            }
            l = &l[c.len_utf8()..];
            v = &v[c.len_utf8()..];
            continue;
        };
        l = &l[chunk.len()..];
        let num = |v: &str, min_len: usize, max_len: usize| -> Option<(u32, usize)> {
            let d: String = v
                .chars()
                .take(max_len)
                .take_while(char::is_ascii_digit)
                .collect();
            (d.len() >= min_len).then(|| (d.parse().unwrap_or(0), d.len()))
        };
        let take = |v: &mut &str, n: usize| *v = &v[n..];
        match *chunk {
            "2006" => {
                let (y, n) = num(v, 4, 4).ok_or_else(|| fail(chunk, v))?;
                year = y as i32;
                take(&mut v, n);
            }
            "06" => {
                let (y, n) = num(v, 2, 2).ok_or_else(|| fail(chunk, v))?;
                year = if y >= 69 {
                    1900 + y as i32
                } else {
                    2000 + y as i32
                };
                take(&mut v, n);
            }
            "01" | "1" => {
                let (m, n) =
                    num(v, if *chunk == "01" { 2 } else { 1 }, 2).ok_or_else(|| fail(chunk, v))?;
                month = m;
                take(&mut v, n);
            }
            "January" | "Jan" => {
                let i = MONTHS
                    .iter()
                    .position(|m| {
                        let name = if *chunk == "Jan" { &m[..3] } else { m };
                        v.starts_with(name)
                    })
                    .ok_or_else(|| fail(chunk, v))?;
                month = i as u32 + 1;
                let len = if *chunk == "Jan" { 3 } else { MONTHS[i].len() };
                take(&mut v, len);
            }
            "Monday" | "Mon" => {
                let i = DAYS
                    .iter()
                    .position(|d| {
                        let name = if *chunk == "Mon" { &d[..3] } else { d };
                        v.starts_with(name)
                    })
                    .ok_or_else(|| fail(chunk, v))?;
                let len = if *chunk == "Mon" { 3 } else { DAYS[i].len() };
                take(&mut v, len);
            }
            "02" | "2" | "_2" => {
                if *chunk == "_2" && v.starts_with(' ') {
                    take(&mut v, 1);
                }
                let (d, n) =
                    num(v, if *chunk == "02" { 2 } else { 1 }, 2).ok_or_else(|| fail(chunk, v))?;
                day = d;
                take(&mut v, n);
            }
            "002" | "__2" => return Err(fail(chunk, v)),
            "15" => {
                let (h, n) = num(v, 1, 2).ok_or_else(|| fail(chunk, v))?;
                hour = h;
                take(&mut v, n);
            }
            "03" | "3" => {
                let (h, n) =
                    num(v, if *chunk == "03" { 2 } else { 1 }, 2).ok_or_else(|| fail(chunk, v))?;
                hour = h;
                take(&mut v, n);
            }
            "04" | "4" => {
                let (m, n) =
                    num(v, if *chunk == "04" { 2 } else { 1 }, 2).ok_or_else(|| fail(chunk, v))?;
                min = m;
                take(&mut v, n);
            }
            "05" | "5" => {
                let (s, n) =
                    num(v, if *chunk == "05" { 2 } else { 1 }, 2).ok_or_else(|| fail(chunk, v))?;
                sec = s;
                take(&mut v, n);
                // A fraction the layout does not name is still read.
                if v.starts_with('.') && !l.starts_with('.') {
                    let digits: String = v[1..].chars().take_while(char::is_ascii_digit).collect();
                    if !digits.is_empty() {
                        nanos = format!("{digits:0<9}")[..9].parse().unwrap_or(0);
                        take(&mut v, 1 + digits.len());
                    }
                }
            }
            "PM" | "pm" => {
                let s = v.get(..2).unwrap_or("");
                pm = Some(match s.to_ascii_uppercase().as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(fail(chunk, v)),
                });
                take(&mut v, 2);
            }
            "MST" => {
                let name: String = v.chars().take_while(char::is_ascii_uppercase).collect();
                if name.len() < 3 {
                    return Err(fail(chunk, v));
                }
                if name == "UTC" || name == "GMT" {
                    offset = Some(0);
                }
                take(&mut v, name.len());
            }
            zone => {
                if zone.starts_with('Z') && v.starts_with('Z') {
                    offset = Some(0);
                    take(&mut v, 1);
                    continue;
                }
                let sign = match v.chars().next() {
                    Some('+') => 1,
                    Some('-') => -1,
                    _ => return Err(fail(chunk, v)),
                };
                let body = &v[1..];
                let colon = zone.contains(':');
                let (h, m, n) = if zone.ends_with("07") {
                    let (h, n) = num(body, 2, 2).ok_or_else(|| fail(chunk, v))?;
                    (h, 0, n)
                } else if colon {
                    let (h, _) = num(body, 2, 2).ok_or_else(|| fail(chunk, v))?;
                    if body.get(2..3) != Some(":") {
                        return Err(fail(chunk, v));
                    }
                    let (m, _) = num(&body[3..], 2, 2).ok_or_else(|| fail(chunk, v))?;
                    (h, m, 5)
                } else {
                    let (h, _) = num(body, 2, 2).ok_or_else(|| fail(chunk, v))?;
                    let (m, _) = num(&body[2..], 2, 2).ok_or_else(|| fail(chunk, v))?;
                    (h, m, 4)
                };
                offset = Some(sign * (h as i32 * 3600 + m as i32 * 60));
                take(&mut v, 1 + n);
            }
        }
    }
    if !v.is_empty() {
        return Err(format!(
            "parsing time {}: extra text: {}",
            gotemplate::gofmt::go_quote(value),
            gotemplate::gofmt::go_quote(v)
        ));
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let out_of_range = || {
        format!(
            "parsing time {}: day out of range",
            gotemplate::gofmt::go_quote(value)
        )
    };
    let naive = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_nano_opt(hour, min, sec, nanos))
        .ok_or_else(out_of_range)?;
    let zone = match offset {
        Some(o) => FixedOffset::east_opt(o).ok_or_else(out_of_range)?,
        None => chrono::Local
            .offset_from_local_datetime(&naive)
            .single()
            .map(|o| o.fix())
            .unwrap_or_else(|| Utc.fix()),
    };
    zone.from_local_datetime(&naive)
        .single()
        .ok_or_else(out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn go_layouts() {
        let t = parse("2006-01-02", "2017-12-31").unwrap();
        assert_eq!((t.year(), t.month(), t.day()), (2017, 12, 31));
        let t = parse(
            "Jan _2 15:04:05.000 -0700 2006",
            "Mar  7 09:08:07.123 +0130 2019",
        )
        .unwrap();
        assert_eq!(t.timestamp(), 1551944287);
        assert_eq!(t.nanosecond(), 123_000_000);
        assert_eq!(
            Time(parse("2006-01-02T15:04:05Z07:00", "2017-12-31T00:00:00Z").unwrap()).format_v(),
            "2017-12-31 00:00:00 +0000 UTC"
        );
        assert_eq!(
            parse("2006-01-02", "x").unwrap_err(),
            "parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\""
        );
    }
}
