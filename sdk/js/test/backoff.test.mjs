// Reconnect backoff and jitter, with a transport whose sockets never open
// (no daemon needed: the delays are the client's own).
import { test } from "node:test";
import assert from "node:assert/strict";
import { PushdClient, expiresWithin } from "../dist/esm/index.js";
import { mintToken, waitFor } from "./helpers.mjs";

/** A transport that fails every connect (as an unreachable server) and answers every request 503. */
function deadTransport() {
  return {
    headerAuth: true,
    attempts: 0,
    connect(url, headers, h) {
      this.attempts++;
      queueMicrotask(() => h.onClose(1006, "unreachable"));
      return { send() {}, close() {} };
    },
    async request() {
      return { status: 503, body: "" };
    },
  };
}

test("delays grow by the factor up to the cap, each cut by at most the jitter", async () => {
  const transport = deadTransport();
  const c = new PushdClient({
    url: "http://127.0.0.1:1",
    deviceId: "d",
    token: "t",
    transport,
    reconnect: { initialDelay: 4, maxDelay: 40, factor: 2, jitter: 0.5 },
  });
  const delays = [];
  c.on("disconnected", (d) => delays.push(d.retryIn));
  const connecting = c.connect().catch((e) => e);
  await waitFor(() => delays.length >= 8, "eight attempts");
  c.disconnect();
  assert.match(String((await connecting).message), /disconnected by the app/);
  assert.equal(c.state, "closed");
  const attempts = transport.attempts;
  const bases = [4, 8, 16, 32, 40, 40, 40, 40];
  bases.forEach((base, i) => {
    assert.ok(delays[i] <= base && delays[i] >= base / 2, `delay ${i} = ${delays[i]}, want ${base / 2}..${base}`);
  });
  // Stopped means stopped: no timer fires another attempt.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(transport.attempts, attempts);
});

test("jitter spreads clients dropped together", async () => {
  const firsts = [];
  for (let i = 0; i < 20; i++) {
    const c = new PushdClient({
      url: "http://127.0.0.1:1",
      deviceId: "d" + i,
      token: "t",
      transport: deadTransport(),
      reconnect: { initialDelay: 1000, jitter: 0.5 },
    });
    c.on("disconnected", (d) => firsts.push(d.retryIn));
    c.connect().catch(() => {});
    await waitFor(() => firsts.length === i + 1, "a first delay");
    c.disconnect();
  }
  assert.ok(new Set(firsts).size > 10, "delays: " + firsts.join(","));
  assert.ok(firsts.every((d) => d >= 500 && d <= 1000));
});

test("reconnect: false stops on the first loss", async () => {
  const c = new PushdClient({ url: "http://127.0.0.1:1", deviceId: "d", token: "t", transport: deadTransport(), reconnect: false });
  await assert.rejects(c.connect());
  assert.equal(c.state, "closed");
});

test("without a WebSocket to use the client says how to pass one", { skip: typeof globalThis.WebSocket === "function" }, () => {
  assert.throws(() => new PushdClient({ url: "http://127.0.0.1:1", deviceId: "d", token: "t" }), /webTransport\(\{ WebSocket \}\)/);
});

test("expiresWithin reads a token's exp", () => {
  const t = (ttl) => mintToken({ app: "a", sub: "u", ttl, secret: "s" });
  assert.equal(expiresWithin(t(3600), 60), false);
  assert.equal(expiresWithin(t(30), 60), true);
  assert.equal(expiresWithin(t(-5), 0), true);
  assert.equal(expiresWithin("not-a-jwt", 60), false);
});
