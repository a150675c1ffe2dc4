//! The board: everything that touches QEMU's `virt` hardware, and the only module of the
//! firmware with `unsafe` (each block says why it is sound in a `// SAFETY:` comment). Above
//! it, the firmware is safe code: it sees a NIC that hands out received frames and takes
//! frames to send, a clock, a way to sleep until something happens, a console and an exit.
//!
//! | device                  | where (QEMU `virt` memory map)                    | used for |
//! |-------------------------|---------------------------------------------------|----------|
//! | virtio-mmio slots       | 8 windows of 0x1000 from 0x1000_1000, IRQ 1 to 8  | the NIC  |
//! | CLINT                   | `mtimecmp` at 0x0200_4000 (the `time` CSR reads `mtime`) | time, wake-ups |
//! | PLIC                    | 0x0c00_0000, context 0 (hart 0, machine mode)     | the NIC's interrupt wakes the CPU |
//! | NS16550A UART           | 0x1000_0000                                       | console  |
//! | sifive_test             | 0x0010_0000                                       | exit QEMU with a status |
//!
//! On a real board these addresses come from its reference manual, and the NIC is whatever
//! its Ethernet MAC is; the shape of this module stays: DMA memory the driver may use, the
//! driver's buffers handed out as safe slices, a clock, a sleep.

use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};
use static_cell::ConstStaticCell;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

// ---------------------------------------------------------------------------------------------
// Time

/// The `time` CSR's rate on QEMU's `virt` board (its device tree's `timebase-frequency`).
pub const TICKS_PER_SECOND: u64 = 10_000_000;

/// Ticks of the `time` CSR since reset. Read as 64 bits (high, low, high again until the high
/// word holds still), so it does not wrap: at 10 MHz a 32-bit count would after 7 minutes.
pub fn now() -> u64 {
    riscv::register::time::read64()
}

/// The CLINT's `mtimecmp` register of hart 0: the machine timer interrupt is pending while
/// `mtime >= mtimecmp`.
const MTIMECMP: usize = 0x0200_4000;

/// Sleeps until `deadline` (in [`now`]'s ticks) or until the NIC has news, whichever comes
/// first. The interrupts only wake the CPU from `wfi`: they are enabled in `mie` but not
/// globally (`mstatus.MIE` stays clear), so no handler runs and nothing is ever interrupted.
pub fn sleep_until(deadline: u64, nic: &mut Nic) {
    let (high, low) = ((deadline >> 32) as u32, deadline as u32);
    let mtimecmp = MTIMECMP as *mut u32;
    // SAFETY: `mtimecmp` is the CLINT's timer compare register of hart 0, memory-mapped at this
    // address on the virt board; nothing else in the program writes it. Writing the low word
    // to all ones first keeps the 64-bit value from passing through a smaller one (and a
    // spurious wake-up) while the two halves are written.
    unsafe {
        ptr::write_volatile(mtimecmp, u32::MAX);
        ptr::write_volatile(mtimecmp.add(1), high);
        ptr::write_volatile(mtimecmp, low);
    }
    // A frame that arrived since the last poll has left its interrupt pending: then `wfi`
    // returns at once, so nothing is missed between the poll and the sleep.
    riscv::asm::wfi();
    nic.acknowledge_interrupt();
}

/// Lets the machine timer and the PLIC's external interrupt wake the CPU from `wfi`.
fn enable_wake_ups(nic_irq: usize) {
    // SAFETY: the PLIC's registers at their virt-board addresses: the NIC's source gets
    // priority 1, is enabled for context 0 (hart 0, machine mode), whose threshold is 0. No
    // other code touches the PLIC.
    unsafe {
        ptr::write_volatile((PLIC + 4 * nic_irq) as *mut u32, 1);
        let enable = (PLIC + PLIC_ENABLE + 4 * (nic_irq / 32)) as *mut u32;
        ptr::write_volatile(enable, 1 << (nic_irq % 32));
        ptr::write_volatile((PLIC + PLIC_CONTEXT) as *mut u32, 0);
    }
    // SAFETY: `mstatus.MIE` is clear (riscv-rt leaves it so and nothing sets it), so enabling
    // these sources lets them end a `wfi` but never takes a trap.
    unsafe {
        riscv::register::mie::set_mtimer();
        riscv::register::mie::set_mext();
    }
}

