#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into testkit/seeds/ (in git:
# `cargo test` replays them on stable, tests/fuzz_seeds.rs; the fuzzer
# reads them beside its own growing corpus in fuzz/corpus/, not in git).
# Usage: bash fuzz/seed.sh        (idempotent; rewrites only the seed files)
#
# Each seed is a 6-byte header, the cut lengths, then the bytes the peer
# sends (see fuzz/src/lib.rs for the layout):
#   byte 0    configuration; for client_handshake the low 3 bits pick the
#             request (0: websocket key [0;16], 1: websocket RFC 6455 key,
#             2: h2c, 3: echo/1 + body + 100-continue, 4: echo/1,websocket
#             + body, 5: HEAD websocket,h2c)
#   bytes 1-4 the application's decisions
#   byte 5    number of cuts n (0-7), then n read lengths
# frame_decoder uses the same layout (byte 0: bit 0 client, bits 1-2
# limits, bit 3 auto_pong off, bit 4 whole_frames; byte 1 low bits: RSV allowed in the header
# check; bytes 1-4: the client's mask key seed). connection and roundtrip
# read their inputs differently: see the tables at the top of
# fuzz_targets/connection.rs and fuzz_targets/roundtrip.rs; mask's layout
# is at the top of testkit/src/targets/mask.rs, deflate's at the top of
# testkit/src/targets/deflate.rs, relay's at the top of
# testkit/src/targets/relay.rs.
set -euo pipefail
corpus="$(cd "$(dirname "$0")/.." && pwd)/testkit/seeds"
targets=(server_handshake client_handshake frame_decoder connection roundtrip mask deflate relay)
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done

# seed TARGET NAME HEADER STREAM: both arguments use printf %b escapes.
written=0
seed() {
  printf '%b%b' "$3" "$4" >"$corpus/$1/$2"
  written=$((written + 1))
}

# Defaults, first choice everywhere, the stream in one read.
whole='\x00\x00\x00\x00\x00\x00'

# ---- server_handshake: requests ----

# RFC 6455 §1.2 opening handshake. Decision 0x04: accept the first offer
# with the first subprotocol.
ws_rfc='GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n'
seed server_handshake ws_rfc6455 '\x00\x04\x00\x00\x00\x00' "$ws_rfc"
# The same in reads of 1, 17 and 40 bytes, then the rest; first frame after.
seed server_handshake ws_rfc6455_cut '\x00\x04\x00\x00\x00\x03\x01\x11\x28' "$ws_rfc"'\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'
# With an extension offer; accept it too (0x08).
seed server_handshake ws_deflate '\x00\x08\x00\x00\x00\x00' 'GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n'
# Version 8: answer with the offer's error (426 + Sec-WebSocket-Version).
seed server_handshake ws_version_8 '\x00\x02\x00\x00\x00\x00' 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'

# RFC 7540 §3.2 h2c upgrade: SETTINGS_MAX_CONCURRENT_STREAMS=100,
# SETTINGS_INITIAL_WINDOW_SIZE=65535. Accept, then the client preface.
h2c='GET / HTTP/1.1\r\nHost: server.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n'
seed server_handshake h2c "$whole" "$h2c"'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
seed server_handshake h2c_cut '\x00\x00\x00\x00\x00\x02\x40\x02' "$h2c"

# Expect: 100-continue with a body: read it (100 Continue), then accept.
seed server_handshake continue_body "$whole" 'POST /echo HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello'
# The same answered without reading the body: 426 (decision 0x13).
seed server_handshake continue_refused '\x00\x13\x00\x00\x00\x00' 'POST /echo HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello'

# Chunked body with a trailer, cut inside the chunk framing; then 200.
seed server_handshake chunked_body '\x00\x00\x01\x00\x00\x03\x50\x03\x05' 'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n'

