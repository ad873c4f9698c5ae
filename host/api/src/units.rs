//! Go durations (`5m`, `1h30m`, `500ms`) and Kubernetes quantities (`64Mi`, `1G`), parsed the
//! way the API server and Flux read them.

use std::time::Duration;

// Also compiled into capstan-gotmpl (see the module docs).
mod go_duration;

/// A malformed duration or quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a Go duration.
    #[error("invalid duration {0:?} (expected e.g. 30s, 5m, 1h30m, 500ms)")]
    ParseDuration(String),
    /// Not a Kubernetes quantity.
    #[error("invalid quantity {0:?} (expected e.g. 64Mi, 1Gi, 500M, 1024)")]
    ParseQuantity(String),
}

/// Parses a Go duration (`time.ParseDuration`, as `metav1.Duration` reads it): a sequence of
/// decimal numbers, each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`). `0` alone is
/// allowed. Negative durations are rejected.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    match go_duration::parse_go_duration(text) {
        Ok(nanos) if nanos >= 0 => Ok(Duration::from_nanos(nanos.unsigned_abs())),
        _ => Err(UnitError::ParseDuration(text.to_owned())),
    }
}

/// Parses a Kubernetes quantity into bytes (or units): `128Mi`, `1Gi`, `500M`, `1.5Gi`, `1024`.
/// Fractions of a unit are rounded up.
pub fn parse_quantity(text: &str) -> Result<u64, UnitError> {
    let err = || UnitError::ParseQuantity(text.to_owned());
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let value: f64 = num.parse().map_err(|_| err())?;
    let scale: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(err()),
    };
    let bytes = (value * scale).ceil();
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "m", "5 m", "-5s", "5d", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("64Mi"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_quantity("1Gi"), Ok(1 << 30));
        assert_eq!(parse_quantity("500M"), Ok(500_000_000));
        assert_eq!(parse_quantity("1024"), Ok(1024));
        assert_eq!(parse_quantity("1.5Ki"), Ok(1536));
        for bad in ["", "Mi", "12mb", "-1"] {
            assert!(parse_quantity(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
