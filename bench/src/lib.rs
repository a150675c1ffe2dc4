//! What the peer servers share (`src/bin/peer_*.rs`): listening and accepting the way every
//! server in the comparison does, so that they differ only in what they do per connection.

pub mod peer;
