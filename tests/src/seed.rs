//! What the seed's reference server answers, recorded: the specification of the protocol's
//! replies as transcripts, so that tests check our server byte for byte against the seed
//! without Python or the seed's programs at hand.
//!
//! Each [`Case`] is a stream of complete lines ending with the quit line, sent in the chunks
//! listed. Its transcript is two files in `tests/fixtures/seed/`: `<name>.sent`, the bytes
//! sent, and `<name>.received`, every byte the seed answered until it closed. Transcripts are
//! facts about the seed, not code; `cargo run -p chatecho-tests --example record_seed`
//! records them anew (it needs `../shared/reference` and `python3`), and the test
//! `the_transcripts_are_what_the_seed_answers` in `e2e_protocol.rs` checks them against the
//! live seed wherever it is found.

use crate::harness::workspace_root;
use std::path::PathBuf;

/// A stream sent to the seed, in chunks (written one at a time with a short pause between,
/// so that the server likely sees separate reads).
#[derive(Debug, Clone)]
pub struct Case {
    /// Names the transcript files.
    pub name: &'static str,
    /// The writes, in order.
    pub chunks: Vec<Vec<u8>>,
}

impl Case {
    fn new(name: &'static str, chunks: &[&[u8]]) -> Self {
        Self {
            name,
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
        }
    }

    /// Every byte sent, in one piece.
    pub fn sent(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// The chunks as slices, for [`crate::harness::exchange`].
    pub fn chunk_slices(&self) -> Vec<&[u8]> {
        self.chunks.iter().map(Vec::as_slice).collect()
    }
}

/// The 5000 lines of many lengths of the `many_lengths` case, in order.
pub fn many_lengths_lines() -> Vec<Vec<u8>> {
    (0..5000usize)
        .map(|i| {
            (0..(i * 7919) % 300)
                .map(|j| b'a' + ((i + j) % 26) as u8)
                .collect()
        })
        .collect()
}

/// Every byte value, ascending, so that no `\r\n` pair forms.
pub fn every_byte() -> Vec<u8> {
    (0..=255u8).collect()
}

/// Every recorded case.
pub fn cases() -> Vec<Case> {
    let mut binary = every_byte();
    binary.extend_from_slice(b"\r\na\rb\nc\r\n\xff\xfe\x00\r\n.\r\n");
    let mut many = Vec::new();
    for line in many_lengths_lines() {
        many.extend_from_slice(&line);
        many.extend_from_slice(b"\r\n");
    }
    many.extend_from_slice(b".\r\n");
    let mut at_limit = vec![b'x'; 4096];
    at_limit.extend_from_slice(b"\r\n.\r\n");
    vec![
        Case::new("pipelined", &[b"hello\r\nworld\r\nthird line\r\n.\r\n"]),
        Case::new(
            "split_across_reads",
            &[
                b"hel",
                b"lo\r",
                b"\nwor",
                b"ld",
                b"\r",
                b"\n",
                b"a",
                b"b",
                b"\r",
                b"\nc\r\n.",
                b"\r\n",
            ],
        ),
        Case::new("binary_bytes", &[&binary]),
        Case::new("empty_lines", &[b"\r\n\r\nx\r\n\r\n.\r\n"]),
        Case::new(
            "lines_with_full_stops",
            &[b"..\r\n .\r\n. \r\nx.\r\n.x\r\n", b".\r\n"],
        ),
        Case {
            name: "many_lengths",
            // Uneven chunks, so that lines and delimiters straddle reads.
            chunks: many.chunks(1013).map(<[u8]>::to_vec).collect(),
        },
        Case::new("line_at_the_default_limit", &[&at_limit]),
    ]
}

/// The case called `name`.
pub fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case named {name}"))
}

/// A recorded exchange with the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// What was sent.
    pub sent: Vec<u8>,
    /// What the seed answered until it closed.
    pub received: Vec<u8>,
}

/// Where the transcripts live.
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("tests/fixtures/seed")
}

fn path(name: &str, part: &str) -> PathBuf {
    fixtures_dir().join(format!("{name}.{part}"))
}

/// The recorded transcript of `case`. Fails the test if it is missing, or if it was recorded
/// from other input than the case sends now (the case changed and was not recorded again).
pub fn transcript(case: &Case) -> Transcript {
    let read = |part: &str| {
        let path = path(case.name, part);
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the transcript {} ({e}); record it with \
                 `cargo run -p chatecho-tests --example record_seed`",
                path.display()
            )
        })
    };
    let transcript = Transcript {
        sent: read("sent"),
        received: read("received"),
    };
    assert!(
        transcript.sent == case.sent(),
        "the transcript of {} was recorded from other input than the case sends now; record \
         it again with `cargo run -p chatecho-tests --example record_seed`",
        case.name
    );
    transcript
}

/// Saves `transcript` as the recording of `case`.
pub fn save(case: &Case, transcript: &Transcript) -> std::io::Result<()> {
    std::fs::create_dir_all(fixtures_dir())?;
    std::fs::write(path(case.name, "sent"), &transcript.sent)?;
    std::fs::write(path(case.name, "received"), &transcript.received)
}
