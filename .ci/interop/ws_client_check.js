// Node `ws` (npm) as the client of a protoswitch echo server.
//
//   NODE_PATH=<dir>/node_modules node ws_client_check.js ws://127.0.0.1:PORT/PATH [--subprotocol NAME]
//   NODE_PATH=<dir>/node_modules node ws_client_check.js ws://127.0.0.1:PORT/PATH --deflate OFFER
//
// Checks on the echo server at the URL: a text message, a binary message,
// a 1 MiB binary message (must come back identical), a Ping (its Pong must
// arrive), and the closing handshake with 1000 and with 4001 'bye' (the
// server's Close must echo the code, and the connection must end promptly).
// With --subprotocol NAME it also offers NAME and requires the server to
// select it.
// Prints one `ok: ...` line per check; exits 1 with `FAIL: ...` on the first
// failure.
//
// With --deflate OFFER it checks permessage-deflate (RFC 7692) instead, on
// one connection: the client offers OFFER — `default` (`perMessageDeflate:
// true`, ws's own offer `permessage-deflate; client_max_window_bits`) or
// `no-context-takeover` (both `*_no_context_takeover` parameters too) — and
// the 101 must agree to permessage-deflate with what was asked. Then text,
// binary, random 1 MiB, compressible 1 MiB text and binary, 40 similar small
// JSON messages, and a text and a binary message sent in fragments
// (`send(data, { fin: false })` ... `{ fin: true }`) must all echo intact.
// ws compresses only messages of 1024 bytes or more (its `threshold`), and
// decides on the first fragment, so the fragments are 64 KiB. Whether the
// frames went compressed is for the wire: run it through ws_tap.py.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const LABEL = 'node ws';
const TIMEOUT_MS = 10000;
const [url, flag, flagValue] = process.argv.slice(2);
const subprotocol = flag === '--subprotocol' ? flagValue : undefined;
const deflateOffer = flag === '--deflate' ? flagValue : undefined;
if (!url || !url.startsWith('ws://') || (flag !== undefined && (!['--subprotocol', '--deflate'].includes(flag) || !flagValue))) {
  console.error('usage: node ws_client_check.js ws://127.0.0.1:PORT/PATH [--subprotocol NAME | --deflate default|no-context-takeover]');
  process.exit(2);
}

function fail(what) {
  console.error(`FAIL: ${LABEL}: ${url}: ${what}`);
  process.exit(1);
}

// Resolves with the first `event` of `ws`, or rejects after the timeout or
// on an error/early close.
function next(ws, event, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    const done = (fn) => (...args) => {
      clearTimeout(timer);
      ws.off(event, onEvent);
      ws.off('error', onError);
      if (event !== 'close') ws.off('close', onClose);
      fn(...args);
    };
    const onEvent = done((...args) => resolve(args));
    const onError = done((e) => reject(new Error(`${what}: ${e.message}`)));
    const onClose = done((code) => reject(new Error(`${what}: connection closed (${code})`)));
    ws.on(event, onEvent);
    ws.on('error', onError);
    if (event !== 'close') ws.on('close', onClose);
  });
}

async function open(protocols = [], perMessageDeflate = true) {
  const ws = new WebSocket(url, protocols, { handshakeTimeout: TIMEOUT_MS, perMessageDeflate });
  // The 101's Sec-WebSocket-Extensions as sent (ws.extensions only names
  // the extensions).
  ws.on('upgrade', (res) => { ws.agreedExtensions = res.headers['sec-websocket-extensions'] || ''; });
  await next(ws, 'open', 'open');
  return ws;
}

async function checkMessages() {
  const ws = await open();

  ws.send('hello, protoswitch ✓');
  let [data, isBinary] = await next(ws, 'message', 'text echo');
  if (isBinary || data.toString('utf8') !== 'hello, protoswitch ✓') fail(`text echo was ${data}`);
  console.log(`ok: ${LABEL} ${url}: text echo`);

  const small = Buffer.from([0, 1, 2, 250, 255]);
  ws.send(small);
  [data, isBinary] = await next(ws, 'message', 'binary echo');
  if (!isBinary || !small.equals(data)) fail(`binary echo was ${data.toString('hex')}`);
  console.log(`ok: ${LABEL} ${url}: binary echo`);

  const big = crypto.randomBytes(1 << 20);
  ws.send(big);
  [data, isBinary] = await next(ws, 'message', '1 MiB echo');
  if (!isBinary || !big.equals(data)) fail(`1 MiB echo differs (${data.length} bytes)`);
  console.log(`ok: ${LABEL} ${url}: 1 MiB binary echo identical`);

  ws.ping(Buffer.from('probe-ping'));
  const [pong] = await next(ws, 'pong', 'pong');
  if (pong.toString() !== 'probe-ping') fail(`the Pong carries '${pong}', not the Ping's payload`);
  console.log(`ok: ${LABEL} ${url}: ping answered by pong`);

  ws.close(1000);
  await next(ws, 'close', 'close');
}

