//! Issue 10: permessage-deflate in protoswitch against the deflate
//! library's own raw throughput (`miniz_oxide`, which the crate uses), in
//! one process, on the same JSON-like messages.
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin deflate -- [--quick] [--rounds N] [--budget-ms MS] [FILTER...]
//! ```
//!
//! Workloads: a stream of distinct JSON messages (an order-update event of
//! about 300 B; a snapshot of orders of just under 64 KiB), compressed
//! with context takeover (so each message is compressed against the ones
//! before it), level 1, 15-bit windows:
//!
//! * `recv_*`: protoswitch's server `receive_into` over the masked client
//!   frames, read from memory in 64 KiB pieces, 16 KiB output buffer,
//!   against `miniz_oxide::inflate::stream::inflate` over the same raw
//!   DEFLATE data (each message's payload with `00 00 ff ff` appended,
//!   one slice per message), same output buffer;
//! * `send_*`: protoswitch's server `send_binary` (compressed, level 1)
//!   against `miniz_oxide::deflate::core::compress` with a sync flush per
//!   message, at level 1, with the output room the crate gives it.
//!
//! Extra rows (diagnostics, same rounds and rotation) isolate where the
//! crate's time goes: a client receiving the same messages in unmasked
//! server frames (no unmasking), the messages as text (UTF-8 checked),
//! the raw inflater fed each message as the crate feeds it (payload,
//! tail, then an empty call), the raw compressor with an output buffer large enough for
//! it to write in place (≥ 85,196 B), and a client sending (masking).
//!
//! Method (as `compare`): every implementation timed once per round in
//! an order rotated each round; a measurement runs the workload `reps`
//! times (the same for all, so a round takes about `--budget-ms`);
//! reported: median ns per message and MB/s of (uncompressed) payload,
//! and the median over rounds of the per-round ratio against the raw
//! library (lower is better; 1.00 = no overhead). Before timing, a
//! verification run checks every implementation's output against the
//! messages (inflated bytes equal; protoswitch's compressed stream
//! inflates back to the messages); each timed run asserts the message count and
//! the byte total of the verification run.

use std::time::Instant;

use protoswitch_bench::deflate::{
    FNV_START, Feed, MINIZ_OUT_BUF, RawStream, bound, fnv, foreign_frames, frame, json_messages,
    raw_compress, raw_inflate,
};
use protoswitch_bench::report::{Args, cpu_model, median, today};
use protoswitch_bench::{Totals, ours, receive_buffer};

const KIB: usize = 1 << 10;
const READ: usize = 64 * KIB;
const OUT: usize = 16 * KIB;
const LEVEL: u8 = 1;

/// One implementation: a name, whether it is a diagnostic row, and the
/// run (one pass over the workload, returning its totals).
struct Impl<'a> {
    name: &'static str,
    diagnostic: bool,
    run: Box<dyn FnMut() -> Totals + 'a>,
}

fn row<'a>(name: &'static str, diagnostic: bool, run: impl FnMut() -> Totals + 'a) -> Impl<'a> {
    Impl {
        name,
        diagnostic,
        run: Box::new(run),
    }
}

/// Index of the raw library's row, the reference of the ratios.
const RAW: usize = 1;

struct Measured {
    name: String,
    description: String,
    messages: u64,
    payload: u64,
    reps: u64,
    rows: Vec<(&'static str, bool)>,
    /// ns per message, per implementation, per round.
    times: Vec<Vec<f64>>,
}

impl Measured {
    fn median_ns(&self, i: usize) -> f64 {
        median(&mut self.times[i].clone())
    }
    fn ratio(&self, i: usize) -> f64 {
        let mut r: Vec<f64> = self.times[i]
            .iter()
            .zip(&self.times[RAW])
            .map(|(a, b)| a / b)
            .collect();
        median(&mut r)
    }
}

/// Times every implementation, `rounds` rounds in rotated order, after a
/// warm-up that records the totals and picks `reps`.
fn measure(
    name: &str,
    description: String,
    messages: u64,
    payload: u64,
    mut impls: Vec<Impl<'_>>,
    args: &Args,
) -> Measured {
    let mut single = 0.0;
    let mut expected = Vec::new();
    for im in &mut impls {
        let first = (im.run)();
        assert_eq!(first.messages, messages, "{name}: {} messages", im.name);
        let t0 = Instant::now();
        let second = (im.run)();
        single += t0.elapsed().as_secs_f64();
        assert_eq!(second, first, "{name}: {} totals differ", im.name);
        expected.push(first);
    }
    let reps = ((args.budget_ms / 1e3) / single).clamp(1.0, 1e7) as u64;
    let k = impls.len();
    let mut times = vec![Vec::new(); k];
    for round in 0..args.rounds {
        for step in 0..k {
            let i = (round + step) % k;
            let t0 = Instant::now();
            let mut got = Totals::default();
            for _ in 0..reps {
                got.add((impls[i].run)());
            }
            let ns = t0.elapsed().as_nanos() as f64;
            assert_eq!(
                got,
                expected[i].times(reps),
                "{name}: {} totals in round {round}",
                impls[i].name
            );
            times[i].push(ns / (reps * messages) as f64);
        }
    }
    Measured {
        name: name.to_string(),
        description,
        messages,
        payload,
        reps,
        rows: impls.iter().map(|im| (im.name, im.diagnostic)).collect(),
        times,
    }
}

/// Counts messages and bytes of a receive sink.
fn count(t: &mut Totals) -> impl FnMut(&[u8], bool) + '_ {
    |chunk, end| {
        t.bytes += chunk.len() as u64;
        t.messages += u64::from(end);
    }
}

