//! `flash_smoltcp` without the core: the same interface and socket, echoing what it receives
//! byte for byte instead of serving the protocol.
#![no_std]
#![no_main]

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
    platform::finish(b"flash_smoltcp_baseline", run())
}

fn run() -> Result<(), &'static [u8]> {
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

    let mut buffer = [0u8; script::MAX_LINE + 2];
    sockets
        .get_mut::<tcp::Socket>(handle)
        .listen(7)
        .map_err(|_| &b"could not listen"[..])?;
    for step in 0..black_box(100) {
        iface.poll(Instant::from_millis(step), device, &mut sockets);
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if socket.can_recv() && socket.can_send() {
            let n = socket.recv_slice(&mut buffer).unwrap_or(0);
            let _ = socket.send_slice(buffer.get(..n).unwrap_or_default());
        }
    }
    if !sockets.get::<tcp::Socket>(handle).is_listening() {
        return Err(b"not listening");
    }
    Ok(())
}
