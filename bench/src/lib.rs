//! What the benchmark's programs share: the peer servers' accept loop (`src/bin/peer_*.rs`),
//! the latency distribution that chatecho-bench reports and chatecho-compare reads, and how
//! chatecho-compare aggregates rounds.

pub mod latency;
pub mod peer;
pub mod rounds;
