// Live viewers and a vote sender, for the fan-out, hot-poll and footprint cases.
//
//   node bench/viewers.mjs            (driven by bench/run.py: JSON commands on stdin, one
//                                      JSON reply per line on stdout, logs on stderr)
//
// The controller (this process) forks PROCS child processes that each hold a share of the
// WebSocket viewers (the `ws` package; permessage-deflate offered or not, as browsers do or
// do not), and sends the votes itself over HTTP keep-alive. Every process stamps events with
// the same wall clock, performance.timeOrigin + performance.now() (ms, sub-ms resolution), so
// times compare across processes.
//
// Commands (fields of the JSON line; every reply echoes `id`):
//   init    {ws_url, http_base, poll_id, option_ids, token_prefix, deflate, procs}
//   connect {total, concurrency, max_seconds}
//           open viewers, `concurrency` handshakes at a time, until `total` hold their first
//           snapshot or max_seconds have passed (no new attempts after that); replies with
//           the count reached, the time taken and connections opened per second
//   votes   {count, interval_ms, first_user, timeout_ms}
//           one vote at a time, each from a new user: before sending, every child watches for
//           the seq the vote will produce; the vote's fan-out time is from just before the
//           POST to the moment the LAST viewer received a results message with that seq (or
//           newer). The next vote goes out interval_ms after the previous one, and never
//           before the previous one reached every viewer, so each vote is its own update.
//   hot     {rate, seconds, first_user, timeout_ms}
//           votes at a fixed rate (open loop) from new users; then per vote the time until
//           the last viewer holds its seq, results messages per viewer per second during
//           the voting, and whether every viewer's last message equals the final results.
//   close   {}                      close every viewer and stop the children
import { fork } from "node:child_process";
import http from "node:http";
import { performance } from "node:perf_hooks";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ---------------------------------------------------------------- child: holds viewers
function child() {
  let config = null;
  const conns = [];
  let watch = null; // {seq, pending, maxT}
  let recording = false;

  const send = (message) => process.send(message);

  function onMessage(conn, data) {
    const t = now();
    const message = JSON.parse(data.toString());
    if (message.type === "viewers") {
      conn.viewerMessages += 1;
      return;
    }
    if (message.type !== "results") return;
    conn.results += 1;
    if (conn.seq < 0) conn.ready(t);
    const before = conn.seq;
    if (message.seq > conn.seq) {
      conn.seq = message.seq;
      conn.last = message;
    }
    if (recording) conn.log.push(message.seq, t);
    if (watch && before < watch.seq && conn.seq >= watch.seq) {
      watch.pending -= 1;
      watch.maxT = Math.max(watch.maxT, t);
      if (watch.pending === 0) {
        send({ type: "reached", seq: watch.seq, t: watch.maxT, n: watch.n });
        watch = null;
      }
    }
  }

  function open() {
    return new Promise((resolve) => {
      const conn = { seq: -1, results: 0, viewerMessages: 0, log: [], last: null, dropped: false };
      const started = now();
      let settled = false;
      const ws = new WebSocket(config.ws_url, {
        perMessageDeflate: config.deflate,
        handshakeTimeout: 20000,
      });
      conn.ws = ws;
      conn.ready = (t) => {
        settled = true;
        conns.push(conn);
        resolve({ ok: true, ms: t - started, extensions: ws.extensions });
      };
      ws.on("message", (data) => onMessage(conn, data));
      ws.on("error", () => {
        if (!settled) {
          settled = true;
          resolve({ ok: false });
        }
      });
      ws.on("close", () => {
        if (!settled) {
          settled = true;
          resolve({ ok: false });
        } else conn.dropped = true;
      });
    });
  }

  async function connect(count, concurrency, deadline) {
    let next = 0;
    let connected = 0;
    let failed = 0;
    let extensions = "";
    async function lane() {
      while (next < count && now() < deadline) {
        next += 1;
        const result = await open();
        if (result.ok) {
          connected += 1;
          extensions = result.extensions;
        } else failed += 1;
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
    return { connected, failed, extensions };
  }

  function hotReport(targets, windowStart, windowEnd, expected) {
    // For each target seq (ascending): the latest first-arrival over this child's viewers.
    const latest = new Array(targets.length).fill(0);
    const reached = new Array(targets.length).fill(0);
    const rates = [];
    let exact = 0;
    for (const conn of conns) {
      const log = conn.log;
      let i = 0;
      for (let j = 0; j < log.length && i < targets.length; j += 2) {
        while (i < targets.length && log[j] >= targets[i]) {
          latest[i] = Math.max(latest[i], log[j + 1]);
          reached[i] += 1;
          i += 1;
        }
      }
      let inWindow = 0;
      for (let j = 0; j < log.length; j += 2) {
        if (log[j + 1] >= windowStart && log[j + 1] <= windowEnd) inWindow += 1;
      }
      rates.push(inWindow);
      const last = conn.last;
      if (
        last &&
        last.seq === expected.seq &&
        last.total_votes === expected.total_votes &&
        last.voters === expected.voters &&
        JSON.stringify(last.options.map((o) => [o.id, o.votes])) === expected.options
      ) {
        exact += 1;
      }
    }
    return { latest, reached, messages: rates, exact, viewers: conns.length };
  }

  process.on("message", async (message) => {
    switch (message.type) {
      case "init":
        config = message.config;
        send({ type: "ok" });
        break;
      case "connect":
        send({
          type: "connected",
          ...(await connect(message.count, message.concurrency, message.deadline)),
        });
        break;
      case "watch": {
        const pending = conns.filter((c) => c.seq < message.seq).length;
        watch = { seq: message.seq, pending, maxT: 0, n: conns.length };
        send({ type: "watching" });
        if (pending === 0) {
          send({ type: "reached", seq: message.seq, t: 0, n: conns.length });
          watch = null;
        }
        break;
      }
      case "unwatch": {
        // Timed out: how far did it get?
        const w = watch;
        watch = null;
        send({
          type: "unwatched",
          reached: w ? w.n - w.pending : conns.length,
          maxT: w ? w.maxT : 0,
          n: conns.length,
        });
        break;
      }
      case "record":
        for (const conn of conns) conn.log = [];
        recording = message.on;
        send({ type: "ok" });
        break;
      case "hotReport":
        recording = false;
        send({
          type: "hotReport",
          ...hotReport(message.targets, message.windowStart, message.windowEnd, message.expected),
        });
        break;
      case "close": {
        const dropped = conns.filter((c) => c.dropped).length;
        for (const conn of conns) conn.ws.terminate();
        send({ type: "closed", dropped });
        setTimeout(() => process.exit(0), 50);
        break;
      }
    }
  });
}

// ---------------------------------------------------------------- controller
class Child {
  constructor(file) {
    this.proc = fork(file, ["child"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    this.waiters = [];
    this.proc.on("message", (message) => {
      const index = this.waiters.findIndex((w) => w.types.includes(message.type));
      if (index >= 0) this.waiters.splice(index, 1)[0].resolve(message);
    });
  }
  expect(...types) {
    return new Promise((resolve) => this.waiters.push({ types, resolve }));
  }
  ask(message, ...types) {
    const reply = this.expect(...types);
    this.proc.send(message);
    return reply;
  }
}

function controller() {
  let config = null;
  let children = [];
  let targets = []; // viewers each child should hold
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  function request(method, path, body, token) {
    return new Promise((resolve) => {
      const started = now();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = { Accept: "application/json" };
      if (payload !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = Buffer.byteLength(payload);
      }
      if (token) headers.Authorization = `Bearer ${token}`;
      const req = http.request(`${config.http_base}${path}`, { method, headers, agent }, (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const ended = now();
          let json = null;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString());
          } catch {}
          resolve({ status: res.statusCode, json, started, ms: ended - started });
        });
      });
      req.setTimeout(15000, () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve({ status: 0, json: null, started, ms: now() - started }));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  const vote = (user) =>
    request(
      "POST",
      `/api/v1/polls/${config.poll_id}/votes`,
      { option_id: config.option_ids[user % config.option_ids.length] },
      `${config.token_prefix}${user}`,
    );

  async function currentSeq() {
    const reply = await request("GET", `/api/v1/polls/${config.poll_id}/results`);
    return reply.json.seq;
  }

  async function watchAll(seq) {
    const reached = children.map((c) => c.expect("reached"));
    await Promise.all(children.map((c) => c.ask({ type: "watch", seq }, "watching")));
    return reached;
  }

  async function init(cmd) {
    config = cmd;
    const file = fileURLToPath(import.meta.url);
    children = Array.from({ length: cmd.procs }, () => new Child(file));
    targets = children.map(() => 0);
    await Promise.all(children.map((c) => c.ask({ type: "init", config: cmd }, "ok")));
    return {};
  }

  async function connect(cmd) {
    const started = now();
    const deadline = started + cmd.max_seconds * 1000;
    const before = targets.reduce((a, b) => a + b, 0);
    const want = cmd.total - before;
    const lane = Math.max(1, Math.ceil(cmd.concurrency / children.length));
    const shares = children.map((_, i) => Math.floor(want / children.length) + (i < want % children.length ? 1 : 0));
    const replies = await Promise.all(
      children.map((c, i) =>
        c.ask({ type: "connect", count: shares[i], concurrency: lane, deadline }, "connected"),
      ),
    );
    const seconds = (now() - started) / 1000;
    replies.forEach((r, i) => (targets[i] += r.connected));
    const connected = replies.reduce((a, r) => a + r.connected, 0);
    return {
      total: targets.reduce((a, b) => a + b, 0),
      opened: connected,
      failed: replies.reduce((a, r) => a + r.failed, 0),
      seconds,
      per_second: connected / seconds,
      extensions: replies.map((r) => r.extensions).find((e) => e) || "",
    };
  }

  async function votes(cmd) {
    let seq = await currentSeq();
    const results = [];
    let nextAt = now();
    for (let k = 0; k < cmd.count; k++) {
      await sleep(nextAt - now());
      const expected = seq + 1;
      const reached = await watchAll(expected);
      const sent = now();
      const reply = await vote(cmd.first_user + k);
      if (reply.json && typeof reply.json.seq === "number") seq = reply.json.seq;
      const timeout = sleep(cmd.timeout_ms).then(() => "timeout");
      const outcome = await Promise.race([Promise.all(reached), timeout]);
      let last = 0;
      let got = 0;
      let viewers = 0;
      if (outcome === "timeout") {
        const partial = await Promise.all(children.map((c) => c.ask({ type: "unwatch" }, "unwatched")));
        for (const p of partial) {
          last = Math.max(last, p.maxT);
          got += p.reached;
          viewers += p.n;
        }
      } else {
        for (const r of outcome) {
          last = Math.max(last, r.t);
          got += r.n;
          viewers += r.n;
        }
      }
      results.push({
        status: reply.status,
        seq: reply.json ? reply.json.seq : null,
        expected,
        http_ms: reply.ms,
        last_viewer_ms: viewers > 0 ? Math.max(0, last - sent) : null,
        reached: got,
        viewers,
        timed_out: outcome === "timeout",
      });
      nextAt = Math.max(sent + cmd.interval_ms, now() + 20);
    }
    return { votes: results };
  }

  async function hot(cmd) {
    await Promise.all(children.map((c) => c.ask({ type: "record", on: true }, "ok")));
    const total = Math.round(cmd.rate * cmd.seconds);
    const start = now() + 50;
    const pending = [];
    for (let i = 0; i < total; i++) {
      await sleep(start + (i * 1000) / cmd.rate - now());
      pending.push(vote(cmd.first_user + i));
    }
    const windowEnd = now();
    const replies = await Promise.all(pending);
    const sendEnd = now();
    const ok = replies.filter((r) => r.status === 201);
    const statuses = {};
    for (const r of replies) statuses[r.status] = (statuses[r.status] || 0) + 1;
    if (ok.length === 0) throw new Error(`hot poll: no vote was accepted (${JSON.stringify(statuses)})`);
    const maxSeq = Math.max(...ok.map((r) => r.json.seq));
    // Let the trailing update arrive: every viewer must reach the last seq, then stay quiet.
    const deadline = now() + cmd.timeout_ms;
    const reached = await watchAll(maxSeq);
    await Promise.race([Promise.all(reached), sleep(cmd.timeout_ms)]);
    await sleep(Math.max(0, Math.min(1000, deadline - now())));
    const final = (await request("GET", `/api/v1/polls/${config.poll_id}/results`)).json;
    const expected = {
      seq: final.seq,
      total_votes: final.total_votes,
      voters: final.voters,
      options: JSON.stringify(final.options.map((o) => [o.id, o.votes])),
    };
    const seqs = [...new Set(ok.map((r) => r.json.seq))].sort((a, b) => a - b);
    const reports = await Promise.all(
      children.map((c) =>
        c.ask({ type: "hotReport", targets: seqs, windowStart: start, windowEnd, expected }, "hotReport"),
      ),
    );
    const latestBySeq = new Map(seqs.map((s, i) => [s, Math.max(...reports.map((r) => r.latest[i]))]));
    const reachedBySeq = new Map(seqs.map((s, i) => [s, reports.reduce((a, r) => a + r.reached[i], 0)]));
    const viewers = reports.reduce((a, r) => a + r.viewers, 0);
    const e2e = [];
    let unreached = 0;
    for (const r of ok) {
      if (reachedBySeq.get(r.json.seq) < viewers) unreached += 1;
      else e2e.push(latestBySeq.get(r.json.seq) - r.started);
    }
    const seconds = (windowEnd - start) / 1000;
    const perViewer = reports.flatMap((r) => r.messages).map((n) => n / seconds);
    return {
      sent: total,
      seconds,
      send_seconds: (sendEnd - start) / 1000,
      statuses,
      acknowledged: ok.length,
      http_ms: replies.map((r) => r.ms),
      e2e_ms: e2e,
      unreached,
      messages_per_viewer_per_second: perViewer,
      final,
      exact_viewers: reports.reduce((a, r) => a + r.exact, 0),
      viewers,
    };
  }

  async function close() {
    const replies = await Promise.all(children.map((c) => c.ask({ type: "close" }, "closed")));
    agent.destroy();
    return { dropped: replies.reduce((a, r) => a + r.dropped, 0) };
  }

  const handlers = { init, connect, votes, hot, close };
  const lines = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    const cmd = JSON.parse(line);
    queue = queue.then(async () => {
      let reply;
      try {
        reply = { id: cmd.id, ok: true, ...(await handlers[cmd.cmd](cmd)) };
      } catch (error) {
        reply = { id: cmd.id, ok: false, error: String(error && error.stack ? error.stack : error) };
      }
      process.stdout.write(JSON.stringify(reply) + "\n");
      if (cmd.cmd === "close") setTimeout(() => process.exit(0), 200);
    });
  });
  lines.on("close", () => {
    for (const c of children) c.proc.kill();
    setTimeout(() => process.exit(0), 200);
  });
}

if (process.argv[2] === "child") child();
else controller();
