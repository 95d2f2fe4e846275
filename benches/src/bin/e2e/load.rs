//! The load generator: a raw, minimal WebSocket client, the same for every
//! server. Each connection sends one masked binary message, reads its echo
//! (checking the header, the length and the bytes), and only then sends
//! the next: exactly one message in flight per connection.
//!
//! Without compression the frame is built once (fixed mask key) and the
//! echo parsed by hand. With permessage-deflate (`deflate`), the frames
//! are compressed once at start-up by protoswitch's core client (each
//! message on its own, so repeating one never refers to an earlier one),
//! and the server's compressed echoes are inflated by a core client
//! `Connection` with the server's context kept, as a browser would.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use protoswitch::upgrade::{DeflateConfig, DeflateParams};
use protoswitch::ws::{Config, Connection, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One workload: `conns` connections echoing `size`-byte messages.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub conns: usize,
    pub size: usize,
    /// Offer permessage-deflate and send compressed frames.
    pub deflate: bool,
}

/// What a measurement saw.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Echoes received (and checked) per second in the measured window.
    pub msgs_per_s: f64,
    /// The server's CPU time over the window, as a share of the window
    /// (1.0 = its core was busy all the time).
    pub server_cpu: f64,
    /// The server's time in user space (its own code, not the kernel's),
    /// same unit.
    pub server_user: f64,
    /// The same as `server_cpu` for the load generator (this process).
    pub load_cpu: f64,
}

/// The RFC 6455 sample nonce and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Distinct messages per compressed workload (cycled).
const DISTINCT: usize = 16;

/// The bytes every connection sends, and the echoes it expects.
struct Script {
    frames: Vec<Vec<u8>>,
    payloads: Vec<Vec<u8>>,
    deflate: bool,
}

impl Script {
    fn new(load: &Load) -> Script {
        if load.deflate {
            let payloads: Vec<Vec<u8>> = (0..DISTINCT as u32)
                .map(|i| json_like(load.size, i))
                .collect();
            let frames = payloads
                .iter()
                .map(|p| {
                    // A fresh compressor per message: no back-reference
                    // to an earlier message, so any order is valid.
                    let mut c = client(MASK).with_deflate(&deflate_config(), DeflateParams::new());
                    let mut out = vec![0u8; 2 * p.len() + 64];
                    let n = c.send_binary(p, &mut out).expect("compress");
                    out.truncate(n);
                    out
                })
                .collect();
            Script {
                frames,
                payloads,
                deflate: true,
            }
        } else {
            let payload: Vec<u8> = (0..load.size)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
                .collect();
            Script {
                frames: vec![masked_frame(&payload)],
                payloads: vec![payload],
                deflate: false,
            }
        }
    }
}

fn deflate_config() -> DeflateConfig {
    DeflateConfig::new().window_bits(15).memory_level(8)
}

fn client(mask: [u8; 4]) -> Connection<impl FnMut() -> [u8; 4]> {
    Connection::client(Config::default(), protoswitch::Instant::ZERO, move || mask)
}

/// A FIN binary frame carrying `payload`, masked with [`MASK`].
fn masked_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x82];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

/// `size` bytes of JSON-like text (field names repeat, numbers vary):
/// compressible about as much as real JSON messages.
fn json_like(size: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut s = String::from("{");
    let fields = ["price", "qty", "side", "ts", "id", "venue"];
    let mut i = 0;
    while s.len() < size {
        let f = fields[i % fields.len()];
        s.push_str(&format!(
            "\"{f}{}\":{},",
            i / fields.len(),
            next() % 100_000
        ));
        i += 1;
    }
    let mut b = s.into_bytes();
    b.truncate(size.saturating_sub(1));
    b.push(b'}');
    b.truncate(size);
    b
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Connects and upgrades; returns the stream and the bytes read past the
/// 101.
async fn handshake(port: u16, deflate: bool) -> io::Result<(TcpStream, Vec<u8>)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let extensions = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n{extensions}\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > 16 * 1024 || tcp.read_buf(&mut buf).await? == 0 {
            return Err(invalid("no 101 head"));
        }
    };
    let head = buf[..end].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if !head.starts_with(b"http/1.1 101") || !buf[..end].windows(28).any(|w| w == ACCEPT) {
        return Err(invalid(String::from_utf8_lossy(&buf[..end]).into_owned()));
    }
    if has(b"permessage-deflate") != deflate {
        return Err(invalid("permessage-deflate not as offered"));
    }
    Ok((tcp, buf[end..].to_vec()))
}

/// Header length and payload length of an unmasked FIN binary frame at
/// the start of `buf`, once the header is complete.
fn header(buf: &[u8]) -> io::Result<Option<(usize, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] != 0x82 || buf[1] & 0x80 != 0 {
        return Err(invalid(format!(
            "unexpected frame {:02x} {:02x}",
            buf[0], buf[1]
        )));
    }
    Ok(match buf[1] & 0x7f {
        126 if buf.len() >= 4 => Some((4, u16::from_be_bytes([buf[2], buf[3]]) as usize)),
        127 if buf.len() >= 10 => {
            let n = u64::from_be_bytes(buf[2..10].try_into().unwrap());
            Some((10, n as usize))
        }
        126 | 127 => None,
        n => Some((2, n as usize)),
    })
}

#[derive(Default)]
struct Counters {
    messages: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
}

