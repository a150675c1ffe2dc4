//! A complete network firmware for QEMU's RISC-V `virt` board, in the pieces a porter
//! replaces or keeps:
//!
//! - [`platform`]: the board (MMIO, DMA, the NIC driver's buffers, clock, sleep, console,
//!   exit, stack painting), the only module with `unsafe`;
//! - [`device`]: the NIC as a smoltcp `phy::Device`;
//! - [`network`]: smoltcp's interface, its address by DHCPv4, and the main loop's clock and
//!   sleep;
//! - [`refusal`]: the socket that tells a client beyond the last session that the server is
//!   full;
//! - [`console`]: requests typed on the serial console (`exit`).
//!
//! The binaries put them together: `chatecho-virt` serves the echo protocol through the core
//! (`port::smoltcp::Server`, one per session), `baseline` echoes raw bytes on the same network
//! without the core, so that the two images' difference is what the core costs in flash.
#![no_std]
#![deny(unsafe_code)]

pub mod console;
pub mod device;
pub mod network;
#[allow(unsafe_code)]
pub mod platform;
pub mod refusal;

/// Prints a line on the console, `core::fmt` style, after the firmware's name.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::platform::Console, "chatecho-virt: ");
        let _ = writeln!($crate::platform::Console, $($arg)*);
    }};
}

/// Says why the firmware stops, and exits QEMU with status 2 (1 is QEMU's own failure).
pub fn fail(why: impl core::fmt::Display) -> ! {
    say!("FAILED: {why}");
    platform::exit(Err(2))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    say!("panicked: {info}");
    platform::exit(Err(4))
}
