//! Flash-size probe (issue 9): a Cortex-M4F firmware that answers a
//! WebSocket opening handshake and then echoes every message, with
//! `protoswitch` as its only protocol code.
//!
//! It is not meant to run on a particular board. Its transport is a made-up
//! UART whose registers are read and written with volatile accesses, so the
//! compiler cannot see through them and keeps every path of the protocol
//! code: what `.ci/firmware.sh` measures is what a real firmware would carry.
//!
//! ```text
//! cd firmware && cargo build --release     # thumbv7em-none-eabihf, see .cargo/config.toml
//! ```
//!
//! Layout: `hw` is the fake peripheral, `app` holds every `protoswitch` call
//! (kept together because the handshake API is still changing), `main`
//! loops over connections.

#![no_std]
#![no_main]

use core::panic::PanicInfo;

use cortex_m_rt::entry;

/// The made-up peripheral: a byte-wide UART and a millisecond counter.
mod hw {
    use core::ptr::{read_volatile, write_volatile};
    use core::sync::atomic::{AtomicU32, Ordering};

    /// Data register: a read takes a received byte, a write sends one.
    const UART_DATA: *mut u32 = 0x4000_0000 as *mut u32;
    /// Status register, bits below.
    const UART_STATUS: *const u32 = 0x4000_0004 as *const u32;
    /// Control register: writing `CTRL_HANG_UP` ends the connection.
    const UART_CTRL: *mut u32 = 0x4000_0008 as *mut u32;
    /// Free-running millisecond counter.
    const TIMER_MS: *const u32 = 0x4000_1000 as *const u32;

    const RX_READY: u32 = 1 << 0;
    const TX_READY: u32 = 1 << 1;
    const LINK_DOWN: u32 = 1 << 2;
    const CTRL_HANG_UP: u32 = 1;

    fn status() -> u32 {
        // SAFETY: a register of the (fictional) peripheral, always mapped.
        unsafe { read_volatile(UART_STATUS) }
    }

    /// Copies the bytes waiting in the UART into `buf` (possibly none);
    /// `None` when the peer hung up and nothing is left.
    pub fn read(buf: &mut [u8]) -> Option<usize> {
        let mut n = 0;
        while n < buf.len() && status() & RX_READY != 0 {
            // SAFETY: as in `status`.
            buf[n] = unsafe { read_volatile(UART_DATA) } as u8;
            n += 1;
        }
        if n == 0 && status() & LINK_DOWN != 0 {
            return None;
        }
        Some(n)
    }

    /// Sends all of `bytes`, waiting for the transmitter. One copy of the
    /// loop for the driver's five callers.
    #[inline(never)]
    pub fn write(bytes: &[u8]) {
        for &b in bytes {
            while status() & TX_READY == 0 {}
            // SAFETY: as in `status`.
            unsafe { write_volatile(UART_DATA, u32::from(b)) };
        }
    }

    /// Ends the connection (the peripheral then waits for the next one).
    pub fn hang_up() {
        // SAFETY: as in `status`.
        unsafe { write_volatile(UART_CTRL, CTRL_HANG_UP) };
    }

    /// The counter's wraps so far and its last reading: it is 32 bits
    /// wide and wraps after about 49.7 days, when the crate's timers must
    /// not see time run backwards.
    static WRAPS: AtomicU32 = AtomicU32::new(0);
    static LAST: AtomicU32 = AtomicU32::new(0);

    /// Milliseconds since boot, extended past 32 bits: a reading below the
    /// last one is a wrap (the loop reads the counter far more often than
    /// once per wrap). One thread of execution: plain loads and stores.
    /// 12 bits of wraps (557 years) keep the crate's conversion to
    /// nanoseconds free of an overflow check (184 B of flash with 32 bits).
    pub fn millis() -> u64 {
        // SAFETY: as in `status`.
        let low = unsafe { read_volatile(TIMER_MS) };
        let mut wraps = WRAPS.load(Ordering::Relaxed);
        if low < LAST.load(Ordering::Relaxed) {
            wraps = (wraps + 1).min(0xFFF);
            WRAPS.store(wraps, Ordering::Relaxed);
        }
        LAST.store(low, Ordering::Relaxed);
        (u64::from(wraps & 0xFFF) << 32) | u64::from(low)
    }
}

/// Everything that calls `protoswitch`, marked `API:`.
mod app {
    use protoswitch::Instant;
    use protoswitch::upgrade::{Accept, Response, ServerEvent, ServerHandshake};
    use protoswitch::ws::{Config, Connection, Event, MAX_HEADER_LEN, MessageKind};

    use crate::hw;

    /// Receive buffer: a request head, then frames (at least
    /// `ws::MIN_RECEIVE_BUFFER`).
    pub const RX_LEN: usize = 1024;
    /// Transmit buffer: a whole received message echoed in one frame fits.
    pub const TX_LEN: usize = RX_LEN + MAX_HEADER_LEN;

    fn now() -> Instant {
        Instant::from_millis(hw::millis())
    }

    /// One connection: the opening handshake, then the echo loop until the
    /// connection closes.
    pub fn serve(rx: &mut [u8; RX_LEN], tx: &mut [u8; TX_LEN]) {
        let Some((server, filled)) = handshake(rx, tx) else {
            return;
        };
        // API: a 101 turns into the connection; a 426 is an error here.
        if let Ok(conn) = Connection::from_server_handshake(server, Config::default(), now()) {
            echo(conn, rx, filled, tx);
        }
    }

