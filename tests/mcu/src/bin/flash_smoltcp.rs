//! The flash image of a smoltcp echo server: one interface, one TCP socket with 64-byte
//! buffers, `port::smoltcp::Server` and a session for lines up to [`script::MAX_LINE`] bytes.
//! Minus `flash_smoltcp_baseline`, what the core and its smoltcp port cost next to smoltcp.
//!
//! Built and measured only: its link carries no packets, so under QEMU it listens for a
//! while and stops. The exchange test (`exchange`) runs the port through whole conversations.
#![no_std]
#![no_main]

use chatecho_core::port::smoltcp::{Phase, Server};
use chatecho_core::{Buffers, Config, Session};
use chatecho_mcu::link::LinkEnd;
use chatecho_mcu::{platform, script};
use core::hint::black_box;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    platform::finish(b"flash_smoltcp", run())
}

fn run() -> Result<(), &'static [u8]> {
    // Built here, not by a shared helper: how firmware does it, and what is measured.
    let config = Config::default()
        .with_max_line(black_box(script::MAX_LINE))
        .map_err(|_| &b"configuration refused"[..])?;
    let (mut input, mut output) = ([0u8; script::INPUT], [0u8; script::OUTPUT]);
    let storage = Buffers::borrowed(&mut input, &mut output);
    let mut session =
        Session::new(black_box(&config), storage).map_err(|_| &b"storage refused"[..])?;

    let mut device = LinkEnd::new();
    let device = black_box(&mut device);
    // Written out in both images, not shared: how much of smoltcp the optimiser inlines here
    // changes with the code around it, and the two images must differ only by the core.
    let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), device, Instant::ZERO);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24));
    });
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut slots = [SocketStorage::EMPTY];
    let mut sockets = SocketSet::new(&mut slots[..]);
    let handle = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    ));

    let mut server = Server::new(7);
    for step in 0..black_box(100) {
        iface.poll(Instant::from_millis(step), device, &mut sockets);
        server
            .poll(sockets.get_mut(handle), &mut session)
            .map_err(|_| &b"the server could not listen"[..])?;
    }
    if server.phase() != Phase::Listening {
        return Err(b"not listening");
    }
    Ok(())
}
