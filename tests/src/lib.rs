//! chatecho-tests: what the cross-crate tests share.
//!
//! - [`model`]: the plain model of the protocol that properties and fuzzing check against;
//! - `harness` (when present): starting the real binaries for end-to-end tests.

pub mod model;
