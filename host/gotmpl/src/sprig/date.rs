//! Sprig's date functions over a Go-like `time.Time` (an instant and a [`Location`]: UTC,
//! `Local`, a zone loaded by name, or a parsed fixed offset), Go layout formatting
//! ("2006-01-02 15:04:05 MST -0700") and parsing, and Go's `Duration.String()`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Reg, str_arg, to_int64};
use crate::error::FuncError;
use crate::func::{CallContext, FuncResult, Signature, Ty};
use crate::value::{Object, Value};

// The one copy of Go's `time.ParseDuration`, shared with capstan-api (which may depend on no
// other capstan crate, and this engine must not depend on the API types): see its module docs.
#[path = "../../../api/src/units/go_duration.rs"]
mod go_duration;
mod zone;

pub use zone::Location;

/// A Go `time.Time`: an instant and the location it is shown in.
#[derive(Clone, Debug)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Where the time is shown (`Time.Location()`).
    pub loc: Location,
}

impl GoTime {
    /// `time.Unix(secs, nanos)`: shown in `Local`.
    pub fn unix(secs: i64, nanos: u32) -> GoTime {
        GoTime {
            secs,
            nanos,
            loc: Location::local(),
        }
    }

    /// The instant in UTC (`Time.UTC()`).
    pub fn utc(secs: i64, nanos: u32) -> GoTime {
        GoTime {
            secs,
            nanos,
            loc: Location::utc(),
        }
    }

