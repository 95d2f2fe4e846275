//! The workloads' bytes, shared by every implementation.

/// The mixed-script sample of issue 9 (47 bytes: 1-, 2-, 3- and 4-byte
/// characters).
pub const MIXED_SAMPLE: &str = "Hello, мир! こんにちは 🌍 Ωμέγα ";

/// `len` bytes of [`MIXED_SAMPLE`] repeated (whole characters, padded
/// with '.').
pub fn mixed_utf8(len: usize) -> String {
    let mut s = String::with_capacity(len);
    'fill: while s.len() < len {
        for c in MIXED_SAMPLE.chars() {
            if s.len() + c.len_utf8() > len {
                break 'fill;
            }
            s.push(c);
        }
    }
    while s.len() < len {
        s.push('.');
    }
    s
}

/// `len` bytes of printable ASCII.
pub fn ascii(len: usize) -> String {
    (0..len).map(|i| (b' ' + (i % 95) as u8) as char).collect()
}

/// Cuts of `message` into `pieces` fragments of about equal size, each
/// cut moved forward into the middle of a multi-byte character, so every
/// fragment boundary splits a character.
pub fn straddling_cuts(message: &str, pieces: usize) -> Vec<usize> {
    let b = message.as_bytes();
    let mut cuts = Vec::with_capacity(pieces - 1);
    for k in 1..pieces {
        let mut at = k * b.len() / pieces;
        while at < b.len() && (b[at] & 0xC0 != 0x80) {
            at += 1;
        }
        assert!(at < b.len() && !message.is_char_boundary(at));
        cuts.push(at);
    }
    cuts
}

/// Host and path of the handshake workloads.
pub const HOST: &str = "example.com";
/// See [`HOST`].
pub const PATH: &str = "/chat";
/// The RFC 6455 §1.3 nonce: its key is `dGhlIHNhbXBsZSBub25jZQ==`.
pub const NONCE: [u8; 16] = *b"the sample nonce";
/// `base64(NONCE)`.
pub const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";
/// The accept value for [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A browser-like WebSocket upgrade request (259 bytes): what a server
/// handshake parses, validates and answers.
pub const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: http://example.com\r\n\
User-Agent: Mozilla/5.0 (X11)\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

/// Where the split-handshake workload cuts [`REQUEST`]: inside the key.
pub const REQUEST_SPLIT: usize = 100;

/// The 101 a server answers a request with `Sec-WebSocket-Key: key`.
pub fn response_101(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}
