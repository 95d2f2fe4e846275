//! Buffers sized to the traffic (issue 11): a connection that exchanges
//! small messages holds a few KiB, one that streams large ones gets large
//! reads, and one whose traffic drops gives the memory back.
//!
//! * The receive buffer (a `BytesMut`) is sized by a target, [`ReadSizing`]:
//!   it starts at [`INITIAL_READ`] (or
//!   [`Options::read_buffer_size`](crate::Options::read_buffer_size) if
//!   smaller) and doubles, up to that option, whenever a read leaves the
//!   buffer full (to within an eighth of the target, the slack below):
//!   more bytes were waiting than it could take. A frame the
//!   stream keeps whole (a message in one frame, handed out without a
//!   copy: see `stream.rs`) raises it to the frame's size. It halves (not
//!   below its start) when the transport has nothing to read, the buffer
//!   is empty, and the last [`SHRINK_AFTER`] reads each left at least
//!   three quarters of it unused. A head or control frame larger than the
//!   buffer still grows it whatever the option says.
//! * Messages split off the buffer share its storage. Before a read that
//!   would have less than seven eighths of the target as room (small
//!   messages split off the front do not take the storage back at every
//!   read; a frame kept whole must fit the room), the buffer takes its
//!   storage back when every such message is dropped
//!   (`BytesMut::try_reclaim`: no allocation, at most a move of the unread
//!   bytes); while the application holds one, the reads go on in what is
//!   left of the storage, and new storage of the target size is allocated
//!   only when less than a quarter of the target is left. Storage is never
//!   zero-filled: reads go into its spare capacity.
//! * The inflate buffer (permessage-deflate) starts at [`INITIAL_READ`]
//!   too and doubles, up to the same option, when a chunk fills it.
//! * The write queue lets go of storage above [`KEEP_WRITE`] once it has
//!   drained (see `WriteQueue::advance`).

use bytes::BytesMut;
use protoswitch::RecvBuffer;

/// Where the receive and inflate buffers start.
pub(crate) const INITIAL_READ: usize = 2 * 1024;

/// Reads that used at most a quarter of the receive buffer before it
/// halves.
pub(crate) const SHRINK_AFTER: u32 = 8;

/// The write queue's storage kept once drained; larger storage (a burst
/// of queued frames, a large compressed message) is freed.
pub(crate) const KEEP_WRITE: usize = 16 * 1024;

/// A message in one frame is split off the receive buffer (no copy) when
/// it is at least 1/`PIN_RATIO` of the buffer's storage, or the storage is
/// at its smallest: a message the application holds keeps the buffer's whole
/// storage alive, so a message pins at most this many times its size, or
/// the smallest buffer. Smaller messages in a larger buffer are copied
/// into storage of their own.
const PIN_RATIO: usize = 4;

/// The receive buffer's sizing state.
#[derive(Debug)]
pub(crate) struct ReadSizing {
    min: usize,
    max: usize,
    /// The buffer's target size: unread bytes plus room for a read.
    size: usize,
    /// The size of the storage the buffer was last given (by the
    /// handshake or [`before_read`](Self::before_read)).
    storage: usize,
    /// Reads in a row since the last resize that left three quarters of
    /// the buffer unused.
    small_reads: u32,
}

impl ReadSizing {
    /// Sizing between the buffer's start and `max` bytes, for `recv` as
    /// the handshake hands it over.
    pub(crate) fn new(max: usize, recv: &BytesMut) -> Self {
        let min = INITIAL_READ.min(max).max(1);
        ReadSizing {
            min,
            max,
            size: min,
            storage: recv.capacity(),
            small_reads: 0,
        }
    }

    /// The target size.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Whether a message of `len` bytes split off the receive buffer pins
    /// little of its storage: at least 1/[`PIN_RATIO`] of it, or storage
    /// at its smallest. The storage, not the target size: the handshake's
    /// (grown for a long head) stays in use while it holds the target,
    /// and a small message split off it would pin all of it. Smaller
    /// messages are copied.
    pub(crate) fn pins_little(&self, len: usize) -> bool {
        let storage = self.size.max(self.storage);
        len.saturating_mul(PIN_RATIO) >= storage || storage <= INITIAL_READ
    }

