//! Go's `*time.Location` for Sprig's date functions, so dates print in the zone Helm would use:
//! `UTC`; `Local` by Go's rules (`TZ`, else `/etc/localtime`, else UTC); zones loaded by name as
//! `time.LoadLocation` does (`ZONEINFO`, then the system zoneinfo directories; case-sensitive;
//! `..` and absolute names refused); and the fixed zones a parsed offset makes. jiff reads the
//! TZif data; the lookups follow Go's `Location.lookup`, `lookupName` and `time.Date`.

use std::sync::{Arc, OnceLock};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Where Go looks for zoneinfo files (`platformZoneSources`, Unix).
const ZONE_SOURCES: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
    "/etc/zoneinfo/",
];

/// Larger files are not zoneinfo (Go's `loadTzinfoFromDirOrZip` reads whole files; a TZif file
/// is a few KiB).
const MAX_TZIF: u64 = 1 << 20;

/// A Go `*time.Location`.
#[derive(Clone, Debug)]
pub struct Location(Arc<Repr>);

#[derive(Debug)]
enum Repr {
    /// `time.UTC`.
    Utc,
    /// `time.FixedZone(name, offset)`.
    Fixed { name: String, offset: i32 },
    /// A zone read from TZif data.
    Zone { name: String, tz: TimeZone },
}

impl Location {
    /// `time.UTC`.
    pub fn utc() -> Location {
        static UTC: OnceLock<Location> = OnceLock::new();
        UTC.get_or_init(|| Location(Arc::new(Repr::Utc))).clone()
    }

    /// `time.Local`, read once per process as Go's `initLocal` does.
    pub fn local() -> Location {
        static LOCAL: OnceLock<Location> = OnceLock::new();
        LOCAL
            .get_or_init(|| Location::local_for(std::env::var_os("TZ").as_deref()))
            .clone()
    }

    /// Go's `initLocal` for a `TZ` value (`None`: unset).
    fn local_for(tz: Option<&std::ffi::OsStr>) -> Location {
        let named = |name: &str, tz: TimeZone| {
            Location(Arc::new(Repr::Zone {
                name: name.to_owned(),
                tz,
            }))
        };
        match tz.map(|t| t.to_string_lossy().into_owned()) {
            None => {
                if let Some(tz) = read_tzif("localtime", "/etc/localtime") {
                    return named("Local", tz);
                }
            }
            Some(tz) => {
                let tz = tz.strip_prefix(':').unwrap_or(&tz);
                if tz.starts_with('/') {
                    if let Some(zone) = read_tzif(tz, tz) {
                        let name = if tz == "/etc/localtime" { "Local" } else { tz };
                        return named(name, zone);
                    }
                } else if !tz.is_empty()
                    && tz != "UTC"
                    && let Some(zone) = from_sources(tz, ZONE_SOURCES.iter().copied())
                {
                    return named(tz, zone);
                }
            }
        }
        Location::utc()
    }

    /// `time.LoadLocation(name)`; `None` where Go returns an error.
    pub fn load(name: &str) -> Option<Location> {
        match name {
            "" | "UTC" => return Some(Location::utc()),
            "Local" => return Some(Location::local()),
            _ => {}
        }
        if name.split('/').any(|part| part == "..")
            || name.starts_with('/')
            || name.starts_with('\\')
        {
            return None;
        }
        let zoneinfo = std::env::var("ZONEINFO").ok().filter(|z| !z.is_empty());
        let sources = zoneinfo
            .iter()
            .map(String::as_str)
            .chain(ZONE_SOURCES.iter().copied());
        from_sources(name, sources).map(|tz| {
            Location(Arc::new(Repr::Zone {
                name: name.to_owned(),
                tz,
            }))
        })
    }

    /// `time.FixedZone(name, offset)`.
    pub fn fixed(name: &str, offset: i32) -> Location {
        Location(Arc::new(Repr::Fixed {
            name: name.to_owned(),
            offset,
        }))
    }

    /// Go's `Location.String()`: `UTC`, `Local`, the name it was loaded by, or a fixed zone's
    /// name.
    pub fn name(&self) -> &str {
        match &*self.0 {
            Repr::Utc => "UTC",
            Repr::Fixed { name, .. } | Repr::Zone { name, .. } => name,
        }
    }

    /// Whether this is `time.UTC` (what `Time.UTC()` gives).
    pub fn is_utc(&self) -> bool {
        matches!(*self.0, Repr::Utc)
    }