    /// The current time (`time.Now()`, in `Local`).
    pub fn now() -> GoTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        GoTime::unix(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        )
    }

    /// The same instant shown in `loc` (`Time.In`).
    pub fn in_location(&self, loc: Location) -> GoTime {
        GoTime {
            loc,
            ..self.clone()
        }
    }

    /// Civil fields of wall-clock seconds (the local time counted as if it were UTC).
    fn civil(wall: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = wall.div_euclid(86_400);
        let sod = wall.rem_euclid(86_400) as u32;
        // Howard Hinnant's days_from_civil inverse.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = if m <= 2 { y + 1 } else { y };
        let wd = (days + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, wd)
    }

    /// Wall-clock seconds of a civil date and time (counted as if it were UTC).
    fn wall_of(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
        let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss)
    }

    /// `time.Time{}`: January 1, year 1, 00:00:00 UTC.
    fn zero() -> GoTime {
        GoTime::utc(GoTime::wall_of(1, 1, 1, 0, 0, 0), 0)
    }

    /// The wall clock in this time's location: seconds counted as if UTC, the zone's
    /// abbreviation and offset.
    fn wall(&self) -> (i64, String, i32) {
        let (abbr, offset) = self.loc.lookup(self.secs);
        (self.secs + i64::from(offset), abbr, offset)
    }

    /// Formats with a Go layout string.
    pub fn format(&self, layout: &str) -> String {
        let (wall, abbr, offset) = self.wall();
        let (y, mo, d, h, mi, s, wd) = GoTime::civil(wall);
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
        let month = MONTHS[(mo - 1) as usize];
        let day = DAYS[wd as usize];
        let h12 = if h % 12 == 0 { 12 } else { h % 12 };
        let yday = (wall - GoTime::wall_of(y, 1, 1, 0, 0, 0)).div_euclid(86_400) + 1;
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let t = |p: &str| rest.starts_with(p);
            let (txt, n): (String, usize) = if t("January") {
                (month.into(), 7)
            } else if t("Jan") {
                (month[..3].into(), 3)
            } else if t("Monday") {
                (day.into(), 6)
            } else if t("Mon") {
                (day[..3].into(), 3)
            } else if t("MST") {
                let txt = if abbr.is_empty() {
                    numeric_zone(offset, false, true, false, false)
                } else {
                    abbr.clone()
                };
                (txt, 3)
            } else if t("2006") {
                (format!("{y:04}"), 4)
            } else if let Some((n, z, colon, minutes, seconds)) = zone_chunk(rest) {
                (numeric_zone(offset, z, minutes, colon, seconds), n)
            } else if t("002") {
                (format!("{yday:03}"), 3)
            } else if t("01") {
                (format!("{mo:02}"), 2)
            } else if t("02") {
                (format!("{d:02}"), 2)
            } else if t("_2") {
                (format!("{d:>2}"), 2)
            } else if t("03") {
                (format!("{h12:02}"), 2)
            } else if t("04") {
                (format!("{mi:02}"), 2)
            } else if t("05") {
                (format!("{s:02}"), 2)
            } else if t("06") {
                (format!("{:02}", y.rem_euclid(100)), 2)
            } else if t("15") {
                (format!("{h:02}"), 2)
            } else if t("PM") {
                ((if h >= 12 { "PM" } else { "AM" }).into(), 2)
            } else if t("pm") {
                ((if h >= 12 { "pm" } else { "am" }).into(), 2)
            } else if t(".000") || t(".999") || t(",000") || t(",999") {
                let sep = &rest[..1];
                let digit = rest.as_bytes()[1];
                let count = rest[1..].bytes().take_while(|&b| b == digit).count();
                let frac = format!("{:09}", self.nanos);
                let mut f = frac[..count.min(9)].to_owned();
                if digit == b'9' {
                    while f.ends_with('0') {
                        f.pop();
                    }
                }
                let txt = if f.is_empty() {
                    String::new()
                } else {
                    format!("{sep}{f}")
                };
                (txt, 1 + count)
            } else if t("1") {
                (mo.to_string(), 1)
            } else if t("2") {
                (d.to_string(), 1)
            } else if t("3") {
                (h12.to_string(), 1)
            } else if t("4") {
                (mi.to_string(), 1)
            } else if t("5") {
                (s.to_string(), 1)
            } else {
                let c = rest.chars().next().unwrap_or(' ');
                (c.to_string(), c.len_utf8())
            };
            out.push_str(&txt);
            rest = &rest[n..];
        }
        out
    }

    /// Go's `time.ParseInLocation(layout, value, local)` (numeric elements, month and day
    /// names, zone abbreviations and numeric zones).
    pub fn parse(layout: &str, value: &str, local: &Location) -> Option<GoTime> {
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1i64, 1u32, 1u32, 0u32, 0u32, 0u32);
        let mut pm: Option<bool> = None;
        let mut zone_utc = false;
        let mut zone_offset: Option<i64> = None;
        let mut zone_name: Option<String> = None;
        let mut nanos = 0u32;
        let mut l = layout;
        let mut v = value;
        fn num(v: &mut &str, min: usize, max: usize) -> Option<u32> {
            let n = v.bytes().take(max).take_while(u8::is_ascii_digit).count();
            if n < min {
                return None;
            }
            let r = v[..n].parse().ok();
            *v = &v[n..];
            r
        }
        while !l.is_empty() {
            let t = |p: &str| l.starts_with(p);
            if t("2006") {
                let neg = v.starts_with('-');
                if neg {
                    v = &v[1..];
                }
                y = i64::from(num(&mut v, 4, 4)?) * if neg { -1 } else { 1 };
                l = &l[4..];
            } else if t("MST") {
                l = &l[3..];
                if let Some(rest) = v.strip_prefix("UTC") {
                    zone_utc = true;
                    v = rest;
                } else {
                    let n = time_zone_len(v)?;
                    zone_name = Some(v[..n].to_owned());
                    v = &v[n..];
                }
            } else if let Some((n, z, colon, minutes, seconds)) = zone_chunk(l) {
                l = &l[n..];
                if let Some(rest) = v.strip_prefix('Z').filter(|_| z) {
                    zone_utc = true;
                    v = rest;
                } else {
                    let sign = match v.as_bytes().first()? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    let digits = |text: &str| -> Option<i64> {
                        text.bytes()
                            .all(|b| b.is_ascii_digit())
                            .then(|| text.parse().ok())
                            .flatten()
                    };
                    let width = match (colon, minutes, seconds) {
                        (_, false, _) => 3,
                        (true, true, false) => 6,
                        (false, true, false) => 5,
                        (true, true, true) => 9,
                        (false, true, true) => 7,
                    };
                    let field = v.get(..width)?;
                    let parts: Vec<&str> = if colon {
                        field[1..].split(':').collect()
                    } else {
                        let f = &field[1..];
                        (0..f.len()).step_by(2).map(|i| &f[i..i + 2]).collect()
                    };
                    if parts.iter().any(|p| p.len() != 2) {
                        return None;
                    }
                    let hh = digits(parts[0])?;
                    let mm = parts.get(1).map_or(Some(0), |p| digits(p))?;
                    let ss = parts.get(2).map_or(Some(0), |p| digits(p))?;
                    if hh > 24 || mm > 60 || ss > 60 {
                        return None;
                    }
                    zone_offset = Some(sign * (hh * 3600 + mm * 60 + ss));
                    v = &v[width..];
                }
            } else if t("January") || t("Jan") {
                const M: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let long = t("January");
                let idx = M.iter().position(|m| v.starts_with(m))?;
                mo = idx as u32 + 1;
                if long {
                    let n = v.bytes().take_while(u8::is_ascii_alphabetic).count();
                    v = &v[n..];
                    l = &l[7..];
                } else {
                    v = &v[3..];
                    l = &l[3..];
                }
            } else if t("Monday") || t("Mon") {
                let n = v.bytes().take_while(u8::is_ascii_alphabetic).count();
                v = &v[n..];
                l = &l[if t("Monday") { 6 } else { 3 }..];
            } else if t("01") {
                mo = num(&mut v, 2, 2)?;
                l = &l[2..];
            } else if t("02") || t("_2") {
                v = v.trim_start_matches(' ');
                d = num(&mut v, 1, 2)?;
                l = &l[2..];
            } else if t("15") {
                h = num(&mut v, 1, 2)?;
                l = &l[2..];
            } else if t("03") {
                h = num(&mut v, 2, 2)?;
                l = &l[2..];
            } else if t("04") {
                mi = num(&mut v, 2, 2)?;
                l = &l[2..];
            } else if t("05") {
                s = num(&mut v, 2, 2)?;
                l = &l[2..];
                if v.starts_with('.') && !l.starts_with('.') {
                    v = &v[1..];
                    let n = v.bytes().take_while(u8::is_ascii_digit).count();
                    nanos = format!("{:0<9}", &v[..n.min(9)]).parse().ok()?;
                    v = &v[n..];
                }
            } else if (t(".000") || t(",000") || t(".999") || t(",999")) && !v.is_empty() {
                // Fractional seconds: exact digit count for 0s, up to it for 9s.
                let digit = l.as_bytes()[1];
                let count = l[1..].bytes().take_while(|&b| b == digit).count();
                let sep = &l[..1];
                l = &l[1 + count..];
                if let Some(rest) = v.strip_prefix(sep) {
                    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                    if digit == b'0' && n != count {
                        return None;
                    }
                    nanos = format!("{:0<9}", &rest[..n.min(9)]).parse().ok()?;
                    v = &rest[n..];
                } else if digit == b'0' {
                    return None;
                }
            } else if t("06") {
                y = 1900 + i64::from(num(&mut v, 2, 2)?);
                if y < 1969 {
                    y += 100;
                }
                l = &l[2..];
            } else if t("PM") || t("pm") {
                pm = Some(v.get(..2)?.eq_ignore_ascii_case("pm"));
                v = &v[2..];
                l = &l[2..];
            } else if t("1") {
                mo = num(&mut v, 1, 2)?;
                l = &l[1..];
            } else if t("2") {
                d = num(&mut v, 1, 2)?;
                l = &l[1..];
            } else if t("3") {
                h = num(&mut v, 1, 2)?;
                l = &l[1..];
            } else if t("4") {
                mi = num(&mut v, 1, 2)?;
                l = &l[1..];
            } else if t("5") {
                s = num(&mut v, 1, 2)?;
                l = &l[1..];
            } else {
                let c = l.chars().next()?;
                if !v.starts_with(c) {
                    return None;
                }
                l = &l[c.len_utf8()..];
                v = &v[c.len_utf8()..];
            }
        }
        if !v.is_empty()
            || !(1..=12).contains(&mo)
            || !(1..=31).contains(&d)
            || h > 23
            || mi > 59
            || s > 59
        {
            return None;
        }
        if let Some(pm) = pm {
            h = h % 12 + if pm { 12 } else { 0 };
        }
        let wall = GoTime::wall_of(y, mo, d, h, mi, s);
        // Go's `parse` after the fields: UTC, a recorded offset (the local zone where it has that
        // offset then), a zone abbreviation (the local zone's, else an unknown offset), or `local`.
        let (secs, loc) = if zone_utc {
            (wall, Location::utc())
        } else if let Some(offset) = zone_offset {
            let secs = wall - offset;
            let (name, at) = local.lookup(secs);
            let name_ok = zone_name.as_deref().is_none_or(|z| z == name);
            if i64::from(at) == offset && name_ok {
                (secs, local.clone())
            } else {
                let offset = i32::try_from(offset).ok()?;
                (
                    secs,
                    Location::fixed(zone_name.as_deref().unwrap_or(""), offset),
                )
            }
        } else if let Some(name) = zone_name {
            if let Some(offset) = local.lookup_name(&name, wall) {
                (wall - i64::from(offset), local.clone())
            } else {
                let offset = name
                    .strip_prefix("GMT")
                    .and_then(|h| h.trim_start_matches('+').parse::<i32>().ok())
                    .map_or(0, |h| h * 3600);
                // Go records the offset without moving the instant.
                (wall, Location::fixed(&name, offset))
            }
        } else {
            (local.from_wall(wall), local.clone())
        };
        Some(GoTime { secs, nanos, loc })
    }

    fn add_nanos(&self, n: i128) -> GoTime {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos) + n;
        GoTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            loc: self.loc.clone(),
        }
    }

    fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }
}