# Two pipelined requests on a keep-alive connection (respond 200 twice),
# after an empty line the server must skip (RFC 9112 §2.2).
seed server_handshake pipelined '\x00\x01\x01\x01\x01\x00' '\r\nGET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'
# HTTP/1.0: Upgrade does not count.
seed server_handshake http10 '\x00\x01\x00\x00\x00\x00' 'GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
# A head over a 64-byte limit (config 0x03): 431.
seed server_handshake head_too_large '\x03\x00\x00\x00\x00\x00' "$ws_rfc"

# ---- client_handshake: responses ----

# RFC 6455 §1.2 response to the sample nonce, then a text frame.
seed client_handshake ws_101_rfc6455 '\x01\x00\x00\x00\x00\x00' 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x05hello'
seed client_handshake ws_101_rfc6455_cut '\x01\x00\x00\x00\x00\x03\x01\x22\x30' 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'
# Key [0;16] (AAAAAAAAAAAAAAAAAAAAAA==) with permessage-deflate accepted.
seed client_handshake ws_101_zero_key "$whole" 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ICX+Yqv66kxgM0FcWaLWlFLwTAI=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n'
# 426 naming the version the server speaks.
seed client_handshake ws_426 "$whole" 'HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n'
# h2c accepted, then the server's SETTINGS frame.
seed client_handshake h2c_101 '\x02\x00\x00\x00\x00\x00' 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00'
# h2c ignored: 200 with a chunked body (cut inside the chunks).
seed client_handshake chunked_200 '\x02\x00\x00\x00\x00\x02\x30\x04' 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
# 100 Continue, body sent, then 101 to echo/1.
seed client_handshake continue_101 '\x03\x00\x00\x00\x00\x00' 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\r\nhello'
# The 100-continue timer fires first (decision 0x01), then a 417.
seed client_handshake continue_timeout '\x03\x01\x00\x00\x00\x00' 'HTTP/1.1 417 Expectation Failed\r\nContent-Length: 2\r\n\r\nno'
# Body sent at once; 103 Early Hints, then 200 delimited by close.
seed client_handshake until_close '\x04\x00\x00\x00\x00\x00' 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody until close'
# HEAD: a Content-Length but no body.
seed client_handshake head_200 '\x05\x00\x00\x00\x00\x00' 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'
# HTTP/1.0 peer.
seed client_handshake http10 "$whole" 'HTTP/1.0 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad'

# ---- frame_decoder: the peer's frames ----

srv='\x00\x00\x00\x00\x00\x00' # server (frames masked), default limits, one read
cli='\x01\x00\x00\x00\x00\x00' # client (frames unmasked)
z='\x00\x00\x00\x00'             # an all-zero masking key
hello='\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'
b100=$(printf 'b%.0s' $(seq 100))
b256=$(printf 'b%.0s' $(seq 256))

