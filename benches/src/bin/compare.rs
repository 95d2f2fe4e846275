//! Issue 9: protoswitch against tungstenite, tokio-websockets,
//! fastwebsockets, embedded-websocket and a hand-written floor, in one
//! process, on the same inputs.
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin compare -- [--quick] [--rounds N] [--budget-ms MS] [FILTER...]
//! ```
//!
//! FILTER: run only the workloads whose name contains one of the words
//! (e.g. `text`, `hs_`, `bin_16B`). `FLOOR_UNMASK=u64|avx2|avx512` forces
//! the floor's unmask kernel (default: the best this CPU has).
//!
//! Method: every implementation is timed once per round, in an order
//! rotated each round, over `--rounds` rounds (default 21, at least 15).
//! A measurement runs the workload `reps` times (chosen once per workload
//! so that a round takes about `--budget-ms`; the same `reps` for all).
//! Reported per workload: the median over rounds of the time per unit
//! (ns per frame or per handshake; GB/s of payload), and the medians over
//! rounds of the per-round ratios against the floor and against the best
//! peer of that round. Every measurement asserts the totals (messages and
//! payload bytes, or handshakes) — never a time.

use std::time::Instant;

use protoswitch_bench::floor::{self, Kernel};
use protoswitch_bench::inputs::{self, ACCEPT, HOST, KEY, NONCE, PATH, REQUEST, REQUEST_SPLIT};
use protoswitch_bench::peers::{
    embedded_peer, fastwebsockets_peer, take_reads, tokio_websockets_peer, tungstenite_peer,
};
use protoswitch_bench::report::{Args, cpu_model, median, today};
use protoswitch_bench::{Placements, Totals, ours, receive_buffer_len};

const IMPLS: [&str; 7] = [
    "floor",
    "protoswitch",
    "protoswitch whole",
    "tungstenite",
    "tokio-websockets",
    "fastwebsockets",
    "embedded-websocket",
];
/// Indices into IMPLS of the third-party crates.
const PEERS: [usize; 4] = [3, 4, 5, 6];
const FLOOR: usize = 0;
const OURS: usize = 1;
/// protoswitch with `Config::whole_frames` and a receive buffer that holds
/// a whole frame (what the peers with a growing buffer of their own do).
const OURS_WHOLE: usize = 2;

/// Why `protoswitch whole` has no handshake of its own.
const NO_FRAMES: &str = "whole frames change only frame decoding";

const MIB: usize = 1 << 20;
const KIB: usize = 1 << 10;

/// One implementation of a workload: runs it `reps` times, returns the
/// summed totals.
type Run<'a> = Box<dyn FnMut(u64) -> Totals + 'a>;

enum Entry<'a> {
    Run(Run<'a>),
    NotApplicable(String),
}

struct Measured {
    name: String,
    description: String,
    unit: &'static str,
    /// Units (frames or handshakes) per repetition.
    units: u64,
    /// Payload bytes per repetition (0 for handshakes).
    payload: u64,
    reps: u64,
    /// ns per unit, per implementation, per round (None: n/a).
    times: Vec<Option<Vec<f64>>>,
    na: Vec<Option<String>>,
    /// Per implementation: (reads, bytes) its in-memory stream handed out
    /// in one warm-up run (0 for the caller-buffer implementations).
    reads: Vec<(u64, u64)>,
}

impl Measured {
    /// Written out by a child (see [`measure_in_child`]), one field a
    /// line, read back by [`from_lines`](Self::from_lines).
    fn to_lines(&self) -> String {
        let mut out = String::new();
        for (key, value) in [
            ("name", self.name.clone()),
            ("description", self.description.clone()),
            ("unit", self.unit.to_string()),
            ("units", self.units.to_string()),
            ("payload", self.payload.to_string()),
            ("reps", self.reps.to_string()),
        ] {
            out.push_str(&format!("{key}\t{value}\n"));
        }
        for i in 0..IMPLS.len() {
            let times = match (&self.times[i], &self.na[i]) {
                (Some(t), _) => {
                    let t: Vec<String> = t.iter().map(|x| format!("{x:e}")).collect();
                    format!("times\t{}", t.join(" "))
                }
                (None, why) => format!("na\t{}", why.as_deref().unwrap_or("")),
            };
            let (reads, bytes) = self.reads[i];
            out.push_str(&format!("{times}\nreads\t{reads} {bytes}\n"));
        }
        out
    }

