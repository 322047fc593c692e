// The client against a real pushd: connect, acks, once-only delivery across
// reconnects, heartbeats, kicks, token refresh, foreground state, device
// routes and calls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { PushdClient, PushdError, webTransport } from "../dist/esm/index.js";
import { deferred, recordingTransport, startPushd, waitFor } from "./helpers.mjs";

let pushd;
const clients = [];

before(async () => {
  pushd = await startPushd();
});

after(async () => {
  for (const c of clients) c.disconnect();
  await pushd?.stop();
});

/** A client of user on device over `ws` (token in the upgrade's header), recording what it sends. */
function newClient(user, device, opts = {}) {
  const transport = recordingTransport(webTransport({ WebSocket, headerAuth: opts.headerAuth ?? true }));
  const c = new PushdClient({
    url: pushd.url,
    deviceId: device,
    token: opts.token === undefined ? pushd.token(user) : opts.token,
    transport,
    ...opts.client,
  });
  c.transport_ = transport;
  clients.push(c);
  return c;
}

async function sendTo(to, body, extra = {}) {
  const r = await pushd.api("POST", "/v1/messages", { from: "server", to, conversation_type: 0, type: 1, body, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

describe("messages", () => {
  test("a message arrives typed, and is acked only after the handler returns", async () => {
    const c = newClient("m1", "d1");
    const got = [];
    const release = deferred();
    c.on("message", async (ev) => {
      got.push(ev);
      await release.promise;
    });
    await c.connect();
    assert.equal(c.state, "connected");
    const sent = await sendTo("m1", "hello");
    await waitFor(() => got.length === 1, "the message");
    assert.equal(got[0].stream, "inbox");
    assert.equal(got[0].seq, sent.seq);
    assert.equal(got[0].message.body, "hello");
    assert.equal(got[0].message.from, "server");
    assert.equal(got[0].message.message_id, sent.message_id);
    // Pings round-trip while the handler is still running: nothing acked yet.
    c.transport_.sent.length = 0;
    c.setForeground(true);
    await waitFor(() => c.transport_.sent.some((f) => f.type === "state"), "the state frame");
    assert.deepEqual(c.transport_.acks(), []);
    release.resolve();
    await waitFor(() => c.transport_.acks().includes(sent.seq), "the ack");
    c.disconnect();
    assert.equal(c.state, "closed");

    // The server kept the ack: the same device connecting again gets nothing old.
    const again = newClient("m1", "d1");
    const seen = [];
    again.on("message", (ev) => seen.push(ev.seq));
    await again.connect();
    const next = await sendTo("m1", "second");
    await waitFor(() => seen.includes(next.seq), "the second message");
    assert.deepEqual(seen, [next.seq]);
  });

  test("each seq is handed to the app once across reconnects", async () => {
    const c = newClient("m2", "d1", { client: { reconnect: { initialDelay: 50, maxDelay: 200 } } });
    const calls = new Map();
    const hold = deferred();
    let connects = 0;
    c.on("connected", () => connects++);
    c.on("message", async (ev) => {
      calls.set(ev.seq, (calls.get(ev.seq) ?? 0) + 1);
      if (ev.message.body === "slow") await hold.promise;
    });
    await c.connect();
    const a = await sendTo("m2", "slow");
    const b = await sendTo("m2", "after");
    await waitFor(() => calls.has(a.seq), "the slow message");
    // The link drops while the handler runs: its ack was never sent, so the
    // server replays the message on the new connection.
    c.transport_.cut();
    await waitFor(() => connects === 2, "the reconnect");
    hold.resolve();
    await waitFor(() => calls.has(b.seq) && c.transport_.acks().includes(b.seq), "the second message and its ack");
    assert.equal(calls.get(a.seq), 1, "the replayed seq was handed over again");
    assert.equal(calls.get(b.seq), 1);
    // And the server took the acks: a new connection replays nothing.
    c.disconnect();
    const again = newClient("m2", "d1");
    const replayed = [];
    again.on("message", (ev) => replayed.push(ev.seq));
    await again.connect();
    const probe = await sendTo("m2", "probe");
    await waitFor(() => replayed.includes(probe.seq), "the probe");
    assert.deepEqual(replayed, [probe.seq]);
  });

  test("messages stored while offline arrive in order on connect, via the query token", async () => {
    const seqs = [];
    for (let i = 0; i < 5; i++) seqs.push((await sendTo("m3", "offline " + i)).seq);
    const c = newClient("m3", "d1", { headerAuth: false });
    const got = [];
    c.on("message", (ev) => got.push(ev.seq));
    await c.connect();
    await waitFor(() => got.length === 5, "the stored messages");
    assert.deepEqual(got, seqs);
  });

  test("a handler that throws is reported, and the message is still acked", async () => {
    const c = newClient("m4", "d1");
    const errors = [];
    c.on("error", (e) => errors.push(e));
    c.on("message", () => {
      throw new Error("app bug");
    });
    await c.connect();
    const s = await sendTo("m4", "boom");
    await waitFor(() => c.transport_.acks().includes(s.seq), "the ack");
    assert.equal(errors[0]?.message, "app bug");
  });

  test("sendMessage sends as the user", async () => {
    const alice = newClient("m5a", "d1");
    const bob = newClient("m5b", "d1");
    const got = deferred();
    bob.on("message", (ev) => got.resolve(ev));
    await bob.connect();
    const r = await alice.sendMessage({ to: "m5b", body: "hi bob", clientMsgId: "c-1" });
    const ev = await got.promise;
    assert.equal(ev.message.from, "m5a");
    assert.equal(ev.message.body, "hi bob");
    assert.equal(ev.seq, r.seq);
  });
});

describe("the connection", () => {
  test("heartbeats: pings go out, and a link that answers nothing is replaced", async () => {
    const c = newClient("h1", "d1", {
      client: { heartbeatInterval: 100, pongTimeout: 300, reconnect: { initialDelay: 20, maxDelay: 50 } },
    });
    const states = [];
    c.on("state", (s) => states.push(s));
    await c.connect();
    await waitFor(() => c.transport_.sent.filter((f) => f.type === "ping").length >= 3, "three pings");
    c.transport_.swallow = true; // the server's pongs stop reaching the client
    await waitFor(() => states.includes("reconnecting"), "the dead link to be noticed");
    c.transport_.swallow = false;
    await waitFor(() => c.state === "connected" && states.lastIndexOf("connected") > states.indexOf("reconnecting"), "the new connection");
  });

  test("kicked: connected_elsewhere and logout stop the client; no reconnect", async () => {
    const first = newClient("k1", "d1", { client: { reconnect: { initialDelay: 20 } } });
    const kicks = [];
    first.on("kicked", (k) => kicks.push(k));
    await first.connect();
    const second = newClient("k1", "d1");
    await second.connect();
    await waitFor(() => first.state === "closed", "the first client to stop");
    assert.deepEqual(kicks, [{ reason: "connected_elsewhere", reconnecting: false }]);

    // A logout of this device made elsewhere (here: another client object
    // that never connects) kicks the connection "logout".
    const kicks2 = [];
    second.on("kicked", (k) => kicks2.push(k));
    await newClient("k1", "d1").logout();
    await waitFor(() => second.state === "closed", "the logged-out client to stop");
    assert.deepEqual(kicks2, [{ reason: "logout", reconnecting: false }]);

    // The client's own logout stops it at once.
    const third = newClient("k1", "d2");
    await third.connect();
    await third.logout();
    assert.equal(third.state, "closed");
  });

  test("a refused token is refreshed through the callback, on connect and on a request", async () => {
    let refreshes = 0;
    const c = newClient("t1", "d1", {
      // Signed with the wrong secret: nothing local can tell; pushd refuses it.
      token: pushd.token("t1", 3600, "not-the-secret"),
      client: {
        reconnect: { initialDelay: 20, maxDelay: 100 },
        refreshToken: async () => {
          refreshes++;
          return pushd.token("t1");
        },
      },
    });
    await c.connect();
    assert.equal(refreshes, 1);

    // An expired token is refreshed before it is used.
    let refreshed2 = 0;
    const d = newClient("t2", "d1", {
      token: pushd.token("t2", -10),
      client: { refreshToken: () => (refreshed2++, pushd.token("t2")) },
    });
    await d.connect();
    assert.equal(refreshed2, 1);

    // A request answered 401 is refreshed and tried once more.
    c.setToken(pushd.token("t1", 3600, "not-the-secret"));
    const pushId = await c.bindDevice({ provider: "fcm", token: "fcm-t1" });
    assert.match(pushId, /.+/);
    assert.equal(refreshes, 2);
  });

  test("a refused token with no way to refresh it stops connect with the server's error", async () => {
    const c = newClient("t3", "d1", { token: pushd.token("t3", 3600, "not-the-secret") });
    await assert.rejects(c.connect(), (e) => e instanceof PushdError && e.status === 401);
    assert.equal(c.state, "closed");
  });
});

describe("device routes", () => {
  test("bindDevice, unregister, logout", async () => {
    const c = newClient("r1", "phone");
    const pushId = await c.bindDevice({ provider: "apns", token: "a1b2c3d4", bundleId: "im.demo", apnsEnv: "production" });
    const list = async () => (await pushd.api("GET", "/v1/users/r1/devices")).body.devices;
    assert.deepEqual((await list()).map((d) => [d.push_id, d.device_id, d.provider]), [[pushId, "phone", "apns"]]);
    await c.unregister(pushId);
    assert.deepEqual(await list(), []);
    await c.bindDevice({ provider: "fcm", token: "fcm-r1" });
    await c.logout();
    assert.deepEqual(await list(), []);
    await assert.rejects(c.unregister("nope"), (e) => e instanceof PushdError && e.status >= 400);
  });

  test("setBadge posts {count} to /v1/badge", async () => {
    const c = newClient("r2", "phone");
    await c.setBadge(0);
    const req = c.transport_.requests.at(-1);
    assert.equal(req.method, "POST");
    assert.equal(req.url, pushd.url + "/v1/badge");
    assert.deepEqual(JSON.parse(req.body), { count: 0 });
    await c.setBadge(12);
    // A count pushd refuses is a PushdError naming the field.
    await assert.rejects(c.setBadge(-1), (e) => e instanceof PushdError && e.status === 400 && e.code === "bad_request" && /count/.test(e.message));
  });

  test("in the background a device gets frames and is pushed as well", async () => {
    const c = newClient("f1", "phone", { client: { heartbeatInterval: 50 } });
    await c.bindDevice({ provider: "fcm", token: "fcm-f1" });
    const got = [];
    c.on("message", (ev) => got.push(ev.seq));
    c.setForeground(false); // before connecting: sent once the connection opens
    await c.connect();
    await waitFor(() => c.transport_.sent.some((f) => f.type === "state" && f.foreground === false), "the state frame");
    // A pong that answers a ping sent after the state frame: the server has applied it.
    const pongs = c.transport_.received.filter((f) => f.type === "pong").length;
    await waitFor(() => c.transport_.received.filter((f) => f.type === "pong").length > pongs, "a pong after the state");
    const s = await sendTo("f1", "while away", { push_config: { title: "T", content: "while away" } });
    await waitFor(() => got.includes(s.seq), "the frame");
    await waitFor(async () => (await pushd.api("GET", "/v1/users/f1/devices")).body.devices[0]?.last_verdict === "delivered", "the push");
  });
});

describe("calls", () => {
  test("invite, accept: typed events on both sides", async () => {
    const alice = newClient("ca", "d1");
    const bob = newClient("cb", "d1");
    const bobGot = deferred();
    const aliceGot = deferred();
    const all = [];
    bob.on("call_invitation_received", (ev) => bobGot.resolve(ev));
    bob.on("call", (ev) => all.push(ev.type));
    alice.on("call_invitation_accepted", (ev) => aliceGot.resolve(ev));
    await Promise.all([alice.connect(), bob.connect()]);
    const call = await alice.invite({ invitees: ["cb"], timeout: 60, extendedData: "video" });
    assert.equal(call.timeout, 60);
    const inv = await bobGot.promise;
    assert.equal(inv.call_id, call.call_id);
    assert.equal(inv.inviter, "ca");
    assert.deepEqual(inv.invitees, ["cb"]);
    assert.equal(inv.extended_data, "video");
    assert.equal(inv.stream, "inbox");
    await bob.acceptCall(call.call_id, { extendedData: "ok" });
    const acc = await aliceGot.promise;
    assert.equal(acc.invitee, "cb");
    assert.equal(acc.extended_data, "ok");
    assert.deepEqual(all, ["call_invitation_received"]);
  });

  test("reject and cancel", async () => {
    const alice = newClient("cc", "d1");
    const bob = newClient("cd", "d1");
    const rejected = deferred();
    const cancelled = deferred();
    const invited = [];
    alice.on("call_invitation_rejected", (ev) => rejected.resolve(ev));
    bob.on("call_invitation_cancelled", (ev) => cancelled.resolve(ev));
    bob.on("call_invitation_received", (ev) => invited.push(ev.call_id));
    await Promise.all([alice.connect(), bob.connect()]);
    const one = await alice.invite({ invitees: ["cd"] });
    await waitFor(() => invited.includes(one.call_id), "the first invitation");
    await bob.rejectCall(one.call_id);
    assert.equal((await rejected.promise).call_id, one.call_id);
    const two = await alice.invite({ invitees: ["cd"] });
    await waitFor(() => invited.includes(two.call_id), "the second invitation");
    await alice.cancelCall(two.call_id, { extendedData: "never mind" });
    const c = await cancelled.promise;
    assert.equal(c.call_id, two.call_id);
    assert.equal(c.inviter, "cc");
    assert.equal(c.extended_data, "never mind");
  });

  test("timeout reaches both sides", async () => {
    const alice = newClient("ce", "d1");
    const bob = newClient("cf", "d1");
    const a = deferred();
    const b = deferred();
    alice.on("call_invitation_timeout", (ev) => a.resolve(ev));
    bob.on("call_invitation_timeout", (ev) => b.resolve(ev));
    await Promise.all([alice.connect(), bob.connect()]);
    const call = await alice.invite({ invitees: ["cf"], timeout: 1 });
    assert.equal((await a.promise).invitee, "cf");
    assert.equal((await b.promise).inviter, "ce");
    assert.equal((await b.promise).call_id, call.call_id);
  });
});