# RFC 6455 §5.7: a masked "Hello", in one read and in reads of 1, 3, 4.
seed frame_decoder rfc_masked_hello "$srv" "$hello"
seed frame_decoder rfc_masked_hello_cut '\x00\x00\x00\x00\x00\x03\x01\x03\x04' "$hello$hello"
# §5.7 unmasked: "Hello", fragments "Hel" + "lo" around a Ping, a Pong.
seed frame_decoder rfc_unmasked "$cli" '\x81\x05Hello\x01\x03Hel\x89\x05Hello\x80\x02lo\x8a\x05Hello'
# Masked fragments around an empty Ping, then Close 1000 "bye".
seed frame_decoder fragments_ping_close "$srv" "\x01\x83${z}Hel\x89\x80${z}\x80\x82${z}lo\x88\x85${z}\x03\xe8bye"
# The client's side of a closing handshake: Close 1001.
seed frame_decoder client_close "$cli" '\x81\x00\x88\x02\x03\xe9'
# "κόσμε" split inside a character between fragments.
seed frame_decoder utf8_split "$srv" "\x01\x81${z}\xce\x80\x8a${z}\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
# Invalid UTF-8 found at its first bad byte, before the frame ends.
seed frame_decoder utf8_fail_fast "$srv" "\x81\x88${z}\xce\xba\xf4\x90abcd"
# 16-bit length (256 bytes) cut in the extended length, and the same
# length in 16 bits where 7 would do; a 64-bit length, payload cut short.
seed frame_decoder len16_cut '\x01\x00\x00\x00\x00\x02\x03\x80' "\x82\x7e\x01\x00$b256"
seed frame_decoder len16_not_shortest "$cli" '\x82\x7e\x00\x05hello'
seed frame_decoder len64_partial "$cli" '\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00partial'
# auto_pong off (config bit 3): the Ping is only reported.
seed frame_decoder no_auto_pong '\x09\x00\x00\x00\x00\x00' '\x89\x02hi'
# Small limits (frame 100, message 200, 4 fragments): too large a frame,
# a message over 200 in three frames, five fragments.
seed frame_decoder small_frame_too_large '\x02\x00\x00\x00\x00\x00' "\x82\xe5${z}${b100}x"
seed frame_decoder small_message_too_large '\x02\x00\x00\x00\x00\x00' "\x02\xe4${z}${b100}\x00\xe4${z}${b100}\x80\x81${z}x"
seed frame_decoder small_too_many_fragments '\x02\x00\x00\x00\x00\x00' "\x02\x81${z}a\x00\x81${z}a\x00\x81${z}a\x00\x81${z}a\x80\x81${z}a"
# Tiny limits (frame 1, message 3, 2 fragments).
seed frame_decoder tiny_limits '\x04\x00\x00\x00\x00\x00' "\x01\x81${z}a\x80\x81${z}b\x82\x82${z}cd"
# whole_frames (config bit 4): a frame waits unread until it is all here
# (reads of 1, 3, 4); with tiny limits a 20-byte Ping waits longer than a
# data frame may; with small limits a frame over 100 fails on its header;
# fragments around a Ping, and "κόσμε" split between fragments.
seed frame_decoder whole_frames_cut '\x10\x00\x00\x00\x00\x03\x01\x03\x04' "$hello$hello"
seed frame_decoder whole_frames_tiny_ping '\x14\x00\x00\x00\x00\x01\x01' "\x89\x94${z}pingpingpingpingping\x81\x81${z}a"
seed frame_decoder whole_frames_small_too_large '\x12\x00\x00\x00\x00\x01\x04' "\x82\xe5${z}${b100}x"
seed frame_decoder whole_frames_fragments '\x10\x00\x00\x00\x00\x02\x05\x02' "\x01\x83${z}Hel\x89\x80${z}\x80\x82${z}lo\x01\x81${z}\xce\x80\x8a${z}\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
# Peer errors, one each (RFC 6455 §5.1-§5.5, §7.4).
seed frame_decoder err_rsv "$srv" "\xc1\x80${z}"
seed frame_decoder err_rsv_allowed_in_header_check '\x00\x07\x00\x00\x00\x00' "\xf1\x80${z}"
seed frame_decoder err_opcode "$srv" "\x83\x80${z}"
seed frame_decoder err_unmasked "$srv" '\x81\x05Hello'
seed frame_decoder err_masked "$cli" "\x81\x85${z}Hello"
seed frame_decoder err_fragmented_ping "$srv" "\x09\x80${z}"
seed frame_decoder err_control_too_long "$cli" '\x89\x7e\x00\x7e'
seed frame_decoder err_continuation "$srv" "\x80\x80${z}"
seed frame_decoder err_expected_continuation "$srv" "\x01\x81${z}a\x01\x80${z}"
seed frame_decoder err_close_short "$srv" "\x88\x81${z}\x03"
seed frame_decoder err_close_1005 "$cli" '\x88\x02\x03\xed'
seed frame_decoder err_close_reason "$srv" "\x88\x83${z}\x03\xe8\xff"
seed frame_decoder err_length_msb "$cli" '\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00'
# Bytes after the Close are discarded.
seed frame_decoder after_close "$srv" "\x88\x80${z}\x81\x80${z}\xff"