    fn from_lines(text: &str) -> Measured {
        let mut fields = std::collections::HashMap::new();
        let (mut times, mut na, mut reads) = (Vec::new(), Vec::new(), Vec::new());
        for line in text.lines() {
            let (key, value) = line.split_once('\t').expect("key TAB value");
            match key {
                "times" => {
                    times.push(Some(value.split(' ').map(|x| x.parse().unwrap()).collect()));
                    na.push(None);
                }
                "na" => {
                    times.push(None);
                    na.push(Some(value.to_string()));
                }
                "reads" => {
                    let (r, b) = value.split_once(' ').expect("reads bytes");
                    reads.push((r.parse().unwrap(), b.parse().unwrap()));
                }
                _ => {
                    fields.insert(key, value);
                }
            }
        }
        assert_eq!(times.len(), IMPLS.len(), "a child's output");
        let number = |key: &str| fields[key].parse::<u64>().expect("a number");
        Measured {
            name: fields["name"].to_string(),
            description: fields["description"].to_string(),
            unit: if fields["unit"] == "frame" {
                "frame"
            } else {
                "handshake"
            },
            units: number("units"),
            payload: number("payload"),
            reps: number("reps"),
            times,
            na,
            reads,
        }
    }

    fn median_ns(&self, i: usize) -> Option<f64> {
        self.times[i].as_ref().map(|t| median(&mut t.clone()))
    }
    /// Median over rounds of time[i] / time[j] (per round).
    fn ratio(&self, i: usize, per_round_ref: &[f64]) -> Option<f64> {
        let t = self.times[i].as_ref()?;
        let mut r: Vec<f64> = t.iter().zip(per_round_ref).map(|(a, b)| a / b).collect();
        Some(median(&mut r))
    }
    fn floor_ref(&self) -> Vec<f64> {
        self.times[FLOOR]
            .clone()
            .expect("the floor runs every workload")
    }
    /// Per round: the fastest peer's time (None if no peer ran).
    fn best_peer_ref(&self) -> Option<Vec<f64>> {
        let rounds = self.times[FLOOR].as_ref()?.len();
        let mut best = vec![f64::INFINITY; rounds];
        let mut any = false;
        for &p in &PEERS {
            if let Some(t) = &self.times[p] {
                any = true;
                for (b, x) in best.iter_mut().zip(t) {
                    *b = b.min(*x);
                }
            }
        }
        any.then_some(best)
    }
    fn best_peer_name(&self) -> Option<&'static str> {
        PEERS
            .iter()
            .filter_map(|&p| self.median_ns(p).map(|t| (t, IMPLS[p])))
            .min_by(|a, b| a.0.partial_cmp(&b.0).unwrap())
            .map(|(_, n)| n)
    }
    fn gbps(&self, ns_per_unit: f64) -> Option<f64> {
        (self.payload >= (KIB as u64) * self.units)
            .then(|| self.payload as f64 / (ns_per_unit * self.units as f64))
    }
}

