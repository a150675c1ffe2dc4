//! The network as the main loop sees it: smoltcp's interface on the NIC, an IPv4 address
//! from DHCPv4 (QEMU's user network hands out 10.0.2.15 with gateway 10.0.2.2, as a router on
//! a LAN would hand out its own), the clock in smoltcp's units, and the sleep between polls.

use crate::platform::{self, Nic, TICKS_PER_SECOND};
use crate::say;
use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::dhcpv4;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, IpCidr, Ipv4Address};

/// The longest the main loop sleeps with nothing to do: the console is read once per turn.
const MAX_SLEEP: Duration = Duration::from_millis(100);

/// smoltcp's interface on the NIC, with a DHCP client.
pub struct Network {
    /// The NIC.
    pub nic: Nic,
    /// smoltcp's interface.
    pub iface: Interface,
    dhcp: SocketHandle,
    address: Option<Ipv4Address>,
}

/// What changed in a poll of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing that the sockets' owners need to know.
    None,
    /// A frame came in or a socket's state may have changed: poll again before sleeping.
    Sockets,
    /// DHCP gave the interface this address (the first time, or a new one).
    Addressed(Ipv4Address),
    /// The lease was lost: the interface has no address until DHCP gives one again.
    Unaddressed,
}

/// Now, in smoltcp's units.
pub fn now() -> Instant {
    Instant::from_micros((platform::now() / (TICKS_PER_SECOND / 1_000_000)) as i64)
}

impl Network {
    /// The interface on `nic`, its MAC address the NIC's, and a DHCP client in `sockets`.
    pub fn new(mut nic: Nic, sockets: &mut SocketSet<'_>) -> Self {
        let mac = EthernetAddress(nic.mac());
        let mut config = Config::new(mac.into());
        // Initial sequence numbers and local ports: not cryptographic, only different from
        // one boot to the next.
        config.random_seed = platform::now();
        let iface = Interface::new(config, &mut nic, now());
        let dhcp = sockets.add(dhcpv4::Socket::new());
        say!(
            "NIC: virtio-net (virtio-mmio version {}), MAC {mac}",
            nic.mmio_version()
        );
        Self {
            nic,
            iface,
            dhcp,
            address: None,
        }
    }

    /// The address DHCP gave, if any yet.
    pub fn address(&self) -> Option<Ipv4Address> {
        self.address
    }

    /// Takes at most one received frame into the sockets, sends what the sockets have queued,
    /// and applies what DHCP says.
    ///
    /// One frame at a time, so that the sessions see each change before the next frame: a
    /// session whose connection the last frame closed listens again before a new client's
    /// SYN right behind that frame is handled (smoltcp's `poll`, which takes every waiting
    /// frame, would refuse that client). Call it again while it says [`Change::Sockets`].
    pub fn poll(&mut self, sockets: &mut SocketSet<'_>) -> Change {
        let now = now();
        self.iface.poll_maintenance(now);
        let received = self.iface.poll_ingress_single(now, &mut self.nic, sockets);
        let mut moved = received != PollIngressSingleResult::None;
        while self.iface.poll_egress(now, &mut self.nic, sockets) == PollResult::SocketStateChanged
        {
            moved = true;
        }
        let event = sockets.get_mut::<dhcpv4::Socket>(self.dhcp).poll();
        match event {
            Some(dhcpv4::Event::Configured(config)) => {
                self.iface.update_ip_addrs(|addrs| {
                    addrs.clear();
                    // One address, and room for one: this cannot fail.
                    let _ = addrs.push(IpCidr::Ipv4(config.address));
                });
                match config.router {
                    Some(router) => {
                        let _ = self.iface.routes_mut().add_default_ipv4_route(router);
                    }
                    None => {
                        let _ = self.iface.routes_mut().remove_default_ipv4_route();
                    }
                }
                say!(
                    "DHCP: address {}, router {:?}",
                    config.address,
                    config.router
                );
                self.address = Some(config.address.address());
                Change::Addressed(config.address.address())
            }
            Some(dhcpv4::Event::Deconfigured) => {
                self.iface.update_ip_addrs(|addrs| addrs.clear());
                let _ = self.iface.routes_mut().remove_default_ipv4_route();
                // The client starts out unconfigured and says so: only a lease held is lost.
                if self.address.take().is_some() {
                    say!("DHCP: lease lost");
                }
                Change::Unaddressed
            }
            None if moved => Change::Sockets,
            None => Change::None,
        }
    }

    /// Sleeps until smoltcp has a timer due, a frame arrives, or [`MAX_SLEEP`] passes.
    pub fn sleep(&mut self, sockets: &SocketSet<'_>) {
        let now = now();
        let delay = self
            .iface
            .poll_delay(now, sockets)
            .map_or(MAX_SLEEP, |delay| delay.min(MAX_SLEEP));
        let ticks = delay.total_micros() * (TICKS_PER_SECOND / 1_000_000);
        platform::sleep_until(platform::now() + ticks, &mut self.nic);
    }
}
