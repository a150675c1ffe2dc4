//! How the hot path moves bytes: tuned for speed on 64-bit targets, for code size elsewhere.
//!
//! A desktop server answers millions of short lines a second, and there inlined block copies
//! and a word-at-a-time search pay; a microcontroller answers a few, from a flash of some
//! kilobytes, and there the same code is several times larger than plain loops and `memcpy`
//! (docs/porting.md has the figures). [`TUNED_FOR_SPEED`] picks one or the other at compile
//! time; the unit tests run both ways on every host, and tests/mcu runs the small one on a
//! Cortex-M3 under QEMU.

/// Whether the hot path is tuned for speed rather than code size: on 64-bit targets
/// (desktops, servers), where a `u64` is one register. On 32-bit and smaller ones
/// (microcontrollers, where flash is scarce) the delimiter search is a byte loop
/// ([`framer`](crate::framer)) and bytes move with `memcpy` or a byte loop.
pub(crate) const TUNED_FOR_SPEED: bool = cfg!(target_pointer_width = "64");

/// Copies `src` into `dst`, which has the same length: in blocks on 64-bit targets
/// ([`TUNED_FOR_SPEED`]), else with one `memcpy`, which firmware links
/// anyway, instead of five inlined block copies.
#[inline]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    debug_assert_eq!(
        dst.len(),
        src.len(),
        "a copy between slices of different lengths"
    );
    if TUNED_FOR_SPEED {
        copy_in_blocks(dst, src);
    } else {
        copy_whole(dst, src);
    }
}

/// [`copy`] with `memcpy`.
#[inline]
fn copy_whole(dst: &mut [u8], src: &[u8]) {
    if let Some(dst) = dst.get_mut(..src.len()) {
        dst.copy_from_slice(src);
    }
}

/// [`copy`] for speed.
///
/// Replies to short lines are made of short pieces (a 10-byte prefix, a 32-byte line, a
/// 2-byte delimiter) for which a call to `memcpy` costs more than the copy itself. Up to 64
/// bytes are copied here in two overlapping fixed-size blocks (the first and the last `B`
/// bytes; the compiler turns each into a load and a store); longer pieces go to `memcpy`.
#[inline]
fn copy_in_blocks(dst: &mut [u8], src: &[u8]) {
    match src.len() {
        0..=3 => dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s),
        4..=7 => copy_ends::<4>(dst, src),
        8..=15 => copy_ends::<8>(dst, src),
        16..=31 => copy_ends::<16>(dst, src),
        32..=64 => copy_ends::<32>(dst, src),
        _ => copy_whole(dst, src),
    }
}

/// Copies the first and the last `B` bytes of `src` into `dst` (both at least `B` long, at
/// most `2 * B`): together they cover every byte.
#[inline(always)]
fn copy_ends<const B: usize>(dst: &mut [u8], src: &[u8]) {
    if let (Some(d), Some(s)) = (dst.first_chunk_mut::<B>(), src.first_chunk::<B>()) {
        *d = *s;
    }
    if let (Some(d), Some(s)) = (dst.last_chunk_mut::<B>(), src.last_chunk::<B>()) {
        *d = *s;
    }
}

/// Moves `bytes[from..]` to the front of `bytes`; the two may overlap.
///
/// With `memmove` when [`TUNED_FOR_SPEED`]; elsewhere a byte at a time, front to back (right
/// for an overlap, since the bytes move down), which spares firmware the 1.3 KB `memmove` of
/// a Cortex-M0. Neither can panic (`from` past the end moves nothing): a panic's message would
/// link `core::fmt` into firmware.
#[inline]
pub(crate) fn move_to_front(bytes: &mut [u8], from: usize) {
    let from = from.min(bytes.len());
    if TUNED_FOR_SPEED {
        bytes.copy_within(from.., 0);
    } else {
        move_to_front_bytewise(bytes, from);
    }
}

/// [`move_to_front`] a byte at a time.
#[inline]
fn move_to_front_bytewise(bytes: &mut [u8], from: usize) {
    for to in 0..bytes.len().saturating_sub(from) {
        if let Some(&byte) = bytes.get(to + from)
            && let Some(slot) = bytes.get_mut(to)
        {
            *slot = byte;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_exact_at_every_length_and_never_writes_past_the_piece() {
        // Both ways of copying, whichever this target uses.
        let src: [u8; 100] = core::array::from_fn(|i| i as u8 + 1);
        for copy in [copy_in_blocks, copy_whole] {
            for n in 0..=100 {
                let mut dst = [0u8; 101];
                copy(&mut dst[..n], &src[..n]);
                assert_eq!(&dst[..n], &src[..n], "length {n}");
                assert!(dst[n..].iter().all(|&b| b == 0), "length {n}");
            }
        }
    }

    #[test]
    fn move_to_front_moves_every_byte_whatever_the_overlap() {
        // Both ways of moving, whichever this target uses.
        let moves: [fn(&mut [u8], usize); 2] = [
            |bytes, from| bytes.copy_within(from.., 0),
            move_to_front_bytewise,
        ];
        for move_to_front in moves {
            for len in 0..=20 {
                for from in 0..=len {
                    let mut bytes: [u8; 20] = core::array::from_fn(|i| i as u8);
                    move_to_front(&mut bytes[..len], from);
                    let moved: std::vec::Vec<u8> = (from..len).map(|i| i as u8).collect();
                    assert_eq!(&bytes[..len - from], &moved[..], "{from} of {len}");
                    // What lies past the moved bytes is left as it was.
                    let kept: std::vec::Vec<u8> = (len - from..20).map(|i| i as u8).collect();
                    assert_eq!(&bytes[len - from..], &kept[..], "{from} of {len}");
                }
            }
        }
        // From past the end: nothing moves, nothing panics.
        let mut bytes = [1u8, 2, 3];
        move_to_front(&mut bytes, 7);
        assert_eq!(bytes, [1, 2, 3]);
    }
}