/// Times every implementation, `rounds` rounds in rotated order, after a
/// warm-up that checks the totals and picks `reps`.
fn measure(
    name: &str,
    description: String,
    unit: &'static str,
    units: u64,
    payload: u64,
    mut entries: Vec<(Entry<'_>, Option<Totals>)>,
    args: &Args,
) -> Measured {
    assert_eq!(entries.len(), IMPLS.len());
    // Warm-up: twice each; the second run's time sizes `reps`.
    let mut single = 0.0;
    let mut expected: Vec<Option<Totals>> = Vec::new();
    let mut reads = vec![(0, 0); entries.len()];
    for (i, (entry, want)) in entries.iter_mut().enumerate() {
        let Entry::Run(run) = entry else {
            expected.push(None);
            continue;
        };
        take_reads();
        let first = run(1);
        reads[i] = take_reads();
        if let Some(want) = want {
            assert_eq!(first, *want, "{name}: {} totals", IMPLS[i]);
        }
        let t0 = Instant::now();
        let second = run(1);
        single += t0.elapsed().as_secs_f64();
        assert_eq!(
            second, first,
            "{name}: {} totals differ between runs",
            IMPLS[i]
        );
        expected.push(Some(first));
    }
    let reps = ((args.budget_ms / 1e3) / single).clamp(1.0, 1e7) as u64;
    let k = entries.len();
    let mut times: Vec<Option<Vec<f64>>> = entries
        .iter()
        .map(|(e, _)| matches!(e, Entry::Run(_)).then(Vec::new))
        .collect();
    for round in 0..args.rounds {
        for step in 0..k {
            let i = (round + step) % k;
            let Entry::Run(run) = &mut entries[i].0 else {
                continue;
            };
            let t0 = Instant::now();
            let got = run(reps);
            let ns = t0.elapsed().as_nanos() as f64;
            assert_eq!(
                got,
                expected[i].unwrap().times(reps),
                "{name}: {} totals in round {round}",
                IMPLS[i]
            );
            times[i].as_mut().unwrap().push(ns / (reps * units) as f64);
        }
    }
    let na = entries
        .iter()
        .map(|(e, _)| match e {
            Entry::NotApplicable(why) => Some(why.clone()),
            Entry::Run(_) => None,
        })
        .collect();
    Measured {
        name: name.to_string(),
        description,
        unit,
        units,
        payload,
        reps,
        times,
        na,
        reads,
    }
}

// ---------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Payload {
    Binary(usize),
    Ascii(usize),
    Mixed(usize),
    /// A mixed-text message of this size in 64 fragments, each boundary
    /// splitting a character.
    Fragmented(usize),
}

struct DecodeSpec {
    name: &'static str,
    payload: Payload,
    read_size: usize,
    offset: usize,
}

fn decode_specs() -> Vec<DecodeSpec> {
    use Payload::*;
    let d = |name, payload, read_size, offset| DecodeSpec {
        name,
        payload,
        read_size,
        offset,
    };
    vec![
        d("bin_16B", Binary(16), 64 * KIB, 0),
        d("bin_125B", Binary(125), 64 * KIB, 0),
        d("bin_1KiB", Binary(KIB), 64 * KIB, 0),
        d("bin_16KiB", Binary(16 * KIB), 64 * KIB, 0),
        d("bin_64KiB", Binary(64 * KIB), 64 * KIB, 0),
        d("bin_1MiB", Binary(MIB), 64 * KIB, 0),
        d("text_ascii_1KiB", Ascii(KIB), 64 * KIB, 0),
        d("text_ascii_64KiB", Ascii(64 * KIB), 64 * KIB, 0),
        d("text_utf8_1KiB", Mixed(KIB), 64 * KIB, 0),
        d("text_utf8_64KiB", Mixed(64 * KIB), 64 * KIB, 0),
        d("text_utf8_64KiB_frag64", Fragmented(64 * KIB), 64 * KIB, 0),
        d("read4K_bin_125B", Binary(125), 4 * KIB, 0),
        d("read4K_bin_64KiB", Binary(64 * KIB), 4 * KIB, 0),
        // The read size tokio-websockets picks for 16 KiB frames (it reads
        // one frame at a time into its buffer, which stays in L1).
        d("read16K_bin_16KiB", Binary(16 * KIB), 16 * KIB, 0),
        // One masked 16 KiB frame (8 header bytes) per read, for every
        // implementation: the reads tokio-websockets makes by itself in
        // bin_16KiB (its buffer's free room is the frame it waits for,
        // so it never takes 64 KiB), here asked of everyone alike.
        d("readframe_bin_16KiB", Binary(16 * KIB), 16 * KIB + 8, 0),
        d("read4K_text_utf8_64KiB", Mixed(64 * KIB), 4 * KIB, 0),
        d("unaligned_bin_1021B_off3", Binary(1021), 64 * KIB, 3),
        d("unaligned_bin_64KiB_off1", Binary(64 * KIB), 64 * KIB, 1),
    ]
}

