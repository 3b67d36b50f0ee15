/*
 * Checks run with the real sockjs-client against a SockJS endpoint, shared by
 * the browser page (pages/harness.html loads it after /sockjs.min.js) and by
 * the Node driver (node_client.js). Each check resolves to a plain JSON
 * object that the Python tests assert on; nothing here throws for a failed
 * expectation, so a test always sees what actually happened.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory(require('sockjs-client'));
  } else {
    root.SockJSHarness = factory(root.SockJS);
  }
})(typeof self !== 'undefined' ? self : this, function (SockJS) {
  'use strict';

  var CONTROL = '';
  for (var i = 0; i < 32; i++) {
    CONTROL += String.fromCharCode(i);
  }
  CONTROL += '\u007f';

  // Strings that break naive framing, JSON escaping, UTF-8 handling or the
  // HTML/JS contexts of the htmlfile and jsonp transports.
  var SPECIAL = [
    'hello',
    '',
    ' ',
    'emoji \ud83d\ude00 \ud83c\udf89 and \u00e9\u00fc\u4e2d\u6587',
    '\u2028',
    '\u2029',
    'a\u2028b\u2029c',
    '\u0000',
    'nul\u0000inside',
    CONTROL,
    '\ud800',
    '\udfff',
    'x\ud83dy',
    '\ude00z',
    '\udc00\ud800',
    '</script><script>window.__pwned = 1;</script>',
    '</SCRIPT ><img src=x onerror="window.__pwned=2">',
    '<!--',
    '-->',
    '<![CDATA[ ]]>',
    '"); window.__pwned = 3; ("',
    '\'; window.__pwned = 4; //',
    '\\"\\\\\\u0000 literal backslashes',
    '"\'\\/',
    '\r\n\t',
    '\ufeff',
    '\u200c\u200d\u200e\u200f',
    '\u0600\u0601\u0602\u0603\u0604\u070f\u17b4\u17b5',
    '\u2060\u2064\u206f',
    '\ufff0\ufff9\ufffd\ufffe\uffff',
    'e\u0301 \u0300\u0333\u0591 \uf900\ufb1d',
    'c[3000,"Go away!"]',
    'a["x"]',
    'h',
    'o',
    '[]',
    'null',
    '100%',
    '%20 %41 %zz %E2%80%A8 %',
    'msg,my%20chat,payload'
  ];

  function bigString(length) {
    var unit = 'abcdefghij\u00e9\u4e2d\ud83d\ude00\u2028<>&"\\\u0000%25';
    var parts = [];
    var total = 0;
    while (total < length) {
      parts.push(unit);
      total += unit.length;
    }
    return parts.join('').slice(0, length);
  }

  // Printable ASCII form of any JS string, lone surrogates included, for
  // reporting mismatches through JSON-unsafe channels.
  function show(s) {
    if (typeof s !== 'string') {
      return String(s);
    }
    var out = '';
    var limit = Math.min(s.length, 80);
    for (var i = 0; i < limit; i++) {
      var c = s.charCodeAt(i);
      if (c >= 32 && c < 127 && c !== 92) {
        out += s.charAt(i);
      } else {
        out += '\\u' + ('0000' + c.toString(16)).slice(-4);
      }
    }
    if (s.length > limit) {
      out += '...(' + s.length + ' chars)';
    }
    return out;
  }

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  // A SockJS connection with its events recorded.
  function Conn(url, transports, timeoutMs) {
    var self = this;
    this.url = url;
    this.messages = [];
    this.heartbeats = 0;
    this.closeEvent = null;
    this.opened = false;
    this.waiters = [];
    var options = {};
    if (transports) {
      options.transports = transports;
    }
    if (timeoutMs) {
      options.timeout = timeoutMs;
    }
    this.sock = new SockJS(url, null, options);
    this.openPromise = new Promise(function (resolve) {
      self.sock.onopen = function () {
        self.opened = true;
        // sockjs-client forgets its transport once closed: keep it.
        self.openedTransport = self.sock.transport;
        resolve(true);
      };
      self.sock.onclose = function (e) {
        self.closeEvent = {code: e.code, reason: e.reason, wasClean: e.wasClean};
        resolve(false);
        self._wake();
      };
    });
    this.sock.onmessage = function (e) {
      self.messages.push(e.data);
      self._wake();
    };
    this.sock.addEventListener('heartbeat', function () {
      self.heartbeats += 1;
    });
  }

  Conn.prototype._wake = function () {
    var waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(function (w) { w(); });
  };

  // Resolves once `count` messages have arrived in total, the connection has
  // closed, or `ms` has passed.
  Conn.prototype.waitFor = function (count, ms) {
    var self = this;
    var deadline = Date.now() + ms;
    return new Promise(function (resolve) {
      function check() {
        if (self.messages.length >= count || self.closeEvent || Date.now() >= deadline) {
          resolve(self.messages.length >= count);
          return;
        }
        self.waiters.push(check);
        setTimeout(check, Math.max(0, Math.min(250, deadline - Date.now())));
      }
      check();
    });
  };

  Conn.prototype.waitClosed = function (ms) {
    var self = this;
    var deadline = Date.now() + ms;
    return new Promise(function (resolve) {
      function check() {
        if (self.closeEvent || Date.now() >= deadline) {
          resolve(self.closeEvent);
          return;
        }
        self.waiters.push(check);
        setTimeout(check, Math.max(0, Math.min(250, deadline - Date.now())));
      }
      check();
    });
  };

  Conn.prototype.transport = function () {
    return this.openedTransport || this.sock.transport || null;
  };

  Conn.prototype.close = function () {
    try {
      this.sock.close();
    } catch (e) {
      // already closed
    }
  };

  Conn.prototype.summary = function () {
    return {
      transport: this.transport(),
      opened: this.opened,
      close: this.closeEvent,
      received: this.messages.length
    };
  };

  function compare(expected, got, label) {
    var problems = [];
    if (got.length !== expected.length) {
      problems.push(label + ': expected ' + expected.length + ' messages, got ' + got.length);
    }
    var n = Math.min(expected.length, got.length);
    for (var i = 0; i < n && problems.length < 10; i++) {
      if (expected[i] !== got[i]) {
        problems.push(label + '[' + i + ']: sent ' + show(expected[i]) + ' got ' + show(got[i]));
      }
    }
    return problems;
  }

  async function openConn(url, transports, timeoutMs) {
    var conn = new Conn(url, transports, timeoutMs);
    await conn.openPromise;
    return conn;
  }

  var checks = {};

  // Exact, in-order echo of the special strings, a big string and a burst.
  checks.echo = async function (p) {
    var conn = await openConn(p.url, p.transports);
    var result = conn.summary();
    if (!conn.opened) {
      return result;
    }
    var problems = [];
    try {
      // 1. the special strings, one round trip each (a bad one can't hide
      //    behind another).
      var got = [];
      var wait = p.wait || 5000;
      for (var i = 0; i < SPECIAL.length && !conn.closeEvent; i++) {
        var before = conn.messages.length;
        conn.sock.send(SPECIAL[i]);
        if (!(await conn.waitFor(before + 1, wait))) {
          wait = 1000; // one lost already: don't wait as long for the rest
        }
        got.push(conn.messages[before]);
        conn.messages.length = before; // a late reply must not shift the next
      }
      problems = problems.concat(compare(SPECIAL, got, 'special'));

      // 2. all of them again at once, in order.
      conn.messages.length = 0;
      var start = 0;
      SPECIAL.forEach(function (s) { conn.sock.send(s); });
      var lossy = wait < 5000;  // after a lost message, don't wait long for more
      await conn.waitFor(start + SPECIAL.length, p.wait || (lossy ? 2000 : 5000));
      problems = problems.concat(compare(SPECIAL, conn.messages.slice(start), 'special-batch'));
      lossy = lossy || conn.messages.length < SPECIAL.length;

      // 3. one big string.
      var big = bigString(p.bigLength || 200 * 1024);
      start = conn.messages.length;
      conn.sock.send(big);
      await conn.waitFor(start + 1, p.wait || (lossy ? 3000 : 10000));
      problems = problems.concat(compare([big], conn.messages.slice(start), 'big'));
      lossy = lossy || conn.messages.length < start + 1;

      // 4. a burst of small messages.
      var burst = [];
      for (var j = 0; j < (p.burst || 1000); j++) {
        burst.push('burst ' + j + ' \u00e9\ud83d\ude00');
      }
      start = conn.messages.length;
      burst.forEach(function (s) { conn.sock.send(s); });
      await conn.waitFor(start + burst.length, p.wait || (lossy ? 3000 : 15000));
      problems = problems.concat(compare(burst, conn.messages.slice(start), 'burst'));
    } catch (e) {
      problems.push('exception: ' + e);
    } finally {
      result = conn.summary();
      result.problems = problems;
      result.pwned = typeof window !== 'undefined' ? (window.__pwned || null) : null;
      conn.close();
    }
    return result;
  };

  // A session the server closes at once (/close): open, then 3000 "Go away!".
  checks.close = async function (p) {
    var conn = new Conn(p.url, p.transports);
    await conn.openPromise;
    await conn.waitClosed(p.wait || 10000);
    var result = conn.summary();
    conn.close();
    return result;
  };

  // /amplify: message "N" answers 2**N "x".
  checks.amplify = async function (p) {
    var conn = await openConn(p.url, p.transports);
    var result = conn.summary();
    if (!conn.opened) {
      return result;
    }
    var powers = p.powers || [1, 4, 10, 14, 17, 19, 19];
    powers.forEach(function (n) { conn.sock.send(String(n)); });
    await conn.waitFor(powers.length, p.wait || 20000);
    result = conn.summary();
    result.lengths = conn.messages.map(function (m) { return m.length; });
    result.allX = conn.messages.every(function (m) { return /^x*$/.test(m); });
    result.expected = powers.map(function (n) { return Math.pow(2, n); });
    conn.close();
    return result;
  };

  // Open (with or without a transport list), report which transport was
  // used, and echo a few messages.
  checks.simpleEcho = async function (p) {
    var conn = await openConn(p.url, p.transports);
    var result = conn.summary();
    if (!conn.opened) {
      return result;
    }
    var sent = ['one', 'two \ud83d\ude00', 'three\u2028'];
    sent.forEach(function (s) { conn.sock.send(s); });
    await conn.waitFor(sent.length, p.wait || 10000);
    result = conn.summary();
    result.problems = compare(sent, conn.messages, 'echo');
    conn.close();
    return result;
  };

  // Stay idle for `idleMs`, count the heartbeats seen, then check that the
  // session still echoes.
  checks.idle = async function (p) {
    var conn = await openConn(p.url, p.transports);
    var result = conn.summary();
    if (!conn.opened) {
      return result;
    }
    await delay(p.idleMs || 3000);
    var stillOpen = conn.sock.readyState === SockJS.OPEN && !conn.closeEvent;
    conn.sock.send('still here');
    await conn.waitFor(1, p.wait || 10000);
    result = conn.summary();
    result.stillOpen = stillOpen;
    result.heartbeats = conn.heartbeats;
    result.echo = conn.messages[0] === 'still here';
    conn.close();
    return result;
  };

  // Open several connections (e.g. to /broadcast) and check every message
  // sent by any reaches all.
  checks.broadcast = async function (p) {
    var conns = [];
    for (var i = 0; i < p.transportsEach.length; i++) {
      conns.push(await openConn(p.url, p.transportsEach[i]));
    }
    var result = {
      transports: conns.map(function (c) { return c.transport(); }),
      closes: conns.map(function (c) { return c.closeEvent; })
    };
    conns.forEach(function (c, k) { c.sock.send('from ' + k); });
    await Promise.all(conns.map(function (c) { return c.waitFor(conns.length, p.wait || 10000); }));
    result.received = conns.map(function (c) { return c.messages.slice().sort(); });
    conns.forEach(function (c) { c.close(); });
    return result;
  };

  function until(predicate, ms) {
    var deadline = Date.now() + ms;
    return new Promise(function (resolve) {
      (function poll() {
        if (predicate() || Date.now() >= deadline) {
          resolve(!!predicate());
        } else {
          setTimeout(poll, 20);
        }
      })();
    });
  }

  // websocket-multiplex (browser only: its client is a global script) over
  // one SockJS session: channels "echo", "upper", "my chat" and one the
  // server does not know.
  checks.multiplex = async function (p) {
    var conn = await openConn(p.url, p.transports);
    var result = conn.summary();
    if (!conn.opened) {
      return result;
    }
    var mux = new WebSocketMultiplex(conn.sock);
    function channel(name) {
      var record = {messages: [], opened: false, closed: false};
      var ch = mux.channel(name);
      ch.onopen = function () { record.opened = true; };
      ch.onmessage = function (e) { record.messages.push(e.data); };
      ch.onclose = function () { record.closed = true; };
      return {ch: ch, record: record};
    }
    var echo = channel('echo');
    var upper = channel('upper');
    var myChat = channel('my chat');
    var nope = channel('nope');
    await until(function () { return echo.record.opened && upper.record.opened && myChat.record.opened; }, 5000);
    echo.ch.send('a,b,,c');
    echo.ch.send('h\u00e9llo \ud83d\ude00 \u2028');
    upper.ch.send('shout, loud');
    myChat.ch.send('in my chat');
    await until(function () {
      return echo.record.messages.length >= 2 && upper.record.messages.length >= 1 &&
        myChat.record.messages.length >= 1 && nope.record.closed;
    }, p.wait || 5000);
    echo.ch.close();
    await delay(100);
    upper.ch.send('still there');
    await until(function () { return upper.record.messages.length >= 2; }, 3000);
    result = conn.summary();
    result.echo = echo.record.messages;
    result.upper = upper.record.messages;
    result.myChat = myChat.record.messages;
    result.nopeClosed = nope.record.closed;
    result.sessionOpen = conn.sock.readyState === SockJS.OPEN;
    result.raw = conn.messages.slice(0, 20);
    conn.close();
    return result;
  };

  // The endpoint's raw websocket (<url>/websocket) with the browser's own
  // WebSocket: every text message is one SockJS message, unframed.
  checks.rawWebsocket = async function (p) {
    var ws = new WebSocket(p.url.replace(/^http/, 'ws') + '/websocket');
    var messages = [];
    var closeEvent = null;
    var opened = false;
    ws.onmessage = function (e) { messages.push(e.data); };
    ws.onclose = function (e) { closeEvent = {code: e.code, reason: e.reason, wasClean: e.wasClean}; };
    ws.onopen = function () { opened = true; };
    await until(function () { return opened || closeEvent; }, 5000);
    var sent = [];
    if (opened && p.echo) {
      // WebSocket.send turns lone surrogates into U+FFFD: leave those out.
      sent = SPECIAL.concat([bigString(200 * 1024)]).filter(function (s) { return s.isWellFormed(); });
      sent.forEach(function (s) { ws.send(s); });
    }
    await until(function () { return messages.length >= sent.length || closeEvent; }, p.wait || 5000);
    if (p.expectClose) {
      await until(function () { return closeEvent; }, p.wait || 5000);
    }
    try { ws.close(); } catch (e) { /* closed */ }
    return {opened: opened, close: closeEvent, received: messages.length, problems: compare(sent, messages, 'raw')};
  };

  // Several checks at once, e.g. idle connections on every transport:
  // p.runs is a list of [name, params]; resolves to their results in order.
  checks.parallel = async function (p) {
    var results = await Promise.all(p.runs.map(function (run) {
      return checks[run[0]](run[1]).catch(function (e) { return {error: String(e)}; });
    }));
    return {results: results};
  };

  return {
    SPECIAL: SPECIAL,
    bigString: bigString,
    show: show,
    Conn: Conn,
    checks: checks,
    run: function (name, params) {
      var check = checks[name];
      if (!check) {
        return Promise.resolve({error: 'no such check: ' + name});
      }
      return check(params).catch(function (e) {
        return {error: String(e && e.stack || e)};
      });
    }
  };
});
