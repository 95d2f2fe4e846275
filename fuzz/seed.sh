#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets (fuzz/corpus/ is not in git).
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
set -euo pipefail
corpus="$(cd "$(dirname "$0")" && pwd)/corpus"
mkdir -p "$corpus/server_handshake" "$corpus/client_handshake"

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

echo "wrote $written seeds; corpora now hold $(ls "$corpus/server_handshake" | wc -l) server and $(ls "$corpus/client_handshake" | wc -l) client inputs ($corpus)"