fn describe(p: Payload) -> String {
    match p {
        Payload::Binary(n) => format!("binary {}", size(n)),
        Payload::Ascii(n) => format!("text ASCII {}", size(n)),
        Payload::Mixed(n) => format!("text mixed UTF-8 {}", size(n)),
        Payload::Fragmented(n) => format!("text mixed UTF-8 {} in 64 fragments", size(n)),
    }
}

fn size(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} B")
    }
}

fn run_decode(
    spec: &DecodeSpec,
    rt: &tokio::runtime::Runtime,
    kernel: Kernel,
    args: &Args,
) -> Measured {
    let (frames_bytes, totals, frames) = match spec.payload {
        Payload::Binary(n) => {
            let (b, t) = ours::client_frames(&vec![0xAB; n], false, MIB, 0x9E37_79B9);
            (b, t, t.messages)
        }
        Payload::Ascii(n) => {
            let (b, t) = ours::client_frames(inputs::ascii(n).as_bytes(), true, MIB, 0x2545_F491);
            (b, t, t.messages)
        }
        Payload::Mixed(n) => {
            let (b, t) =
                ours::client_frames(inputs::mixed_utf8(n).as_bytes(), true, MIB, 0x6C07_8965);
            (b, t, t.messages)
        }
        Payload::Fragmented(n) => {
            let message = inputs::mixed_utf8(n);
            let cuts = inputs::straddling_cuts(&message, 64);
            let (b, t) = ours::client_fragments(&message, &cuts, MIB, 0x1B87_3593);
            (b, t, t.messages * 64)
        }
    };
    // The input starts `offset` bytes into its allocation.
    let mut storage = vec![0u8; spec.offset];
    storage.extend_from_slice(&frames_bytes);
    let input: &[u8] = &storage[spec.offset..];
    let (read_size, offset) = (spec.read_size, spec.offset);

    // The caller-owned buffers: at the same placements relative to the
    // input for every implementation, one per call in turn (`SKEWS`).
    let len = receive_buffer_len(read_size, offset);
    let mut floor_buf = Placements::after(&storage, len);
    let mut ours_buf = Placements::after(&storage, len);
    let frame_max = match spec.payload {
        Payload::Binary(n) | Payload::Ascii(n) | Payload::Mixed(n) | Payload::Fragmented(n) => n,
    };
    // At `offset` in its allocation, as the other receive buffers.
    let mut whole_buf = Placements::after(&storage, offset + frame_max + 14 + read_size);
    let mut emb_buf = Placements::after(&storage, len);
    // embedded-websocket copies each payload into a second buffer.
    let mut emb_to = Placements::after(&storage, read_size + 64);

    let entries: Vec<(Entry<'_>, Option<Totals>)> = vec![
        (
            Entry::Run(Box::new(|reps| {
                let mut t = Totals::default();
                let buf = floor_buf.take_turn();
                for _ in 0..reps {
                    t.add(floor::decode_all(input, read_size, offset, buf, kernel));
                }
                t
            })),
            Some(totals),
        ),
        (
            Entry::Run(Box::new(|reps| {
                let mut t = Totals::default();
                let buf = ours_buf.take_turn();
                for _ in 0..reps {
                    t.add(ours::decode_all(input, read_size, offset, buf));
                }
                t
            })),
            Some(totals),
        ),
        (
            Entry::Run(Box::new(|reps| {
                let mut t = Totals::default();
                let buf = &mut whole_buf.take_turn()[offset..];
                for _ in 0..reps {
                    t.add(ours::decode_all_whole(input, read_size, frame_max, buf));
                }
                t
            })),
            Some(totals),
        ),
        (
            Entry::Run(Box::new(|reps| {
                let mut t = Totals::default();
                for _ in 0..reps {
                    t.add(tungstenite_peer::decode_all(input, read_size));
                }
                t
            })),
            Some(totals),
        ),
        (
            Entry::Run(Box::new(|reps| {
                rt.block_on(async {
                    let mut t = Totals::default();
                    for _ in 0..reps {
                        t.add(tokio_websockets_peer::decode_all(input, read_size).await);
                    }
                    t
                })
            })),
            Some(totals),
        ),
        (
            Entry::Run(Box::new(|reps| {
                rt.block_on(async {
                    let mut t = Totals::default();
                    for _ in 0..reps {
                        t.add(fastwebsockets_peer::decode_all(input, read_size).await);
                    }
                    t
                })
            })),
            Some(totals),
        ),
        (
            if matches!(spec.payload, Payload::Fragmented(_)) {
                Entry::NotApplicable(embedded_peer::NO_SPLIT_FRAGMENTS.into())
            } else {
                Entry::Run(Box::new(|reps| {
                    let mut t = Totals::default();
                    let (buf, to) = (emb_buf.take_turn(), emb_to.take_turn());
                    for _ in 0..reps {
                        t.add(embedded_peer::decode_all(input, read_size, offset, buf, to));
                    }
                    t
                }))
            },
            Some(totals),
        ),
    ];
    let mut description = format!(
        "{}: {} of masked frames, {} frames, {} messages, {} reads",
        describe(spec.payload),
        size_approx(input.len()),
        frames,
        totals.messages,
        size(read_size),
    );
    if offset != 0 {
        description.push_str(&format!(", input and receive buffers at offset {offset}"));
    }
    measure(
        spec.name,
        description,
        "frame",
        frames,
        totals.bytes,
        entries,
        args,
    )
}

