//! chatecho-model: the reference model of the chatecho protocol, and what it takes to test
//! an implementation against it.
//!
//! chatecho-core is meant to be ported: onto a board, behind a driver loop of your own, with
//! other buffer sizes or other rules. This crate is for checking that nothing moved when you
//! did. It holds:
//!
//! - [`Protocol`]: every parameter of the protocol (delimiter, prefix, quit line, line limit,
//!   error text) in one value, and [`Protocol::expected`], the obviously-correct model of what
//!   it answers to an input ended by [`Ending`], written with std and no cleverness;
//! - [`Subject`]: the few things a peer does to an implementation (send, receive, end input,
//!   take its storage out), implemented by the core's [`Session`](chatecho_core::Session) and
//!   by [`Swapping`], a session with a spare storage, and easy to implement for a port;
//! - [`check`]: one driver of experiments, which runs a subject over an [`Experiment`] (a
//!   protocol, an input and a [`Schedule`] of reads, drains and storage moves) and reports the
//!   first [`Divergence`] from the model readably;
//! - with the `proptest` feature, module `strategy`: experiments shaped to find framing bugs;
//! - with the `arbitrary` feature, `Arbitrary` for the same types, for fuzz targets;
//! - with the `tcp` feature, module `tcp`: a live server at a socket address as a
//!   [`Subject`], so that the model checks a whole server (or a board) over the network.
//!
//! ```
//! use chatecho_core::{Buffers, Session};
//! use chatecho_model::{check, Ending, Experiment, Protocol, Schedule, StorageStep, Give};
//! use chatecho_model::Swapping;
//!
//! // The model on its own: what the protocol answers.
//! let protocol = Protocol { delimiter: b"\n".to_vec(), max_line: 8, ..Protocol::default() };
//! let expected = protocol.expected(b"hi\nthis is too long\n.\nlost\n", Ending::Open);
//! assert_eq!(expected.output, b"You sent: hi\nERROR line too long (limit 8 bytes)\n");
//!
//! // A session checked against it: one byte per read, two bytes drained at a time, its
//! // storage taken out and another given back at every other step.
//! let config = protocol.config()?;
//! let mut session = Swapping::<Buffers<[u8; 9], [u8; 40]>>::owned(&config)?;
//! let experiment = Experiment {
//!     protocol,
//!     input: b"hi\nthis is too long\n.\nlost\n".to_vec(),
//!     schedule: Schedule {
//!         reads: vec![1],
//!         drains: vec![2],
//!         storage: vec![StorageStep::Keep, StorageStep::Take(Give::Other)],
//!         ending: Ending::Eof,
//!     },
//! };
//! let report = check(&mut session, &experiment)?;
//! assert!(report.storage_taken > 0 && report.storage_refused > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The porting guide (docs/porting.md in the repository, "Property-testing your port") shows
//! a driver loop of your own tested with [`Subject`], [`check`] and the strategies.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Feature badges on docs.rs (whose nightly rustdoc sets `docsrs`, see Cargo.toml); stable
// rustdoc builds the same docs without them.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "arbitrary")]
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
pub mod arbitrary;
pub mod checker;
pub mod protocol;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategy;
pub mod subject;
#[cfg(feature = "tcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "tcp")))]
pub mod tcp;

pub use checker::{
    Action, Divergence, DivergenceKind, Experiment, Report, Schedule, StorageStep, check,
};
pub use protocol::{Ending, Expected, Protocol, Reply, ReplyKind, StorageRule, find};
pub use subject::{Give, Subject, Swapping, Taking};

/// The crate's README (what crates.io shows), whose example is compiled and run as a doctest so
/// that it cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
