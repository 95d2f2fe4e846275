//! The frame header (RFC 6455 §5.2): decoding with every rule checked, and
//! encoding in the shortest length form.

use crate::error::{PeerErrorKind, Role};

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: UTF-8 text.
    Text,
    /// 0x2: binary data.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The 4-bit value; `None` for reserved opcodes.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A reserved opcode (0x3–0x7, 0xB–0xF) or a value above 4 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReservedOpCode(pub u8);

impl core::fmt::Display for ReservedOpCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "opcode {:#x} is reserved (RFC 6455 §5.2)", self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ReservedOpCode {}

/// ```
/// use protoswitch::ws::{OpCode, ReservedOpCode};
/// assert_eq!(OpCode::try_from(0x9), Ok(OpCode::Ping));
/// assert_eq!(OpCode::try_from(0x3), Err(ReservedOpCode(0x3)));
/// assert_eq!(ReservedOpCode(0xB).to_string(), "opcode 0xb is reserved (RFC 6455 §5.2)");
/// assert_eq!(u8::from(OpCode::Pong), 0xA);
/// ```
impl TryFrom<u8> for OpCode {
    type Error = ReservedOpCode;
    fn try_from(v: u8) -> Result<Self, ReservedOpCode> {
        OpCode::from_u8(v).ok_or(ReservedOpCode(v))
    }
}

impl From<OpCode> for u8 {
    fn from(op: OpCode) -> u8 {
        op.as_u8()
    }
}

/// The longest header: 2 bytes, 8 bytes of length, 4 bytes of mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded or to-be-encoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when masked.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// The encoded length of this header.
    // A call on 32-bit targets, where three copies took flash (firmware
    // .text 17,000 -> 16,980 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Encodes into `out` (shortest length form, RFC 6455 §5.2) and returns
    /// the length; `None` when `out` is shorter than
    /// [`encoded_len`](Self::encoded_len), or when the length has the top
    /// bit set (2^63 and above cannot be sent).
    ///
    /// ```
    /// use protoswitch::ws::{FrameHeader, OpCode};
    /// let h = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, payload_len: 256 };
    /// let mut out = [0u8; 14];
    /// assert_eq!(h.encode(&mut out), Some(4));
    /// assert_eq!(out[..4], [0x82, 0x7E, 0x01, 0x00]);
    /// ```
    // Always inlined: in `send_header` (the tokio adapter's echo) the
    // checks it repeats fold away (echo_ir: 1,154 -> 1,113 instructions
    // per 20-byte echo; firmware .text +4 bytes).
    #[inline(always)]
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        if self.payload_len >> 63 != 0 {
            return None;
        }
        let n = self.encoded_len();
        let out = out.get_mut(..n)?;
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let at = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
        }
        Some(n)
    }

    /// Decodes a header at the start of `buf`, checking the rules that need
    /// only the header: reserved bits (unless `allowed_rsv` permits them),
    /// reserved opcodes, the mask bit for the receiving `role`, control
    /// frame size and FIN, and the 64-bit length's top bit.
    /// `Ok(None)` means more bytes are needed.
    #[inline]
    pub fn decode(
        buf: &[u8],
        role: Role,
        allowed_rsv: u8,
    ) -> Result<Option<(FrameHeader, usize)>, PeerErrorKind> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let rsv = (b0 >> 4) & 0x7;
        if rsv & !allowed_rsv != 0 {
            return Err(PeerErrorKind::ReservedBitsSet);
        }
        let opcode = OpCode::from_u8(b0 & 0xF).ok_or(PeerErrorKind::ReservedOpcode)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        match (role, masked) {
            (Role::Server, false) => return Err(PeerErrorKind::UnmaskedFrame),
            (Role::Client, true) => return Err(PeerErrorKind::MaskedFrame),
            _ => {}
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(PeerErrorKind::FragmentedControlFrame);
            }
            if len7 > 125 {
                return Err(PeerErrorKind::ControlFrameTooLong);
            }
        }
        let (payload_len, mut at) = match len7 {
            126 => {
                let Some(b) = buf.get(2..4) else {
                    return Ok(None);
                };
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
            }
            127 => {
                let Some(b) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(PeerErrorKind::LengthMsbSet);
                }
                (len, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            let Some(k) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            at,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_conversions() {
        use std::string::ToString;
        for (v, op) in [
            (0x0, OpCode::Continuation),
            (0x1, OpCode::Text),
            (0x2, OpCode::Binary),
            (0x8, OpCode::Close),
            (0x9, OpCode::Ping),
            (0xA, OpCode::Pong),
        ] {
            assert_eq!(OpCode::try_from(v), Ok(op));
            assert_eq!(u8::from(op), v);
        }
        for v in [0x3, 0x7, 0xB, 0xF, 0x10, 0xFF] {
            assert_eq!(OpCode::try_from(v), Err(ReservedOpCode(v)));
        }
        assert_eq!(
            ReservedOpCode(0x3).to_string(),
            "opcode 0x3 is reserved (RFC 6455 §5.2)"
        );
    }

    fn decode(buf: &[u8], role: Role) -> Result<Option<(FrameHeader, usize)>, PeerErrorKind> {
        FrameHeader::decode(buf, role, 0)
    }

    #[test]
    fn length_forms() {
        for (len, bytes) in [(125u64, 2usize), (126, 4), (65535, 4), (65536, 10)] {
            let h = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary,
                mask: None,
                payload_len: len,
            };
            let mut out = [0u8; 14];
            assert_eq!(h.encode(&mut out), Some(bytes));
            assert_eq!(decode(&out[..bytes], Role::Client), Ok(Some((h, bytes))));
            // Every shorter prefix asks for more.
            for cut in 0..bytes {
                assert_eq!(decode(&out[..cut], Role::Client), Ok(None));
            }
        }
    }

    #[test]
    fn rules() {
        use PeerErrorKind::*;
        assert_eq!(decode(&[0x81, 0x00], Role::Server), Err(UnmaskedFrame));
        assert_eq!(
            decode(&[0x81, 0x80, 0, 0, 0, 0], Role::Client),
            Err(MaskedFrame)
        );
        assert_eq!(decode(&[0xC1, 0x00], Role::Client), Err(ReservedBitsSet));
        assert_eq!(decode(&[0x83, 0x00], Role::Client), Err(ReservedOpcode));
        assert_eq!(decode(&[0x8B, 0x00], Role::Client), Err(ReservedOpcode));
        assert_eq!(
            decode(&[0x09, 0x00], Role::Client),
            Err(FragmentedControlFrame)
        );
        assert_eq!(
            decode(&[0x89, 0x7E, 0, 126], Role::Client),
            Err(ControlFrameTooLong)
        );
        assert_eq!(
            decode(&[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0], Role::Client),
            Err(LengthMsbSet)
        );
        assert!(FrameHeader::decode(&[0xC1, 0x00], Role::Client, 0b100).is_ok());
    }
}
