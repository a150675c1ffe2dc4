//! The NIC as smoltcp sees it: a `phy::Device` over [`Nic`], handing smoltcp the frames the
//! device received (in place, in the driver's own receive buffers) and letting it write frames
//! straight into transmit buffers. No copy, no allocation, no `unsafe`.

use crate::platform::{FRAME, Nic, Transmitter};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// A frame the device received, for smoltcp to read.
pub struct RxToken<'a>(&'a mut [u8]);

/// Room for one frame to send.
pub struct TxToken<'a>(Transmitter<'a>);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.send(len, f)
    }
}

impl Device for Nic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let (frame, transmitter) = Nic::receive(self)?;
        Some((RxToken(frame), TxToken(transmitter)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        self.transmitter().map(TxToken)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = FRAME;
        caps
    }
}