fn size_approx(n: usize) -> String {
    format!("{:.2} MiB", n as f64 / MIB as f64)
}

/// Handshakes are timed one by one: `units` = 1 per repetition.
fn handshake_entry<'a>(mut f: impl FnMut() -> usize + 'a) -> Entry<'a> {
    Entry::Run(Box::new(move |reps| {
        let mut t = Totals::default();
        for _ in 0..reps {
            let n = f();
            t.add(Totals {
                messages: 1,
                bytes: n as u64,
            });
        }
        t
    }))
}

fn async_handshake_entry<'a, F, Fut>(rt: &'a tokio::runtime::Runtime, f: F) -> Entry<'a>
where
    F: Fn() -> Fut + 'a,
    Fut: std::future::Future<Output = usize>,
{
    Entry::Run(Box::new(move |reps| {
        rt.block_on(async {
            let mut t = Totals::default();
            for _ in 0..reps {
                let n = f().await;
                t.add(Totals {
                    messages: 1,
                    bytes: n as u64,
                });
            }
            t
        })
    }))
}

/// Checks once, untimed, that a 101 carries the right accept value.
fn check_101(who: &str, response: &[u8]) {
    let text = String::from_utf8_lossy(response);
    assert!(text.starts_with("HTTP/1.1 101"), "{who}: {text}");
    assert!(text.contains(ACCEPT), "{who}: accept value in {text}");
}

fn run_server_handshake(split: usize, rt: &tokio::runtime::Runtime, args: &Args) -> Measured {
    let request = REQUEST;
    {
        // Untimed: every server's answer is a 101 with the RFC accept.
        let mut buf = [0u8; 1024];
        let mut out = [0u8; 1024];
        let n = floor::server_handshake(request, &mut buf, &mut out);
        check_101("floor", &out[..n]);
        let n = ours::server_handshake(request, &mut buf, &mut out);
        check_101("protoswitch", &out[..n]);
        check_101("tungstenite", &tungstenite_peer::server_response(request));
        check_101(
            "tokio-websockets",
            &rt.block_on(tokio_websockets_peer::server_response(request)),
        );
        let n = embedded_peer::server_handshake(request, 0, &mut buf, &mut out);
        check_101("embedded-websocket", &out[..n]);
    }
    let (mut b0, mut o0) = ([0u8; 1024], [0u8; 1024]);
    let (mut b1, mut o1) = ([0u8; 1024], [0u8; 1024]);
    let (mut b5, mut o5) = ([0u8; 1024], [0u8; 1024]);
    let entries = vec![
        (
            handshake_entry(move || match split {
                0 => floor::server_handshake(request, &mut b0, &mut o0),
                s => floor::server_handshake_split(request, s, &mut b0, &mut o0),
            }),
            None,
        ),
        (
            handshake_entry(move || match split {
                0 => ours::server_handshake(request, &mut b1, &mut o1),
                s => ours::server_handshake_split(request, s, &mut b1, &mut o1),
            }),
            None,
        ),
        (Entry::NotApplicable(NO_FRAMES.into()), None),
        (
            handshake_entry(move || tungstenite_peer::server_handshake(request, split)),
            None,
        ),
        (
            async_handshake_entry(rt, move || {
                tokio_websockets_peer::server_handshake(request, split)
            }),
            None,
        ),
        (
            Entry::NotApplicable(fastwebsockets_peer::NO_HANDSHAKE.into()),
            None,
        ),
        (
            handshake_entry(move || {
                embedded_peer::server_handshake(request, split, &mut b5, &mut o5)
            }),
            None,
        ),
    ];
    let (name, how) = match split {
        0 => ("hs_server", "in one read".to_string()),
        s => (
            "hs_server_split",
            format!("in two reads ({s} + {} bytes)", request.len() - s),
        ),
    };
    let description = format!(
        "server handshake: {}-byte browser-like upgrade request {how}; parse, validate, \
         accept key, 101 written",
        request.len()
    );
    measure(name, description, "handshake", 1, 0, entries, args)
}

