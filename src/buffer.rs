//! [`RecvBuffer`]: the receive side of the I/O loop, so that no caller
//! writes start/end/compact again.

/// A receive buffer over storage the caller owns (an array, a slice, a
/// `Vec` with `alloc`): the transport writes at the end, the machines read
/// from the front.
///
/// One turn of the loop of the [crate docs](crate):
///
/// ```
/// use protoswitch::RecvBuffer;
/// use protoswitch::ws::{Config, Connection, Event};
/// use protoswitch::Instant;
///
/// let mut buf = RecvBuffer::new([0u8; 256]);
/// let mut ws = Connection::server(Config::default(), Instant::ZERO);
/// // A read from the transport: what fits in `spare_mut()`, then `filled`.
/// let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // "Hello", masked
/// let spare = buf.spare_mut();
/// spare[..frame.len()].copy_from_slice(frame);
/// buf.filled(frame.len());
/// // The machine reads from the front; the consumed bytes are dropped
/// // (also on "need more": a frame header alone is consumed).
/// loop {
///     let got = ws.receive(buf.data_mut(), Instant::ZERO).unwrap();
///     let consumed = got.consumed;
///     let more = match got.event {
///         Some(Event::Data(chunk)) => {
///             assert_eq!(chunk.payload, b"Hello");
///             true
///         }
///         Some(_) => true,
///         None => false,
///     };
///     buf.consume(consumed);
///     if !more {
///         break;
///     }
/// }
/// assert!(buf.is_empty());
/// ```
///
/// `spare_mut` moves the unread bytes to the front when that makes room,
/// so the whole capacity is usable, and when less than half of it is left
/// at the end and they are no more than what was consumed since. For a
/// loop like the one above, which calls the machine until it needs more
/// before each read, the copying stays linear: what the machine waits
/// for is moved at most once before it is consumed. (A caller that
/// consumes a byte at a time from a full buffer moves the rest each
/// time.) A full buffer (`is_full`) means the machine needs more bytes
/// than it holds (a head or control frame larger
/// than the storage, or with `ws::Config::whole_frames` a data frame):
/// grow it (`reserve`, with `alloc`) or give up.
#[derive(Debug, Clone)]
pub struct RecvBuffer<S> {
    storage: S,
    start: usize,
    end: usize,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> RecvBuffer<S> {
    /// An empty buffer over `storage` (its bytes are not read).
    pub const fn new(storage: S) -> Self {
        RecvBuffer {
            storage,
            start: 0,
            end: 0,
        }
    }

    /// The bytes received and not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.storage.as_ref()[self.start..self.end]
    }

