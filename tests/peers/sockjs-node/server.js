// sockjs-node 0.3.24 serving the standard test endpoints on 127.0.0.1, for
// txsockjs's client tests.  Usage: node server.js [--port PORT]  (0: a free port)
// Prints "sockjs-node on http://127.0.0.1:PORT" once listening.
'use strict';
const http = require('http');
const path = require('path');
const sockjs = require(path.join(__dirname, 'node_modules', 'sockjs'));

let port = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') port = parseInt(argv[++i], 10);
}

const quiet = { log: function () {} };
const echo = function (conn) { conn.on('data', function (m) { conn.write(m); }); };
const endpoints = {
  '/echo': [Object.assign({ response_limit: 4096 }, quiet), echo],
  '/close': [quiet, function (conn) { conn.close(3000, 'Go away!'); }],
  '/disabled_websocket_echo': [Object.assign({ websocket: false }, quiet), echo],
  '/cookie_needed_echo': [Object.assign({ jsessionid: true }, quiet), echo],
};

const server = http.createServer();
for (const prefix of Object.keys(endpoints)) {
  const [options, onConnection] = endpoints[prefix];
  const endpoint = sockjs.createServer(options);
  endpoint.on('connection', onConnection);
  endpoint.installHandlers(server, { prefix: prefix });
}
server.listen(port, '127.0.0.1', function () {
  console.log('sockjs-node on http://127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', function () { process.exit(0); });