# ---- connection: operations on a server and a client ----
# Header: config 0x20 (auto_pong on, no keepalive, close timeout 5 s,
# default limits), keepalive 0/0, key seed. Then operations: byte (0x80:
# client) + fields, as in the table of `step`.
c5s='\x20\x00\x00\x01\x02\x03\x04'

# Messages both ways, a Ping answered, a clean client-initiated close; the
# client waits for the transport to end, then for the close timeout.
seed connection client_closes '' "$c5s"'\x83\x05Hello\x00\x02\x00\x00\x04\x03abc\x00\x82\x00\x00\x87\x01p\x00\x02\x00\x00\x0a\x00\x82\x00\x00\x89\x01\x03bye\x00\x02\x00\x00\x0a\x00\x0a\x00\x82\x00\x00\x8a\x00\x8b\x02\x8a\x00'
# Server-initiated close into a 1-byte buffer (retried with the size
# asked for), the client's echo into 4 bytes; then the end of stream.
seed connection server_closes_small_buffers '' "$c5s"'\x09\x02\x00\x02\x82\x00\x00\x8a\x11\x02\x00\x00\x0a\x00\x8c\x8a\x00'
# A fragmented text message with a Ping inside and send_text /
# send_fragment(binary) refused in the middle, ended by send_header; a
# binary header into 4 bytes; the server reads it in two pieces.
seed connection fragments '' "$c5s"'\x85\x00\x03Hel\x00\x83\x01x\x00\x85\x01\x01z\x00\x87\x00\x00\x86\x02\x02lo\x00\x86\x03\x04data\x11\x02\x03\x00\x02\x00\x00\x0a\x00\x82\x00\x00'
# Keepalive on both sides (30 ms, Pong within 5 ms): Ping, Pong, Ping
# unanswered, the server gives up.
seed connection keepalive '' '\x2a\x03\x05\x01\x02\x03\x04\x0b\x02\x0a\x00\x82\x00\x00\x8a\x00\x02\x00\x00\x0b\x02\x0a\x00\x0b\x02\x0a\x00\x8b\x02\x8a\x00'
# An unmasked frame to the server: it owes a Close 1002 (0-byte buffer
# first); the client echoes it.
seed connection peer_error '' "$c5s"'\x00\x07\x81\x05Hello\x00\x0a\x01\x0a\x00\x82\x00\x00\x8a\x00\x8c\x8a\x00'
# Close timeout 1 ms: the server's Close goes unanswered; the timer is
# handled just before, then at the deadline; later bytes are discarded.
seed connection close_timeout '' '\x10\x00\x00\x00\x00\x00\x01\x09\x00\x00\x00\x0b\x03\x0b\x02\x0a\x00\x83\x02hi\x00\x02\x00\x00'
# Frames built from the input: a masked "Hello" (RFC key), a Ping, Close
# 1000 to the server; an unmasked text to the client.
seed connection frames '' "$c5s"'\x01\x81\x00\x05Hello\x37\xfa\x21\x3d\x01\x84\x00\x02hi\x00\x00\x00\x00\x0a\x00\x01\x83\x00\x02\x03\xe8\x01\x02\x03\x04\x0a\x00\x81\x81\x00\x05Hello\x82\x00\x00'
# Tiny limits (config 0x80): a 5-byte message is too large (1009).
seed connection tiny_limits '' '\xa0\x00\x00\x01\x02\x03\x04\x84\x05abcde\x00\x02\x00\x00\x0a\x00\x82\x00\x00\x8a\x00'
# A Pong half handed out (poll_transmit with a small buffer), then a Ping:
# the machine holds the Ping unconsumed until the Pong is finished, the one
# stall with a full buffer its receive docs allow (found by the fuzzer).
seed connection ping_held_behind_a_half_pong '' '\x20\x00\x00\x01\xe9\x02\x01\xe9\x02\x00\x00\x11\x87\x01\x70\x00\x02\x0a\x0a\x0a\x0a\x0a\x0a\x00\xff\xff\xff\xff\xff\xff\xff\x64\x03\x04\x01\x00\x0a\x00\x8c\x0a\x0a\x0a\x3d\x0a\x00\x82\x00\x00\x00\x0a\x00\x8c\x8a\x00\x8a\x00\x8c\x8a\x00\x0a\x0a\x0a\x3d\x0a\x00\x82\x00\x00\x02\x00\x8c\x8a\x00\x0a\x0a\x0a\x3d\x0a\x00\x82\x00\x00\x02\x00\x0a\x00\x8c\x8a\x00\x0a\x0a\xff\xff\x0a\x0a\x0a\x0a\x0a\x0a\x3d\x0a\x00\x82\x02\x00\x0a\x00\x8c\x8a\x00\x8c\x8a\x00\x0a\x0a\x0a\x3d\x0a\x00\x00\x00\x0a\x00\x8c\x8a\x00\x8a\x00\x8c\x8a\x00\x0a\x0a\x0a\x3d\x0a\x00\x82\x00\x00\x02\x00\x0a\x00\x8c\x8a\x00\x0a\x0a\x3d\x0a\x00\x82\x00\x00\x02\x00\x0a\x00\x8c\x8a\x00'