/// The PLIC: priorities from its base, enable bits of context 0, then its threshold and
/// claim/complete registers.
const PLIC: usize = 0x0c00_0000;
const PLIC_ENABLE: usize = 0x2000;
const PLIC_CONTEXT: usize = 0x20_0000;

/// Claims and completes whatever the PLIC has pending for context 0, so that a level that has
/// dropped stops waking the CPU.
fn complete_external_interrupts() {
    let claim = (PLIC + PLIC_CONTEXT + 4) as *mut u32;
    loop {
        // SAFETY: context 0's claim/complete register; reading claims the highest pending
        // source, writing its number back completes it.
        let source = unsafe { ptr::read_volatile(claim) };
        if source == 0 {
            return;
        }
        // SAFETY: as above.
        unsafe { ptr::write_volatile(claim, source) };
    }
}

// ---------------------------------------------------------------------------------------------
// DMA memory

/// Pages the virtqueues need: each of the two queues (receive, transmit) takes one page for
/// its descriptors and available ring and one for its used ring, in either virtio-mmio mode.
const DMA_PAGES: usize = 4;

/// Page-aligned memory for DMA, in `.bss`.
#[repr(C, align(4096))]
struct Pages([[u8; PAGE_SIZE]; DMA_PAGES]);

static DMA_POOL: ConstStaticCell<Pages> = ConstStaticCell::new(Pages([[0; PAGE_SIZE]; DMA_PAGES]));
/// The pool's start, once taken, and the next page to hand out.
static DMA_BASE: AtomicUsize = AtomicUsize::new(0);
static DMA_NEXT: AtomicUsize = AtomicUsize::new(0);

/// virtio-drivers' view of the board's memory: DMA pages from the static pool, handed out
/// once each (the NIC lives as long as the firmware, so they never come back), and addresses
/// that are the same for the CPU and the device (no MMU, no IOMMU: `share` is the identity).
pub struct DmaPool;

// SAFETY: `dma_alloc` hands out page-aligned, zeroed pages of a static pool that nothing else
// uses, each at most once, so they alias nothing; the CPU and the device see memory at the
// same addresses, so `share` may return the buffer's own address and `unshare` has nothing to
// copy back.
unsafe impl Hal for DmaPool {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let start = DMA_NEXT.fetch_add(pages, Ordering::Relaxed);
        let base = DMA_BASE.load(Ordering::Relaxed);
        match NonNull::new((base + start * PAGE_SIZE) as *mut u8) {
            Some(pointer) if base != 0 && start + pages <= DMA_PAGES => {
                (pointer.as_ptr() as PhysAddr, pointer)
            }
            // Out of pages: virtio-drivers reads physical address 0 as failure.
            _ => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // Only when the NIC is dropped, which the firmware never does.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only for the PCI transport; physical is virtual here anyway.
        NonNull::new(paddr as usize as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

// ---------------------------------------------------------------------------------------------
// The NIC

/// The virtio-mmio windows of the virt board: 8 slots, each a device or empty.
const VIRTIO_SLOTS: usize = 8;
const VIRTIO_BASE: usize = 0x1000_1000;
const VIRTIO_SIZE: usize = 0x1000;
/// The PLIC source of slot 0; slot `i` is `VIRTIO_IRQ + i`.
const VIRTIO_IRQ: usize = 1;

/// Descriptors per virtqueue.
const QUEUE_SIZE: usize = 16;
/// Receive buffers kept with the device, and transmit buffers.
const RX_BUFFERS: usize = 8;
const TX_BUFFERS: usize = 8;
/// One Ethernet frame (1514 bytes) behind the virtio-net header (10 or 12 bytes).
const BUFFER: usize = 1536;

/// An Ethernet frame's largest size without its FCS, as smoltcp counts the MTU of an Ethernet
/// device.
pub const FRAME: usize = 1514;

type Buffers<const N: usize> = [[u8; BUFFER]; N];
static RX_POOL: ConstStaticCell<Buffers<RX_BUFFERS>> =
    ConstStaticCell::new([[0; BUFFER]; RX_BUFFERS]);
static TX_POOL: ConstStaticCell<Buffers<TX_BUFFERS>> =
    ConstStaticCell::new([[0; BUFFER]; TX_BUFFERS]);

/// Why there is no NIC.
#[derive(Debug)]
pub enum NicError {
    /// No virtio-mmio slot holds a network device.
    NotFound,
    /// The device was found but would not start.
    Driver(virtio_drivers::Error),
    /// [`Nic::find`] was called twice: the buffers are already in use.
    AlreadyTaken,
}

impl fmt::Display for NicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no virtio-net device in any virtio-mmio slot"),
            Self::Driver(error) => write!(f, "the virtio-net device did not start: {error}"),
            Self::AlreadyTaken => f.write_str("the NIC was already taken"),
        }
    }
}

