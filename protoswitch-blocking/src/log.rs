//! Handshake and close events through `tracing` (feature `tracing`):
//! with the feature off, [`log!`] expands to nothing and its arguments
//! are not evaluated.

/// `log!(info, field = value, "message")`: a `tracing` event at that
/// level under the target `protoswitch_blocking`, when the feature is on.
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {{
        #[cfg(feature = "tracing")]
        tracing::$level!(target: "protoswitch_blocking", $($arg)+);
    }};
}

pub(crate) use log;
