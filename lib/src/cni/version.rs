//! The CNI specification versions the plugin speaks, and what each allows.

use super::error::{code, CniError};
use std::fmt;

/// A version of the CNI specification that nsnet implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// CHECK, and prevResult on DEL; `ips` carry a `version` field.
    V0_4_0,
    /// `ips` without `version`.
    V1_0_0,
    /// STATUS and GC; MTUs and route attributes in results.
    V1_1_0,
}

impl Version {
    /// Every version nsnet speaks, oldest first (VERSION's answer).
    pub const ALL: [Version; 3] = [Version::V0_4_0, Version::V1_0_0, Version::V1_1_0];
    pub const LATEST: Version = Version::V1_1_0;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V0_4_0 => "0.4.0",
            Version::V1_0_0 => "1.0.0",
            Version::V1_1_0 => "1.1.0",
        }
    }

    /// The version named by a configuration's `cniVersion`, or the spec's
    /// "incompatible CNI versions" error.
    pub fn parse(text: &str) -> Result<Version, CniError> {
        Version::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| {
                let ours: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
                CniError::new(
                    code::INCOMPATIBLE_VERSION,
                    format!(
                        "incompatible CNI versions: the configuration is {:?}, nsnet speaks {}",
                        text,
                        ours.join(", ")
                    ),
                )
            })
    }

    /// STATUS and GC exist from 1.1.0 on.
    pub fn has_status_and_gc(self) -> bool {
        self >= Version::V1_1_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_versions_and_nothing_else() {
        for v in Version::ALL {
            assert_eq!(Version::parse(v.as_str()).unwrap(), v);
        }
        for other in ["0.3.1", "1.0", "2.0.0", "", " 1.0.0"] {
            let e = Version::parse(other).unwrap_err();
            assert_eq!(e.code, code::INCOMPATIBLE_VERSION, "{other}");
            assert!(
                e.msg.contains("nsnet speaks 0.4.0, 1.0.0, 1.1.0"),
                "{}",
                e.msg
            );
        }
        assert!(Version::V1_1_0.has_status_and_gc());
        assert!(!Version::V1_0_0.has_status_and_gc());
    }
}