async function checkClose(code, reason) {
  const ws = await open();
  const started = Date.now();
  ws.close(code, reason);
  // ws reports the code of the peer's Close frame, or 1006 without one;
  // the event fires once the server has ended the TCP connection.
  const [got] = await next(ws, 'close', `close ${code}`);
  const elapsed = Date.now() - started;
  if (got !== code) fail(`close ${code}: the server's Close carries ${got}`);
  if (elapsed > 3000) fail(`close ${code}: the connection took ${elapsed} ms to end`);
  const shown = reason ? ` '${reason}'` : '';
  console.log(`ok: ${LABEL} ${url}: close ${code}${shown} clean, server echoed ${got} (${elapsed} ms)`);
}

async function checkSubprotocol(name) {
  const ws = await open([name]);
  if (ws.protocol !== name) fail(`offered ['${name}'], negotiated '${ws.protocol}'`);
  ws.send('with a subprotocol');
  const [data] = await next(ws, 'message', 'echo');
  if (data.toString() !== 'with a subprotocol') fail('echo over the negotiated subprotocol differs');
  ws.close(1000);
  await next(ws, 'close', 'close');
  console.log(`ok: ${LABEL} ${url}: protocols ['${name}'] -> negotiated '${name}'`);
}

// `size` bytes of JSON-like text: deflate shrinks it several times.
function compressible(size) {
  const rows = [];
  let n = 0;
  while (n < size) {
    const i = rows.length;
    const row = JSON.stringify({ id: i, user: `user${i % 97}`, active: i % 3 === 0, tags: ['alpha', 'beta', 'gamma'].slice(0, i % 4) });
    rows.push(row);
    n += row.length + 1;
  }
  return rows.join('\n').slice(0, size);
}

async function checkDeflate(offer) {
  const params = { 'default': [true, []], 'no-context-takeover': [
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ['server_no_context_takeover', 'client_no_context_takeover'],
  ] }[offer];
  if (!params) fail(`unknown --deflate offer '${offer}'`);
  const [option, want] = params;
  const ws = await open([], option);
  const agreed = ws.agreedExtensions;
  if (!agreed.startsWith('permessage-deflate') || ws.extensions !== 'permessage-deflate') {
    fail(`offer ${offer}: the 101 agreed to '${agreed}', ws runs '${ws.extensions}'`);
  }
  for (const key of want) {
    if (!agreed.includes(key)) fail(`offer ${offer}: the 101 ('${agreed}') lacks ${key}`);
  }
  console.log(`ok: ${LABEL} ${url}: offer ${offer}: 101 agreed '${agreed}'`);

  // Sends `parts` (one message, in fragments when several) and requires
  // the echo to be their concatenation, of the same type.
  async function echo(what, binary, ...parts) {
    parts.forEach((p, i) => ws.send(p, { binary, fin: i === parts.length - 1 }));
    const [data, isBinary] = await next(ws, 'message', what);
    const sent = Buffer.concat(parts.map((p) => Buffer.from(p)));
    if (isBinary !== binary || !sent.equals(data)) {
      fail(`offer ${offer}: ${what}: echo differs (sent ${sent.length} bytes binary=${binary}, got ${data.length} binary=${isBinary})`);
    }
  }
  await echo('text', false, 'hello, compressed ✓');
  await echo('binary', true, Buffer.from([0, 1, 2, 250, 255]));
  console.log(`ok: ${LABEL} ${url}: offer ${offer}: text and binary echo`);
  await echo('random 1 MiB', true, crypto.randomBytes(1 << 20));
  const text = compressible(1 << 20);
  await echo('compressible 1 MiB text', false, text);
  await echo('compressible 1 MiB binary', true, Buffer.from(text));
  console.log(`ok: ${LABEL} ${url}: offer ${offer}: 1 MiB random, text and binary echo identical`);
  for (let i = 0; i < 40; i++) {
    await echo(`small JSON ${i}`, false, JSON.stringify({ seq: i, event: 'tick', payload: 'x'.repeat(i % 7) }));
  }
  const window = offer === 'default' ? 'shared window' : 'a fresh window each';
  console.log(`ok: ${LABEL} ${url}: offer ${offer}: 40 small JSON messages echo (${window})`);
  const chunk = compressible(64 * 1024);
  await echo('fragmented text', false, chunk, '✓ middle ✓', chunk);
  await echo('fragmented binary', true, Buffer.from(chunk), Buffer.alloc(0), crypto.randomBytes(1000), Buffer.from(chunk));
  console.log(`ok: ${LABEL} ${url}: offer ${offer}: text in 3 fragments and binary in 4 echo intact`);
  ws.close(1000);
  await next(ws, 'close', 'close');
}

(async () => {
  if (deflateOffer) return checkDeflate(deflateOffer);
  await checkMessages();
  await checkClose(1000, '');
  await checkClose(4001, 'bye');
  if (subprotocol) await checkSubprotocol(subprotocol);
})().catch((e) => fail(e.message));
