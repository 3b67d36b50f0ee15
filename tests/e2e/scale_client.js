#!/usr/bin/env node
/*
 * A long-lived sockjs-client 1.6.1 driver for the multi-process tests
 * (tests/e2e/test_scale.py): commands arrive as JSON lines on stdin, events
 * leave as JSON lines on stdout. Every received message and close is stamped
 * with this process's clock, so that the Python side can tell what arrived
 * before a close frame.
 *
 *   {"cmd": "open", "id": "c1", "url": "http://127.0.0.1:8080/broadcast",
 *    "transport": "xhr-polling", "reconnect": true}      -> {"event": "open", ...}
 *   {"cmd": "send", "id": "c1", "message": "hello"}
 *   {"cmd": "stream", "id": "c1", "prefix": "n:", "count": 200, "interval": 20}
 *                                                         -> {"event": "streamed", ...}
 *   {"cmd": "dump"}                                       -> {"event": "dump", "conns": {...}}
 *   {"cmd": "stats", "prefix": "b:"}   messages "b:SEQ:SENT_MS" -> latency percentiles
 *   {"cmd": "clear"}                   forget the messages received so far
 *   {"cmd": "quit"}
 *
 * "htmlfile" and "jsonp" are not offered by sockjs-client outside a browser:
 * for them a small raw client of the same URLs speaks the transport itself
 * (receiving over htmlfile / jsonp polling, sending with xhr_send).
 * With "reconnect", a connection closed with code 1001 is opened again
 * (a new session, same transport) 100 ms later.
 */
'use strict';

var SockJS = require('sockjs-client');
var http = require('http');
var readline = require('readline');

var conns = {};
var t0 = Date.now();

function now() { return Date.now() - t0; }
function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
function randomId() { return Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 8); }

// -- raw htmlfile / jsonp clients ---------------------------------------------

function RawConn(url, transport) {
  var self = this;
  var parsed = new URL(url);
  this.host = parsed.hostname;
  this.port = parsed.port;
  this.base = parsed.pathname.replace(/\/$/, '') + '/000/' + randomId();
  this.transport = transport;
  this.closed = false;
  this.onopen = this.onmessage = this.onclose = function () {};
  this.opened = false;
  this.agent = new http.Agent({keepAlive: false});
  setTimeout(function () { self._receive(); }, 0);
}

RawConn.prototype._frames = function (frame) {
  if (this.closed) return;
  var type = frame.charAt(0);
  if (type === 'o') {
    if (!this.opened) { this.opened = true; this.onopen(); }
  } else if (type === 'a') {
    var self = this;
    JSON.parse(frame.slice(1)).forEach(function (m) { self.onmessage({data: m}); });
  } else if (type === 'c') {
    var c = JSON.parse(frame.slice(1));
    this._close(c[0], c[1]);
  }
};

RawConn.prototype._close = function (code, reason) {
  if (this.closed) return;
  this.closed = true;
  this.onclose({code: code, reason: reason, wasClean: true});
};

RawConn.prototype._receive = function () {
  var self = this;
  if (this.closed) return;
  var path = this.base + (this.transport === 'htmlfile' ? '/htmlfile?c=cb' : '/jsonp?c=cb');
  var req = http.get({host: this.host, port: this.port, path: path, agent: this.agent}, function (res) {
    var buffer = '';
    res.setEncoding('utf8');
    res.on('data', function (chunk) {
      buffer += chunk;
      if (self.transport === 'htmlfile') {
        // <script>\np("frame");\n</script>\r\n
        var match;
        var re = /<script>\np\(("(?:[^"\\]|\\.)*")\);\n<\/script>\r\n/g;
        var last = 0;
        while ((match = re.exec(buffer)) !== null) {
          self._frames(JSON.parse(match[1]));
          last = re.lastIndex;
        }
        buffer = buffer.slice(last);
      }
    });
    res.on('end', function () {
      if (self.transport === 'jsonp') {
        // /**/cb("frame");\r\n
        var m = /cb\(("(?:[^"\\]|\\.)*")\);/.exec(buffer);
        if (m) self._frames(JSON.parse(m[1]));
      }
      if (!self.closed) setTimeout(function () { self._receive(); }, 0);
    });
  });
  req.on('error', function () { self._close(1006, 'connection error'); });
};

