//! The CNI plugin (`type: "nsnet"`): the protocol of the Container Network
//! Interface specification, versions 0.4.0, 1.0.0 and 1.1.0, around the
//! same links and NAT the other tools make.
//!
//! [`env`](mod@env) reads the `CNI_*` variables, [`config`] the network
//! configuration on stdin, [`result`] reads and writes results in each
//! version, [`error`] is the error JSON, [`ipam`] runs the IPAM plugin
//! the configuration names, exactly as the specification says, [`attach`]
//! makes and finds an attachment's links, [`firewall`] the natctl rules it
//! holds, [`record`] keeps what GC needs to find it again, and [`plugin`]
//! does each command.

pub mod attach;
pub mod config;
pub mod env;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod plugin;
pub mod record;
pub mod result;
pub mod version;

pub use plugin::{handle, Reply};
