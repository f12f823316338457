//! The CNI error result: a code (the specification's well-known ones, or
//! nsnet's own from 100), a message and details, printed as JSON on stdout.

use super::version::Version;
use crate::error::{Error, Kind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The error codes: 1–99 are the specification's, 100 on nsnet's.
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENVIRONMENT: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODE_FAILURE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN: u32 = 11;
    /// STATUS: the plugin cannot service ADD requests.
    pub const NOT_AVAILABLE: u32 = 50;
    /// nsnet's own: the kernel or a firewall program refused a change, or
    /// what CHECK expected is not there.
    pub const FAILED: u32 = 100;
}

/// An error as the CNI specification prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(self, details: impl Into<String>) -> CniError {
        CniError {
            details: details.into(),
            ..self
        }
    }

    /// `invalid network configuration: WHY`, code 7.
    pub fn config(why: impl fmt::Display) -> CniError {
        CniError::new(
            code::INVALID_CONFIG,
            format!("invalid network configuration: {why}"),
        )
    }

    /// The JSON printed on stdout, naming the version in use when known.
    pub fn to_json(&self, version: Option<Version>) -> String {
        let mut object = serde_json::json!({
            "cniVersion": version.unwrap_or(Version::LATEST).as_str(),
            "code": self.code,
            "msg": self.msg,
        });
        if !self.details.is_empty() {
            object["details"] = self.details.clone().into();
        }
        object.to_string()
    }
}

impl fmt::Display for CniError {
    /// As runtimes show it: `msg; details`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)?;
        if !self.details.is_empty() {
            write!(f, "; {}", self.details)?;
        }
        Ok(())
    }
}

/// A library error: a refused request is an invalid configuration (7),
/// anything else a failure of nsnet's (100); the failures of a teardown
/// after the first go into `details`.
impl From<Error> for CniError {
    fn from(e: Error) -> CniError {
        let code = match e.kind() {
            Kind::Usage => code::INVALID_CONFIG,
            _ => code::FAILED,
        };
        let more: Vec<String> = e.more().iter().map(ToString::to_string).collect();
        CniError::new(code, e.message()).with_details(more.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_the_spec_keys() {
        let e = CniError::config("\"mtu\" must be a number");
        assert_eq!(
            e.to_json(Some(Version::V0_4_0)),
            r#"{"cniVersion":"0.4.0","code":7,"msg":"invalid network configuration: \"mtu\" must be a number"}"#
        );
        let e = CniError::new(code::FAILED, "a").with_details("b");
        let v: serde_json::Value = serde_json::from_str(&e.to_json(None)).unwrap();
        assert_eq!(v["cniVersion"], "1.1.0");
        assert_eq!(v["details"], "b");
        assert_eq!(e.to_string(), "a; b");
    }

    #[test]
    fn library_errors_keep_their_words_and_every_failure() {
        let e: CniError = Error::usage("bad MTU").into();
        assert_eq!((e.code, e.msg.as_str()), (code::INVALID_CONFIG, "bad MTU"));
        let e: CniError = Error::all([Error::failed("a: busy"), Error::failed("b: busy")])
            .unwrap_err()
            .into();
        assert_eq!(e.code, code::FAILED);
        assert_eq!((e.msg.as_str(), e.details.as_str()), ("a: busy", "b: busy"));
    }
}