/// One connection's loop, without compression.
async fn echo_plain(
    mut tcp: TcpStream,
    mut buf: Vec<u8>,
    script: Rc<Script>,
    counters: Rc<Counters>,
) -> io::Result<()> {
    let (frame, expected) = (&script.frames[0], &script.payloads[0]);
    let mut filled = buf.len();
    buf.resize(filled.max(expected.len() + 14 + 1024), 0);
    loop {
        tcp.write_all(frame).await?;
        loop {
            if let Some((h, n)) = header(&buf[..filled])?
                && filled >= h + n
            {
                if buf[h..h + n] != expected[..] {
                    return Err(invalid("echo differs"));
                }
                buf.copy_within(h + n..filled, 0);
                filled -= h + n;
                break;
            }
            let got = tcp.read(&mut buf[filled..]).await?;
            if got == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += got;
        }
        counters.messages.set(counters.messages.get() + 1);
    }
}

/// One connection's loop with permessage-deflate: compressed frames out,
/// echoes inflated by a core client and compared.
async fn echo_deflate(
    mut tcp: TcpStream,
    mut buf: Vec<u8>,
    script: Rc<Script>,
    counters: Rc<Counters>,
) -> io::Result<()> {
    let mut conn = client(MASK).with_deflate(&deflate_config(), DeflateParams::new());
    let mut out = vec![0u8; 16 * 1024];
    let mut filled = buf.len();
    buf.resize(filled.max(2 * script.payloads[0].len() + 1024), 0);
    let mut i = 0;
    loop {
        tcp.write_all(&script.frames[i]).await?;
        let expected = &script.payloads[i];
        let mut pos = 0;
        let mut done = false;
        loop {
            let mut start = 0;
            loop {
                let got = conn
                    .receive_into(
                        &mut buf[start..filled],
                        &mut out,
                        protoswitch::Instant::ZERO,
                    )
                    .map_err(|e| invalid(e.to_string()))?;
                start += got.consumed;
                match got.event {
                    Some(Event::Data(chunk)) => {
                        let p = chunk.payload;
                        if expected.get(pos..pos + p.len()) != Some(p) {
                            return Err(invalid("inflated echo differs"));
                        }
                        pos += p.len();
                        if chunk.message_end {
                            if pos != expected.len() {
                                return Err(invalid("inflated echo too short"));
                            }
                            done = true;
                        }
                    }
                    Some(Event::Close { .. }) => return Err(invalid("server closed")),
                    Some(_) => {}
                    None => break,
                }
            }
            buf.copy_within(start..filled, 0);
            filled -= start;
            if done {
                break;
            }
            if filled == buf.len() {
                buf.resize(2 * buf.len(), 0);
            }
            let got = tcp.read(&mut buf[filled..]).await?;
            if got == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += got;
        }
        i = (i + 1) % script.frames.len();
        counters.messages.set(counters.messages.get() + 1);
    }
}

/// CPU time (user + system, and user alone) of process `pid`, in clock
/// ticks.
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let user = fields.get(11)?.parse::<u64>().ok()?;
    Some((user + fields.get(12)?.parse::<u64>().ok()?, user))
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Runs `load` against the server on `port` (process `pid`): all
/// connections upgraded first, then echoing; `warmup`, then the measured
/// `duration`. Every connection is dropped at the end.
pub fn run(
    port: u16,
    pid: u32,
    load: &Load,
    warmup: Duration,
    duration: Duration,
) -> Result<Measured, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let script = Rc::new(Script::new(load));
    let counters = Rc::new(Counters::default());
    local.block_on(&rt, async {
        let mut streams = Vec::with_capacity(load.conns);
        for c in 0..load.conns {
            let s = handshake(port, script.deflate)
                .await
                .map_err(|e| format!("connection {c}: handshake: {e}"))?;
            streams.push(s);
        }
        for (tcp, leftover) in streams {
            let (script, counters) = (script.clone(), counters.clone());
            tokio::task::spawn_local(async move {
                let deflate = script.deflate;
                let c = counters.clone();
                let r = if deflate {
                    echo_deflate(tcp, leftover, script, counters).await
                } else {
                    echo_plain(tcp, leftover, script, counters).await
                };
                if let Err(e) = r {
                    c.errors.set(c.errors.get() + 1);
                    c.first_error.borrow_mut().get_or_insert(e.to_string());
                }
            });
        }
        tokio::time::sleep(warmup).await;
        let me = std::process::id();
        let (m0, t0) = (counters.messages.get(), Instant::now());
        let (cpu0, own0) = (cpu_ticks(pid), cpu_ticks(me));
        tokio::time::sleep(duration).await;
        let (m1, t1) = (counters.messages.get(), Instant::now());
        let (cpu1, own1) = (cpu_ticks(pid), cpu_ticks(me));
        if counters.errors.get() > 0 {
            return Err(format!(
                "{} connections failed, first: {}",
                counters.errors.get(),
                counters.first_error.borrow().as_deref().unwrap_or("?")
            ));
        }
        let secs = (t1 - t0).as_secs_f64();
        let share = |a: Option<(u64, u64)>, b: Option<(u64, u64)>, user: bool| match (a, b) {
            (Some(a), Some(b)) if user => (b.1 - a.1) as f64 / ticks_per_second() / secs,
            (Some(a), Some(b)) => (b.0 - a.0) as f64 / ticks_per_second() / secs,
            _ => f64::NAN,
        };
        Ok(Measured {
            msgs_per_s: (m1 - m0) as f64 / secs,
            server_cpu: share(cpu0, cpu1, false),
            server_user: share(cpu0, cpu1, true),
            load_cpu: share(own0, own1, false),
        })
    })
}
