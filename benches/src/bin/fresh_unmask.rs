//! `fresh_unmask`: why a frame handed out chunk by chunk costs more than
//! the same frame unmasked once (issue 9, `read4K_bin_64KiB`: the default
//! mode 1.17x tokio-websockets, `whole_frames` 0.98x).
//!
//! ```text
//! cargo run --release --manifest-path benches/Cargo.toml --bin fresh_unmask
//! ```
//!
//! 1 MiB of 64 KiB frames arrives in 4 KiB reads, each read a copy (the
//! simulated `recv` of `compare`); each line is the best of 31 rounds, in ns
//! per 64 KiB frame, pinned to no core (use `taskset`). Every line unmasks
//! with the crate's `apply_mask`:
//!
//! - `copy`: the reads' copies alone, into the same 4 KiB (as `compare`'s
//!   callers do once a read is consumed).
//! - `unmask_settled`: the 4 KiB unmask alone, 16 times, on bytes in L1.
//! - `copy_then_unmask_other`: each copy, then an unmask of other bytes.
//! - `copy_then_unmask_it`: each copy, then the unmask of the bytes just
//!   copied (what a decoder handing out each read's chunk does).
//! - `gather_16K`, `gather_whole`: the copies go one after another, and
//!   16 KiB (or the whole frame) are unmasked at once (what waiting for
//!   more bytes, or tokio-websockets, does).
//! - `pread_then_unmask_other`, `pread_then_unmask_it`: each read a real
//!   kernel copy (`pread` of the input from a file on tmpfs, a system
//!   call's return between the copy and the unmask, as with `recv`), then
//!   the unmask of other bytes or of the bytes just read.
//!
//! On the AMD EPYC of the README (2026-12-01, `taskset -c 1`):
//!
//! ```text
//!   copy                         822
//!   unmask_settled               341
//!   copy_then_unmask_other      1132
//!   copy_then_unmask_it         1604
//!   gather_16K                  1315
//!   gather_whole                1255
//!   unmasking each read just copied costs 28 ns per read more than copy + unmask_settled
//! ```
//!
//! With the `pread` lines (2026-12-02, four runs; the `memcpy` figure
//! 25–26 ns in the same runs):
//!
//! ```text
//!   pread_then_unmask_other     6603
//!   pread_then_unmask_it        6694
//!   after a kernel copy (pread), unmasking the bytes just read costs 6 ns per read more than unmasking other bytes
//! ```
//!
//! (6, 11, 14 and 11 ns over the four runs: about half the `memcpy` case.)
//!
//! Unmasking other bytes after each copy costs what the two cost apart
//! (the work overlaps the copy's stores); unmasking the bytes just copied
//! costs 28 ns a read more (its loads wait for those stores). Gathering
//! 16 KiB first removes most of it, the whole frame all of it. After a
//! real kernel copy the extra cost is about half: `compare`'s simulated
//! `recv` (a `memcpy` right before the decoder) overstates it.

use std::hint::black_box;
use std::time::Instant;

use protoswitch::ws::apply_mask;

const FRAME: usize = 64 * 1024;
const TOTAL: usize = 1 << 20;
const READ: usize = 4096;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Reads a few bytes of what was unmasked, as a consumer would.
fn touch(bytes: &[u8]) -> u64 {
    bytes.len() as u64 + u64::from(bytes[0]) + u64::from(bytes[bytes.len() - 1])
}

/// Where a read's bytes start in their frame's payload.
fn frame_offset(read: usize) -> u64 {
    ((read * READ) % FRAME) as u64
}

#[inline(never)]
fn copy(input: &[u8], buf: &mut [u8]) -> u64 {
    let mut total = 0;
    for piece in input.chunks(READ) {
        let to = &mut buf[..piece.len()];
        to.copy_from_slice(piece);
        total += touch(to);
    }
    total
}

#[inline(never)]
fn unmask_settled(input: &[u8], buf: &mut [u8]) -> u64 {
    let mut total = 0;
    for read in 0..input.len() / READ {
        let bytes = &mut buf[..READ];
        apply_mask(bytes, KEY, frame_offset(read));
        total += touch(bytes);
    }
    total
}

#[inline(never)]
fn copy_then_unmask_other(input: &[u8], buf: &mut [u8]) -> u64 {
    let (copied, other) = buf.split_at_mut(2 * READ);
    let mut total = 0;
    for (read, piece) in input.chunks(READ).enumerate() {
        let to = &mut copied[..piece.len()];
        to.copy_from_slice(piece);
        total += touch(to);
        let bytes = &mut other[..READ];
        apply_mask(bytes, KEY, frame_offset(read));
        total += touch(bytes);
    }
    total
}

