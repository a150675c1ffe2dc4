//! chatecho on a WIZnet W5500-EVB-Pico: an RP2040 and a W5500 Ethernet controller on one
//! board. [`ECHO_TASKS`] echo tasks serve the chatecho protocol on TCP port [`PORT`], each one
//! connection at a time, at the address the network's DHCP server gives the board.
//!
//! The tasks, all on one embassy executor:
//!
//! - [`ethernet_task`]: the W5500 driver (embassy-net-wiznet), moving Ethernet frames between
//!   the chip, over SPI, and embassy-net;
//! - [`net_task`]: the embassy-net stack, which runs DHCPv4 (and TCP, ARP, ICMP);
//! - [`dhcp_task`]: watches the address DHCP gives: logs it, and tells the echo tasks when it
//!   is lost, since their peers can no longer reach them;
//! - [`echo_task`], [`ECHO_TASKS`] times: `chatecho_echo_task::serve_connections`, the code
//!   the host run of embassy-net (`tests/examples/embassy_net.rs`) runs too.
//!
//! Memory is all static: the protocol's one [`Config`], and each echo task's socket buffers
//! and session storage. There is no heap. There is no `unsafe` here either (forbidden below);
//! what the platform needs is inside embassy's macros: `bind_interrupts!` defines the DMA
//! interrupt handler, `#[embassy_executor::main]` the reset entry point and the executor,
//! `#[embassy_executor::task]` each task's static storage. README.md says how to flash the
//! board and talk to it.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use chatecho_core::config::{DEFAULT_DELIMITER, DEFAULT_MAX_LINE, DEFAULT_PREFIX};
use chatecho_core::{Buffers, Config, EndReason, OwnedBuffers, Session, capacity};
use chatecho_echo_task::{Close, Connection, Events, Listen, SocketBuffers, serve_connections};
use defmt::{error, info, unwrap, warn};
use embassy_executor::Spawner;
use embassy_net::{IpEndpoint, Stack, StackResources};
use embassy_net_wiznet::chip::W5500;
use embassy_rp::Peri;
use embassy_rp::clocks::RoscRng;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{
    DMA_CH0, DMA_CH1, FLASH, PIN_16, PIN_17, PIN_18, PIN_19, PIN_20, PIN_21, SPI0,
};
use embassy_rp::spi::{self, Async, Spi};
use embassy_rp::{bind_interrupts, dma};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::Delay;
use embedded_hal_bus::spi::ExclusiveDevice;
use static_cell::{ConstStaticCell, StaticCell};
use {defmt_rtt as _, panic_probe as _};

/// The TCP port the echo tasks listen on (the desktop server's default).
const PORT: u16 = 8007;
/// Echo tasks, each serving one connection at a time: this many peers at once. While all are
/// busy no socket listens, and embassy-net refuses a further peer (a reset).
const ECHO_TASKS: usize = 4;
/// The name the board asks DHCP to register, for networks whose DHCP server also serves DNS
/// (`telnet chatecho 8007` may then work in place of the address).
const HOSTNAME: &str = "chatecho";

// The protocol: chatecho's defaults (`\r\n`, `You sent: `, quit line `.`, lines up to 4096
// bytes), so that the board answers exactly as the desktop server does. Each task's session
// storage is the least that configuration needs.
const SESSION_INPUT: usize = capacity::input(DEFAULT_MAX_LINE, DEFAULT_DELIMITER.len());
const SESSION_OUTPUT: usize = capacity::output(
    DEFAULT_MAX_LINE,
    DEFAULT_DELIMITER.len(),
    DEFAULT_PREFIX.len(),
);
/// Each task's socket buffers: the receive window we offer, and what we may have in flight.
const SOCKET_RX: usize = 2048;
const SOCKET_TX: usize = 2048;

/// The W5500's SPI clock. The W5500 takes SPI modes 0 and 3 (W5500 datasheet, section 2) up
/// to 80 MHz; the RP2040's SPI runs at its 125 MHz peripheral clock divided by an even number:
/// 62.5 MHz at most, then 31.25 MHz. 31.25 MHz leaves margin on the board's traces and still
/// moves a full Ethernet frame in under 0.4 ms.
const SPI_FREQUENCY: u32 = 31_250_000;
/// Size of the RP2040's flash on this board, for the flash driver that reads its unique ID.
const FLASH_SIZE: usize = 2 * 1024 * 1024;

bind_interrupts!(struct Irqs {
    // The SPI's two DMA channels (transmit, receive) share DMA interrupt 0.
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>, dma::InterruptHandler<DMA_CH1>;
});

