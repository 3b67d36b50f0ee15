#!/usr/bin/env node
/*
 * Runs one harness check with sockjs-client in Node and prints its result as
 * one JSON line (lone surrogates come out as JSON escapes, so Python sees
 * them exactly):
 *
 *   node node_client.js echo '{"url": "http://127.0.0.1:8081/echo", "transports": ["websocket"]}'
 */
'use strict';

var harness = require('./harness.js');

var name = process.argv[2];
var params = JSON.parse(process.argv[3] || '{}');
var limit = setTimeout(function () {
  process.stdout.write(JSON.stringify({error: 'node client timed out'}) + '\n');
  process.exit(2);
}, params.deadline || 60000);

harness.run(name, params).then(function (result) {
  clearTimeout(limit);
  process.stdout.write(JSON.stringify(result) + '\n', function () {
    // sockjs-client may keep sockets or timers alive after close.
    process.exit(0);
  });
});
