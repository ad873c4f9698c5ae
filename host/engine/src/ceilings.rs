//! The operator's ceilings on plugin limits: whatever a WasmPlugin asks for, no call runs with
//! more memory, time or output than the controller allows (`capstan controller
//! --max-plugin-memory/--max-plugin-timeout/--max-plugin-output`). Tenants write the plugin
//! objects; the operator owns the machine.

use std::time::Duration;

use capstan_api::EffectiveLimits;

/// Cluster-wide caps; `None` leaves that limit as the plugin resolved it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ceilings {
    /// Largest linear memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Longest wall-clock budget per call.
    pub timeout: Option<Duration>,
    /// Largest output, bytes.
    pub max_output_bytes: Option<u64>,
}

impl Ceilings {
    /// `limits` lowered to the ceilings, with a warning naming `plugin` for each limit that was
    /// lowered (what it asked for, what it gets).
    pub fn cap(&self, plugin: &str, limits: EffectiveLimits) -> (EffectiveLimits, Vec<String>) {
        let mut out = limits;
        let mut warnings = Vec::new();
        if let Some(max) = self.memory_bytes
            && limits.memory_bytes > max
        {
            out.memory_bytes = max;
            warnings.push(format!(
                "{plugin}: memory limit {} bytes lowered to the operator's ceiling of {max} bytes",
                limits.memory_bytes
            ));
        }
        if let Some(max) = self.timeout
            && limits.timeout > max
        {
            out.timeout = max;
            warnings.push(format!(
                "{plugin}: timeout {:?} lowered to the operator's ceiling of {max:?}",
                limits.timeout
            ));
        }
        if let Some(max) = self.max_output_bytes
            && limits.max_output_bytes > max
        {
            out.max_output_bytes = max;
            warnings.push(format!(
                "{plugin}: output limit {} bytes lowered to the operator's ceiling of {max} bytes",
                limits.max_output_bytes
            ));
        }
        (out, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_limits(memory_bytes: u64, secs: u64, max_output_bytes: u64) -> EffectiveLimits {
        EffectiveLimits {
            memory_bytes,
            timeout: Duration::from_secs(secs),
            max_output_bytes,
        }
    }

    #[test]
    fn limits_above_a_ceiling_are_lowered_and_named() {
        let ceilings = Ceilings {
            memory_bytes: Some(128 << 20),
            timeout: Some(Duration::from_secs(2)),
            max_output_bytes: None,
        };
        let (capped, warnings) =
            ceilings.cap("WasmPlugin team-a/big", mk_limits(1 << 30, 60, 1 << 30));
        assert_eq!(capped, mk_limits(128 << 20, 2, 1 << 30));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("WasmPlugin team-a/big: memory limit 1073741824 bytes lowered")
        );
        assert!(warnings[1].contains("timeout 60s lowered to the operator's ceiling of 2s"));
    }

    #[test]
    fn limits_within_the_ceilings_are_untouched() {
        let ceilings = Ceilings {
            memory_bytes: Some(128 << 20),
            timeout: Some(Duration::from_secs(2)),
            max_output_bytes: Some(1 << 20),
        };
        let limits = mk_limits(64 << 20, 1, 1 << 20);
        assert_eq!(ceilings.cap("p", limits), (limits, Vec::new()));
        assert_eq!(
            Ceilings::default()
                .cap("p", mk_limits(1 << 30, 300, 1 << 30))
                .1,
            Vec::<String>::new()
        );
    }
}
