// A Node `ws` (npm) echo server for testing the `client` example.
//
//   NODE_PATH=<dir>/node_modules node ws_echo_server.js PORT [--no-context-takeover]
//
// Listens on 127.0.0.1:PORT, any path. Every message comes back as it came
// (text as text, binary as binary). Selects the subprotocol `chat` when the
// client offers it, and none otherwise. Prints `listening on
// 127.0.0.1:PORT` once ready; runs until killed.
//
// permessage-deflate is on (`perMessageDeflate: true`; ws servers have it
// off by default): no window limits, context takeover both ways. With
// --no-context-takeover the server resets its window after every message
// and requires clients to do the same (`server_no_context_takeover;
// client_no_context_takeover` in every 101); ws then compresses only
// messages of 1024 bytes or more (its `threshold`).
'use strict';

const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const noContextTakeover = process.argv[3] === '--no-context-takeover';
if (!Number.isInteger(port) || port <= 0 || process.argv.length > (noContextTakeover ? 4 : 3)) {
  console.error('usage: node ws_echo_server.js PORT [--no-context-takeover]');
  process.exit(2);
}

const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  // `offered` is a Set of the client's subprotocols; false selects none.
  handleProtocols: (offered) => (offered.has('chat') ? 'chat' : false),
  perMessageDeflate: noContextTakeover ? { serverNoContextTakeover: true, clientNoContextTakeover: true } : true,
});

server.on('connection', (ws) => {
  // Echo synchronously from the 'message' event: each echo is queued before
  // ws answers a later Close, so nothing is lost at the end.
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error(`connection error: ${e.message}`));
});

server.on('listening', () => console.log(`listening on 127.0.0.1:${port}`));
server.on('error', (e) => {
  console.error(`server error: ${e.message}`);
  process.exit(1);
});
