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
// An exception thrown inside sockjs-client (say, by a frame it cannot
// decode) is reported with the result instead of killing the check.
var uncaught = [];
process.on('uncaughtException', function (e) {
  uncaught.push(String(e && e.stack || e).split('\n').slice(0, 3).join(' | '));
});

var limit = setTimeout(function () {
  process.stdout.write(JSON.stringify({error: 'node client timed out', uncaught: uncaught}) + '\n');
  process.exit(2);
}, params.deadline || 60000);

harness.run(name, params).then(function (result) {
  clearTimeout(limit);
  if (uncaught.length) {
    result.uncaught = uncaught;
    if (Array.isArray(result.problems)) {
      result.problems = result.problems.concat(uncaught.map(function (u) { return 'uncaught: ' + u; }));
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n', function () {
    // sockjs-client may keep sockets or timers alive after close.
    process.exit(0);
  });
});
