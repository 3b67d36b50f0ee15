// Load generator for the txsockjs benchmark (Node, `ws` + keep-alive HTTP). Talks only to 127.0.0.1.
//
// Usage: node client.js '<json config>'
//   config: {port, kind: "sockjs"|"raw", scenario, params: {...}, hardTimeout: seconds}
//
// The orchestrator (bench/run.py) drives it over stdio, one JSON object per line on stdout:
//   {"event":"ready","phase":NAME}   the phase is set up; the orchestrator samples /proc and writes "go\n"
//   {"event":"result","phase":NAME,...}  the phase is over; the orchestrator samples /proc again
//   {"event":"end"}                  all phases done; the orchestrator writes "exit\n" and the client leaves
// Every loop is bounded by a message count and a time limit, and a hard timeout ends the process whatever happens.
'use strict';
const http = require('http');
const WebSocket = require('ws');
const readline = require('readline');

const cfg = JSON.parse(process.argv[2]);
const HOST = '127.0.0.1';
const PORT = cfg.port;
const KIND = cfg.kind;            // "sockjs": SockJS session websocket / HTTP transports; "raw": plain websocket
const P = cfg.params || {};
const PAYLOAD = 'x'.repeat(P.size || 32);

setTimeout(function () {
  emit({ event: 'error', error: 'hard timeout' });
  process.exit(3);
}, (cfg.hardTimeout || 120) * 1000).unref();

function emit(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
function now() { return Number(process.hrtime.bigint()) / 1e6; }  // milliseconds
function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

// ---- stdin handshake -----------------------------------------------------------------------------------------
const stdinLines = [];
let stdinWaiter = null;
readline.createInterface({ input: process.stdin }).on('line', function (line) {
  if (stdinWaiter) { const w = stdinWaiter; stdinWaiter = null; w(line.trim()); } else stdinLines.push(line.trim());
}).on('close', function () {  // stdin gone: the orchestrator is gone, so leave; run by hand, carry on
  if (cfg.orchestrated) process.exit(4);
  stdinClosed = true;
  if (stdinWaiter) { const w = stdinWaiter; stdinWaiter = null; w('eof'); }
});
let stdinClosed = false;
function readCommand() {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  if (stdinClosed) return Promise.resolve('eof');
  return new Promise(function (r) { stdinWaiter = r; });
}

async function phase(name, fn) {
  emit({ event: 'ready', phase: name });
  const cmd = await readCommand();
  if (cmd !== 'go' && cmd !== 'eof') throw new Error('expected go, got ' + cmd);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const res = await fn();
  const wall = (now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  res.event = 'result';
  res.phase = name;
  res.client_cpu = (cpu.user + cpu.system) / 1e6 / wall;  // share of one core the generator used
  emit(res);
}

function percentiles(samples, n) {
  if (!n) return { p50: null, p99: null };
  const a = Float64Array.from(samples.subarray(0, n)).sort();
  const at = function (q) { return a[Math.min(n - 1, Math.floor(q * n))]; };
  return { p50: at(0.5), p99: at(0.99) };
}

function Samples(cap) { this.buf = new Float64Array(cap); this.n = 0; }
Samples.prototype.add = function (v) { if (this.n < this.buf.length) this.buf[this.n++] = v; };
Samples.prototype.pct = function () { return percentiles(this.buf, this.n); };

let sidCounter = 0;
const runTag = Math.random().toString(36).slice(2, 8);
function newSid() { return runTag + (sidCounter++).toString(36); }

// ---- websocket sessions --------------------------------------------------------------------------------------
// A Conn hides the SockJS framing: onMessages(array of strings) is called for every message that arrives.
function openConn(endpoint, onMessages) {
  return new Promise(function (resolve, reject) {
    const url = KIND === 'sockjs'
      ? 'ws://' + HOST + ':' + PORT + '/' + endpoint + '/000/' + newSid() + '/websocket'
      : 'ws://' + HOST + ':' + PORT + '/' + endpoint;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    const conn = { ws: ws, open: false, closed: false };
    // Sends made in one turn of the event loop (e.g. replies to a batch of echoes) leave in one writev, so the
    // generator spends its CPU on messages, not on syscalls; every message is still its own websocket frame.
    let corked = false;
    function uncork() { corked = false; if (ws._socket) ws._socket.uncork(); }
    function raw(m) {
      if (!corked && ws._socket) { corked = true; ws._socket.cork(); process.nextTick(uncork); }
      ws.send(m);
    }
    conn.send = KIND === 'sockjs'
      ? function (m) { raw('["' + m + '"]'); }   // benchmark payloads need no JSON escaping
      : raw;
    const timer = setTimeout(function () { reject(new Error('open timeout')); ws.terminate(); }, 30000);
    ws.on('error', function (e) { clearTimeout(timer); if (!conn.open) reject(e); });
    ws.on('close', function () { conn.closed = true; });
    if (KIND === 'sockjs') {
      ws.on('message', function (data) {
        const s = data.toString();
        const t = s.charCodeAt(0);
        if (t === 97 /* a */) onMessages(JSON.parse(s.slice(1)));
        else if (t === 111 /* o */) { conn.open = true; clearTimeout(timer); resolve(conn); }
        else if (t === 99 /* c */) { conn.closed = true; }
      });
    } else {
      ws.on('open', function () { conn.open = true; clearTimeout(timer); resolve(conn); });
      ws.on('message', function (data) { onMessages([data.toString()]); });
    }
  });
}

async function openMany(endpoint, n, concurrency, onMessagesFor) {
  const conns = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      conns[i] = await openConn(endpoint, onMessagesFor(i));
    }
  }
  const workers = [];
  for (let k = 0; k < Math.min(concurrency, n); k++) workers.push(worker());
  await Promise.all(workers);
  return conns;
}