/// The W5500's wiring on the W5500-EVB-Pico, from the board's schematic and pinout (WIZnet's
/// W5500-EVB-Pico documentation): SPI0, and two plain GPIOs for reset and interrupt. The HAL
/// checks at compile time that each pin can do its SPI0 function.
struct W5500Pins {
    /// GPIO16, SPI0 RX: the W5500's MISO.
    miso: Peri<'static, PIN_16>,
    /// GPIO17: the W5500's chip select (SCSn), driven by hand as a GPIO, active low.
    chip_select: Peri<'static, PIN_17>,
    /// GPIO18, SPI0 SCK: the W5500's SCLK.
    sclk: Peri<'static, PIN_18>,
    /// GPIO19, SPI0 TX: the W5500's MOSI.
    mosi: Peri<'static, PIN_19>,
    /// GPIO20: the W5500's RSTn, active low.
    reset: Peri<'static, PIN_20>,
    /// GPIO21: the W5500's INTn, active low (open drain on the chip: pulled up here).
    interrupt: Peri<'static, PIN_21>,
}

/// The W5500 on SPI0: the bus with its chip-select pin, as an `embedded-hal-async` SPI device.
type W5500Spi = ExclusiveDevice<Spi<'static, SPI0, Async>, Output<'static>, Delay>;
/// The W5500 driver's runner: chip, SPI device, interrupt pin, reset pin.
type EthernetRunner =
    embassy_net_wiznet::Runner<'static, W5500, W5500Spi, Input<'static>, Output<'static>>;

/// The protocol's configuration, one for every task, built once at start.
static CONFIG: StaticCell<Config> = StaticCell::new();
/// Each echo task's session storage: what chatecho-core works in.
static SESSION_BUFFERS: ConstStaticCell<[OwnedBuffers<SESSION_INPUT, SESSION_OUTPUT>; ECHO_TASKS]> =
    ConstStaticCell::new([const { OwnedBuffers::owned() }; ECHO_TASKS]);
/// Each echo task's socket buffers.
static SOCKET_BUFFERS: ConstStaticCell<[SocketBuffers<SOCKET_RX, SOCKET_TX>; ECHO_TASKS]> =
    ConstStaticCell::new([const { SocketBuffers::new() }; ECHO_TASKS]);
/// Raised for every echo task when the board loses its address.
static ADDRESS_LOST: [Signal<CriticalSectionRawMutex, ()>; ECHO_TASKS] =
    [const { Signal::new() }; ECHO_TASKS];

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    let pins = W5500Pins {
        miso: p.PIN_16,
        chip_select: p.PIN_17,
        sclk: p.PIN_18,
        mosi: p.PIN_19,
        reset: p.PIN_20,
        interrupt: p.PIN_21,
    };
    let mac = mac_address(&mut Flash::new_blocking(p.FLASH));
    info!(
        "chatecho on a W5500-EVB-Pico, MAC address {=u8:02x}:{=u8:02x}:{=u8:02x}:{=u8:02x}:{=u8:02x}:{=u8:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );

    let mut spi_config = spi::Config::default();
    spi_config.frequency = SPI_FREQUENCY;
    // SPI mode 0: SCLK idle low, data sampled on its first (rising) edge.
    spi_config.phase = spi::Phase::CaptureOnFirstTransition;
    spi_config.polarity = spi::Polarity::IdleLow;
    let bus = Spi::new(
        p.SPI0, pins.sclk, pins.mosi, pins.miso, p.DMA_CH0, p.DMA_CH1, Irqs, spi_config,
    );
    let chip_select = Output::new(pins.chip_select, Level::High);
    let spi = unwrap!(ExclusiveDevice::new(bus, chip_select, Delay));
    let interrupt = Input::new(pins.interrupt, Pull::Up);
    let reset = Output::new(pins.reset, Level::High);

    // The driver resets the W5500 and checks that it answers over SPI before it returns.
    static ETHERNET: StaticCell<embassy_net_wiznet::State<8, 8>> = StaticCell::new();
    let ethernet = ETHERNET.init(embassy_net_wiznet::State::new());
    let (device, runner) = match embassy_net_wiznet::new(mac, ethernet, spi, interrupt, reset).await
    {
        Ok(driver) => driver,
        Err(e) => defmt::panic!("the W5500 does not answer on SPI0: {}", e),
    };
    spawner.spawn(unwrap!(ethernet_task(runner)));

    let mut dhcp = embassy_net::DhcpConfig::default();
    dhcp.hostname = Some(unwrap!(HOSTNAME.try_into()));
    // The DHCP client and each echo task hold one socket.
    static RESOURCES: StaticCell<StackResources<{ ECHO_TASKS + 1 }>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(dhcp),
        RESOURCES.init(StackResources::new()),
        RoscRng.next_u64(),
    );
    spawner.spawn(unwrap!(net_task(runner)));
    spawner.spawn(unwrap!(dhcp_task(stack)));

    let config: &'static Config = CONFIG.init(Config::default());
    let sessions = SESSION_BUFFERS.take().iter_mut();
    let sockets = SOCKET_BUFFERS.take().iter_mut();
    for (task, (session, socket)) in sessions.zip(sockets).enumerate() {
        spawner.spawn(unwrap!(echo_task(task, stack, config, session, socket)));
    }
    info!(
        "{} echo tasks on port {}; waiting for the link and an address from DHCP",
        ECHO_TASKS, PORT
    );
}