    /// Before a read: room for it. A full buffer (a head or control frame
    /// larger than it) doubles, whatever the maximum; `wanted` (the size
    /// of a frame the stream keeps whole, at most the maximum) raises the
    /// target towards it as its bytes arrive: to at most twice the bytes
    /// held, so that a header alone announcing a large frame commits no
    /// memory. Returns the room for the read (never 0).
    // The usual answer (below the target, no frame wanted, enough room)
    // inlined at the call, the rest out of line: as one function it was
    // a call of 51 instructions at every read, six registers saved
    // (echo_ir: -41 per 20-byte echo, with `frame_wanted`'s answer for
    // an empty buffer).
    #[inline(always)]
    pub(crate) fn before_read(&mut self, recv: &mut BytesMut, wanted: Option<usize>) -> usize {
        let len = recv.len();
        let spare = recv.capacity() - len;
        if wanted.is_none() && len < self.size {
            let need = self.size - len;
            if spare >= need - need / 8 {
                return spare;
            }
        }
        self.resize_before_read(recv, wanted)
    }

    /// [`before_read`](Self::before_read) when the buffer is at or past
    /// its target, a frame is wanted, or the room is short.
    #[inline(never)]
    fn resize_before_read(&mut self, recv: &mut BytesMut, wanted: Option<usize>) -> usize {
        let len = recv.len();
        if len >= self.size {
            self.size = (2 * self.size).max(len + 1);
            self.small_reads = 0;
        }
        if let Some(wanted) = wanted {
            let towards = wanted.min(2 * len.max(1));
            if towards > self.size {
                self.size = towards.next_power_of_two().min(self.max).max(towards);
                self.small_reads = 0;
            }
        }
        let need = self.size - len;
        let spare = recv.capacity() - len;
        // Enough room (all but an eighth of it: small messages split off
        // the front take the storage back every so often, not at every
        // read; but all of a frame kept whole); or the rest of the frame kept whole fits in what is
        // left (read there: taking the storage back would move the kept
        // bytes); or the storage is of the target size and comes back
        // whole (nothing else holds it); or it is held (messages the
        // application keeps, or the unread bytes fill much of it), but
        // what is left of it still makes a read of a quarter of the
        // target, and fits the frame kept whole.
        let room = (spare >= need - need / 8 && wanted.is_none_or(|w| w - len <= spare))
            || wanted.is_some_and(|w| w - len <= spare)
            || (self.storage >= self.size
                && (recv.try_reclaim(need)
                    || (spare >= (need / 4).max(1) && wanted.is_none_or(|w| w - len <= spare))));
        if !room {
            // New storage (grown, or in place of the held one), the unread
            // bytes moved into it.
            let mut fresh = BytesMut::with_capacity(self.size);
            fresh.extend_from_slice(recv);
            *recv = fresh;
            self.storage = self.size;
        }
        recv.capacity() - recv.len()
    }

    /// After a read of `n` bytes (at least one) into `room` bytes: a
    /// buffer the read left full (to within the eighth `before_read` may
    /// leave out) doubles (up to the maximum); one left three quarters
    /// empty counts towards shrinking.
    pub(crate) fn after_read(&mut self, recv: &BytesMut, n: usize, room: usize) {
        if n == room && recv.len() >= self.size - self.size / 8 && self.size < self.max {
            self.size = (2 * self.size).min(self.max);
            self.small_reads = 0;
        } else if recv.len() <= self.size / 4 {
            self.small_reads = self.small_reads.saturating_add(1);
        } else {
            self.small_reads = 0;
        }
    }

    /// The transport has nothing to read: an empty buffer that has been
    /// mostly unused for [`SHRINK_AFTER`] reads halves (its storage is let
    /// go; the next read allocates the new size).
    pub(crate) fn idle(&mut self, recv: &mut BytesMut) {
        if recv.is_empty() && self.small_reads >= SHRINK_AFTER && self.size > self.min {
            self.size = (self.size / 2).max(self.min);
            *recv = BytesMut::new();
            self.storage = 0;
            self.small_reads = 0;
        }
    }
}

/// The handshake's receive buffer as the stream's: the bytes read after
/// the head (the first frames) in a buffer of the handshake's size.
pub(crate) fn from_handshake(recv: &RecvBuffer<Vec<u8>>) -> BytesMut {
    from_read(recv.data(), recv.capacity())
}

/// Bytes already read (`read`) in a new receive buffer of at least
/// `capacity` bytes.
pub(crate) fn from_read(read: &[u8], capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity.max(read.len()));
    buf.extend_from_slice(read);
    buf
}