/// Checks a receiver's output against the messages: every message whole
/// and equal (FNV-1a of each, and lengths).
fn verify_received(
    who: &str,
    messages: &[Vec<u8>],
    receive: impl FnOnce(&mut dyn FnMut(&[u8], bool)),
) {
    let mut got = Vec::new();
    let mut h = FNV_START;
    let mut len = 0;
    receive(&mut |chunk, end| {
        h = fnv(h, chunk);
        len += chunk.len();
        if end {
            got.push((len, h));
            h = FNV_START;
            len = 0;
        }
    });
    let want: Vec<(usize, u64)> = messages
        .iter()
        .map(|m| (m.len(), fnv(FNV_START, m)))
        .collect();
    assert!(
        got == want,
        "{who}: inflated messages differ from the originals"
    );
}

fn size(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// The receive workload over `messages`.
fn run_receive(name: &str, messages: &[Vec<u8>], sender: Sender, args: &Args) -> Measured {
    let n = messages.len() as u64;
    let payload: u64 = messages.iter().map(|m| m.len() as u64).sum();
    // Masked client frames, as a server receives them; the same messages
    // as text; unmasked server frames (same compressed bytes).
    let (wire, wire_text, wire_server) = match sender {
        Sender::Protoswitch => (
            ours::deflate_frames(ours::deflate_client(0x9e37_79b9), messages, false),
            ours::deflate_frames(ours::deflate_client(0x9e37_79b9), messages, true),
            ours::deflate_frames(ours::deflate_server(), messages, false),
        ),
        Sender::Miniz(level) => (
            foreign_frames(messages, level, false, Some(0x9e37_79b9)),
            foreign_frames(messages, level, true, Some(0x9e37_79b9)),
            foreign_frames(messages, level, false, None),
        ),
    };
    let raw = RawStream::from_frames(&wire);
    assert_eq!(
        raw.data,
        RawStream::from_frames(&wire_server).data,
        "client and server compress alike"
    );
    let compressed = (raw.data.len() - 4 * messages.len()) as u64;

    let mut buf = receive_buffer(READ, 0);
    let mut out = vec![0u8; OUT];
    verify_received("protoswitch server", messages, |sink| {
        ours::deflate_receive(
            ours::deflate_server(),
            &wire,
            READ,
            &mut buf,
            &mut out,
            sink,
        )
    });
    verify_received("protoswitch server, text", messages, |sink| {
        ours::deflate_receive(
            ours::deflate_server(),
            &wire_text,
            READ,
            &mut buf,
            &mut out,
            sink,
        )
    });
    verify_received("protoswitch client", messages, |sink| {
        ours::deflate_receive(
            ours::deflate_client(1),
            &wire_server,
            READ,
            &mut buf,
            &mut out,
            sink,
        )
    });
    for feed in [Feed::Whole, Feed::Crate] {
        verify_received("miniz_oxide", messages, |sink| {
            raw_inflate(&raw, &mut out, feed, sink)
        });
    }

    let (mut b1, mut b2, mut b3) = (
        receive_buffer(READ, 0),
        receive_buffer(READ, 0),
        receive_buffer(READ, 0),
    );
    let (mut o1, mut o2, mut o3, mut o4, mut o5) = (
        vec![0u8; OUT],
        vec![0u8; OUT],
        vec![0u8; OUT],
        vec![0u8; OUT],
        vec![0u8; OUT],
    );
    let impls = vec![
        row("protoswitch receive_into (server)", false, || {
            let mut t = Totals::default();
            ours::deflate_receive(
                ours::deflate_server(),
                &wire,
                READ,
                &mut b1,
                &mut o1,
                count(&mut t),
            );
            t
        }),
        row("miniz_oxide inflate (raw)", false, || {
            let mut t = Totals::default();
            raw_inflate(&raw, &mut o2, Feed::Whole, count(&mut t));
            t
        }),
        row("  client: unmasked frames", true, || {
            let mut t = Totals::default();
            ours::deflate_receive(
                ours::deflate_client(1),
                &wire_server,
                READ,
                &mut b2,
                &mut o3,
                count(&mut t),
            );
            t
        }),
        row("  server: as text (UTF-8)", true, || {
            let mut t = Totals::default();
            ours::deflate_receive(
                ours::deflate_server(),
                &wire_text,
                READ,
                &mut b3,
                &mut o4,
                count(&mut t),
            );
            t
        }),
        row("  raw, fed as the crate feeds it", true, || {
            let mut t = Totals::default();
            raw_inflate(&raw, &mut o5, Feed::Crate, count(&mut t));
            t
        }),
    ];
    let description = format!(
        "{n} distinct messages, {} B on average, {} in all; {} compressed by {} (context takeover), {} of masked frames; 64 KiB reads, 16 KiB output",
        payload / n,
        size(payload),
        size(compressed),
        match sender {
            Sender::Protoswitch => "protoswitch".to_string(),
            Sender::Miniz(level) => format!("miniz_oxide level {level} (dynamic codes)"),
        },
        size(wire.len() as u64),
    );
    measure(name, description, n, payload, impls, args)
}

/// Who compressed the messages a receive workload inflates.
#[derive(Clone, Copy)]
enum Sender {
    /// protoswitch's own compressor (fixed Huffman codes below 2 KiB a
    /// message: all of the 300 B messages; fitted ones above).
    Protoswitch,
    /// miniz_oxide at this level: dynamic Huffman codes, as zlib-based
    /// peers (browsers) send.
    Miniz(u8),
}

/// The send workload over `messages`.
fn run_send(name: &str, messages: &[Vec<u8>], args: &Args) -> Measured {
    let n = messages.len() as u64;
    let payload: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let longest = messages.iter().map(Vec::len).max().unwrap_or(0);
    // Room for the largest frame protoswitch asks for; the raw library
    // gets `bound(len)` (what the crate hands it), or a buffer big enough
    // to be written in place.
    let frame_room = bound(longest) + 14;
    let big = MINIZ_OUT_BUF.max(bound(longest));

    // Verification: the library's output ends with the sync flush; the
    // crate's compressor is its own (the stream must inflate back, below),
    // and a client compresses as a server does.
    let mut out = vec![0u8; frame_room];
    let mut ours_payloads = Vec::new();
    ours::deflate_send(ours::deflate_server(), messages, &mut out, |f| {
        let (p, next) = frame(f, 0);
        assert_eq!(next, f.len());
        ours_payloads.push(p);
    });
    let mut raw_payloads = Vec::new();
    let mut big_out = vec![0u8; big];
    raw_compress(messages, LEVEL, &mut big_out, bound, |c| {
        assert!(c.ends_with(&[0, 0, 0xff, 0xff]), "sync flush tail");
        raw_payloads.push(c[..c.len() - 4].to_vec());
    });
    let mut big_payloads = Vec::new();
    raw_compress(
        messages,
        LEVEL,
        &mut big_out,
        |_| big,
        |c| {
            big_payloads.push(c[..c.len() - 4].to_vec());
        },
    );
    assert!(
        big_payloads == raw_payloads,
        "{name}: output depends on the buffer"
    );
    let mut client_payloads = Vec::new();
    ours::deflate_send(ours::deflate_client(5), messages, &mut out, |f| {
        client_payloads.push(frame(f, 0).0);
    });
    assert!(
        client_payloads == ours_payloads,
        "{name}: the client compresses alike"
    );
    let ours_compressed: u64 = ours_payloads.iter().map(|p| p.len() as u64).sum();
    // The compressed stream inflates back to the messages.
    let stream = RawStream::from_frames(&{
        let mut w = Vec::new();
        ours::deflate_send(ours::deflate_server(), messages, &mut out, |f| {
            w.extend_from_slice(f)
        });
        w
    });
    let mut inflated = vec![0u8; OUT];
    verify_received("inflating protoswitch's output", messages, |sink| {
        raw_inflate(&stream, &mut inflated, Feed::Whole, sink)
    });
    let compressed: u64 = raw_payloads.iter().map(|p| p.len() as u64).sum();

    let (mut o1, mut o2, mut o3, mut o4) = (
        vec![0u8; frame_room],
        vec![0u8; frame_room],
        vec![0u8; big],
        vec![0u8; frame_room],
    );
    let sent = |t: &mut Totals, f: &[u8]| {
        t.messages += 1;
        t.bytes += f.len() as u64;
    };
    let impls = vec![
        row("protoswitch send_binary (server)", false, || {
            let mut t = Totals::default();
            ours::deflate_send(ours::deflate_server(), messages, &mut o1, |f| {
                sent(&mut t, f)
            });
            t
        }),
        row("miniz_oxide compress (raw)", false, || {
            let mut t = Totals::default();
            raw_compress(messages, LEVEL, &mut o2, bound, |c| sent(&mut t, c));
            t
        }),
        row("  raw, out >= 85,196 B", true, || {
            let mut t = Totals::default();
            raw_compress(messages, LEVEL, &mut o3, |_| big, |c| sent(&mut t, c));
            t
        }),
        row("  client: masked", true, || {
            let mut t = Totals::default();
            ours::deflate_send(ours::deflate_client(5), messages, &mut o4, |f| {
                sent(&mut t, f)
            });
            t
        }),
    ];
    let description = format!(
        "{n} distinct messages, {} B on average, {} in all; compressed by miniz_oxide (level {LEVEL}) to {}, by protoswitch (15-bit window, memory level 8; fixed codes below 2 KiB a call, fitted codes from there) to {}; context takeover, sync flush per message",
        payload / n,
        size(payload),
        size(compressed),
        size(ours_compressed),
    );
    measure(name, description, n, payload, impls, args)
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{ns:.0}")
    } else {
        format!("{ns:.1}")
    }
}

