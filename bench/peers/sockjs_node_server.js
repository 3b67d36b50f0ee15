// sockjs-node 0.3.24 peer for the txsockjs benchmark: /echo and /broadcast on 127.0.0.1.
// Usage: node sockjs_node_server.js --port PORT   (NODE_PATH must reach the installed sockjs module)
'use strict';
const http = require('http');
const sockjs = require('sockjs');

let port = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') port = parseInt(argv[++i], 10);
}
if (!port) { console.error('--port is required'); process.exit(2); }

const quiet = { log: function () {} };

// /echo: every message goes back to its sender; response_limit 4096 like the standard test server.
const echo = sockjs.createServer(Object.assign({ response_limit: 4096 }, quiet));
echo.on('connection', function (conn) {
  conn.on('data', function (m) { conn.write(m); });
});

// /broadcast: every message goes to every open session of this endpoint.
const bcast = sockjs.createServer(quiet);
const members = new Map();
bcast.on('connection', function (conn) {
  members.set(conn.id, conn);
  conn.on('data', function (m) {
    for (const c of members.values()) c.write(m);
  });
  conn.on('close', function () { members.delete(conn.id); });
});

const server = http.createServer();
echo.installHandlers(server, { prefix: '/echo' });
bcast.installHandlers(server, { prefix: '/broadcast' });
server.listen(port, '127.0.0.1', function () {
  console.log('listening on 127.0.0.1:' + port);
});
process.on('SIGTERM', function () { process.exit(0); });