#[inline(never)]
fn copy_then_unmask_it(input: &[u8], buf: &mut [u8]) -> u64 {
    let mut total = 0;
    for (read, piece) in input.chunks(READ).enumerate() {
        let to = &mut buf[..piece.len()];
        to.copy_from_slice(piece);
        apply_mask(to, KEY, frame_offset(read));
        total += touch(to);
    }
    total
}

/// The reads land one after another in a frame-sized buffer; every
/// `batch` bytes are unmasked at once.
#[inline(always)]
fn gather(input: &[u8], buf: &mut [u8], batch: usize) -> u64 {
    let mut total = 0;
    for (read, piece) in input.chunks(READ).enumerate() {
        let at = (read * READ) % FRAME;
        let end = at + piece.len();
        buf[at..end].copy_from_slice(piece);
        if end.is_multiple_of(batch) {
            let bytes = &mut buf[end - batch..end];
            apply_mask(bytes, KEY, (end - batch) as u64);
            total += touch(bytes);
        }
    }
    total
}

#[inline(never)]
fn gather_16k(input: &[u8], buf: &mut [u8]) -> u64 {
    gather(input, buf, 16 * 1024)
}

#[inline(never)]
fn gather_whole(input: &[u8], buf: &mut [u8]) -> u64 {
    gather(input, buf, FRAME)
}

/// The input as a file on tmpfs: the reads of [`pread_then`] are the
/// kernel's copies, each followed by a system call's return, as a `recv`
/// is.
struct Source(std::fs::File);

thread_local! {
    static SOURCE: std::cell::OnceCell<Source> = const { std::cell::OnceCell::new() };
}

/// Each 4 KiB read a `pread` from [`SOURCE`] into the same 4 KiB, then
/// an unmask of those bytes (`it`) or of other bytes (`!it`).
#[inline(always)]
fn pread_then(input: &[u8], buf: &mut [u8], it: bool) -> u64 {
    use std::os::unix::fs::FileExt;
    let (copied, other) = buf.split_at_mut(2 * READ);
    let mut total = 0;
    SOURCE.with(|source| {
        let file = &source.get().expect("source file").0;
        for read in 0..input.len() / READ {
            let to = &mut copied[..READ];
            let n = file.read_at(to, (read * READ) as u64).expect("pread");
            assert_eq!(n, READ);
            let bytes = if it { to } else { &mut other[..READ] };
            apply_mask(bytes, KEY, frame_offset(read));
            total += touch(bytes);
        }
    });
    total
}

#[inline(never)]
fn pread_then_unmask_other(input: &[u8], buf: &mut [u8]) -> u64 {
    pread_then(input, buf, false)
}

#[inline(never)]
fn pread_then_unmask_it(input: &[u8], buf: &mut [u8]) -> u64 {
    pread_then(input, buf, true)
}

type Way = fn(&[u8], &mut [u8]) -> u64;

fn main() {
    let input: Vec<u8> = (0..TOTAL).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut buf = vec![0u8; FRAME];
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("fresh_unmask.{}", std::process::id()));
    std::fs::write(&path, &input).expect("write the source file");
    let file = std::fs::File::open(&path).expect("open the source file");
    std::fs::remove_file(&path).expect("remove the source file");
    SOURCE.with(|s| s.set(Source(file)).ok().expect("set once"));
    let ways: [(&str, Way); 8] = [
        ("copy", copy),
        ("unmask_settled", unmask_settled),
        ("copy_then_unmask_other", copy_then_unmask_other),
        ("copy_then_unmask_it", copy_then_unmask_it),
        ("gather_16K", gather_16k),
        ("gather_whole", gather_whole),
        ("pread_then_unmask_other", pread_then_unmask_other),
        ("pread_then_unmask_it", pread_then_unmask_it),
    ];
    let reps = 200;
    let frames = (reps * TOTAL / FRAME) as f64;
    let mut best = [f64::MAX; 8];
    for _round in 0..31 {
        for (i, (_, way)) in ways.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..reps {
                black_box(way(black_box(&input), &mut buf));
            }
            best[i] = best[i].min(start.elapsed().as_nanos() as f64 / frames);
        }
    }
    println!("ns per 64 KiB frame in 4 KiB reads (best of 31 rounds):");
    for ((name, _), ns) in ways.iter().zip(best) {
        println!("  {name:24} {ns:7.0}");
    }
    let (copy, settled, it) = (best[0], best[1], best[3]);
    println!(
        "  unmasking each read just copied costs {:.0} ns per read more than copy + unmask_settled",
        (it - copy - settled) / (FRAME / READ) as f64
    );
    println!(
        "  after a kernel copy (pread), unmasking the bytes just read costs {:.0} ns per read more than unmasking other bytes",
        (best[7] - best[6]) / (FRAME / READ) as f64
    );
}