fn print_plain(m: &Measured) {
    println!();
    println!("== {} — {} (reps {}/round)", m.name, m.description, m.reps);
    println!(
        "   {:<36} {:>12} {:>9} {:>7}",
        "implementation", "ns/message", "MB/s", "x raw"
    );
    for (i, (name, _)) in m.rows.iter().enumerate() {
        let ns = m.median_ns(i);
        let mbps = m.payload as f64 / m.messages as f64 / ns * 1e3;
        println!(
            "   {:<36} {:>12} {:>9.0} {:>7.2}",
            name,
            fmt_ns(ns),
            mbps,
            m.ratio(i)
        );
    }
}

fn print_summary(all: &[Measured]) {
    println!();
    println!(
        "Summary: protoswitch / miniz_oxide, median of per-round ratios (lower is better, 1.00 = no overhead)"
    );
    println!(
        "   {:<18} {:>12} {:>12} {:>8}",
        "workload", "ours ns/msg", "raw ns/msg", "ratio"
    );
    for m in all {
        println!(
            "   {:<18} {:>12} {:>12} {:>8.2}",
            m.name,
            fmt_ns(m.median_ns(0)),
            fmt_ns(m.median_ns(RAW)),
            m.ratio(0)
        );
    }
}

fn main() {
    let args = Args::parse("deflate [--quick] [--rounds N] [--budget-ms MS] [FILTER...]");
    println!(
        "Machine: {} ({} CPUs online)",
        cpu_model(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("Compiler: {}", env!("BENCH_RUSTC_VERSION"));
    println!("Date: {}", today());
    println!("Library: {}", env!("BENCH_MINIZ_VERSION"));
    println!(
        "Method: {} rounds, every implementation once per round in rotated order; ratios against the raw library per round, then the median",
        args.rounds
    );
    let small = json_messages(500, 300, 0x5eed_0001);
    let large = json_messages(300, 64 * KIB, 0x5eed_0002);
    let wanted = |name: &str| args.selects(name);
    let mut all = Vec::new();
    for (name, messages, sender) in [
        ("recv_json_300B", &small, Sender::Protoswitch),
        ("recv_json_64KiB", &large, Sender::Protoswitch),
        ("recv_json_300B_zlib6", &small, Sender::Miniz(6)),
        ("recv_json_64KiB_zlib6", &large, Sender::Miniz(6)),
    ] {
        if !wanted(name) {
            continue;
        }
        all.push(run_receive(name, messages, sender, &args));
        print_plain(all.last().unwrap());
    }
    for (name, messages) in [("send_json_300B", &small), ("send_json_64KiB", &large)] {
        if !wanted(name) {
            continue;
        }
        all.push(run_send(name, messages, &args));
        print_plain(all.last().unwrap());
    }
    print_summary(&all);
}
