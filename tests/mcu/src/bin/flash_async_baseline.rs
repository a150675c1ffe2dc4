//! `flash_baseline` with async I/O on embassy-futures' `block_on`: everything `flash_async`
//! has but the core.
#![no_std]
#![no_main]

use chatecho_mcu::pipe::Pipe;
use chatecho_mcu::{fnv1a, fnv1a_pieces, platform, script};
use core::hint::black_box;
use embedded_io_async::{Read, Write};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    platform::finish(b"flash_async_baseline", embassy_futures::block_on(run()))
}

async fn run() -> Result<(), &'static [u8]> {
    let mut buffer = [0u8; script::MAX_LINE + 2];
    let mut pipe = Pipe::<256>::new(black_box(script::READS), 64);
    loop {
        let Ok(n) = pipe.read(&mut buffer).await;
        if n == 0 {
            break;
        }
        let mut sent = 0;
        while sent < n {
            let Ok(written) = pipe.write(buffer.get(sent..n).unwrap_or_default()).await;
            if written == 0 {
                return Err(b"the pipe took nothing");
            }
            sent += written;
        }
    }
    let Ok(()) = pipe.flush().await;
    if fnv1a(pipe.output()) != const { fnv1a_pieces(script::READS) } {
        return Err(b"the copy differs from the input");
    }
    Ok(())
}