function closeAll(conns) {
  for (const c of conns) if (c) { try { c.ws.terminate(); } catch (e) { /* already gone */ } }
}

// ---- (1) websocket echo --------------------------------------------------------------------------------------
async function wsEcho() {
  const C = P.sessions, W = P.inflight;
  const lat = new Samples(4000000);
  let st = null;  // state of the running loop
  const queues = [];
  const conns = await openMany('echo', C, 50, function (i) {
    queues[i] = [];
    return function (msgs) {
      const t = now();
      const q = queues[i];
      for (let k = 0; k < msgs.length; k++) {
        const sent = q.shift();
        if (!st) continue;
        if (msgs[k] !== PAYLOAD) st.wrong++;
        st.received++;
        if (st.measure) lat.add(t - sent);
        if (st.sent < st.limit && t < st.deadline) { q.push(now()); st.sent++; conns[i].send(PAYLOAD); }
      }
      if (st && st.received === st.sent) { st.lastRecv = t; st.done(); }
    };
  });
  function run(limit, seconds, measure) {
    return new Promise(function (resolve) {
      const mine = st = { sent: 0, received: 0, wrong: 0, limit: limit, deadline: now() + seconds * 1000,
        measure: measure, done: function () { const s = st; st = null; resolve(s); } };
      st.start = now();
      setTimeout(function () {  // safety net: lost messages end the run instead of hanging it
        if (st === mine) { mine.lastRecv = now(); mine.lost = mine.sent - mine.received; mine.done(); }
      }, seconds * 1000 + 10000).unref();
      for (let w = 0; w < W; w++) {
        for (let i = 0; i < C; i++) {
          if (st.sent >= limit) break;
          queues[i].push(now()); st.sent++; conns[i].send(PAYLOAD);
        }
      }
    });
  }
  await run(P.warmup, 10, false);
  await phase('echo', async function () {
    const s = await run(P.count, P.seconds, true);
    const secs = (s.lastRecv - s.start) / 1000;
    const pc = lat.pct();
    return { messages: s.received, seconds: secs, rate: s.received / secs, p50_ms: pc.p50, p99_ms: pc.p99,
      lost: s.lost || 0, wrong: s.wrong };
  });
  closeAll(conns);
}

