//! The conversation the flash images hold (the same in both, so that it cancels out of the
//! difference) and what the protocol answers to it.

use chatecho_core::{Config, capacity};
use core::hint::black_box;

/// Lines up to 32 bytes: the overlong line below is refused.
pub const MAX_LINE: usize = 32;
/// The least input a session for [`MAX_LINE`] accepts, with the default delimiter.
pub const INPUT: usize = capacity::input(MAX_LINE, 2);
/// The least output a session for [`MAX_LINE`] accepts, with the default delimiter and prefix.
pub const OUTPUT: usize = capacity::output(MAX_LINE, 2, 10);

/// The configuration for [`MAX_LINE`], built at start-up as firmware builds it, with the limit
/// hidden from the optimiser as settings read from storage would be.
pub fn config() -> Result<Config, &'static [u8]> {
    Config::default()
        .with_max_line(black_box(MAX_LINE))
        .map_err(|_| &b"configuration refused"[..])
}

/// What the peer sends, read by read: lines split across reads, binary bytes, an empty line,
/// a line over the limit, the quit line split in three, and bytes after it that are ignored.
pub const READS: &[&[u8]] = &[
    b"hel",
    b"lo\r\n\0bin\xff\r",
    b"\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nlast\r\n",
    b".",
    b"\r",
    b"\nignored\r\n",
];

/// What the protocol answers to [`READS`].
pub const REPLIES: &[u8] = b"You sent: hello\r\nYou sent: \0bin\xff\r\nYou sent: \r\n\
ERROR line too long (limit 32 bytes)\r\nYou sent: last\r\n";