    /// The same, mutable (a WebSocket connection unmasks in place).
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage.as_mut()[self.start..self.end]
    }

    /// Drops the first `n` bytes of [`data`](Self::data) (what a
    /// `receive` consumed); at most all of them.
    pub fn consume(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room for the next read, after the unread bytes; empty when the
    /// buffer is full. The unread bytes move to the front first when the
    /// front is free and either the end is full, or less than half the
    /// storage is left at the end and they are no more than the free front
    /// (what was consumed since the last move): a frame's first bytes kept
    /// near the end would otherwise cut the next read to the few bytes
    /// left there (issue 9: 16 KiB frames in 16 KiB reads, gathered whole,
    /// read 14 bytes every other time), while a read with room enough
    /// moves nothing.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let capacity = self.storage.as_ref().len();
        let unread = self.end - self.start;
        let short = capacity - self.end < capacity / 2 && unread <= self.start;
        if self.start > 0 && (self.end == capacity || short) {
            self.storage.as_mut().copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.storage.as_mut()[self.end..]
    }

    /// `n` bytes were written at the start of [`spare_mut`](Self::spare_mut)
    /// (at most its length).
    pub fn filled(&mut self, n: usize) {
        let capacity = self.storage.as_ref().len();
        self.end += n.min(capacity - self.end);
    }

    /// How many bytes are unread.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// No byte is unread.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The storage's size.
    pub fn capacity(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// Every byte of the storage is unread: no room for a read.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// The storage back.
    pub fn into_inner(self) -> S {
        self.storage
    }
}

#[cfg(feature = "alloc")]
impl RecvBuffer<alloc::vec::Vec<u8>> {
    /// A buffer over a `Vec` of `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        RecvBuffer::new(alloc::vec![0; capacity])
    }

    /// Grows the storage by `additional` bytes (zeroed once, here), for a
    /// head or a frame larger than the buffer.
    pub fn reserve(&mut self, additional: usize) {
        let capacity = self.storage.len().saturating_add(additional);
        self.storage.resize(capacity, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::VecDeque;
    use alloc::vec::Vec;

    #[test]
    fn fills_consumes_and_compacts() {
        let mut b = RecvBuffer::new([0u8; 8]);
        assert_eq!((b.len(), b.capacity(), b.is_empty()), (0, 8, true));
        b.spare_mut()[..6].copy_from_slice(b"abcdef");
        b.filled(6);
        b.consume(1);
        assert_eq!(b.data(), b"bcdef");
        // Five unread bytes, one free at the front: no move, two bytes of
        // room at the end.
        assert_eq!(b.spare_mut().len(), 2);
        b.spare_mut().copy_from_slice(b"gh");
        b.filled(2);
        // The end is full and the front free: the unread bytes move.
        assert_eq!(b.spare_mut().len(), 1);
        assert_eq!(b.data(), b"bcdefgh");
        b.consume(4);
        // Three unread bytes, four free at the front: they move, though
        // the end has room.
        assert_eq!(b.spare_mut().len(), 5);
        assert_eq!(b.data(), b"fgh");
        b.spare_mut()[..3].copy_from_slice(b"ijk");
        b.filled(3);
        assert_eq!(b.data(), b"fghijk");

        b.filled(100); // clamped to the room
        assert!(b.is_full());
        assert!(b.spare_mut().is_empty());
        b.consume(100); // clamped to what is unread
        assert!(b.is_empty());
        assert_eq!(b.spare_mut().len(), 8);
        b.spare_mut()[..3].copy_from_slice(b"lmn");
        b.filled(3);
        b.consume(2);
        // One unread byte, two free at the front, but five of eight left
        // at the end: a read has room enough, nothing moves.
        assert_eq!(b.spare_mut().len(), 5);
        assert_eq!(b.data(), b"n");
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn grows_with_alloc() {
        let mut b = RecvBuffer::with_capacity(2);
        b.spare_mut().copy_from_slice(b"ab");
        b.filled(2);
        assert!(b.is_full());
        b.reserve(3);
        assert_eq!(b.spare_mut().len(), 3);
        assert_eq!(b.data(), b"ab");
    }

    /// A deterministic source of numbers below `n` (xorshift32).
    fn xorshift(mut x: u32) -> impl FnMut(u32) -> u32 {
        move |n| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        }
    }

    /// The loop of the crate docs: units (frames, heads) of any size up
    /// to the capacity arrive in smaller reads, and each is consumed
    /// once it is all in; every byte is moved at most once, so the bytes
    /// moved never exceed the bytes consumed.
    #[test]
    fn a_loop_that_drains_the_machine_moves_each_byte_at_most_once() {
        let mut next = xorshift(99u32);
        for capacity in [16usize, 100, 4096] {
            let mut b = RecvBuffer::new(std::vec![0u8; capacity]);
            // The unit at the front: its size, and how much of it is in.
            let (mut unit, mut moved, mut consumed) = (1 + next(capacity as u32) as usize, 0, 0);
            for _ in 0..20_000 {
                let (at, unread) = (b.start, b.len());
                let room = b.spare_mut().len();
                if b.start != at {
                    moved += unread;
                }
                // Reads mostly smaller than the units: a unit arrives in
                // several, and is the one to move.
                let n = (1 + next(capacity as u32 / 8) as usize).min(room);
                b.filled(n);
                // The machine: every whole unit out, then "need more".
                while b.len() >= unit {
                    b.consume(unit);
                    consumed += unit;
                    unit = 1 + next(capacity as u32) as usize;
                }
            }
            assert!(
                moved <= consumed,
                "capacity {capacity}: moved {moved} > {consumed}"
            );
            assert!(moved > 0 && consumed > 0);
        }
    }

    /// Against a model (a queue): any sequence of reads and consumes keeps
    /// the same unread bytes.
    #[test]
    fn behaves_like_a_queue() {
        let mut next = xorshift(12345u32);
        let mut b = RecvBuffer::new([0u8; 37]);
        let mut model = VecDeque::new();
        let mut byte = 0u8;
        // Bytes moved by `spare_mut`, bytes consumed: the first never
        // exceeds the second.
        let (mut moved, mut consumed) = (0, 0);
        for _ in 0..10_000 {
            if next(2) == 0 {
                let (at, unread) = (b.start, model.len());
                let spare = b.spare_mut();
                let n = (next(40) as usize).min(spare.len());
                for s in &mut spare[..n] {
                    byte = byte.wrapping_add(1);
                    *s = byte;
                    model.push_back(byte);
                }
                if b.start != at {
                    moved += unread;
                }
                b.filled(n);
            } else {
                let n = next(40) as usize;
                consumed += n.min(model.len());
                b.consume(n);
                for _ in 0..n.min(model.len()) {
                    model.pop_front();
                }
            }
            assert_eq!(b.data(), model.iter().copied().collect::<Vec<_>>());
            // Room whenever not full (compacting when the end is reached).
            let at = b.start;
            let room = b.spare_mut().len();
            if b.start != at {
                moved += model.len();
            }
            assert!(room <= 37 - model.len());
            assert_eq!(room == 0, model.len() == 37);
            assert!(moved <= consumed, "moved {moved}, consumed {consumed}");
        }
        assert!(moved > 0);
    }
}
