//! The RISC-V network firmware (tests/mcu/virt) under QEMU, reached over TCP through QEMU's
//! user network: the same end-to-end cases as chatecho-server (`chatecho_tests::cases`, the
//! stress a small server must survive among them) and the reference model over TCP (12
//! experiments; `PROPTEST_CASES` runs more), against one boot of the firmware; then the same
//! firmware on the other virtio-mmio transport, briefly.
//!
//! Skipped (one line) where QEMU or the built firmware is missing: `bash
//! tests/mcu/virt/check.sh` builds the firmware and runs this test, as CI does.

use chatecho_model::tcp::TcpSubject;
use chatecho_model::{Protocol, check, strategy};
use chatecho_tests::cases;
use chatecho_tests::firmware::{Firmware, Mmio};
use proptest::prelude::*;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

/// The model's quiet interval against the firmware: nothing arriving for this long means
/// nothing more is coming.
const QUIET: Duration = Duration::from_millis(250);

/// One QEMU at a time: the machine has two cores, and each run wants the firmware's four
/// sessions to itself.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Where the check script wants the figures, if it does.
const FIGURES_VAR: &str = "CHATECHO_FIRMWARE_FIGURES";

#[test]
fn the_shared_cases_the_model_and_the_stress_cases_against_the_firmware() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(firmware) = Firmware::start(Mmio::Legacy) else {
        return;
    };
    let summary = cases::run_all(&firmware.target());
    // What the firmware cannot be configured for is skipped; everything else runs.
    let flagged: Vec<&str> = cases::CASES
        .iter()
        .filter(|case| !case.flags.is_empty() && case.flags != ["--max-connections", "4"])
        .map(|case| case.name)
        .collect();
    assert_eq!(summary.skipped, flagged);

    // The reference model over TCP, with the firmware's protocol (chatecho-server's
    // defaults). A quiet interval longer than against the desktop server: the board is behind
    // an emulator and QEMU's user network.
    let addr = firmware.addr();
    proptest!(strategy::cases(12), |(e in strategy::over_tcp(Protocol::default()))| {
        let mut subject = TcpSubject::connect_with_quiet(addr, QUIET).expect("connect");
        if let Err(divergence) = check(&mut subject, &e) {
            panic!("{divergence}");
        }
    });

    let (status, figures) = firmware.exit();
    assert!(status.success(), "the firmware exited with {status}");
    let figures = figures.expect("the firmware said its figures at exit");
    assert!(figures.connections > 500, "{figures:?}");
    assert!(figures.refused >= 2, "{figures:?}");
    println!("firmware figures: {figures:?}");
    if let Ok(path) = std::env::var(FIGURES_VAR) {
        let mut file = std::fs::File::create(&path).expect("create the figures file");
        writeln!(file, "peak_stack {}", figures.peak_stack).expect("write the figures file");
    }
}

#[test]
fn the_firmware_on_modern_virtio_mmio_serves_too_and_a_panic_ends_qemu_with_a_failure() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(firmware) = Firmware::start(Mmio::Modern) else {
        return;
    };
    assert!(
        firmware.log().contains("virtio-mmio version 2"),
        "{}",
        firmware.log()
    );
    for case in cases::CASES.iter().filter(|case| {
        matches!(
            case.name,
            "pipelined_lines_match_the_seed"
                | "end_of_input_answers_the_unterminated_last_line_then_closes"
                | "four_clients_at_once_are_each_answered_in_turn"
        )
    }) {
        (case.run)(firmware.addr());
    }
    // A panic ends QEMU with a failure status, through the exit device: nothing can hang on a
    // firmware that has failed.
    let (status, log) = firmware.panic();
    assert!(!status.success(), "a panic exited with {status}");
    assert!(log.contains("panicked: "), "{log}");
}
