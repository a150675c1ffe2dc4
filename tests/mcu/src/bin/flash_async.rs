//! `flash_core` with the async driver: [`script::READS`] through `asynch::serve`, polled by
//! embassy-futures' `block_on`. Minus `flash_async_baseline`, what the core costs when the
//! async driver is the one used.
#![no_std]
#![no_main]

use chatecho_core::driver::asynch;
use chatecho_core::{Buffers, Config, EndReason, Session};
use chatecho_mcu::pipe::Pipe;
use chatecho_mcu::{fnv1a, platform, script};
use core::hint::black_box;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    platform::finish(b"flash_async", embassy_futures::block_on(run()))
}

async fn run() -> Result<(), &'static [u8]> {
    // Built here, not by a shared helper: how firmware does it, and what is measured.
    let config = Config::default()
        .with_max_line(black_box(script::MAX_LINE))
        .map_err(|_| &b"configuration refused"[..])?;
    let (mut input, mut output) = ([0u8; script::INPUT], [0u8; script::OUTPUT]);
    let storage = Buffers::borrowed(&mut input, &mut output);
    let mut session =
        Session::new(black_box(&config), storage).map_err(|_| &b"storage refused"[..])?;
    let mut pipe = Pipe::<256>::new(black_box(script::READS), 64);
    if asynch::serve(&mut pipe, &mut session).await != Ok(EndReason::QuitLine) {
        return Err(b"the driver did not end at the quit line");
    }
    if fnv1a(pipe.output()) != const { fnv1a(script::REPLIES) } {
        return Err(b"the replies differ from the protocol's");
    }
    Ok(())
}
