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
}).on('close', function () {  // stdin gone (e.g. run by hand): every later command means "carry on"
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
    const ws = new WebSocket(url, { perMessageDeflate: false });
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
      res.on('end', function () { if (!stopping) { reopens++; openStream(sid, null); } });
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
      while (sent < posts && now() < deadline) {
        sent++;
        const r = await post('/broadcast/000/' + sids[0] + '/xhr_send', batchBody);
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
  async function run(total, seconds, measure) {
    const start = now(), deadline = start + seconds * 1000;
    let done = 0, started = 0;
    async function loop(sid) {
      while (started < total && now() < deadline) {
        started++;
        const t0 = now();
        const poll = post('/echo/000/' + sid + '/xhr', null);
        const send = post('/echo/000/' + sid + '/xhr_send', '["' + PAYLOAD + '"]');
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

// ---- (7) GET /info ------------------------------------------------------------------------------------------
async function info() {
  const path = KIND === 'sockjs' ? '/echo/info' : '/info';
  async function run(total, seconds) {
    const start = now(), deadline = start + seconds * 1000;
    let done = 0, started = 0;
    async function loop() {
      while (started < total && now() < deadline) {
        started++;
        const r = await get(path);
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
  idle: idle, info: info };

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
