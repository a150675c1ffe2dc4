//! Proof that chatecho-core needs neither std nor an allocator: this program has no std, no
//! alloc and its own entry point, links only libc (for `write` and the C start-up code), and
//! runs a scripted exchange through the blocking driver over an in-memory `embedded_io` pipe.
//! It exits 0 only if every reply is byte-for-byte right.
#![no_std]
#![no_main]

use chatecho_core::driver::blocking::serve;
use chatecho_core::{Buffers, Config, EndReason, Session, State};
use core::convert::Infallible;

/// What the peer sends: lines split across reads by the pipe, binary bytes, an empty line,
/// a line over the limit, the quit line, and bytes after it that must be ignored.
const SCRIPT: &[u8] = b"hello\r\n\0bin\xff\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nlast\r\n.\r\nignored\r\n";
/// What the protocol answers, with max_line 32.
const EXPECTED: &[u8] = b"You sent: hello\r\nYou sent: \0bin\xff\r\nYou sent: \r\nERROR line too long (limit 32 bytes)\r\nYou sent: last\r\n";

/// Bytes per read: small and odd, so delimiters straddle reads.
const READ_CHUNK: usize = 5;

/// An in-memory peer: reads come from the script, writes land in a fixed array.
struct Pipe {
    input: &'static [u8],
    output: [u8; 256],
    written: usize,
}

impl embedded_io::ErrorType for Pipe {
    type Error = Infallible;
}

impl embedded_io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let n = buf.len().min(self.input.len()).min(READ_CHUNK);
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl embedded_io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let room = &mut self.output[self.written..];
        let n = buf.len().min(room.len());
        room[..n].copy_from_slice(&buf[..n]);
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

fn say(text: &[u8]) {
    // SAFETY: writing a valid, live buffer of the stated length to stdout.
    unsafe {
        libc::write(1, text.as_ptr().cast(), text.len());
    }
}

fn exchange() -> Result<(), &'static [u8]> {
    let config = Config::default()
        .with_max_line(32)
        .map_err(|_| &b"config refused"[..])?;
    // 40 bytes of input, 64 of output: fixed memory, on the stack, borrowed by the session.
    let (mut input, mut output) = ([0u8; 40], [0u8; 64]);
    let storage = Buffers::borrowed(&mut input, &mut output);
    let mut session = Session::new(&config, storage).map_err(|_| &b"session refused"[..])?;
    let mut pipe = Pipe {
        input: SCRIPT,
        output: [0; 256],
        written: 0,
    };
    match serve(&mut pipe, &mut session) {
        Ok(EndReason::QuitLine) => {}
        Ok(_) => return Err(b"ended without the quit line"),
        Err(_) => return Err(b"driver failed"),
    }
    if session.state() != State::Closed(EndReason::QuitLine) {
        return Err(b"session not closed");
    }
    if &pipe.output[..pipe.written] != EXPECTED {
        return Err(b"replies differ from the expected bytes");
    }
    Ok(())
}

#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: core::ffi::c_int, _argv: *const *const u8) -> core::ffi::c_int {
    match exchange() {
        Ok(()) => {
            say(b"chatecho-nostd: scripted exchange through chatecho-core: ok\n");
            0
        }
        Err(why) => {
            say(b"chatecho-nostd: FAILED: ");
            say(why);
            say(b"\n");
            1
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    say(b"chatecho-nostd: panicked\n");
    // SAFETY: abort() never returns and needs no arguments.
    unsafe { libc::abort() }
}

/// Stable's prebuilt libcore still names the unwinding personality routine; with
/// panic = "abort" it is never called, so an empty one satisfies the linker.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