# ---- roundtrip: items encoded and decoded ----
# Key seed, cut byte (+ lengths), then items: tag (low 3 bits: 0 Ping,
# 1 Pong, 7 with bit 7 Close, else a message: bit 3 binary, bits 4-5 whole
# / fragments / headers / mixed, bit 6 two-byte length) and fields.

seed roundtrip text_whole '' '\x01\x00\x00\x00\x00\x02\x05Hello\x00\x00'
# "κόσμε" in fragments of 1, 3, 2 and the rest, mixed methods, Pings
# after fragments 0 and 2; read in pieces of 1, 5, 11.
seed roundtrip utf8_mixed_cut '' '\x37\xfa\x21\x3d\x03\x01\x05\x0b\x32\x0a\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\x0b\x01\x03\x02\x05\x05'
# 300 binary bytes by headers (100, 150, rest), read in 300 and 7.
seed roundtrip binary_headers '' '\x11\x22\x33\x44\x82\x2c\x01\x07\x00\x6a\x2c\x01'"$(printf 'r%.0s' $(seq 300))"'\x02\x64\x96\x33'
# Ping, Pong, Close 1000 "bye".
seed roundtrip ping_pong_close '' '\x00\x00\x00\x00\x00\x00\x04ping\x01\x04pong\x8f\x03bye'
# Empty messages, empty fragments, an empty Close.
seed roundtrip empty '' '\x05\x00\x00\x00\x00\x02\x00\x00\x00\x1a\x00\x03\x00\x00\x00\x00\x87'
# Text from invalid bytes (replaced), fragmented; Close 1011 "ok".
seed roundtrip lossy_text_close '' '\x09\x00\x00\x00\x01\x03\x12\x04\xff\xfe\xce\xba\x01\x01\x00\xb7\x0b\x02ok'

# ---- mask: key, starting offset, cuts, data (testkit/src/targets/mask.rs) ----
# RFC 6455 §5.7's "Hello", whole.
seed mask rfc_hello '' '\x37\xfa\x21\x3d\x00\x00Hello'
# 300 bytes from offset 3, cut at 1, 130 and 0 (= 256): the vector path
# (128 bytes and more) and the bytewise tail at odd offsets.
seed mask long_cut_odd_offsets '' '\x01\x02\x03\xfa\x03\x03\x01\x82\x00'"$(printf 'abcdefghij%.0s' $(seq 30))"
# An empty payload and a key of zeros.
seed mask empty '' '\x00\x00\x00\x00\x02\x00'