/// The virtio-net device, with the receive and transmit buffers it works in: the device fills
/// receive buffers on its own, so they stay with it until it says a frame is in one; a
/// transmit buffer stays with it until it says the frame went out.
pub struct Nic {
    raw: VirtIONetRaw<DmaPool, MmioTransport<'static>, QUEUE_SIZE>,
    irq: usize,
    version: u32,
    rx: &'static mut Buffers<RX_BUFFERS>,
    /// The device's token for each receive buffer it holds; `None` for one the firmware holds.
    rx_posted: [Option<u16>; RX_BUFFERS],
    tx: &'static mut Buffers<TX_BUFFERS>,
    /// The device's token and the frame's length for each transmit buffer it holds.
    tx_posted: [Option<(u16, usize)>; TX_BUFFERS],
}

impl Nic {
    /// Scans the virtio-mmio slots for a network device and starts the first one found, with
    /// every receive buffer given to it; its interrupt will wake [`sleep_until`].
    pub fn find() -> Result<Self, NicError> {
        let base = DMA_POOL.try_take().ok_or(NicError::AlreadyTaken)?;
        DMA_BASE.store(base.0.as_mut_ptr() as usize, Ordering::Relaxed);
        let (rx, tx) = match (RX_POOL.try_take(), TX_POOL.try_take()) {
            (Some(rx), Some(tx)) => (rx, tx),
            _ => return Err(NicError::AlreadyTaken),
        };
        for slot in 0..VIRTIO_SLOTS {
            let header = (VIRTIO_BASE + slot * VIRTIO_SIZE) as *mut VirtIOHeader;
            let Some(header) = NonNull::new(header) else {
                continue;
            };
            // SAFETY: each slot is a virtio-mmio register window of VIRTIO_SIZE bytes on the
            // virt board, aligned, valid for the whole run; an empty slot reads as device 0,
            // which `new` refuses. A slot that is not the NIC is dropped at once, and the NIC's
            // is owned by the one `Nic` from here on (`try_take` above makes it one).
            let transport = match unsafe { MmioTransport::new(header, VIRTIO_SIZE) } {
                Ok(transport) if transport.device_type() == DeviceType::Network => transport,
                _ => continue,
            };
            let version = u32::from(transport.version());
            let raw = VirtIONetRaw::new(transport).map_err(NicError::Driver)?;
            let mut nic = Self {
                raw,
                irq: VIRTIO_IRQ + slot,
                version,
                rx,
                rx_posted: [None; RX_BUFFERS],
                tx,
                tx_posted: [None; TX_BUFFERS],
            };
            for i in 0..RX_BUFFERS {
                nic.post_receive(i);
            }
            enable_wake_ups(nic.irq);
            return Ok(nic);
        }
        Err(NicError::NotFound)
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    /// The virtio-mmio version the device offers: 1 (legacy, QEMU's default) or 2 (modern,
    /// `-global virtio-mmio.force-legacy=false`).
    pub fn mmio_version(&self) -> u32 {
        self.version
    }

    /// Gives receive buffer `i` to the device.
    fn post_receive(&mut self, i: usize) {
        let Some(buffer) = self.rx.get_mut(i) else {
            return;
        };
        // SAFETY: buffer `i` is not with the device (`rx_posted[i]` is `None`, or this is the
        // start), and the firmware touches it again only after the device has returned it
        // (`receive` below, once `poll_receive` names its token).
        match unsafe { self.raw.receive_begin(buffer) } {
            Ok(token) => self.rx_posted[i] = Some(token),
            // The queue has a descriptor for every buffer, so this does not happen; if it
            // did, the buffer would stay with the firmware and the next call would retry.
            Err(_) => self.rx_posted[i] = None,
        }
    }

    /// The next frame the device received, if any, and a way to send a reply at once (what
    /// smoltcp's `Device::receive` hands out). Buffers handed out by earlier calls go back to
    /// the device first: their borrows have ended.
    pub fn receive(&mut self) -> Option<(&mut [u8], Transmitter<'_>)> {
        for i in 0..RX_BUFFERS {
            if self.rx_posted[i].is_none() {
                self.post_receive(i);
            }
        }
        let token = self.raw.poll_receive()?;
        let i = self.rx_posted.iter().position(|&t| t == Some(token))?;
        self.rx_posted[i] = None;
        let Self {
            raw,
            rx,
            tx,
            tx_posted,
            ..
        } = self;
        let buffer = rx.get_mut(i)?;
        // SAFETY: `buffer` is the one posted with `token`, and the device has returned it.
        let (header, length) = unsafe { raw.receive_complete(token, buffer) }.ok()?;
        let frame = buffer.get_mut(header..header + length)?;
        let transmitter = Transmitter::new(raw, tx, tx_posted)?;
        Some((frame, transmitter))
    }

    /// A free transmit buffer, if the device has returned one (what smoltcp's
    /// `Device::transmit` hands out).
    pub fn transmitter(&mut self) -> Option<Transmitter<'_>> {
        Transmitter::new(&mut self.raw, self.tx, &mut self.tx_posted)
    }

