//! The tools' command lines: one module per tool with its clap definition,
//! the call into the `nsnet` library that does the work, and the report.
//! Each binary in `src/bin/` is one line calling its module's `main`.

pub mod cli;
pub mod cni;
pub mod man;
pub mod natctl;
pub mod netcheck;
pub mod netinit;
pub mod nsrun;
pub mod vethdown;
pub mod vethup;
