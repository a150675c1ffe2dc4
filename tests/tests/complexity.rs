//! The delimiter search never re-scans: feeding a long line one byte at a time examines a
//! number of bytes linear in its length. Counted with `Framer::bytes_examined`, never timed.
//! A search that restarted at the line's start on every read would examine n²/2 bytes.

use chatecho_core::{Delimiter, Frame, Framer};

/// Feeds `line` then `delimiter`, one byte per read, and returns the frames and bytes examined.
fn feed_bytewise<const N: usize>(
    delimiter: &[u8],
    max_line: usize,
    line: &[u8],
) -> (Vec<Option<usize>>, u64) {
    let mut framer = Framer::new(
        vec![0u8; N].into_boxed_slice(),
        Delimiter::new(delimiter).unwrap(),
        max_line,
    )
    .unwrap();
    let mut frames = Vec::new();
    for &byte in line.iter().chain(delimiter) {
        let space = framer.space();
        space[0] = byte;
        framer.commit(1);
        while let Some(frame) = framer.next_frame() {
            frames.push(match frame {
                Frame::Line(l) => Some(l.len()),
                Frame::TooLong => None,
            });
        }
    }
    (frames, framer.bytes_examined())
}

const LEN: usize = 1 << 16;

#[test]
fn long_line_fed_one_byte_at_a_time_is_scanned_once() {
    let line = vec![b'x'; LEN];
    let (frames, examined) = feed_bytewise::<{ LEN + 8 }>(b"\r\n", LEN, &line);
    assert_eq!(frames, [Some(LEN)]);
    // Every byte reaches memchr once; the delimiter's check adds its own length.
    assert!(examined <= (LEN + 2 * 2) as u64, "examined {examined}");
}

#[test]
fn near_misses_cost_at_most_the_delimiter_length_per_byte() {
    // Every byte is the delimiter's last byte, so every byte triggers a comparison.
    let line = vec![b'\n'; LEN];
    let delimiter = b"\r\r\r\n";
    let (frames, examined) = feed_bytewise::<{ LEN + 8 }>(delimiter, LEN, &line);
    assert_eq!(frames, [Some(LEN)]);
    let bound = (delimiter.len() * (LEN + delimiter.len())) as u64;
    assert!(examined <= bound, "examined {examined} > {bound}");
    assert!(examined >= LEN as u64, "the count must cover every byte");
}

#[test]
fn overlong_line_fed_one_byte_at_a_time_is_scanned_once_in_fixed_memory() {
    let line = vec![b'x'; 16 * LEN];
    let (frames, examined) = feed_bytewise::<4104>(b"\r\n", 4096, &line);
    assert_eq!(frames, [None]);
    assert!(examined <= (16 * LEN + 4) as u64, "examined {examined}");
}