fn run_client_validate(rt: &tokio::runtime::Runtime, args: &Args) -> Measured {
    let response = inputs::response_101(ACCEPT);
    let response: &[u8] = &response;
    // tokio-websockets draws its key from fastrand: seeded, it is fixed.
    const SEED: u64 = 0x5EED;
    let tws_key = rt.block_on(tokio_websockets_peer::key_for_seed(SEED));
    let tws_accept = floor::accept_key(tws_key.as_bytes());
    let tws_response = inputs::response_101(std::str::from_utf8(&tws_accept).unwrap());
    let tws_response: &[u8] = &tws_response;
    let (mut b0, mut o0) = ([0u8; 1024], [0u8; 1024]);
    let (mut b1, mut o1) = ([0u8; 1024], [0u8; 1024]);
    let (mut b5, mut o5) = ([0u8; 1024], [0u8; 1024]);
    let entries = vec![
        (
            handshake_entry(move || {
                floor::client_validate(HOST, PATH, KEY, response, &mut b0, &mut o0)
            }),
            None,
        ),
        (
            handshake_entry(move || {
                ours::client_validate(HOST, PATH, NONCE, response, &mut b1, &mut o1)
            }),
            None,
        ),
        (Entry::NotApplicable(NO_FRAMES.into()), None),
        (
            handshake_entry(move || tungstenite_peer::client_validate(response)),
            None,
        ),
        (
            async_handshake_entry(rt, move || {
                tokio_websockets_peer::client_validate(SEED, tws_response)
            }),
            None,
        ),
        (
            Entry::NotApplicable(fastwebsockets_peer::NO_HANDSHAKE.into()),
            None,
        ),
        (
            handshake_entry(move || embedded_peer::client_validate(response, &mut b5, &mut o5)),
            None,
        ),
    ];
    let description = format!(
        "client: write the upgrade request, then validate a {}-byte 101 (status, Upgrade, \
         Connection, accept key)",
        response.len()
    );
    measure(
        "hs_client_validate",
        description,
        "handshake",
        1,
        0,
        entries,
        args,
    )
}

// ---------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------

fn fmt_ns(ns: f64) -> String {
    if ns >= 100.0 {
        format!("{:.0}", ns)
    } else if ns >= 10.0 {
        format!("{:.1}", ns)
    } else {
        format!("{:.2}", ns)
    }
}

