// Node `ws` (npm) as the client of a protoswitch echo server.
//
//   NODE_PATH=<dir>/node_modules node ws_client_check.js ws://127.0.0.1:PORT/PATH [--subprotocol NAME]
//
// Checks on the echo server at the URL: a text message, a binary message,
// a 1 MiB binary message (must come back identical), a Ping (its Pong must
// arrive), and the closing handshake with 1000 and with 4001 'bye' (the
// server's Close must echo the code, and the connection must end promptly).
// With --subprotocol NAME it also offers NAME and requires the server to
// select it.
// Prints one `ok: ...` line per check; exits 1 with `FAIL: ...` on the first
// failure.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const LABEL = 'node ws';
const TIMEOUT_MS = 10000;
const [url, flag, subprotocol] = process.argv.slice(2);
if (!url || !url.startsWith('ws://') || (flag !== undefined && (flag !== '--subprotocol' || !subprotocol))) {
  console.error('usage: node ws_client_check.js ws://127.0.0.1:PORT/PATH [--subprotocol NAME]');
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

async function open(protocols = []) {
  const ws = new WebSocket(url, protocols, { handshakeTimeout: TIMEOUT_MS });
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

(async () => {
  await checkMessages();
  await checkClose(1000, '');
  await checkClose(4001, 'bye');
  if (subprotocol) await checkSubprotocol(subprotocol);
})().catch((e) => fail(e.message));
