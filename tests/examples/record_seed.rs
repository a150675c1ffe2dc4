//! Records what the seed's reference server answers to every case of
//! `chatecho_tests::seed`, into `tests/fixtures/seed/`: the transcripts the end-to-end tests
//! check our server against.
//!
//! Needs the seed's programs in `../shared/reference` and `python3`:
//!
//! ```sh
//! cargo run -p chatecho-tests --example record_seed
//! ```

use chatecho_tests::harness::{SeedServer, exchange, reference_dir};
use chatecho_tests::seed::{self, Transcript};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(reference) = reference_dir() else {
        eprintln!("error: the seed's reference programs and python3 are needed to record");
        return ExitCode::FAILURE;
    };
    let server = SeedServer::start(&reference);
    for case in seed::cases() {
        let transcript = Transcript {
            sent: case.sent(),
            received: exchange(server.addr, &case.chunk_slices()),
        };
        if let Err(error) = seed::save(&case, &transcript) {
            eprintln!(
                "error: cannot save the transcript of {}: {error}",
                case.name
            );
            return ExitCode::FAILURE;
        }
        println!(
            "{}: {} bytes sent, {} received",
            case.name,
            transcript.sent.len(),
            transcript.received.len()
        );
    }
    println!("recorded in {}", seed::fixtures_dir().display());
    ExitCode::SUCCESS
}
