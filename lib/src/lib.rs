//! nsnet: everything the tools share, each piece of knowledge once.
//!
//! Layers, imports pointing down only:
//! 1. [`error`], [`exit`]: the error type with its exit status, and reporting.
//! 2. [`name`], [`cidr`], [`port`]: validated values; [`operand`]: `-` for stdin.
//! 3. [`run`]: the external programs a plan runs (`nft`, `iptables`);
//!    [`netlink`]: rtnetlink in-process (links, addresses, routes);
//!    [`process`] starts the rest (hooks, commands).
//! 4. [`netns`]: what a TARGET namespace means, and its checks.
//! 5. [`link`], [`nat`]: plans for links and for the firewall.
//! 6. [`process`]: namespaces, hand-off, signals, waiting.
//!
//! Also at layer 4: [`ifwait`] (an interface's arrival), [`resolv`] (a
//! container's own resolv.conf), [`pidfile`] (a pid file written safely
//! in a directory others may write to) and [`lockfile`] (the locks that
//! serialise concurrent runs). Above all layers: [`netinit`],
//! that tool's job from command line to exec, and [`netcheck`], the
//! read-only diagnosis of a namespace's way out (its reads, probes and
//! checks).

pub mod cidr;
pub mod cni;
pub mod error;
pub mod exit;
pub mod ifwait;
pub mod link;
pub mod lockfile;
pub mod name;
pub mod nat;
pub mod netcheck;
pub mod netinit;
pub mod netlink;
pub mod netns;
pub mod operand;
pub mod pidfile;
pub mod port;
pub mod process;
pub mod resolv;
pub mod run;

pub use error::{Error, Kind, Result};