// ---- HTTP helpers --------------------------------------------------------------------------------------------
// KeepAlive: a minimal HTTP/1.1 client on one persistent connection, one request at a time (no pipelining).
// Node's http module costs the generator more CPU per request than the servers spend answering it; this one
// parses only the status line, Content-Length / chunked framing and Connection: close.
const net = require('net');
function KeepAlive() { this.sock = null; this.buf = null; this.pending = null; }
KeepAlive.prototype._connect = function () {
  const self = this;
  const sock = this.sock = net.connect(PORT, HOST);
  sock.setNoDelay(true);
  this.buf = Buffer.alloc(0);
  sock.on('data', function (d) {
    if (self.sock !== sock) return;
    self.buf = self.buf.length ? Buffer.concat([self.buf, d]) : d;
    self._parse(false);
  });
  sock.on('error', function (e) { if (self.sock === sock) self._fail(e); });
  sock.on('close', function () {
    if (self.sock !== sock) return;
    self.sock = null;
    if (self.pending) self._parse(true);
  });
};
KeepAlive.prototype._fail = function (e) {
  const p = this.pending; this.pending = null;
  if (this.sock) { this.sock.destroy(); this.sock = null; }
  if (p) { clearTimeout(p.timer); p.reject(e); }
};
KeepAlive.prototype._parse = function (closed) {
  const p = this.pending;
  if (!p) return;
  const buf = this.buf;
  if (p.bodyStart < 0) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) { if (closed) this._fail(new Error('connection closed before headers')); return; }
    const head = buf.toString('latin1', 0, end).split('\r\n');
    p.status = parseInt(head[0].split(' ')[1], 10);
    p.length = -1; p.chunked = false; p.close = false;
    for (let i = 1; i < head.length; i++) {
      const c = head[i].indexOf(':');
      const name = head[i].slice(0, c).trim().toLowerCase(), value = head[i].slice(c + 1).trim().toLowerCase();
      if (name === 'content-length') p.length = parseInt(value, 10);
      else if (name === 'transfer-encoding' && value.indexOf('chunked') >= 0) p.chunked = true;
      else if (name === 'connection' && value === 'close') p.close = true;
    }
    if (p.status === 204 || p.status === 304 || p.method === 'HEAD') p.length = 0;
    p.bodyStart = end + 4;
    p.pos = p.bodyStart;
    p.chunks = [];
  }
  let done = false, rest = null;
  if (p.chunked) {
    while (true) {
      const eol = buf.indexOf('\r\n', p.pos);
      if (eol < 0) break;
      const size = parseInt(buf.toString('latin1', p.pos, eol), 16);
      if (size === 0) {
        if (buf.length >= eol + 4) { done = true; rest = buf.subarray(eol + 4); }
        break;
      }
      if (buf.length < eol + 2 + size + 2) break;
      p.chunks.push(buf.subarray(eol + 2, eol + 2 + size));
      p.pos = eol + 2 + size + 2;
    }
  } else if (p.length >= 0) {
    if (buf.length - p.bodyStart >= p.length) {
      done = true;
      p.chunks.push(buf.subarray(p.bodyStart, p.bodyStart + p.length));
      rest = buf.subarray(p.bodyStart + p.length);
    }
  } else if (closed) {  // body delimited by the end of the connection
    done = true; p.chunks.push(buf.subarray(p.bodyStart)); p.close = true;
  }
  if (!done) { if (closed) this._fail(new Error('connection closed mid-response')); return; }
  this.pending = null;
  clearTimeout(p.timer);
  this.buf = rest && rest.length ? Buffer.from(rest) : Buffer.alloc(0);
  if (p.close && this.sock) { this.sock.destroy(); this.sock = null; }
  p.resolve({ status: p.status, body: Buffer.concat(p.chunks).toString('utf8') });
};
KeepAlive.prototype.request = function (method, path, body) {
  const self = this;
  return new Promise(function (resolve, reject) {
    if (!self.sock) self._connect();
    const len = body === null ? 0 : Buffer.byteLength(body);
    let req = method + ' ' + path + ' HTTP/1.1\r\nHost: ' + HOST + ':' + PORT + '\r\n';
    if (method === 'POST') req += 'Content-Type: text/plain\r\nContent-Length: ' + len + '\r\n';
    req += '\r\n';
    if (body !== null) req += body;
    self.pending = { method: method, resolve: resolve, reject: reject, bodyStart: -1,
      timer: setTimeout(function () { self._fail(new Error('request timeout ' + path)); }, 30000) };
    self.sock.write(req);
  });
};