impl Object for GoTime {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Unix" | "UnixNano" | "Year" | "Day" | "Hour" | "Minute" | "Second" | "String"
            | "UTC" | "Local" => Some(Signature::new(&[])),
            "Format" => Some(Signature::new(&[Ty::String])),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        let (y, _, d, h, mi, s, _) = GoTime::civil(self.wall().0);
        Ok(match name {
            "Unix" => Value::Int(self.secs),
            "UnixNano" => {
                Value::Int(self.secs.saturating_mul(1_000_000_000) + i64::from(self.nanos))
            }
            "Year" => Value::Int(y),
            "Day" => Value::Int(i64::from(d)),
            "Hour" => Value::Int(i64::from(h)),
            "Minute" => Value::Int(i64::from(mi)),
            "Second" => Value::Int(i64::from(s)),
            "Format" => Value::from(self.format(str_arg(args, 0))),
            "UTC" => Value::object(self.in_location(Location::utc())),
            "Local" => Value::object(self.in_location(Location::local())),
            _ => Value::from(self.go_string()),
        })
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.go_string());
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.format("2006-01-02T15:04:05.999999999Z07:00"))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value`.
fn time_zone_len(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        // Go's `parseGMT`: `GMT` with an optional signed hour offset.
        let Some(sign) = rest.bytes().next().filter(|c| *c == b'+' || *c == b'-') else {
            return Some(3);
        };
        let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
        let ok = digits > 0
            && rest[1..1 + digits]
                .parse::<i64>()
                .is_ok_and(|h| (sign == b'+' && h <= 23) || (sign == b'-' && h <= 24));
        return Some(if ok { 4 + digits } else { 3 });
    }
    if b[0] == b'+' || b[0] == b'-' {
        // Go's `parseSignedOffset`: `+07`, `-0530` style abbreviations.
        let digits = value[1..].bytes().take_while(u8::is_ascii_digit).count();
        return (digits > 0 && value[1..1 + digits].parse::<i64>().is_ok_and(|n| n <= 24))
            .then_some(1 + digits);
    }
    let upper = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        5 if b[4] == b'T' => Some(5),
        _ => None,
    }
}

/// A numeric zone element at the start of a layout, in Go's `nextStdChunk` order: its length,
/// whether `Z` stands for a zero offset, and whether it has a colon, minutes and seconds.
fn zone_chunk(layout: &str) -> Option<(usize, bool, bool, bool, bool)> {
    const CHUNKS: &[(&str, bool, bool, bool)] = &[
        ("070000", false, true, true),
        ("07:00:00", true, true, true),
        ("0700", false, true, false),
        ("07:00", true, true, false),
        ("07", false, false, false),
    ];
    let z = match layout.as_bytes().first()? {
        b'-' => false,
        b'Z' => true,
        _ => return None,
    };
    CHUNKS
        .iter()
        .find(|(c, ..)| layout[1..].starts_with(c))
        .map(|(c, colon, minutes, seconds)| (1 + c.len(), z, *colon, *minutes, *seconds))
}

/// Go's numeric zone (`-0700`, `Z07:00`, …) of an offset in seconds east of UTC.
fn numeric_zone(offset: i32, z: bool, minutes: bool, colon: bool, seconds: bool) -> String {
    if z && offset == 0 {
        return "Z".to_owned();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let zone = abs / 60;
    let sep = if colon { ":" } else { "" };
    let mut out = format!("{sign}{:02}", zone / 60);
    if minutes {
        out.push_str(&format!("{sep}{:02}", zone % 60));
    }
    if seconds {
        out.push_str(&format!("{sep}{:02}", abs % 60));
    }
    out
}

fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<GoTime>().cloned(),
        _ => None,
    }
}

/// Sprig's `dateInZone` date argument: a time, or Unix seconds (`time.Unix`, shown in
/// `Local`); anything else means now.
fn date_arg(v: &Value) -> GoTime {
    match v {
        Value::Int(i) => GoTime::unix(*i, 0),
        other => match other.to_i64() {
            Some(i) => GoTime::unix(i, 0),
            None => as_time(other).unwrap_or_else(GoTime::now),
        },
    }
}

/// Sprig's `dateInZone`: the date shown in the zone loaded by name, UTC where it cannot be.
fn in_zone(date: &Value, zone: &str) -> GoTime {
    date_arg(date).in_location(Location::load(zone).unwrap_or_else(Location::utc))
}

/// Go's `Duration.String()`.
pub(crate) fn duration_string(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let total_secs = u / 1_000_000_000;
        let h = total_secs / 3600;
        let m = total_secs / 60 % 60;
        let secs_part = u % 60_000_000_000;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_string(secs_part, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac_string(v: u128, div: u128) -> String {
    let whole = v / div;
    let mut frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let mut digits = String::new();
    let mut d = div;
    while d > 1 {
        d /= 10;
        digits.push(char::from(b'0' + (frac / d) as u8));
        frac %= d;
    }
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.ParseDuration` in nanoseconds.
fn parse_duration(s: &str) -> Result<i128, go_duration::GoDurationError> {
    go_duration::parse_go_duration(s).map(i128::from)
}

