//! Sprig's date functions over a Go-like `time.Time` (UTC; zones other than UTC fall back to UTC
//! as Sprig does when a zone cannot be loaded), Go layout formatting ("2006-01-02 15:04:05") and
//! Go's `Duration.String()`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Reg, str_arg, to_int64};
use crate::error::FuncError;
use crate::func::{CallContext, FuncResult, Signature, Ty};
use crate::value::{Object, Value};

/// A Go `time.Time` (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl GoTime {
    /// The current time.
    pub fn now() -> GoTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        GoTime {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: d.subsec_nanos(),
        }
    }

    fn civil(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400) as u32;
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

    fn from_civil(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> GoTime {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
        let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        GoTime {
            secs: days * 86_400 + i64::from(hh) * 3600 + i64::from(mm) * 60 + i64::from(ss),
            nanos: 0,
        }
    }

    /// Formats with a Go layout string.
    pub fn format(self, layout: &str) -> String {
        let (y, mo, d, h, mi, s, wd) = self.civil();
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
        let yday = {
            let jan1 = GoTime::from_civil(y, 1, 1, 0, 0, 0);
            (self.secs - jan1.secs).div_euclid(86_400) + 1
        };
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
                ("UTC".into(), 3)
            } else if t("2006") {
                (format!("{y:04}"), 4)
            } else if t("-070000") {
                ("+000000".into(), 7)
            } else if t("-07:00:00") {
                ("+00:00:00".into(), 9)
            } else if t("-0700") {
                ("+0000".into(), 5)
            } else if t("-07:00") {
                ("+00:00".into(), 6)
            } else if t("-07") {
                ("+00".into(), 3)
            } else if t("Z070000") || t("Z07:00:00") {
                ("Z".into(), if t("Z070000") { 7 } else { 9 })
            } else if t("Z0700") {
                ("Z".into(), 5)
            } else if t("Z07:00") {
                ("Z".into(), 6)
            } else if t("Z07") {
                ("Z".into(), 3)
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

    /// Parses `value` with a Go layout (numeric elements, month names, `Z07:00` style zones).
    pub fn parse(layout: &str, value: &str) -> Option<GoTime> {
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1i64, 1u32, 1u32, 0u32, 0u32, 0u32);
        let mut pm: Option<bool> = None;
        let mut offset: i64 = 0;
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
            } else if t("Z07:00") || t("-07:00") || t("Z0700") || t("-0700") {
                let n = if t("Z07:00") || t("-07:00") { 6 } else { 5 };
                if l.starts_with('Z') && v.starts_with('Z') {
                    v = &v[1..];
                } else {
                    let sign = match v.as_bytes().first()? {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    v = &v[1..];
                    let hh = i64::from(num(&mut v, 2, 2)?);
                    if n == 6 {
                        v = v.strip_prefix(':')?;
                    }
                    let mm = i64::from(num(&mut v, 2, 2)?);
                    offset = sign * (hh * 3600 + mm * 60);
                }
                l = &l[n..];
            } else if t("MST") {
                let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                v = &v[n..];
                l = &l[3..];
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
        let mut t = GoTime::from_civil(y, mo, d, h, mi, s);
        t.secs -= offset;
        t.nanos = nanos;
        Some(t)
    }

    fn add_nanos(self, n: i128) -> GoTime {
        let total = i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos) + n;
        GoTime {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
        }
    }

    fn go_string(self) -> String {
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
            | "UTC" => Some(Signature::new(&[])),
            "Format" => Some(Signature::new(&[Ty::String])),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        let (y, _, d, h, mi, s, _) = self.civil();
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
            "UTC" => Value::object(*self),
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

fn as_time(v: &Value) -> Option<GoTime> {
    match v {
        Value::Object(o) => o.as_any().downcast_ref::<GoTime>().copied(),
        _ => None,
    }
}

/// Sprig's `dateInZone` date argument: a time, or Unix seconds; anything else means now.
fn date_arg(v: &Value) -> GoTime {
    match v {
        Value::Int(i) => GoTime { secs: *i, nanos: 0 },
        other => match other.to_i64() {
            Some(i) => GoTime { secs: i, nanos: 0 },
            None => as_time(other).unwrap_or_else(GoTime::now),
        },
    }
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

/// Go's `time.ParseDuration`.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let mult = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num * mult;
    }
    let t = total.round() as i128;
    Some(if neg { -t } else { t })
}

fn time_value(t: GoTime) -> Value {
    Value::object(t)
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("now", &[], |_| Ok(time_value(GoTime::now())));
    r.f("date", &[Ty::String, Ty::Any], |a| {
        Ok(Value::from(date_arg(&a[1]).format(str_arg(a, 0))))
    });
    for name in ["dateInZone", "date_in_zone"] {
        r.f(name, &[Ty::String, Ty::Any, Ty::String], |a| {
            Ok(Value::from(date_arg(&a[1]).format(str_arg(a, 0))))
        });
    }
    r.f("htmlDate", &[Ty::Any], |a| {
        Ok(Value::from(date_arg(&a[0]).format("2006-01-02")))
    });
    r.f("htmlDateInZone", &[Ty::Any, Ty::String], |a| {
        Ok(Value::from(date_arg(&a[0]).format("2006-01-02")))
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
                Some(d) => Ok(time_value(t.add_nanos(d))),
                None if must => Err(format!(
                    "time: invalid duration {}",
                    crate::fmt::go_quote(str_arg(a, 0))
                )
                .into()),
                None => Ok(time_value(t)),
            }
        });
    }
    r.f("toDate", &[Ty::String, Ty::String], |a| {
        Ok(time_value(
            GoTime::parse(str_arg(a, 0), str_arg(a, 1))
                .unwrap_or(GoTime::from_civil(1, 1, 1, 0, 0, 0)),
        ))
    });
    r.f("mustToDate", &[Ty::String, Ty::String], |a| {
        GoTime::parse(str_arg(a, 0), str_arg(a, 1))
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