const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 512 });
function post(path, body, ag) {
  return new Promise(function (resolve, reject) {
    const headers = { 'Content-Type': 'text/plain' };
    if (body !== null) headers['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({ host: HOST, port: PORT, method: 'POST', path: path, agent: ag || agent,
      headers: headers }, function (res) {
      const chunks = [];
      res.setEncoding('utf8');
      res.on('data', function (c) { chunks.push(c); });
      res.on('end', function () { resolve({ status: res.statusCode, body: chunks.join('') }); });
      res.on('error', reject);
    });
    req.setTimeout(30000, function () { req.destroy(new Error('request timeout ' + path)); });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}
function get(path) {
  return new Promise(function (resolve, reject) {
    const req = http.request({ host: HOST, port: PORT, method: 'GET', path: path, agent: agent }, function (res) {
      let n = 0;
      res.on('data', function (c) { n += c.length; });
      res.on('end', function () { resolve({ status: res.statusCode, length: n }); });
      res.on('error', reject);
    });
    req.setTimeout(30000, function () { req.destroy(new Error('request timeout ' + path)); });
    req.on('error', reject);
    req.end();
  });
}

// ---- (2) xhr_streaming receive ------------------------------------------------------------------------------
// S sessions on /broadcast each hold an xhr_streaming response (reopened when the server ends it at
// response_limit); session 0 posts batches of B messages with xhr_send, keeping `posts` requests in flight.
// Every message reaches all S streams: the figure is delivered messages per second.
async function xhrStreaming() {
  const S = P.streams, B = P.batch;
  const streamAgent = new http.Agent({ keepAlive: false, maxSockets: 1024 });
  const batchBody = JSON.stringify(new Array(B).fill(PAYLOAD));
  let delivered = 0, reopens = 0, stopping = false, failures = 0, wrong = 0;
  let waiter = null;
  const sids = [];
  function openStream(sid, onOpen) {
    const req = http.request({ host: HOST, port: PORT, method: 'POST', agent: streamAgent,
      path: '/broadcast/000/' + sid + '/xhr_streaming', headers: { 'Content-Length': 0 } }, function (res) {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', function (chunk) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const t = line.charCodeAt(0);
          if (t === 97) {
            const msgs = JSON.parse(line.slice(1));
            delivered += msgs.length;
            for (let k = 0; k < msgs.length; k++) if (msgs[k] !== PAYLOAD) wrong++;
          }
          else if (t === 111 && onOpen) { const f = onOpen; onOpen = null; f(); }
          else if (t === 99) { failures++; }
        }
        if (waiter && delivered >= waiter.target) { const w = waiter; waiter = null; w.resolve(); }
      });
      res.on('end', function () {  // reopen, but never in a tight loop against a server that keeps refusing
        if (!stopping && failures < 100 && reopens < 100000) { reopens++; openStream(sid, null); }
      });
      res.on('error', function () { failures++; });
    });
    req.on('error', function () { if (!stopping) failures++; });
    req.end();
  }
  await Promise.all(Array.from({ length: S }, function () {
    const sid = newSid(); sids.push(sid);
    return new Promise(function (r) { openStream(sid, r); });
  }));
  async function run(posts, seconds) {
    const start = now(), deadline = start + seconds * 1000;
    const base = delivered;
    let sent = 0;
    async function poster() {
      const conn = new KeepAlive();
      while (sent < posts && now() < deadline) {
        sent++;
        const r = await conn.request('POST', '/broadcast/000/' + sids[0] + '/xhr_send', batchBody);
        if (r.status !== 204) { failures++; throw new Error('xhr_send status ' + r.status + ' ' + r.body); }
      }
    }
    await Promise.all(Array.from({ length: P.inflight }, poster));
    const target = base + sent * B * S;
    if (delivered < target) {
      await Promise.race([new Promise(function (resolve) { waiter = { target: target, resolve: resolve }; }),
        sleep(10000)]);
      waiter = null;
    }
    return { sent: sent, delivered: delivered - base, expected: sent * B * S, seconds: (now() - start) / 1000 };
  }
  await run(P.warmupPosts, 10);
  await phase('stream', async function () {
    const reopens0 = reopens;
    const r = await run(P.posts, P.seconds);
    return { messages: r.delivered, expected: r.expected, seconds: r.seconds, rate: r.delivered / r.seconds,
      reopens: reopens - reopens0, failures: failures, wrong: wrong };
  });
  stopping = true;
  streamAgent.destroy();
}

