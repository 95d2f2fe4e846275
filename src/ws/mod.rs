//! WebSocket after the switch (RFC 6455 §5–§8): frame header codec,
//! masking, close codes, incremental UTF-8 validation, the message decoder
//! (`decode.rs`, the codec seam), the connection state machine
//! (`connection.rs`: closing, timers, sending), its public types
//! (`types.rs`), policies beside the machine (`policy.rs`: idle timeout,
//! incoming rate limit), and (with `alloc`) message assembly.

mod close;
#[cfg(feature = "deflate")]
mod compress;
mod connection;
mod decode;
#[cfg(feature = "deflate")]
mod deflate;
mod frame;
#[cfg(feature = "deflate")]
mod inflate;
mod mask;
#[cfg(feature = "alloc")]
mod message;
mod policy;
mod types;
mod utf8;

pub use close::{check_close, code, is_valid_close_code};
pub use connection::{Connection, Input, State, TRANSITIONS};
pub use frame::{FrameHeader, MAX_HEADER_LEN, OpCode, ReservedOpCode};
pub use mask::apply_mask;
#[cfg(feature = "alloc")]
pub use message::{Message, MessageAssembler};
pub use policy::{IdleTimer, OnExceeded, RateLimit, RateLimiter, RateVerdict};
pub use types::{
    CloseCause, Config, DataChunk, Event, Keepalive, KeepaliveMode, MAX_CONTROL_PAYLOAD,
    MIN_RECEIVE_BUFFER, MIN_TRANSMIT_BUFFER, MaskSource, MessageKind, NoMask,
};
pub use utf8::{Utf8Error, Utf8Validator};