    /// Reads a request and answers it: 101 to a WebSocket offer, 426 to
    /// anything else, the error's response to a bad request. Returns the
    /// machine that answered and how many bytes of `rx` (the first
    /// frames, after a 101) are left.
    fn handshake(rx: &mut [u8], tx: &mut [u8]) -> Option<(ServerHandshake, usize)> {
        // API: the machine and its (default) limits.
        let mut server = ServerHandshake::new(Default::default());
        let mut filled = 0;
        loop {
            // API: feed everything buffered; a prefix is consumed.
            let got = match server.receive(&rx[..filled]) {
                Ok(got) => got,
                Err(_) => {
                    // API: the error response (400, 431, ...) is queued.
                    loop {
                        let n = server.poll_transmit(tx);
                        if n == 0 {
                            return None;
                        }
                        hw::write(&tx[..n]);
                    }
                }
            };
            let consumed = got.consumed;
            let answer = match got.event {
                None => None,
                // API: the decision, while the request still borrows `rx`.
                Some(ServerEvent::Request(request)) => Some(match request.websocket() {
                    Ok(Some(_)) => match request.switch(&Accept::new("websocket")) {
                        Ok(switch) => server.accept(&switch, tx),
                        Err(e) => Err(e.into()),
                    },
                    Ok(None) => server.respond(&Response::upgrade_required(&["websocket"]), tx),
                    Err(e) => server.respond(&Response::for_error(&e), tx),
                }),
                // A body: not a WebSocket handshake.
                Some(_) => return None,
            };
            drop_front(rx, consumed, filled);
            filled -= consumed;
            match answer {
                Some(Ok(n)) => {
                    hw::write(&tx[..n]);
                    break;
                }
                Some(Err(_)) => return None,
                None => match hw::read(&mut rx[filled..]) {
                    Some(n) => filled += n,
                    None => {
                        // API: end of stream before a complete request.
                        let _ = server.receive_eof();
                        return None;
                    }
                },
            }
        }
        Some((server, filled))
    }

    /// Drops the `consumed` bytes at the front of `buf[..filled]`, moving
    /// the rest to the start. Forward copies of at most `consumed` bytes
    /// each never overlap, so this takes `memcpy` (linked anyway) rather
    /// than `copy_within`'s `memmove` (1.5 KiB of flash on its own).
    fn drop_front(buf: &mut [u8], consumed: usize, filled: usize) {
        if consumed == 0 {
            return;
        }
        let mut to = 0;
        while to + consumed < filled {
            let n = consumed.min(filled - to - consumed);
            let (front, back) = buf.split_at_mut(to + consumed);
            front[to..to + n].copy_from_slice(&back[..n]);
            to += n;
        }
    }

    /// Echoes every data frame back (a whole binary message with
    /// `send_binary`, anything else chunk by chunk with `send_header` and the
    /// payload). Pongs and the Close echo come out of `poll_transmit`.
    fn echo(mut conn: Connection, rx: &mut [u8], mut filled: usize, tx: &mut [u8]) {
        // Inside a message whose first chunk was already echoed.
        let mut mid_message = false;
        loop {
            // Owed control frames first: Pong, Close echo, failing Close.
            loop {
                let n = conn.poll_transmit(tx);
                if n == 0 {
                    break;
                }
                hw::write(&tx[..n]);
            }
            if conn.should_close_transport() {
                return;
            }
            let now = now();
            if conn.poll_timeout().is_some_and(|t| now >= t) {
                conn.handle_timeout(now);
                continue;
            }
            let got = match conn.receive(&mut rx[..filled], now) {
                Ok(got) => got,
                // A Close with the error's code is queued; the next turn
                // sends it and hangs up.
                Err(_) => continue,
            };
            let consumed = got.consumed;
            let need_more = match got.event {
                None => true,
                Some(Event::Data(chunk)) => {
                    let whole = !mid_message && chunk.message_end;
                    let sent = if whole && chunk.kind == MessageKind::Binary {
                        conn.send_binary(chunk.payload, tx)
                            .map(|n| hw::write(&tx[..n]))
                    } else {
                        let len = chunk.payload.len() as u64;
                        conn.send_header(chunk.kind, len, chunk.message_end, tx)
                            .map(|(n, _mask)| {
                                hw::write(&tx[..n]);
                                hw::write(chunk.payload);
                            })
                    };
                    if sent.is_err() {
                        return;
                    }
                    mid_message = !chunk.message_end;
                    false
                }
                // auto_pong (the default) queued the Pong; the peer's Close
                // queued our echo.
                Some(_) => false,
            };
            drop_front(rx, consumed, filled);
            filled -= consumed;
            if need_more {
                match hw::read(&mut rx[filled..]) {
                    Some(n) => filled += n,
                    None => {
                        // Closed now; a peer error unless its Close came.
                        let _ = conn.receive_eof();
                    }
                }
            }
        }
    }
}

#[entry]
fn main() -> ! {
    // Static buffers (`#[entry]` makes these `&'static mut`): zeroed with
    // the rest of .bss at reset, not on the stack by code of their own.
    static mut RX: [u8; app::RX_LEN] = [0; app::RX_LEN];
    static mut TX: [u8; app::TX_LEN] = [0; app::TX_LEN];
    loop {
        app::serve(RX, TX);
        hw::hang_up();
    }
}

/// `panic = "abort"`: the crate never panics on input, so a panic is a bug;
/// stop here (a real firmware would reset).
#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