// ---- (3) xhr polling send + poll round trips ----------------------------------------------------------------
async function xhrPolling() {
  const C = P.sessions;
  const lat = new Samples(1000000);
  let failures = 0;
  const sids = [];
  for (let i = 0; i < C; i++) {
    const sid = newSid(); sids.push(sid);
    const r = await post('/echo/000/' + sid + '/xhr', null);
    if (r.body !== 'o\n') throw new Error('xhr open got ' + r.status + ' ' + JSON.stringify(r.body));
  }
  const expectBody = 'a["' + PAYLOAD + '"]\n';
  const pollConns = sids.map(function () { return new KeepAlive(); });
  const sendConns = sids.map(function () { return new KeepAlive(); });
  async function run(total, seconds, measure) {
    const start = now(), deadline = start + seconds * 1000;
    let done = 0, started = 0;
    async function loop(sid, i) {
      const pc = pollConns[i], sc = sendConns[i];
      while (started < total && now() < deadline) {
        started++;
        const t0 = now();
        const poll = pc.request('POST', '/echo/000/' + sid + '/xhr', null);
        const send = sc.request('POST', '/echo/000/' + sid + '/xhr_send', '["' + PAYLOAD + '"]');
        const [p, s] = await Promise.all([poll, send]);
        if (s.status !== 204 || p.body !== expectBody) {
          failures++;
          if (failures > 20) throw new Error('xhr round trip failed: ' + s.status + ' ' + JSON.stringify(p.body));
          continue;
        }
        done++;
        if (measure) lat.add(now() - t0);
      }
    }
    await Promise.all(sids.map(loop));
    return { done: done, seconds: (now() - start) / 1000 };
  }
  await run(P.warmup, 10, false);
  await phase('poll', async function () {
    const r = await run(P.count, P.seconds, true);
    const pc = lat.pct();
    return { messages: r.done, seconds: r.seconds, rate: r.done / r.seconds, p50_ms: pc.p50, p99_ms: pc.p99,
      failures: failures };
  });
}

// ---- (4) broadcast fan-out ----------------------------------------------------------------------------------
async function broadcast() {
  const N = P.sessions;
  let cur = null;  // {counts: Map id->count, sentAt: Map id->time, onAll}
  const conns = await openMany('broadcast', N, 100, function () {
    return function (msgs) {
      if (!cur) return;
      const t = now();
      for (let k = 0; k < msgs.length; k++) {
        const id = msgs[k];
        const c = (cur.counts.get(id) || 0) + 1;
        cur.delivered++;
        if (c === N) { cur.counts.delete(id); cur.onAll(id, t); } else cur.counts.set(id, c);
      }
    };
  });
  const pad = 'b'.repeat(Math.max(0, (P.size || 32) - 12));
  let seq = 0;
  function msgId() { return (seq++).toString(36).padStart(12 - 1, '0') + '-' + pad; }
  // run `total` broadcasts from session 0, keeping `window` of them not yet received by everyone
  function run(total, window, seconds, allLat) {
    return new Promise(function (resolve) {
      const start = now(), deadline = start + seconds * 1000;
      const sentAt = new Map();
      let sent = 0, complete = 0;
      function sendOne() { const id = msgId(); sentAt.set(id, now()); sent++; conns[0].send(id); }
      const st = { counts: new Map(), delivered: 0, onAll: function (id, t) {
        complete++;
        if (allLat) allLat.add(t - sentAt.get(id));
        sentAt.delete(id);
        if (sent < total && now() < deadline) sendOne();
        else if (complete === sent) { cur = null; resolve({ complete: complete, delivered: st.delivered,
          seconds: (t - start) / 1000 }); }
      } };
      cur = st;
      for (let w = 0; w < window && sent < total; w++) sendOne();
      setTimeout(function () {  // safety net: never wait for ever on a lost message
        if (cur === st) { cur = null; resolve({ complete: complete, delivered: st.delivered,
          seconds: (now() - start) / 1000, incomplete: sent - complete }); }
      }, seconds * 1000 + 15000).unref();
    });
  }
  await run(P.warmup, 1, 10, null);
  const allLat = new Samples(100000);
  await phase('fanout', async function () {
    const r = await run(P.latencyCount, 1, P.seconds, allLat);
    const pc = allLat.pct();
    return { messages: r.delivered, broadcasts: r.complete, seconds: r.seconds, p50_ms: pc.p50, p99_ms: pc.p99,
      incomplete: r.incomplete || 0 };
  });
  await phase('sustained', async function () {
    const r = await run(P.count, P.window, P.seconds, null);
    return { messages: r.delivered, broadcasts: r.complete, seconds: r.seconds, rate: r.complete / r.seconds,
      incomplete: r.incomplete || 0 };
  });
  closeAll(conns);
}

