//! nsnet: everything the five tools share, each piece of knowledge once.
//!
//! Layers, imports pointing down only:
//! 1. [`error`], [`exit`]: the error type with its exit status, and reporting.
//! 2. [`name`], [`cidr`]: validated values.
//! 3. [`run`]: the only place that starts an external program.
//! 4. [`netns`]: what a TARGET namespace means, and its checks.
//! 5. [`link`], [`nat`]: plans for links and for the firewall.
//! 6. [`process`]: namespaces, hand-off, signals, waiting.
//!
//! Beside the layers: [`ifwait`] (waiting for an interface, layer 4) and
//! [`resolv`] (a container's own resolv.conf, layer 4); on top, [`netinit`]
//! (that tool's whole job).

pub mod cidr;
pub mod error;
pub mod exit;
pub mod ifwait;
pub mod link;
pub mod name;
pub mod nat;
pub mod netinit;
pub mod netns;
pub mod process;
pub mod resolv;
pub mod run;

pub use error::{Error, Kind, Result};