fn time_value(t: GoTime) -> Value {
    Value::object(t)
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("now", &[], |_| Ok(time_value(GoTime::now())));
    r.f("date", &[Ty::String, Ty::Any], |a| {
        Ok(Value::from(in_zone(&a[1], "Local").format(str_arg(a, 0))))
    });
    for name in ["dateInZone", "date_in_zone"] {
        r.f(name, &[Ty::String, Ty::Any, Ty::String], |a| {
            Ok(Value::from(
                in_zone(&a[1], str_arg(a, 2)).format(str_arg(a, 0)),
            ))
        });
    }
    r.f("htmlDate", &[Ty::Any], |a| {
        Ok(Value::from(in_zone(&a[0], "Local").format("2006-01-02")))
    });
    r.f("htmlDateInZone", &[Ty::Any, Ty::String], |a| {
        Ok(Value::from(
            in_zone(&a[0], str_arg(a, 1)).format("2006-01-02"),
        ))
    });
    r.f("unixEpoch", &[Ty::Any], |a| {
        let t = as_time(&a[0]).ok_or_else(|| FuncError::new("unixEpoch needs a time.Time"))?;
        Ok(Value::from(t.secs.to_string()))
    });
    for (name, must) in [
        ("dateModify", false),
        ("date_modify", false),
        ("mustDateModify", true),
        ("must_date_modify", true),
    ] {
        r.f(name, &[Ty::String, Ty::Any], move |a| {
            let t = as_time(&a[1]).ok_or_else(|| FuncError::new("dateModify needs a time.Time"))?;
            match parse_duration(str_arg(a, 0)) {
                Ok(d) => Ok(time_value(t.add_nanos(d))),
                Err(e) if must => Err(FuncError::new(e.go_message(str_arg(a, 0)))),
                Err(_) => Ok(time_value(t)),
            }
        });
    }
    r.f("toDate", &[Ty::String, Ty::String], |a| {
        Ok(time_value(
            GoTime::parse(str_arg(a, 0), str_arg(a, 1), &Location::local())
                .unwrap_or_else(GoTime::zero),
        ))
    });
    r.f("mustToDate", &[Ty::String, Ty::String], |a| {
        GoTime::parse(str_arg(a, 0), str_arg(a, 1), &Location::local())
            .map(time_value)
            .ok_or_else(|| {
                FuncError::new(format!(
                    "parsing time {} as {}: cannot parse",
                    crate::fmt::go_quote(str_arg(a, 1)),
                    crate::fmt::go_quote(str_arg(a, 0))
                ))
            })
    });
    r.f("duration", &[Ty::Any], |a| {
        // Sprig only reads strings and int64; template integer literals are Go `int`, so
        // they (like float64 values) count as 0.
        let n = match &a[0] {
            Value::String(s) => s.parse::<i64>().unwrap_or(0),
            other => match other {
                Value::Object(o) if o.type_name() == "int64" => other.to_i64().unwrap_or(0),
                _ => 0,
            },
        };
        Ok(Value::from(duration_string(i128::from(n) * 1_000_000_000)))
    });
    r.f("ago", &[Ty::Any], |a| {
        let t = date_arg(&a[0]);
        let now = GoTime::now();
        let secs = i128::from(now.secs - t.secs);
        Ok(Value::from(duration_string(secs * 1_000_000_000)))
    });
    r.f("durationRound", &[Ty::Any], |a| {
        let nanos: i128 = match &a[0] {
            Value::String(s) => parse_duration(s).unwrap_or(0),
            Value::Int(i) => i128::from(*i),
            Value::Object(_) if a[0].to_i64().is_some() => i128::from(a[0].to_i64().unwrap_or(0)),
            Value::Float(f) => *f as i128,
            other => match as_time(other) {
                Some(t) => i128::from(GoTime::now().secs - t.secs) * 1_000_000_000,
                None => 0,
            },
        };
        let u = nanos.unsigned_abs();
        let (sec, min, hour, day, month, year) = (
            1_000_000_000u128,
            60_000_000_000u128,
            3_600_000_000_000u128,
            86_400_000_000_000u128,
            2_592_000_000_000_000u128,
            31_536_000_000_000_000u128,
        );
        let s = match u {
            u if u > year => format!("{}y", u / year),
            u if u > month => format!("{}mo", u / month),
            u if u > day => format!("{}d", u / day),
            u if u > hour => format!("{}h", u / hour),
            u if u > min => format!("{}m", u / min),
            u if u > sec => format!("{}s", u / sec),
            _ => "0s".to_owned(),
        };
        Ok(Value::from(s))
    });
    let _ = to_int64;
}