// ---- (5) idle websocket sessions ----------------------------------------------------------------------------
async function idle() {
  const warm = await openMany('echo', P.warmup, 50, function () { return function () {}; });
  closeAll(warm);
  await sleep(500);
  let conns = null;
  await phase('open', async function () {
    const start = now();
    conns = await openMany('echo', P.sessions, P.concurrency, function () { return function () {}; });
    const secs = (now() - start) / 1000;
    return { messages: P.sessions, seconds: secs, rate: P.sessions / secs };
  });
  // the orchestrator samples the server's RSS while these sessions are open, then says "exit"
  process.on('exit', function () { closeAll(conns); });
}

// ---- (8) reconnect storm ----------------------------------------------------------------------------------
// N websocket sessions opened all at once, as clients reconnecting after a server restart: time until every one
// has its `o` (or open, for a raw websocket), and each one's time to open. A failed attempt (reset, refused, open
// timeout) is retried after a pause, at most P.retries times.
async function storm() {
  const warm = await openMany('echo', P.warmup, 50, function () { return function () {}; });
  closeAll(warm);
  await sleep(500);
  const conns = new Array(P.sessions);
  await phase('storm', async function () {
    const start = now();
    const times = new Samples(P.sessions);
    let failures = 0, retries = 0;
    async function one(i) {
      for (let attempt = 0; attempt <= P.retries; attempt++) {
        try {
          conns[i] = await openConn('echo', function () {});
          times.add(now() - start);
          return;
        } catch (e) {
          failures++;
          if (attempt < P.retries) { retries++; await sleep(P.retryDelayMs * (attempt + 1)); }
        }
      }
    }
    const all = [];
    for (let i = 0; i < P.sessions; i++) all.push(one(i));
    await Promise.all(all);
    const secs = (now() - start) / 1000;
    const opened = times.n;
    const pc = times.pct();
    return { messages: opened, expected: P.sessions, seconds: secs, rate: opened / secs, p50_ms: pc.p50,
      p99_ms: pc.p99, attempts_failed: failures, retries: retries };
  });
  process.on('exit', function () { closeAll(conns); });
}

// ---- (7) GET /info ------------------------------------------------------------------------------------------
async function info() {
  const path = KIND === 'sockjs' ? '/echo/info' : '/info';
  async function run(total, seconds) {
    const start = now(), deadline = start + seconds * 1000;
    let done = 0, started = 0;
    async function loop() {
      const conn = new KeepAlive();
      while (started < total && now() < deadline) {
        started++;
        const r = await conn.request('GET', path, null);
        if (r.status !== 200) throw new Error('/info status ' + r.status);
        done++;
      }
    }
    await Promise.all(Array.from({ length: P.concurrency }, loop));
    return { messages: done, seconds: (now() - start) / 1000 };
  }
  await run(P.warmup, 10);
  await phase('info', async function () {
    const r = await run(P.count, P.seconds);
    r.rate = r.messages / r.seconds;
    return r;
  });
}

const SCENARIOS = { ws_echo: wsEcho, xhr_streaming: xhrStreaming, xhr_polling: xhrPolling, broadcast: broadcast,
  idle: idle, info: info, storm: storm };

(async function main() {
  try {
    await SCENARIOS[cfg.scenario]();
    emit({ event: 'end' });
    const cmd = await readCommand();
    if (cmd !== 'exit' && cmd !== 'eof') emit({ event: 'error', error: 'expected exit, got ' + cmd });
    process.exit(0);
  } catch (e) {
    emit({ event: 'error', error: String(e && e.stack || e) });
    process.exit(1);
  }
})();
