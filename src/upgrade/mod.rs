//! HTTP/1.1 protocol switching: the client and server handshake machines,
//! and one module per protocol rule set (WebSocket, h2c; any other token is
//! generic and left to the application).

mod base64;
pub mod client;
mod deflate;
mod h2c;
mod negotiation;
mod protocol;
pub mod server;
pub(crate) mod sha1;
mod websocket;

pub use client::{
    ClientConfig, ClientEvent, ClientHandshake, ClientInput, ClientRequest, ClientState, Diagnosis,
};
pub use deflate::{Agreed, DeflateConfig, DeflateParams, ExtensionValue, PERMESSAGE_DEFLATE};
pub use h2c::H2cOffer;
pub(crate) use h2c::check_offer as check_h2c_offer;
pub use negotiation::Negotiation;
pub use protocol::{Protocol, ProtocolKind};
pub use server::{
    Accept, MissingUpgrade, Request, Response, ServerConfig, ServerEvent, ServerHandshake,
    ServerInput, ServerState, Switch,
};
pub(crate) use websocket::check_offer as check_websocket_offer;
pub use websocket::{
    Extension, WEBSOCKET_GUID, WEBSOCKET_VERSION, WebSocketOffer, accept_key, is_valid_key,
    websocket_key,
};
