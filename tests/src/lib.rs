//! chatecho-tests: what the cross-crate tests share.
//!
//! - [`model`]: the plain model of the protocol that properties and fuzzing check against;
//! - [`harness`]: starting the real binaries (and the seed's Python programs) for the
//!   end-to-end tests over loopback TCP.

pub mod harness;
pub mod model;