# ---- deflate: permessage-deflate (testkit/src/targets/deflate.rs) ----
# Raw, to a client, output buffer 1 byte: RFC 7692 §7.2.3's examples in a
# row ("Hello"; again with the shared window; fragmented; stored; BFINAL
# then the extra byte; two blocks).
rfc7692='\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00\xc1\x05\xf2\x00\x11\x00\x00\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00'
seed deflate raw_rfc7692_client '\x81\x00\x00\x00\x00\x00' "$rfc7692"
# The same cut in three reads, output 64 bytes.
seed deflate raw_rfc7692_client_cut '\xc1\x00\x00\x00\x00\x03\x03\x00\x0a\x00\x1e\x00' "$rfc7692"
# To a server: "Hello" masked with a zero key, then RSV1 on a Ping (1002).
seed deflate raw_server_rsv1_ping '\x80\x00\x00\x00\x00\x00' '\xc1\x87\x00\x00\x00\x00\xf2\x48\xcd\xc9\xc9\x07\x00\xc9\x80\x00\x00\x00\x00'
# A bomb against tiny limits: 64 KiB of zeros in 81 bytes (zlib level 6),
# message limit 4 KiB: 1009. Output 7 bytes.
seed deflate raw_bomb_tiny_limit '\xb9\x00\x00\x00\x00\x00' '\xc2\x4f''\xec\xc1\x01\x01\x00\x00\x00\x80\x90\xfe\xaf\xee\x08\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x6a\x00'
# Invalid DEFLATE (block type 3): 1007.
seed deflate raw_bad_block '\x81\x00\x00\x00\x00\x00' '\xc2\x01\xff'
# Round trip to a server (masked, key seed 1): text, binary, fragmented
# text, output 3 bytes, cut in two reads.
seed deflate roundtrip_to_server '\x20\x01\x00\x00\x00\x01\x05\x00' '\x00\x05\x00Hello\x01\x04\x00\x00\x01\x02\x03\x0a\x0b\x00h\xc3\xa9llo w\xc3\xb6rld\x02\x00\x05\x00'
# Round trip to a client without context takeover either way, output 1
# byte: the same text three times (each compressed alone).
seed deflate roundtrip_to_client_no_takeover '\x07\x00\x00\x00\x00\x00' '\x00\x05\x00Hello\x00\x05\x00Hello\x00\x05\x00Hello'

# Another compressor's messages (miniz_oxide, dynamic Huffman blocks; bit 4
# of byte 5), to a server (masked, key seed 1) at level 6, output 3 bytes:
# a 352-byte JSON-like text twice (the second from the shared window), an
# empty binary message.
seed deflate other_to_server '\x20\x01\x00\x00\x00\xb0' '\x00\x60\x01\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x00\x60\x01\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x01\x00\x00'
# The same to a client without context takeover either way, level 8,
# output 1 byte, cut in two reads.
seed deflate other_to_client_no_takeover '\x07\x00\x00\x00\x00\xf1\x90\x01' '\x00\x60\x01\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x00\x60\x01\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c\x7b\x22\x69\x64\x22\x3a\x31\x2c\x22\x73\x69\x64\x65\x22\x3a\x22\x62\x75\x79\x22\x2c\x22\x70\x72\x69\x63\x65\x22\x3a\x31\x30\x31\x2e\x35\x2c\x22\x71\x74\x79\x22\x3a\x33\x7d\x2c'