/// A MAC address of our own: locally administered (no vendor's), from the flash chip's
/// 64-bit unique ID, so that two boards on one network differ.
fn mac_address(flash: &mut Flash<'_, FLASH, Blocking, FLASH_SIZE>) -> [u8; 6] {
    let mut id = [0u8; 8];
    unwrap!(flash.blocking_unique_id(&mut id));
    // First byte: bit 1 set (locally administered), bit 0 clear (unicast).
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in id.iter().enumerate() {
        mac[1 + i % 5] ^= byte;
    }
    mac
}

#[embassy_executor::task]
async fn ethernet_task(runner: EthernetRunner) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn net_task(
    mut runner: embassy_net::Runner<'static, embassy_net_wiznet::Device<'static>>,
) -> ! {
    runner.run().await
}

/// Logs each address DHCP gives, and tells the echo tasks when it is lost: the link went down
/// or the lease ended, and embassy-net has dropped the address.
#[embassy_executor::task]
async fn dhcp_task(stack: Stack<'static>) -> ! {
    loop {
        stack.wait_config_up().await;
        if let Some(ip) = stack.config_v4() {
            info!(
                "DHCP: address {}; try: telnet {} {}",
                ip.address,
                ip.address.address(),
                PORT
            );
        }
        stack.wait_config_down().await;
        warn!("DHCP: address lost (link down or lease ended); open connections are shut down");
        for lost in &ADDRESS_LOST {
            lost.signal(());
        }
    }
}

/// One echo task: serves connections on [`PORT`] one at a time, for ever, in its own memory.
#[embassy_executor::task(pool_size = ECHO_TASKS)]
async fn echo_task(
    task: usize,
    stack: Stack<'static>,
    config: &'static Config,
    storage: &'static mut OwnedBuffers<SESSION_INPUT, SESSION_OUTPUT>,
    socket: &'static mut SocketBuffers<SOCKET_RX, SOCKET_TX>,
) {
    let storage = Buffers::borrowed(&mut storage.input, &mut storage.output);
    let mut session = match Session::new(config, storage) {
        Ok(session) => session,
        Err(e) => {
            error!(
                "echo task {}: the session storage does not fit the configuration: {}",
                task, e
            );
            return;
        }
    };
    let lost = &ADDRESS_LOST[task];
    // A conversation stops when the address is lost during it, not before it began.
    let stop = || {
        lost.reset();
        lost.wait()
    };
    let listen = Listen::on_port(PORT);
    let error = serve_connections(
        stack,
        &listen,
        socket,
        &mut session,
        stop,
        &mut Log { task },
    )
    .await;
    error!(
        "echo task {}: cannot listen on port {}: {}",
        task, PORT, error
    );
}

/// The echo tasks' [`Events`]: a defmt line when a peer connects and one when it is gone.
struct Log {
    task: usize,
}

impl Events for Log {
    fn accepted(&mut self, remote: Option<IpEndpoint>) {
        info!("echo task {}: {} connected", self.task, Peer(remote));
    }

    fn closed(&mut self, connection: &Connection) {
        let Connection {
            remote,
            end,
            stats,
            close,
        } = connection;
        let how = match close {
            Close::Graceful => "closed",
            Close::Reset => "reset",
        };
        match end {
            Ok(reason) => info!(
                "echo task {}: {} {} after {}: {} lines answered, {} bytes in, {} bytes out",
                self.task,
                Peer(*remote),
                how,
                reason_words(*reason),
                stats.lines_echoed + stats.lines_too_long,
                stats.bytes_in,
                stats.bytes_out
            ),
            Err(error) => warn!(
                "echo task {}: {} {} on {}: {} lines answered, {} bytes in, {} bytes out",
                self.task,
                Peer(*remote),
                how,
                error,
                stats.lines_echoed + stats.lines_too_long,
                stats.bytes_in,
                stats.bytes_out
            ),
        }
    }
}

/// A peer in the log: `192.168.1.5:51234`, or `a peer already gone` when the connection was
/// reset before its address could be read.
struct Peer(Option<IpEndpoint>);

impl defmt::Format for Peer {
    fn format(&self, f: defmt::Formatter) {
        match self.0 {
            Some(endpoint) => defmt::write!(f, "{}", endpoint),
            None => defmt::write!(f, "a peer already gone"),
        }
    }
}

/// The words chatecho-server's log uses for each end.
fn reason_words(reason: EndReason) -> &'static str {
    match reason {
        EndReason::QuitLine => "quit line",
        EndReason::InputEnded => "end of input",
        EndReason::Shutdown => "shutdown",
    }
}
