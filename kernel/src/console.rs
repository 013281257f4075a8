//! The serial console: COM1 through the `uart_16550` crate.
//!
//! Everything the kernel says goes here: QEMU connects COM1 to its standard
//! output (`-serial stdio`), which is how the test runner reads results.
//! Output is sent with interrupts disabled so that an interrupt handler that
//! prints cannot deadlock against the code it interrupted.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

use crate::arch::cpu::{local_irq_restore, local_irq_save};

/// COM1's I/O port base.
pub const COM1: u16 = 0x3f8;

static SERIAL: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Bytes written so far: the test harness uses it to see whether a test
/// printed anything while it ran.
static BYTES_WRITTEN: AtomicUsize = AtomicUsize::new(0);

/// How many bytes the console has written since boot.
pub fn bytes_written() -> usize {
    BYTES_WRITTEN.load(Ordering::Relaxed)
}

/// Program COM1 (115200 8N1, FIFOs on). Until this runs, output is dropped.
pub fn init() {
    // SAFETY: 0x3f8 is COM1 on every PC and on QEMU's `pc` machine.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1) }) else { return };
    if uart.init(uart_16550::Config::default()).is_ok() {
        *SERIAL.lock() = Some(uart);
    }
}

struct Writer<'a>(&'a mut Uart16550<PioBackend>);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // A terminal wants "\r\n"; QEMU's stdio backend passes bytes through.
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                self.0.send_bytes_exact(b"\r\n");
            }
            self.0.send_bytes_exact(line.as_bytes());
        }
        BYTES_WRITTEN.fetch_add(s.len(), Ordering::Relaxed);
        Ok(())
    }
}

/// Write formatted text to the console (used by `print!`).
pub fn write_fmt(args: fmt::Arguments) {
    let flags = local_irq_save();
    if let Some(uart) = SERIAL.lock().as_mut() {
        let _ = Writer(uart).write_fmt(args);
    }
    local_irq_restore(flags);
}

/// Write raw bytes (a user program's `write` to fd 1 or 2): any bytes, not
/// only UTF-8; "\n" becomes "\r\n" as for text.
pub fn write_bytes(bytes: &[u8]) {
    let flags = local_irq_save();
    if let Some(uart) = SERIAL.lock().as_mut() {
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                uart.send_bytes_exact(b"\r\n");
            }
            uart.send_bytes_exact(line);
        }
        BYTES_WRITTEN.fetch_add(bytes.len(), Ordering::Relaxed);
    }
    local_irq_restore(flags);
}

/// Write bytes exactly as given: a program's output after the terminal's
/// output processing (tty.rs: OPOST/ONLCR decide whether "\n" becomes
/// "\r\n"), and the terminal's echo.
pub fn write_raw(bytes: &[u8]) {
    let flags = local_irq_save();
    if let Some(uart) = SERIAL.lock().as_mut() {
        uart.send_bytes_exact(bytes);
        BYTES_WRITTEN.fetch_add(bytes.len(), Ordering::Relaxed);
    }
    local_irq_restore(flags);
}

/// Bytes received by the serial interrupt handler, not yet read.
static RX: spin::Mutex<RxRing> = spin::Mutex::new(RxRing { buf: [0; RX_LEN], head: 0, len: 0 });
const RX_LEN: usize = 1024;
/// The shell sleeps here until the serial interrupt brings a byte.
static RX_WAIT: crate::sched::wait::WaitQueue = crate::sched::wait::WaitQueue::new();
/// Serial receive interrupts taken.
pub static RX_INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

struct RxRing {
    buf: [u8; RX_LEN],
    head: usize,
    len: usize,
}

/// Ask COM1 to interrupt when a byte arrives (IRQ 4, routed by the I/O
/// APIC to [`serial_interrupt`]).
pub fn enable_rx_interrupt() {
    let flags = local_irq_save();
    if let Some(uart) = SERIAL.lock().as_mut() {
        uart.enable_interrupts(uart_16550::spec::registers::IER::DATA_READY);
    }
    local_irq_restore(flags);
}

/// IRQ 4: move every received byte into the ring (dropping the oldest when
/// it is full).
pub fn serial_interrupt() {
    RX_INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    let mut serial = SERIAL.lock();
    let Some(uart) = serial.as_mut() else { return };
    let mut rx = RX.lock();
    while let Ok(b) = uart.try_receive_byte() {
        let tail = (rx.head + rx.len) % RX_LEN;
        rx.buf[tail] = b;
        if rx.len == RX_LEN {
            rx.head = (rx.head + 1) % RX_LEN;
        } else {
            rx.len += 1;
        }
    }
    drop(rx);
    drop(serial);
    RX_WAIT.wake_up_all();
    // The terminal: cooks them now if a program is its foreground, and
    // wakes its readers and pollers.
    crate::tty::serial_rx();
}

/// Sleep until a byte has arrived, then return it.
pub fn read_byte_blocking() -> Option<u8> {
    RX_WAIT.wait_event(rx_pending);
    try_read_byte()
}

/// Whether the ring holds a byte. The ring's lock is taken with interrupts
/// off, as everywhere outside the handler: if the serial interrupt came in
/// on this CPU while we held it, [`serial_interrupt`] would spin on the
/// lock forever and the console would hang at the next keystroke.
pub fn rx_pending() -> bool {
    let flags = local_irq_save();
    let pending = RX.lock().len > 0;
    local_irq_restore(flags);
    pending
}

/// The next received byte, if any.
pub fn try_read_byte() -> Option<u8> {
    let flags = local_irq_save();
    let mut rx = RX.lock();
    let b = (rx.len > 0).then(|| {
        let b = rx.buf[rx.head];
        rx.head = (rx.head + 1) % RX_LEN;
        rx.len -= 1;
        b
    });
    drop(rx);
    local_irq_restore(flags);
    b
}

/// Feed `bytes` to our own receiver through the UART's loopback mode, so a
/// test can exercise the whole input path (UART -> I/O APIC -> handler)
/// without anyone typing. Console output is held off meanwhile, or it
/// would loop back too.
pub fn loopback_inject(bytes: &[u8]) {
    const MCR: u16 = COM1 + 4;
    const MCR_LOOP_OUT2: u8 = 0x10 | 0x08;
    let flags = local_irq_save();
    let mut serial = SERIAL.lock();
    if let Some(uart) = serial.as_mut() {
        // SAFETY: COM1's modem control register; we hold the console lock,
        // so nothing else is using the UART, and we restore it below.
        let old = unsafe { x86::io::inb(MCR) };
        // SAFETY: as above.
        unsafe { x86::io::outb(MCR, MCR_LOOP_OUT2 | (old & 0x03)) };
        uart.send_bytes_exact(bytes);
        // Let the last byte get through the (emulated) wire.
        while uart.lsr().bits() & 0x40 == 0 {}
        // SAFETY: as above.
        unsafe { x86::io::outb(MCR, old) };
    }
    drop(serial);
    local_irq_restore(flags);
}

/// The panic path may have interrupted someone who held the console lock
/// (a fault inside `print!`). Take it anyway: a garbled line beats silence.
pub fn force_unlock() {
    if SERIAL.is_locked() {
        // SAFETY: only called on the way to stopping the machine, when the
        // interrupted holder will never run again.
        unsafe { SERIAL.force_unlock() };
    }
}

/// Print to the serial console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Print a line to the serial console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
