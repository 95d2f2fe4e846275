//! HTTP/1.1 protocol switching: the client and server handshake machines,
//! and one module per protocol rule set (WebSocket, h2c; any other token is
//! generic and left to the application).

pub mod client;
mod h2c;
mod negotiation;
mod protocol;
pub mod server;
mod websocket;

pub use client::{
    ClientConfig, ClientEvent, ClientHandshake, ClientInput, ClientRequest, ClientState, Diagnosis,
};
pub use h2c::H2cOffer;
pub use negotiation::{EXTENSION_CAPACITY, Negotiation, OFFER_CAPACITY, SUBPROTOCOL_CAPACITY};
pub use protocol::{Protocol, ProtocolKind};
pub use server::{
    Accept, Request, Response, ServerConfig, ServerEvent, ServerHandshake, ServerInput, ServerState,
};
pub use websocket::{
    Extension, WEBSOCKET_GUID, WEBSOCKET_VERSION, WebSocketOffer, accept_key, is_valid_key,
    websocket_key,
};

/// Copies the unsent part of `pending` into `out`.
pub(crate) fn drain(pending: &[u8], sent: &mut usize, out: &mut [u8]) -> usize {
    let rest = &pending[(*sent).min(pending.len())..];
    let n = rest.len().min(out.len());
    out[..n].copy_from_slice(&rest[..n]);
    *sent += n;
    n
}
