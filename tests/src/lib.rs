//! chatecho-tests: what the cross-crate tests share. (The reference model of the protocol is
//! its own crate, `chatecho-model`, under `tests/model/`.)
//!
//! - [`harness`]: starting the real binaries (and the seed's Python programs) for the
//!   end-to-end tests over loopback TCP;
//! - [`cases`]: the end-to-end cases every server must pass, one list for chatecho-server and
//!   the firmware, run against a [`target::Target`];
//! - [`target`]: a server the harness starts for each case, or one already running elsewhere;
//! - [`firmware`]: the RISC-V network firmware under QEMU, as such a target;
//! - [`seed`]: what the seed's reference server answers, recorded as transcripts.

pub mod cases;
pub mod firmware;
pub mod harness;
pub mod seed;
pub mod target;

/// The porting guide (docs/porting.md), whose snippets are compiled and run as doctests of this
/// crate so that the guide cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../docs/porting.md")]
pub struct PortingGuide;
