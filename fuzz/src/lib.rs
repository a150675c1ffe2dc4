//! What the fuzz targets share: the few bytes each decodes before its
//! `chatecho_model::Experiment` (see `make_corpus.py` for the layout).

use arbitrary::Arbitrary;
use chatecho_model::Protocol;

/// A target's own parameters, one byte each, in front of the experiment.
#[derive(Arbitrary, Debug)]
pub struct Header {
    /// Picks the buffer sizes the target runs with.
    pub capacity: u8,
    /// Use the protocol's `max_line` as it is, rather than folded into the buffer.
    pub max_line_exact: bool,
    /// Target-specific switches (bad counts, idle calls), documented with each target.
    pub mode: u8,
}

impl Header {
    /// Folds the protocol's raw 16-bit limit into `1..=room`, the line lengths a buffer with
    /// `room` bytes besides the delimiter can hold, unless the case asks for it as it is
    /// (then out-of-range limits test the errors).
    pub fn fold_max_line(&self, protocol: &mut Protocol, room: usize) {
        if !self.max_line_exact && room > 0 {
            protocol.max_line = 1 + protocol.max_line % room;
        }
    }
}