# Messages long enough (2 KiB and more a call) for the crate's compressor to
# give its blocks codes of their own: a 3.5 KiB JSON-like text to a server
# (output 1,024 bytes), then the same as a binary message in three
# fragments. The fuzzer's inputs reach such lengths (-max_len in .ci).
long=$(for i in $(seq 1 100); do printf '{"id":%d,"side":"buy","qty":%d},' "$i" $((i * 7 % 13)); done)
long_len=$(printf '\\x%02x\\x%02x' $((${#long} & 255)) $((${#long} >> 8)))
seed deflate roundtrip_long_to_server '\x60\x01\x00\x00\x00\x00' "\x00${long_len}${long}\x0f${long_len}${long}\x00\x04\x10\x00"

# ---- relay: a client's stream and an upstream's (testkit/src/targets/relay.rs) ----

# relay_seed NAME HEADER DOWN UP: the header (configuration, output size,
# cut counts, cut lengths), then the client's stream's length (16 bits,
# little-endian), the client's stream, the upstream's.
relay_seed() {
  local n
  n=$(printf '%b' "$3" | wc -c)
  seed relay "$1" "$2$(printf '\\x%02x\\x%02x' $((n & 255)) $((n >> 8)))" "$3$4"
}
ws_req='GET /chat HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
ws_101='HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'
frame='\x81\x80\x00\x00\x00\x00'
# The tunnel: a frame sent early is held until the verified 101.
relay_seed ws_switch '\x00\x00\x00\x00' "$ws_req$frame" "$ws_101"'\x81\x02hi'
# The same in reads of 16 and 64 (client), 7 and 33 (upstream), output 19 bytes.
relay_seed ws_switch_cut '\x00\x03\x02\x02\x10\x40\x07\x21' "$ws_req$frame" "$ws_101"
# A refused upgrade, then a request the client hoped to smuggle.
relay_seed ws_refused_426 '\x00\x00\x00\x00' "$ws_req"'GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n' 'HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n'
# The same with keep-alive: the held bytes are read as strict HTTP/1.1.
relay_seed ws_refused_keep_alive '\x01\x00\x00\x00' "$ws_req$frame"'\r\n\r\n' 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'
# A 101 with a wrong accept key: 502.
relay_seed ws_bad_accept '\x00\x00\x00\x00' "$ws_req" 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n'
# h2c smuggling: not forwarded by default; a 101 anyway is a 502.
h2c_req='GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n'
h2c_101='HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n'
relay_seed h2c_smuggle '\x00\x00\x00\x00' "$h2c_req"'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' "$h2c_101"
# h2c allowed (configuration bits 1-2 = 1), with Via (bit 3).
relay_seed h2c_allowed '\x0a\x00\x00\x00' "$h2c_req" "$h2c_101"
# A 101 to a request that asked for nothing.
relay_seed not_requested '\x00\x00\x00\x00' 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n'
# Keep-alive: a chunked POST with 100-continue, then a second request.
relay_seed chunked_keep_alive '\x01\x01\x01\x01\x30\x30' 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4\r\nWiki\r\n5;e\r\npedia\r\n0\r\nT: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n' 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n'
# An HTTP/1.0 client: no upgrade, no interim, the chunked body de-chunked.
relay_seed http10 '\x00\x00\x00\x00' 'GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n' 'HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n'
# echo/1 on a POST with a body (bits 1-2 = 2, bits 4 and 5 on).
relay_seed echo_post_body '\x34\x00\x00\x00' 'POST /e HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\nabcxyz' 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\nzyx'
# Hop-by-hop and Connection-nominated fields both ways, small limits (bit 6).
relay_seed hop_by_hop '\x40\x00\x00\x00' 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\nTE: trailers\r\n\r\n' 'HTTP/1.1 200 OK\r\nConnection: X-Up\r\nX-Up: 1\r\nContent-Length: 2\r\n\r\nhi'
# An early final answer while the request body is still coming.
relay_seed early_answer '\x01\x00\x01\x00\x40' 'POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello' 'HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n'

summary=""
for t in "${targets[@]}"; do summary+=" $t=$(ls "$corpus/$t" | wc -l)"; done
echo "wrote $written seeds; inputs per corpus:$summary ($corpus)"
