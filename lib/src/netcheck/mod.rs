//! netcheck: why can't this namespace reach there?

pub mod firewall;
