//! WebSocket after the switch (RFC 6455 §5–§8): frame header codec,
//! masking, close codes, incremental UTF-8 validation, the connection state
//! machine, and (with `alloc`) message assembly.

mod close;
mod connection;
mod frame;
mod mask;
#[cfg(feature = "alloc")]
mod message;
mod utf8;

pub use close::{code, is_valid_close_code};
pub use connection::{
    CloseCause, Config, Connection, DataChunk, Event, Keepalive, KeepaliveMode,
    MAX_CONTROL_PAYLOAD, MIN_RECEIVE_BUFFER, MIN_TRANSMIT_BUFFER, MaskSource, MessageKind, NoMask,
    State,
};
pub use frame::{FrameHeader, MAX_HEADER_LEN, OpCode, ReservedOpCode};
pub use mask::apply_mask;
#[cfg(feature = "alloc")]
pub use message::{Message, MessageAssembler};
pub use utf8::{Utf8Error, Utf8Validator};