fn print_plain(m: &Measured, kernel: &str) {
    println!();
    println!("== {} — {} (reps {}/round)", m.name, m.description, m.reps);
    println!(
        "   {:<20} {:>12} {:>8} {:>9} {:>12}",
        "implementation",
        format!("ns/{}", m.unit),
        "GB/s",
        "x floor",
        "x best peer"
    );
    let floor_ref = m.floor_ref();
    let best = m.best_peer_ref();
    for (i, name) in IMPLS.iter().enumerate() {
        let label = if i == FLOOR {
            format!("floor ({kernel})")
        } else {
            name.to_string()
        };
        match m.median_ns(i) {
            None => println!("   {:<20} n/a: {}", label, m.na[i].as_deref().unwrap_or("")),
            Some(ns) => {
                let gbps = m
                    .gbps(ns)
                    .map(|g| format!("{g:.2}"))
                    .unwrap_or_else(|| "-".into());
                let vs_floor = m.ratio(i, &floor_ref).unwrap();
                let vs_best = best
                    .as_ref()
                    .and_then(|b| m.ratio(i, b))
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "   {:<20} {:>12} {:>8} {:>9.2} {:>12}",
                    label,
                    fmt_ns(ns),
                    gbps,
                    vs_floor,
                    vs_best
                );
            }
        }
    }
    if let Some(b) = m.best_peer_name() {
        println!("   best peer (median): {b}");
    }
    if m.unit == "frame" {
        let streams: Vec<String> = IMPLS
            .iter()
            .zip(&m.reads)
            .filter(|(_, (n, _))| *n > 0)
            .map(|(name, (n, b))| format!("{name} {n} reads of {} B avg", b / n))
            .collect();
        if !streams.is_empty() {
            println!("   stream peers' reads per run: {}", streams.join(", "));
        }
    }
}

fn print_summary(all: &[Measured]) {
    println!();
    println!("== summary: protoswitch per workload (medians over rounds of per-round ratios)");
    println!(
        "   {:<26} {:>12} {:>12} {:>12} {:>9} {:>12} {:>12}  best peer",
        "workload", "floor", "protoswitch", "best peer", "x floor", "x best peer", "whole x best"
    );
    for m in all {
        let floor_ref = m.floor_ref();
        let best_ref = m.best_peer_ref();
        let best_name = m.best_peer_name().unwrap_or("-");
        let best_ns = PEERS
            .iter()
            .filter_map(|&p| m.median_ns(p))
            .fold(f64::INFINITY, f64::min);
        let vs_best = |i: usize| {
            best_ref
                .as_ref()
                .and_then(|b| m.ratio(i, b))
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "   {:<26} {:>12} {:>12} {:>12} {:>9.2} {:>12} {:>12}  {}",
            m.name,
            fmt_ns(m.median_ns(FLOOR).unwrap()),
            fmt_ns(m.median_ns(OURS).unwrap()),
            fmt_ns(best_ns),
            m.ratio(OURS, &floor_ref).unwrap(),
            vs_best(OURS),
            vs_best(OURS_WHOLE),
            best_name
        );
    }
}

fn print_markdown(all: &[Measured], header: &[String]) {
    println!();
    println!("---- markdown ----");
    println!();
    for line in header {
        println!("{line}  ");
    }
    println!();
    print!("| workload | unit |");
    for name in IMPLS {
        print!(" {name} |");
    }
    println!(" protoswitch ×floor | protoswitch ×best peer | protoswitch whole ×best peer |");
    print!("|---|---|");
    for _ in IMPLS {
        print!("---:|");
    }
    println!("---:|---:|---:|");
    for m in all {
        print!("| {} | ns/{} |", m.name, m.unit);
        for i in 0..IMPLS.len() {
            match m.median_ns(i) {
                None => print!(" n/a |"),
                Some(ns) => match m.gbps(ns) {
                    Some(g) => print!(" {} ({g:.2} GB/s) |", fmt_ns(ns)),
                    None => print!(" {} |", fmt_ns(ns)),
                },
            }
        }
        let floor_ref = m.floor_ref();
        let vs_best = m
            .best_peer_ref()
            .and_then(|b| m.ratio(OURS, &b))
            .map(|r| format!("{r:.2}× ({})", m.best_peer_name().unwrap()))
            .unwrap_or_else(|| "-".into());
        let whole_vs_best = m
            .best_peer_ref()
            .and_then(|b| m.ratio(OURS_WHOLE, &b))
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "-".into());
        println!(
            " {:.2}× | {} | {} |",
            m.ratio(OURS, &floor_ref).unwrap(),
            vs_best,
            whole_vs_best
        );
    }
    println!();
    println!(
        "Ratios are medians over rounds of per-round time ratios (below 1: faster). \
         n/a: fastwebsockets has no handshake of its own (it uses hyper); embedded-websocket \
         0.9.5 fails when the last fragment of a message is split between two reads."
    );
}

