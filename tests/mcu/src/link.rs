//! Two smoltcp network devices joined back to back, in fixed memory: what one end transmits
//! waits in its outbox until [`carry`] moves it to the other end's inbox, losing packets on a
//! fixed pattern if asked. No allocator: packets are `heapless` vectors in `heapless` queues.

use heapless::{Deque, Vec};
use smoltcp::iface::{Config, Interface};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

/// The link's MTU. With 64-byte socket buffers segments are far smaller anyway.
pub const MTU: usize = 256;
/// Packets each direction holds before the sender must wait.
const QUEUE: usize = 8;

type Packet = Vec<u8, MTU>;

/// One end of the link: a device with the IP medium (no link layer).
pub struct LinkEnd {
    inbox: Deque<Packet, QUEUE>,
    outbox: Deque<Packet, QUEUE>,
}

impl LinkEnd {
    /// An end with nothing in flight.
    pub const fn new() -> Self {
        Self {
            inbox: Deque::new(),
            outbox: Deque::new(),
        }
    }
}

impl Default for LinkEnd {
    fn default() -> Self {
        Self::new()
    }
}

/// A received packet.
pub struct RxToken(Packet);

/// Room for one packet to send.
pub struct TxToken<'a>(&'a mut Deque<Packet, QUEUE>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = Packet::new();
        // smoltcp never asks for more than the MTU it was given.
        let _ = packet.resize(len.min(MTU), 0);
        let result = f(&mut packet);
        // `transmit` only hands out a token when the outbox has room.
        let _ = self.0.push_back(packet);
        result
    }
}

impl Device for LinkEnd {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        if self.outbox.is_full() {
            return None;
        }
        let packet = self.inbox.pop_front()?;
        Some((RxToken(packet), TxToken(&mut self.outbox)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        if self.outbox.is_full() {
            return None;
        }
        Some(TxToken(&mut self.outbox))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}

/// Which packets the link loses: every `every`-th packet it carries, counting both directions.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loss {
    /// Lose every `every`-th packet; `None` loses nothing.
    pub every: Option<usize>,
    /// Packets carried so far, lost ones included.
    pub carried: usize,
    /// Packets lost so far.
    pub dropped: usize,
}

/// Moves the packets waiting in `from`'s outbox to `to`'s inbox, as far as it has room, except
/// those `loss` drops. Returns how many packets left `from`.
pub fn carry(from: &mut LinkEnd, to: &mut LinkEnd, loss: &mut Loss) -> usize {
    let mut moved = 0;
    while !to.inbox.is_full() {
        let Some(packet) = from.outbox.pop_front() else {
            break;
        };
        moved += 1;
        loss.carried += 1;
        if loss
            .every
            .is_some_and(|every| loss.carried.is_multiple_of(every))
        {
            loss.dropped += 1;
        } else {
            // Room was checked above.
            let _ = to.inbox.push_back(packet);
        }
    }
    moved
}

/// An interface on `device` with `address` in a /24.
pub fn interface(device: &mut LinkEnd, address: IpAddress, now: Instant) -> Interface {
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), device, now);
    iface.update_ip_addrs(|addrs| {
        // The list is empty: the one address fits.
        let _ = addrs.push(IpCidr::new(address, 24));
    });
    iface
}