    /// Go's `Location.lookup`: the abbreviation and offset (seconds east of UTC) in effect at
    /// Unix second `secs`.
    pub fn lookup(&self, secs: i64) -> (String, i32) {
        match &*self.0 {
            Repr::Utc => ("UTC".to_owned(), 0),
            Repr::Fixed { name, offset } => (name.clone(), *offset),
            Repr::Zone { tz, .. } => {
                let info = tz.to_offset_info(timestamp(secs));
                (info.abbreviation().to_owned(), info.offset().seconds())
            }
        }
    }

    /// Go's `time.Date` in this location for wall-clock seconds `wall` (the civil time counted
    /// as if it were UTC): the Unix second. In a gap or an overlap Go takes the offset in effect
    /// at `wall - offset(wall)`, which this follows (a 02:30 that does not exist in a spring-
    /// forward gap becomes 01:30 standard time, as in Go).
    pub fn from_wall(&self, wall: i64) -> i64 {
        let (_, offset) = self.lookup(wall);
        if offset == 0 {
            return wall;
        }
        let utc = wall - i64::from(offset);
        let (_, at_utc) = self.lookup(utc);
        wall - i64::from(at_utc)
    }

    /// Go's `Location.lookupName`: the offset of a zone abbreviated `abbr`, preferring one in
    /// effect at `unix - offset`.
    pub fn lookup_name(&self, abbr: &str, unix: i64) -> Option<i32> {
        let zones: Vec<(String, i32)> = match &*self.0 {
            Repr::Utc => vec![("UTC".to_owned(), 0)],
            Repr::Fixed { name, offset } => vec![(name.clone(), *offset)],
            Repr::Zone { tz, .. } => {
                let mut zones: Vec<(String, i32)> = tz
                    .preceding(Timestamp::MAX)
                    .map(|t| (t.abbreviation().to_owned(), t.offset().seconds()))
                    .collect();
                zones.push(self.lookup(unix));
                zones
            }
        };
        zones
            .iter()
            .filter(|(name, _)| name == abbr)
            .find(|(name, offset)| self.lookup(unix - i64::from(*offset)).0 == *name)
            .or_else(|| zones.iter().find(|(name, _)| name == abbr))
            .map(|(_, offset)| *offset)
    }
}

/// A jiff timestamp for a Unix second, clamped to jiff's range (years -9999 to 9999).
fn timestamp(secs: i64) -> Timestamp {
    let clamped = secs.clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    Timestamp::from_second(clamped).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Go's `loadLocation`: the first source directory holding a readable TZif file `name`.
fn from_sources<'a>(name: &str, sources: impl Iterator<Item = &'a str>) -> Option<TimeZone> {
    sources
        .filter_map(|dir| {
            let path = std::path::Path::new(dir).join(name);
            read_tzif(name, &path.to_string_lossy())
        })
        .next()
}

fn read_tzif(name: &str, path: &str) -> Option<TimeZone> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut data = Vec::new();
    file.take(MAX_TZIF).read_to_end(&mut data).ok()?;
    TimeZone::tzif(name, &data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_sensitive_and_stay_inside_the_zoneinfo_directories() {
        assert!(Location::load("../../etc/passwd").is_none());
        assert!(Location::load("/etc/localtime").is_none());
        assert!(Location::load("Nowhere/Bad").is_none());
        if std::path::Path::new("/usr/share/zoneinfo/America/New_York").exists() {
            assert!(Location::load("america/new_york").is_none());
            let ny = Location::load("America/New_York").expect("zone");
            assert_eq!(ny.lookup(1_700_000_000), ("EST".to_owned(), -5 * 3600));
            assert_eq!(ny.lookup_name("EDT", 1_690_000_000), Some(-4 * 3600));
        }
    }

    #[test]
    fn local_follows_go_init_local() {
        assert!(Location::local_for(Some("".as_ref())).is_utc());
        assert!(Location::local_for(Some("UTC".as_ref())).is_utc());
        assert!(Location::local_for(Some("Not/AZone".as_ref())).is_utc());
    }

    #[test]
    fn a_wall_time_in_a_gap_takes_the_offset_before_it_as_go_does() {
        if let Some(la) = Location::load("America/Los_Angeles") {
            // 2024-03-10 02:30 does not exist in Los Angeles; Go gives 01:30 PST.
            let wall = 1_710_037_800; // 2024-03-10T02:30:00 counted as UTC
            assert_eq!(la.from_wall(wall), wall + 7 * 3600);
        }
    }
}