RawConn.prototype.send = function (message) {
  var body = JSON.stringify([message]);
  var req = http.request({host: this.host, port: this.port, path: this.base + '/xhr_send',
                          method: 'POST', agent: this.agent,
                          headers: {'content-type': 'text/plain', 'content-length': Buffer.byteLength(body)}});
  req.on('error', function () {});
  req.end(body);
};

RawConn.prototype.close = function () { this.closed = true; };

// -- the driver ------------------------------------------------------------

function open(spec) {
  var state = conns[spec.id];
  if (!state) {
    state = conns[spec.id] = {spec: spec, transport: null, gens: [], sock: null};
  }
  var gen = {opened: null, messages: [], close: null, transport: null};
  state.gens.push(gen);
  var raw = spec.transport === 'htmlfile' || spec.transport === 'jsonp';
  var sock = raw ? new RawConn(spec.url, spec.transport)
                 : new SockJS(spec.url, null, {transports: [spec.transport], timeout: 5000});
  state.sock = sock;
  sock.onopen = function () {
    gen.opened = now();
    gen.transport = raw ? spec.transport : sock.transport;
    emit({event: 'open', id: spec.id, gen: state.gens.length, transport: gen.transport, t: gen.opened});
  };
  sock.onmessage = function (e) { gen.messages.push([now(), e.data]); };
  sock.onclose = function (e) {
    gen.close = {code: e.code, reason: e.reason, t: now()};
    if (gen.opened === null) emit({event: 'failed', id: spec.id, close: gen.close});
    if (spec.reconnect && e.code === 1001) {
      setTimeout(function () { open(spec); }, 100);
    }
  };
}

function stream(cmd) {
  var state = conns[cmd.id];
  var k = 0;
  var sent = [];
  (function next() {
    if (k >= cmd.count) {
      emit({event: 'streamed', id: cmd.id, sent: sent});
      return;
    }
    var at = now();
    sent.push(at);
    state.sock.send(cmd.stamp ? cmd.prefix + k + ':' + at : cmd.prefix + k);
    k += 1;
    setTimeout(next, cmd.interval);
  })();
}

var rl = readline.createInterface({input: process.stdin});
rl.on('line', function (line) {
  var cmd = JSON.parse(line);
  if (cmd.cmd === 'open') {
    open(cmd);
  } else if (cmd.cmd === 'send') {
    conns[cmd.id].sock.send(cmd.message);
  } else if (cmd.cmd === 'stream') {
    stream(cmd);
  } else if (cmd.cmd === 'dump') {
    var out = {};
    Object.keys(conns).forEach(function (id) { out[id] = conns[id].gens; });
    emit({event: 'dump', conns: out, t: now()});
  } else if (cmd.cmd === 'stats') {
    var lat = [];
    var last = 0;
    var count = 0;
    Object.keys(conns).forEach(function (id) {
      conns[id].gens.forEach(function (gen) {
        gen.messages.forEach(function (pair) {
          if (pair[1].indexOf(cmd.prefix) !== 0) return;
          var sentAt = Number(pair[1].split(':')[2]);
          lat.push(pair[0] - sentAt);
          last = Math.max(last, pair[0]);
          count += 1;
        });
      });
    });
    lat.sort(function (a, b) { return a - b; });
    function pct(p) { return lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null; }
    emit({event: 'stats', count: count, p50: pct(0.5), p99: pct(0.99), max: pct(1), last: last, t: now()});
  } else if (cmd.cmd === 'clear') {
    Object.keys(conns).forEach(function (id) {
      conns[id].gens.forEach(function (gen) { gen.messages = []; });
    });
    emit({event: 'cleared'});
  } else if (cmd.cmd === 'now') {
    emit({event: 'now', t: now()});
  } else if (cmd.cmd === 'quit') {
    Object.keys(conns).forEach(function (id) { try { conns[id].sock.close(); } catch (e) {} });
    process.exit(0);
  }
});
rl.on('close', function () { process.exit(0); });
process.on('uncaughtException', function (e) {
  emit({event: 'error', error: String(e && e.stack || e).split('\n').slice(0, 3).join(' | ')});
});
// a hard limit: the tests never need this long
setTimeout(function () { emit({event: 'error', error: 'driver timed out'}); process.exit(2); }, 300000);