/// The environment variable that makes `compare` a child measuring one
/// workload (its exact name) and writing it out ([`Measured::to_lines`]).
const CHILD: &str = "PROTOSWITCH_COMPARE_CHILD";

/// Every workload's name, in the report's order.
fn workload_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = decode_specs().iter().map(|s| s.name).collect();
    names.extend(["hs_server", "hs_server_split", "hs_client_validate"]);
    names
}

/// Measures the workload `name` (None: no such workload).
fn measure_workload(
    name: &str,
    rt: &tokio::runtime::Runtime,
    kernel: Kernel,
    args: &Args,
) -> Option<Measured> {
    if let Some(spec) = decode_specs().into_iter().find(|s| s.name == name) {
        return Some(run_decode(&spec, rt, kernel, args));
    }
    match name {
        "hs_server" => Some(run_server_handshake(0, rt, args)),
        "hs_server_split" => Some(run_server_handshake(REQUEST_SPLIT, rt, args)),
        "hs_client_validate" => Some(run_client_validate(rt, args)),
        _ => None,
    }
}

/// The allocator of every child (glibc's; others ignore it): memory
/// comes from the heap and goes back to it, never from `mmap` nor back to
/// the system, as in a process that has run for a while (glibc's own
/// threshold rises towards 32 MiB as large blocks are freed). Fresh, a
/// peer whose buffers crossed the default 128 KiB threshold paid page
/// faults on every run: tokio-websockets took 4.4-5.1 us a 64 KiB frame
/// in 4 KiB reads, against 2.3-3.1 after other workloads.
const CHILD_MALLOC: &str =
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=33554432";

/// Measures `name` in a new process (this program again, with the same
/// arguments): every workload starts from the same heap, set as
/// [`CHILD_MALLOC`]. In one process, what earlier workloads had allocated
/// and freed decided where a later one's buffers went, and that moved its
/// ratios: 64 KiB frames in 4 KiB reads measured 0.96-0.98x the floor
/// alone, four times out of four, and 1.11-1.31x after the other
/// workloads.
fn measure_in_child(name: &str) -> Measured {
    let out = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(std::env::args().skip(1))
        .env(CHILD, name)
        .env("GLIBC_TUNABLES", CHILD_MALLOC)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run compare for one workload");
    assert!(out.status.success(), "compare failed on {name}");
    Measured::from_lines(&String::from_utf8(out.stdout).expect("UTF-8"))
}

fn main() {
    let args = Args::parse(
        "compare [--quick] [--rounds N] [--budget-ms MS] [FILTER...]\n\
                     FILTER: substrings of workload names (see the first column).",
    );
    let kernel = Kernel::select();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    // A child measures one workload, named exactly, and writes it out.
    if let Ok(name) = std::env::var(CHILD) {
        let m = measure_workload(&name, &rt, kernel, &args).expect("a workload's name");
        print!("{}", m.to_lines());
        return;
    }
    let header = vec![
        format!(
            "Machine: {} ({} CPUs online)",
            cpu_model(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        ),
        format!("Compiler: {}", env!("BENCH_RUSTC_VERSION")),
        format!("Date: {}", today()),
        format!("Peers: {}", env!("BENCH_PEER_VERSIONS")),
        format!(
            "Method: every workload in a process of its own, {} rounds, every implementation once per round in rotated order; floor unmask kernel: {}",
            args.rounds,
            kernel.name()
        ),
    ];
    for line in &header {
        println!("{line}");
    }
    let mut all = Vec::new();
    for name in workload_names() {
        if args.selects(name) {
            let m = measure_in_child(name);
            print_plain(&m, kernel.name());
            all.push(m);
        }
    }
    if all.is_empty() {
        eprintln!("no workload matches {:?}", args.filters);
        std::process::exit(2);
    }
    print_summary(&all);
    print_markdown(&all, &header);
}
