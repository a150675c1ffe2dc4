//! What every firmware image of this crate shares: a scripted in-memory byte stream, the way
//! out of the emulator (semihosting), the stack high-water mark, and a panic handler.
//!
//! Nothing here uses `core::fmt`: the flash images must show what the core costs, so the
//! firmware around it must not pull in formatting machinery the core would then appear not
//! to need (or to need).
#![no_std]

pub mod link;
pub mod pipe;
pub mod platform;
pub mod script;
#[cfg(target_arch = "arm")]
pub mod stack;

/// The 32-bit FNV-1a hash of `bytes`, usable in a `const`: the flash images compare their
/// output with a hash computed at compile time, so that the expected bytes themselves do not
/// sit in flash and count as the core's.
pub const fn fnv1a(bytes: &[u8]) -> u32 {
    fnv1a_pieces(&[bytes])
}

/// [`fnv1a`] of the concatenation of `pieces`.
pub const fn fnv1a_pieces(pieces: &[&[u8]]) -> u32 {
    // `while` and indexing, as a const fn needs; every index is checked against the length
    // just before, so the optimiser drops the bounds checks and no panic path is linked.
    let mut hash = 0x811c_9dc5_u32;
    let mut p = 0;
    while p < pieces.len() {
        let bytes = pieces[p];
        let mut i = 0;
        while i < bytes.len() {
            hash = (hash ^ bytes[i] as u32).wrapping_mul(0x0100_0193);
            i += 1;
        }
        p += 1;
    }
    hash
}

/// Writes `n` in decimal into `digits` and returns the digits: for reports without
/// `core::fmt`.
pub fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut start = digits.len();
    while let Some(digit) = start.checked_sub(1).and_then(|at| digits.get_mut(at)) {
        *digit = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.get(start..).unwrap_or_default()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    platform::print(b"panicked: ");
    match info.message().as_str() {
        Some(message) => platform::print(message.as_bytes()),
        // A formatted message would need core::fmt; the location says where.
        None => platform::print(b"(formatted message)"),
    }
    if let Some(location) = info.location() {
        platform::print(b" at ");
        platform::print(location.file().as_bytes());
        platform::print(b":");
        platform::print(decimal(location.line(), &mut [0; 10]));
    }
    platform::print(b"\n");
    platform::exit(false)
}
