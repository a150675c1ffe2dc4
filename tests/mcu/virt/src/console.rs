//! Requests typed on the serial console, one per line: what a test harness (or a person at
//! `serve.sh`) uses to stop the firmware cleanly and read its figures.

use crate::platform::Console;
use heapless::Vec;

/// What can be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `exit`: print the figures and leave QEMU with status 0.
    Exit,
    /// `panic`: panic, as a bug would, so that a test can see that a panic ends QEMU with a
    /// failure status instead of hanging it.
    Panic,
}

/// The longest request line kept; longer lines are ignored.
const LINE: usize = 16;

/// The line being typed.
#[derive(Default)]
pub struct Requests {
    line: Vec<u8, LINE>,
    overlong: bool,
}

impl Requests {
    /// Takes what was typed since the last call; returns a request once its line is complete.
    /// Unknown lines are answered with the list of requests.
    pub fn poll(&mut self, console: &mut Console) -> Option<Request> {
        while let Some(byte) = console.read_byte() {
            if byte != b'\n' && byte != b'\r' {
                self.overlong |= self.line.push(byte).is_err();
                continue;
            }
            let request = match (&self.line[..], self.overlong) {
                (b"", false) => None,
                (b"exit", false) => Some(Request::Exit),
                (b"panic", false) => Some(Request::Panic),
                _ => {
                    crate::say!("requests: exit, panic");
                    None
                }
            };
            self.line.clear();
            self.overlong = false;
            if request.is_some() {
                return request;
            }
        }
        None
    }
}
