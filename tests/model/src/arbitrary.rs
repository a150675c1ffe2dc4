//! `Arbitrary` for protocols, schedules and experiments, for fuzz targets (feature
//! `arbitrary`).
//!
//! Each type is read from fixed-size fields at fixed offsets (single bytes and byte arrays,
//! never a length-prefixed list), and an [`Experiment`] takes the rest of the fuzzer's bytes,
//! unchanged, as its input. Mutations then act directly on protocol bytes, libFuzzer's
//! comparison tracing finds delimiters and quit lines by itself, and seeds can be written by
//! hand from the layouts below.
//!
//! A [`Protocol`] may come out invalid (an empty or 10-byte delimiter, a 70-byte prefix, a
//! zero limit) so that a target also checks that the core refuses it with the error
//! [`Protocol::errors`] names. Its `max_line` is the raw 16-bit field: a target folds it into
//! the capacity it tests.

use crate::checker::{Experiment, Schedule, StorageStep};
use crate::protocol::{Ending, Protocol};
use crate::subject::Give;
use arbitrary::{Arbitrary, Result, Unstructured};

/// The longest input one [`Experiment`] expands to: far past the buffers a target uses, so
/// that long lines and many lines per read are reachable, yet small enough that a run stays
/// in the millisecond range.
pub const MAX_INPUT: usize = 64 * 1024;

fn byte(u: &mut Unstructured<'_>) -> Result<u8> {
    u8::arbitrary(u)
}

fn array<const N: usize>(u: &mut Unstructured<'_>) -> Result<[u8; N]> {
    <[u8; N]>::arbitrary(u)
}

/// `pattern` repeated to `len` bytes.
fn cycled(pattern: &[u8], len: usize) -> Vec<u8> {
    pattern.iter().copied().cycle().take(len).collect()
}

/// 31 bytes, in this order:
///
/// | bytes | field                                                                       |
/// |-------|-----------------------------------------------------------------------------|
/// | 1     | delimiter length, modulo 11 (0, 9 and 10 are invalid)                       |
/// | 10    | delimiter bytes                                                             |
/// | 1     | prefix length, modulo 72 (over 64 is invalid)                               |
/// | 10    | prefix pattern, repeated to the length                                      |
/// | 1     | quit line length, modulo 72 (over 64 is invalid); 255: no quit line         |
/// | 4     | quit line pattern, repeated to the length                                   |
/// | 2     | `max_line`, little-endian (0 is invalid)                                    |
/// | 1     | error text length, modulo 100 (over 96 is invalid); 255: the default reply  |
/// | 1     | error text byte, repeated to the length                                     |
impl<'a> Arbitrary<'a> for Protocol {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let delimiter_len = usize::from(byte(u)? % 11);
        let delimiter = array::<10>(u)?[..delimiter_len].to_vec();
        let prefix_len = usize::from(byte(u)? % 72);
        let prefix = cycled(&array::<10>(u)?, prefix_len);
        let quit_len = byte(u)?;
        let quit = array::<4>(u)?;
        let quit_line = (quit_len != 255).then(|| cycled(&quit, usize::from(quit_len % 72)));
        let max_line = usize::from(u16::from_le_bytes(array::<2>(u)?));
        let error_len = byte(u)?;
        let error_byte = byte(u)?;
        let error_text = (error_len != 255).then(|| vec![error_byte; usize::from(error_len % 100)]);
        Ok(Self {
            delimiter,
            prefix,
            quit_line,
            max_line,
            error_text,
        })
    }
}

/// 21 bytes, in this order:
///
/// | bytes | field                                                                   |
/// |-------|-------------------------------------------------------------------------|
/// | 8     | read sizes; 0 offers all the input that is left                         |
/// | 8     | drain sizes; 255 receives all there is                                  |
/// | 4     | storage moves: 1 takes it out and gives it back, 2 gives other storage; anything else keeps it |
/// | 1     | ending, modulo 3: left open, end of input, shutdown                     |
impl<'a> Arbitrary<'a> for Schedule {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let reads = array::<8>(u)?.map(usize::from).to_vec();
        let drains = array::<8>(u)?
            .map(|n| if n == 255 { usize::MAX } else { usize::from(n) })
            .to_vec();
        let storage = array::<4>(u)?
            .map(|n| match n {
                1 => StorageStep::Take(Give::Same),
                2 => StorageStep::Take(Give::Other),
                _ => StorageStep::Keep,
            })
            .to_vec();
        let ending = match byte(u)? % 3 {
            0 => Ending::Open,
            1 => Ending::Eof,
            _ => Ending::Shutdown,
        };
        Ok(Self {
            reads,
            drains,
            storage,
            ending,
        })
    }
}

