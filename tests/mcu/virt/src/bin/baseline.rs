//! The same firmware without the core: the same NIC, network, four sockets with the same
//! buffers and the refusal socket, each socket echoing raw bytes back instead of running the
//! protocol. Built for one figure only: the firmware's flash minus this image's is what the
//! core (sessions, configuration and `port::smoltcp::Server`) costs
//! (tests/mcu/virt/check.sh; docs/porting.md, "A complete network firmware").
#![no_std]
#![no_main]

use chatecho_virt::console::{Request, Requests};
use chatecho_virt::network::{Change, Network};
use chatecho_virt::platform::{self, Console, Nic};
use chatecho_virt::refusal::Refusal;
use chatecho_virt::{fail, say};
use smoltcp::iface::{SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::Duration;
use static_cell::ConstStaticCell;

const PORT: u16 = 8007;
const SESSIONS: usize = 4;
const SERVER_FULL: &[u8] = b"ERROR server full (limit 4 connections)\r\n";
const SOCKET_BUFFER: usize = 4096;
const REFUSAL_BUFFER: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);
const KEEP_ALIVE: Duration = Duration::from_secs(20);

static SOCKET_BUFFERS: ConstStaticCell<[[u8; SOCKET_BUFFER]; 2 * SESSIONS]> =
    ConstStaticCell::new([[0; SOCKET_BUFFER]; 2 * SESSIONS]);
static REFUSAL_BUFFERS: ConstStaticCell<[[u8; REFUSAL_BUFFER]; 2]> =
    ConstStaticCell::new([[0; REFUSAL_BUFFER]; 2]);
static SOCKETS: ConstStaticCell<[SocketStorage<'static>; SESSIONS + 2]> =
    ConstStaticCell::new([SocketStorage::EMPTY; SESSIONS + 2]);

#[riscv_rt::entry]
fn main() -> ! {
    platform::paint_stack();
    say!("baseline: raw echo on riscv32imac (QEMU virt), {SESSIONS} sockets on port {PORT}");
    let nic = Nic::find().unwrap_or_else(|why| fail(why));
    let mut sockets = SocketSet::new(&mut SOCKETS.take()[..]);
    let mut network = Network::new(nic, &mut sockets);
    let mut buffers = SOCKET_BUFFERS.take().iter_mut();
    let handles: [SocketHandle; SESSIONS] = core::array::from_fn(|_| {
        let (Some(rx), Some(tx)) = (buffers.next(), buffers.next()) else {
            fail("fewer socket buffers than sockets")
        };
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        );
        socket.set_timeout(Some(TIMEOUT));
        socket.set_keep_alive(Some(KEEP_ALIVE));
        sockets.add(socket)
    });
    let [rx, tx] = REFUSAL_BUFFERS.take();
    let refusal_socket = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(&mut rx[..]),
        tcp::SocketBuffer::new(&mut tx[..]),
    ));
    let mut refusal = Refusal::new(PORT, SERVER_FULL);
    let mut requests = Requests::default();
    let mut announced = None;
    loop {
        let change = network.poll(&mut sockets);
        for &handle in &handles {
            echo(sockets.get_mut(handle));
        }
        if network.address() != announced {
            announced = network.address();
            if let Some(address) = announced {
                say!("listening on {address}:{PORT}");
            }
        }
        refusal.poll(sockets.get_mut(refusal_socket), platform::now());
        if requests.poll(&mut Console) == Some(Request::Exit) {
            say!("exit: peak stack {} bytes", platform::peak_stack());
            platform::exit(Ok(()));
        }
        if change == Change::None {
            network.sleep(&sockets);
        }
    }
}

/// Listens, echoes what arrives, and closes when the peer does.
fn echo(socket: &mut tcp::Socket<'_>) {
    if !socket.is_open() {
        let _ = socket.listen(PORT);
    }
    let mut chunk = [0u8; 512];
    loop {
        let room = socket.send_capacity() - socket.send_queue();
        let n = socket.recv_slice(&mut chunk[..room.min(512)]).unwrap_or(0);
        if n == 0 {
            break;
        }
        // The room was measured above: all of it fits.
        let _ = socket.send_slice(&chunk[..n]);
    }
    if !socket.may_recv() && socket.may_send() {
        socket.close();
    }
}
