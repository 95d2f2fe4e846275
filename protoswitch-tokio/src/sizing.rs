//! Buffers sized to the traffic (issue 11): a connection that exchanges
//! small messages holds a few KiB, one that streams large ones gets large
//! reads, and one whose traffic drops gives the memory back.
//!
//! * The receive buffer starts at [`INITIAL_READ`] (or
//!   [`Options::read_buffer_size`](crate::Options::read_buffer_size) if
//!   smaller) and doubles, up to that option, whenever a read leaves it
//!   full: more bytes were waiting than it could take. It halves (not below
//!   its start) when the transport has nothing to read, the buffer is
//!   empty, and the last [`SHRINK_AFTER`] reads each left at least three
//!   quarters of it unused. A head or control frame larger than the buffer
//!   still grows it whatever the option says.
//! * The inflate buffer (permessage-deflate) starts at [`INITIAL_READ`]
//!   too and doubles, up to the same option, when a chunk fills it.
//! * The write queue lets go of storage above [`KEEP_WRITE`] once it has
//!   drained (see `WriteQueue::advance`).
//!
//! Resizing zero-fills the new storage once; no message is copied or
//! zero-filled because of it.

use protoswitch::RecvBuffer;

/// Where the receive and inflate buffers start.
pub(crate) const INITIAL_READ: usize = 2 * 1024;

/// Reads that used at most a quarter of the receive buffer before it
/// halves.
pub(crate) const SHRINK_AFTER: u32 = 8;

/// The write queue's storage kept once drained; larger storage (a burst
/// of queued frames, a large compressed message) is freed.
pub(crate) const KEEP_WRITE: usize = 16 * 1024;

/// The receive buffer's sizing state.
#[derive(Debug)]
pub(crate) struct ReadSizing {
    min: usize,
    max: usize,
    /// Reads in a row since the last resize that left three quarters of
    /// the buffer unused.
    small_reads: u32,
}

impl ReadSizing {
    /// Sizing between the buffer's start and `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        ReadSizing {
            min: INITIAL_READ.min(max),
            max,
            small_reads: 0,
        }
    }

    /// Before a read: a full buffer (a head or control frame larger than
    /// it) doubles, whatever the maximum.
    pub(crate) fn before_read(&mut self, recv: &mut RecvBuffer<Vec<u8>>) {
        if recv.is_full() {
            let grow = recv.capacity().max(1);
            recv.reserve(grow);
            self.small_reads = 0;
        }
    }

    /// After a read of at least one byte: a buffer the read filled doubles
    /// (up to the maximum); one left three quarters empty counts towards
    /// shrinking.
    pub(crate) fn after_read(&mut self, recv: &mut RecvBuffer<Vec<u8>>) {
        let capacity = recv.capacity();
        if recv.is_full() && capacity < self.max {
            recv.reserve(capacity.min(self.max - capacity));
            self.small_reads = 0;
        } else if recv.len() <= capacity / 4 {
            self.small_reads = self.small_reads.saturating_add(1);
        } else {
            self.small_reads = 0;
        }
    }

    /// The transport has nothing to read: an empty buffer that has been
    /// mostly unused for [`SHRINK_AFTER`] reads halves.
    pub(crate) fn idle(&mut self, recv: &mut RecvBuffer<Vec<u8>>) {
        if recv.is_empty() && self.small_reads >= SHRINK_AFTER && recv.capacity() > self.min {
            *recv = RecvBuffer::with_capacity((recv.capacity() / 2).max(self.min));
            self.small_reads = 0;
        }
    }
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

    fn fill(recv: &mut RecvBuffer<Vec<u8>>, n: usize) {
        let spare = recv.spare_mut();
        let n = n.min(spare.len());
        spare[..n].fill(1);
        recv.filled(n);
    }

    #[test]
    fn grows_while_reads_fill_it_up_to_the_maximum() {
        let mut s = ReadSizing::new(16 * 1024);
        let mut recv = RecvBuffer::with_capacity(INITIAL_READ);
        for expected in [4096, 8192, 16384, 16384] {
            s.before_read(&mut recv);
            fill(&mut recv, usize::MAX);
            s.after_read(&mut recv);
            assert_eq!(recv.capacity(), expected);
            recv.consume(usize::MAX);
        }
    }

    #[test]
    fn a_full_buffer_grows_past_the_maximum_for_a_large_frame() {
        let mut s = ReadSizing::new(256);
        let mut recv = RecvBuffer::with_capacity(256);
        fill(&mut recv, 256);
        s.after_read(&mut recv);
        assert_eq!(recv.capacity(), 256);
        s.before_read(&mut recv);
        assert_eq!(recv.capacity(), 512);
        assert_eq!(recv.len(), 256);
    }

    #[test]
    fn shrinks_when_idle_after_small_reads_only() {
        let mut s = ReadSizing::new(64 * 1024);
        let mut recv = RecvBuffer::with_capacity(16 * 1024);
        for _ in 0..SHRINK_AFTER - 1 {
            fill(&mut recv, 100);
            s.after_read(&mut recv);
            recv.consume(100);
        }
        s.idle(&mut recv);
        assert_eq!(recv.capacity(), 16 * 1024, "not yet");
        // A large read in between starts the count again.
        fill(&mut recv, 8 * 1024);
        s.after_read(&mut recv);
        recv.consume(usize::MAX);
        for _ in 0..SHRINK_AFTER {
            fill(&mut recv, 100);
            s.after_read(&mut recv);
        }
        s.idle(&mut recv);
        assert_eq!(recv.capacity(), 16 * 1024, "bytes unread: kept");
        recv.consume(usize::MAX);
        s.idle(&mut recv);
        assert_eq!(recv.capacity(), 8 * 1024);
        // Again after another run of small reads, down to the start.
        for size in [4096, 2048, 2048] {
            for _ in 0..SHRINK_AFTER {
                fill(&mut recv, 10);
                s.after_read(&mut recv);
                recv.consume(10);
            }
            s.idle(&mut recv);
            assert_eq!(recv.capacity(), size);
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