/// A [`Protocol`] (31 bytes), a [`Schedule`] (21 bytes), one byte that shapes the input, and
/// the input: the rest of the data.
///
/// The shaping byte: bit 0 maps each input byte onto the bytes of the delimiter and the quit
/// line plus `x` (input dense in near misses, which random bytes almost never are); the high
/// four bits repeat the input `1 + n` times (many lines, and long lines, from a short seed).
/// The result is cut at [`MAX_INPUT`] bytes.
impl<'a> Arbitrary<'a> for Experiment {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let (protocol, schedule, shape) = header(u)?;
        let raw = Vec::<u8>::arbitrary(u)?;
        Ok(experiment(protocol, schedule, shape, &raw))
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> Result<Self> {
        let (protocol, schedule, shape) = header(&mut u)?;
        Ok(experiment(protocol, schedule, shape, u.take_rest()))
    }
}

fn header(u: &mut Unstructured<'_>) -> Result<(Protocol, Schedule, u8)> {
    Ok((Protocol::arbitrary(u)?, Schedule::arbitrary(u)?, byte(u)?))
}

fn experiment(protocol: Protocol, schedule: Schedule, shape: u8, raw: &[u8]) -> Experiment {
    let once: Vec<u8> = if shape & 1 != 0 {
        let mut alphabet = protocol.delimiter.clone();
        alphabet.extend(protocol.quit_line.iter().flatten());
        alphabet.push(b'x');
        alphabet.sort_unstable();
        alphabet.dedup();
        raw.iter()
            .map(|&b| alphabet[usize::from(b) % alphabet.len()])
            .collect()
    } else {
        raw.to_vec()
    };
    let mut input = once.repeat(1 + usize::from(shape >> 4));
    input.truncate(MAX_INPUT);
    Experiment {
        protocol,
        input,
        schedule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_written_by_hand_reads_as_its_layout_says() {
        let mut data = vec![2];
        data.extend(b"\r\n\0\0\0\0\0\0\0\0");
        data.push(3);
        data.extend(b"> \0\0\0\0\0\0\0\0");
        data.push(1);
        data.extend(b".\0\0\0");
        data.extend(60u16.to_le_bytes());
        data.extend([255, 0]);
        data.extend([1, 2, 0, 0, 0, 0, 0, 0]);
        data.extend([255; 8]);
        data.extend([0, 2, 0, 0]);
        data.push(1);
        data.push(0x10);
        data.extend(b"hi\r\n");
        let e = Experiment::arbitrary_take_rest(Unstructured::new(&data)).unwrap();
        assert_eq!(
            e.protocol,
            Protocol {
                delimiter: b"\r\n".to_vec(),
                prefix: b"> \0".to_vec(),
                quit_line: Some(b".".to_vec()),
                max_line: 60,
                error_text: None,
            }
        );
        assert_eq!(e.schedule.reads, [1, 2, 0, 0, 0, 0, 0, 0]);
        assert_eq!(e.schedule.drains, [usize::MAX; 8]);
        assert_eq!(e.schedule.storage[1], StorageStep::Take(Give::Other));
        assert_eq!(e.schedule.ending, Ending::Eof);
        assert_eq!(e.input, b"hi\r\nhi\r\n");
    }

    #[test]
    fn the_shaping_byte_maps_input_onto_the_protocol_alphabet() {
        let protocol = Protocol {
            quit_line: None,
            ..Protocol::default()
        };
        let e = experiment(protocol, Schedule::default(), 1, &[0, 1, 2, 3]);
        assert_eq!(e.input, b"\n\rx\n");
    }
}
