//! The fuzz targets' checks, one module each. `check(data)` never panics
//! for a correct machine, whatever `data` is.

pub mod client_handshake;
pub mod connection;
pub mod deflate;
pub mod frame_decoder;
pub mod mask;
pub mod relay;
pub mod roundtrip;
pub mod server_handshake;
