//! The stack's high-water mark, by painting: fill the free RAM below the stack pointer with a
//! pattern, run the code, and find the lowest word the pattern no longer holds. No interrupt
//! is enabled in these images, so nothing else writes below the stack pointer.
//!
//! The free RAM is what cortex-m-rt's linker script leaves between the end of `.bss`
//! (`__sheap`, where a heap would start) and the stack pointer, which starts at the top of RAM
//! and grows down.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// What free stack holds after [`paint`]: a word no real frame is likely to hold.
const PAINT: u32 = 0x5A5A_A5A5;

unsafe extern "C" {
    /// The first byte after the program's static data (cortex-m-rt's linker script).
    static __sheap: u32;
}

/// The stack pointer where it is called.
#[inline(always)]
pub fn pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer into a register; touches no memory.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// How far below the stack pointer [`measure`] paints: more than any code here needs, and
/// little enough to repaint before every poll of a conversation.
const DEPTH: usize = 8 * 1024;

/// Bytes below the stack pointer that [`paint`] leaves alone: its own frame (the return
/// address it pushes) lies there.
const MARGIN: usize = 64;

/// Paints the free words from `DEPTH` bytes below the stack pointer (or the end of the static
/// data, if that is higher) up to [`MARGIN`] below it; returns the lowest one.
#[inline(never)]
fn paint() -> usize {
    let below = pointer() - MARGIN;
    let lowest = below.saturating_sub(DEPTH).max(addr_of!(__sheap) as usize) & !3;
    let mut word = lowest;
    while word + 4 <= below {
        // SAFETY: between the end of the static data and the stack pointer lies RAM that no
        // object occupies (no heap, no interrupt): writing a word there disturbs nothing.
        unsafe { write_volatile(word as *mut u32, PAINT) };
        word += 4;
    }
    lowest
}

/// The lowest address written since [`paint`] painted from `lowest` up.
fn low_water(lowest: usize) -> usize {
    let mut word = lowest;
    let end = pointer();
    while word + 4 <= end {
        // SAFETY: the same free RAM that `paint` wrote; reading it disturbs nothing.
        if unsafe { read_volatile(word as *const u32) } != PAINT {
            return word;
        }
        word += 4;
    }
    end
}

/// Runs `f` and returns what it returned and the most stack it used: the bytes between the
/// stack pointer here and the lowest word written while it ran. Stops the firmware if `f`
/// went deeper than the painted region, where the figure would be too low.
#[inline(never)]
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let lowest = paint();
    let top = pointer();
    let result = call(f);
    let reached = low_water(lowest);
    if reached <= lowest {
        crate::platform::finish(b"stack", Err(b"used more than the painted region"));
    }
    (result, top - reached)
}

/// Calls `f` in a frame of its own, below the measuring one, so that nothing `f` needs can be
/// merged into the frame that `measure` allocated before it read the stack pointer.
#[inline(never)]
fn call<R>(f: impl FnOnce() -> R) -> R {
    f()
}