    /// Clears the device's interrupt and the PLIC's, after a wake-up.
    fn acknowledge_interrupt(&mut self) {
        self.raw.ack_interrupt();
        complete_external_interrupts();
    }
}

/// One transmit buffer, free to fill with a frame.
pub struct Transmitter<'a> {
    raw: &'a mut VirtIONetRaw<DmaPool, MmioTransport<'static>, QUEUE_SIZE>,
    buffer: &'a mut [u8; BUFFER],
    posted: &'a mut Option<(u16, usize)>,
}

impl<'a> Transmitter<'a> {
    /// Takes back the buffers the device is done with, then picks a free one.
    fn new(
        raw: &'a mut VirtIONetRaw<DmaPool, MmioTransport<'static>, QUEUE_SIZE>,
        tx: &'a mut Buffers<TX_BUFFERS>,
        tx_posted: &'a mut [Option<(u16, usize)>; TX_BUFFERS],
    ) -> Option<Self> {
        while let Some(token) = raw.poll_transmit() {
            let Some(i) = tx_posted
                .iter()
                .position(|p| matches!(p, Some((t, _)) if *t == token))
            else {
                break;
            };
            let Some((_, length)) = tx_posted[i].take() else {
                break;
            };
            // SAFETY: buffer `i`, with the same length, is the one posted with `token`, and
            // the device has returned it.
            let _ = unsafe { raw.transmit_complete(token, &tx[i][..length]) };
        }
        if !raw.can_send() {
            return None;
        }
        let i = tx_posted.iter().position(Option::is_none)?;
        let (buffer, posted) = (tx.get_mut(i)?, tx_posted.get_mut(i)?);
        Some(Self {
            raw,
            buffer,
            posted,
        })
    }

    /// Lets `fill` write a frame of `length` bytes (at most [`FRAME`]) and gives it to the
    /// device to send. A frame the device refuses is dropped, as a busy wire would.
    pub fn send<R>(self, length: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let header = self.raw.fill_buffer_header(self.buffer).unwrap_or(0);
        let end = (header + length).min(BUFFER);
        let result = fill(&mut self.buffer[header..end]);
        // SAFETY: the buffer is free (`posted` is `None`), and the firmware touches it again
        // only once the device has returned it (`Transmitter::new`, on `poll_transmit`).
        if let Ok(token) = unsafe { self.raw.transmit_begin(&self.buffer[..end]) } {
            *self.posted = Some((token, end));
        }
        result
    }
}

// ---------------------------------------------------------------------------------------------
// Console and exit

/// The UART's registers: receive/transmit holding register, line status register.
const UART: usize = 0x1000_0000;
const UART_LSR: usize = 5;
const LSR_DATA_READY: u8 = 1;
const LSR_TRANSMIT_EMPTY: u8 = 1 << 5;

/// The console: QEMU's serial port, which `-serial stdio` (or `-nographic`) joins to its own
/// standard input and output.
pub struct Console;