/// The inflate buffer after a chunk of `written` bytes: doubled (up to
/// `max`) when the chunk filled it.
pub(crate) fn grow_inflated(inflated: &mut Vec<u8>, written: usize, max: usize) {
    let len = inflated.len();
    if written == len && len < max {
        inflated.resize((2 * len).min(max), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read of `n` bytes (at most the room) as the stream does it.
    fn read(s: &mut ReadSizing, recv: &mut BytesMut, n: usize, wanted: Option<usize>) -> usize {
        let room = s.before_read(recv, wanted);
        let n = n.min(room);
        recv.extend(std::iter::repeat_n(1u8, n));
        s.after_read(recv, n, room);
        n
    }

    /// A message is split off (not copied) only when it pins at most
    /// `PIN_RATIO` times its size of the storage: the storage's size
    /// counts, also when larger than the target (the handshake's).
    #[test]
    fn a_message_split_off_pins_at_most_four_times_its_size() {
        let small = ReadSizing::new(64 * 1024, &BytesMut::with_capacity(INITIAL_READ));
        assert!(small.pins_little(1), "the smallest storage: always split");
        let long_head = ReadSizing::new(64 * 1024, &BytesMut::with_capacity(16 * 1024));
        assert_eq!(long_head.size(), INITIAL_READ);
        assert!(!long_head.pins_little(600), "600 B would pin 16 KiB");
        assert!(!long_head.pins_little(4095));
        assert!(long_head.pins_little(4096));
    }

    #[test]
    fn grows_while_reads_fill_it_up_to_the_maximum() {
        let mut s = ReadSizing::new(16 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        for expected in [4096, 8192, 16384, 16384] {
            read(&mut s, &mut recv, usize::MAX, None);
            assert_eq!(s.size(), expected);
            recv.clear();
        }
        assert!(recv.capacity() <= 16 * 1024, "{}", recv.capacity());
    }

    #[test]
    fn a_full_buffer_grows_past_the_maximum_for_a_large_frame() {
        let mut s = ReadSizing::new(256, &BytesMut::new());
        let mut recv = BytesMut::new();
        read(&mut s, &mut recv, 256, None);
        assert_eq!((s.size(), recv.len()), (256, 256));
        let room = s.before_read(&mut recv, None);
        assert_eq!((s.size(), room), (512, 256));
        assert_eq!(recv.len(), 256);
    }

    #[test]
    fn room_for_a_frame_kept_whole_grows_as_its_bytes_arrive() {
        let mut s = ReadSizing::new(64 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        // A header and a few bytes announcing 16 KiB: nothing committed
        // beyond the buffer's start.
        read(&mut s, &mut recv, 100, None);
        s.before_read(&mut recv, Some(16 * 1024 + 4));
        assert_eq!(s.size(), 2 * 1024);
        // 6,000 bytes of it arrived: room for up to twice that.
        recv.extend(std::iter::repeat_n(1u8, 5900));
        let room = s.before_read(&mut recv, Some(16 * 1024 + 4));
        assert_eq!(s.size(), 16 * 1024);
        assert!(room >= 16 * 1024 - 6000, "{room}");
        assert_eq!(recv.len(), 6000, "the unread bytes kept");
        // The rest of the frame fits what is left: read there, nothing
        // moved, whatever the target.
        let at = recv.as_ptr();
        s.before_read(&mut recv, Some(16 * 1024 + 4));
        assert_eq!(recv.as_ptr(), at);
    }

    #[test]
    fn storage_comes_back_once_the_messages_sharing_it_are_dropped() {
        let mut s = ReadSizing::new(64 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        read(&mut s, &mut recv, 1000, None);
        let storage = recv.as_ptr();
        let first = recv.split_to(1000).freeze();
        // Held: the reads go on in the rest of the storage.
        read(&mut s, &mut recv, 600, None);
        assert_eq!(recv.as_ptr(), storage.wrapping_add(1000));
        let second = recv.split_to(600).freeze();
        // Less than a quarter left while they are held: new storage.
        read(&mut s, &mut recv, 10, None);
        let fresh = recv.as_ptr();
        assert_ne!(fresh, storage.wrapping_add(1600));
        drop(recv.split_to(10).freeze());
        // Dropped, but all but an eighth of the target is left: the reads
        // go on there (a small message does not take the storage back).
        read(&mut s, &mut recv, 290, None);
        assert_eq!(recv.as_ptr(), fresh.wrapping_add(10));
        drop(recv.split_to(290).freeze());
        // Less than that left: the storage is taken back whole, not
        // reallocated.
        read(&mut s, &mut recv, 2048, None);
        assert_eq!(recv.as_ptr(), fresh);
        assert_eq!(recv[..], [1; 2048][..]);
        assert_eq!(first[..], [1; 1000][..]);
        assert_eq!(second[..], [1; 600][..]);
    }

    #[test]
    fn a_read_filling_a_room_an_eighth_short_doubles_the_target() {
        let mut s = ReadSizing::new(64 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        read(&mut s, &mut recv, 200, None);
        drop(recv.split_to(200).freeze());
        // 1,848 of the 2,048 left: room enough, not taken back, and a
        // read that fills it fills the buffer.
        let at = recv.as_ptr();
        let n = read(&mut s, &mut recv, usize::MAX, None);
        assert_eq!((n, recv.as_ptr()), (1848, at));
        assert_eq!(s.size(), 4096);
    }

    #[test]
    fn a_frame_kept_whole_needs_all_its_rest_in_the_room() {
        let mut s = ReadSizing::new(64 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        read(&mut s, &mut recv, 200, None);
        drop(recv.split_to(200).freeze());
        // A kept frame of 2,000 bytes, 100 of them here: 1,748 left is
        // within the slack but too little for its 1,900 bytes to come.
        recv.extend(std::iter::repeat_n(1u8, 100));
        let room = s.before_read(&mut recv, Some(2000));
        assert!(room >= 1900, "{room}");
        assert_eq!(recv.len(), 100, "the unread bytes kept");
    }

    #[test]
    fn a_held_storage_with_no_room_left_is_replaced() {
        let mut s = ReadSizing::new(2048, &BytesMut::new());
        let mut recv = BytesMut::new();
        read(&mut s, &mut recv, 2, None);
        let held = recv.split_to(2).freeze();
        // The rest of the storage filled, two bytes short of the target
        // size (the maximum: it does not double): no room, and the
        // storage cannot come back.
        read(&mut s, &mut recv, 2046, None);
        assert_eq!((recv.len(), recv.capacity(), s.size()), (2046, 2046, 2048));
        let room = s.before_read(&mut recv, None);
        assert_eq!((room, recv.len()), (2, 2046));
        assert_eq!(recv.capacity(), 2048, "new storage of the target size");
        assert_eq!(held[..], [1; 2][..]);
    }

    #[test]
    fn shrinks_when_idle_after_small_reads_only() {
        let mut s = ReadSizing::new(64 * 1024, &BytesMut::new());
        let mut recv = BytesMut::new();
        // Grown to 16 KiB by full reads.
        while s.size() < 16 * 1024 {
            read(&mut s, &mut recv, usize::MAX, None);
            recv.clear();
        }
        for _ in 0..SHRINK_AFTER - 1 {
            read(&mut s, &mut recv, 100, None);
            recv.clear();
        }
        s.idle(&mut recv);
        assert_eq!(s.size(), 16 * 1024, "not yet");
        // A large read in between starts the count again.
        read(&mut s, &mut recv, 8 * 1024, None);
        recv.clear();
        for _ in 0..SHRINK_AFTER {
            read(&mut s, &mut recv, 100, None);
        }
        s.idle(&mut recv);
        assert_eq!(s.size(), 16 * 1024, "bytes unread: kept");
        recv.clear();
        s.idle(&mut recv);
        assert_eq!(s.size(), 8 * 1024);
        assert_eq!(recv.capacity(), 0, "the storage let go");
        // Again after another run of small reads, down to the start.
        for size in [4096, 2048, 2048] {
            for _ in 0..SHRINK_AFTER {
                read(&mut s, &mut recv, 10, None);
                recv.clear();
            }
            s.idle(&mut recv);
            assert_eq!(s.size(), size);
        }
    }

    #[test]
    fn inflate_buffer_doubles_when_filled() {
        let mut v = vec![0; 2048];
        grow_inflated(&mut v, 100, 8192);
        assert_eq!(v.len(), 2048);
        grow_inflated(&mut v, 2048, 8192);
        assert_eq!(v.len(), 4096);
        grow_inflated(&mut v, 4096, 5000);
        assert_eq!(v.len(), 5000);
        grow_inflated(&mut v, 5000, 5000);
        assert_eq!(v.len(), 5000);
    }
}