impl Console {
    /// The next byte typed, if one is waiting.
    pub fn read_byte(&mut self) -> Option<u8> {
        // SAFETY: the UART's line status and receive registers on the virt board; reading
        // them has no effect beyond taking the byte. Only `Console` touches the UART.
        unsafe {
            let ready = ptr::read_volatile((UART + UART_LSR) as *const u8) & LSR_DATA_READY != 0;
            ready.then(|| ptr::read_volatile(UART as *const u8))
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            // SAFETY: as in `read_byte`: wait until the transmit register is empty, then
            // write the byte to it.
            unsafe {
                while ptr::read_volatile((UART + UART_LSR) as *const u8) & LSR_TRANSMIT_EMPTY == 0 {
                }
                ptr::write_volatile(UART as *mut u8, byte);
            }
        }
        Ok(())
    }
}

/// The sifive_test device: writing to it ends QEMU.
const TEST_DEVICE: usize = 0x0010_0000;
const TEST_PASS: u32 = 0x5555;
const TEST_FAIL: u32 = 0x3333;

/// Ends QEMU: with exit status 0 for `Ok`, or with the code for `Err(code)` (1 to 0xffff).
pub fn exit(status: Result<(), u16>) -> ! {
    let value = match status {
        Ok(()) => TEST_PASS,
        Err(code) => (u32::from(code.max(1)) << 16) | TEST_FAIL,
    };
    // SAFETY: the sifive_test device's register on the virt board; QEMU stops on this write.
    unsafe { ptr::write_volatile(TEST_DEVICE as *mut u32, value) };
    // Not reached under QEMU; on a board without the device, stop here.
    loop {
        riscv::asm::wfi();
    }
}

/// A trap the firmware does not expect (an illegal instruction, a bad address): say which,
/// and exit QEMU with a failure instead of spinning, so that no test waits on a dead board.
// SAFETY: riscv-rt calls `ExceptionHandler` for every exception, with the trap frame it saved.
#[unsafe(export_name = "ExceptionHandler")]
fn exception_handler(_frame: &riscv_rt::TrapFrame) -> ! {
    let cause = riscv::register::mcause::read().bits();
    let pc = riscv::register::mepc::read();
    let _ = fmt::Write::write_fmt(
        &mut Console,
        format_args!("chatecho-virt: exception {cause} at {pc:#x}\n"),
    );
    exit(Err(3))
}

// ---------------------------------------------------------------------------------------------
// Stack

/// What free stack holds after [`paint_stack`]: a word no real frame is likely to hold.
const PAINT: u32 = 0x5A5A_A5A5;
/// Bytes below the stack pointer that [`paint_stack`] leaves alone: its own frame lies there.
const MARGIN: usize = 256;

unsafe extern "C" {
    /// The bottom of the stack region: where a stack growing down from the top of RAM would
    /// meet the static data (riscv-rt's linker script).
    static __estack: u32;
    /// The top of RAM, where the stack starts (riscv-rt's linker script).
    static __sstack: u32;
}

/// The stack pointer where it is called.
#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copies the stack pointer into a register; touches no memory.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Fills the free stack (from the bottom of the stack region up to just below the stack
/// pointer) with a pattern, so that [`peak_stack`] can later find how deep it went. Call it
/// first thing in `main`.
#[inline(never)]
pub fn paint_stack() {
    let bottom = ptr::addr_of!(__estack) as usize;
    let top = stack_pointer() - MARGIN;
    let mut word = (bottom + 3) & !3;
    while word + 4 <= top {
        // SAFETY: between the end of the static data and the stack pointer lies RAM that no
        // object occupies (no heap, and nothing runs but this): writing a word there disturbs
        // nothing.
        unsafe { ptr::write_volatile(word as *mut u32, PAINT) };
        word += 4;
    }
}

/// The deepest the stack has been since [`paint_stack`], in bytes from the top of RAM.
pub fn peak_stack() -> usize {
    let bottom = (ptr::addr_of!(__estack) as usize + 3) & !3;
    let top = ptr::addr_of!(__sstack) as usize;
    let mut word = bottom;
    // SAFETY: the same free RAM `paint_stack` wrote, below the live stack; reading it
    // disturbs nothing.
    while word < top && unsafe { ptr::read_volatile(word as *const u32) } == PAINT {
        word += 4;
    }
    top - word
}
