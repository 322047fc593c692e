// The uni-app transport against a real pushd, through a stand-in for `uni`
// that does what uni.connectSocket and uni.request do (on the `ws` package
// and fetch), so the adapter's mapping is what is tested.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { PushdClient, uniTransport } from "../dist/esm/index.js";
import { deferred, startPushd } from "./helpers.mjs";

let pushd;
before(async () => {
  pushd = await startPushd();
});
after(async () => {
  await pushd?.stop();
});

/** uni's API, as documented: SocketTask callbacks, request with success/fail. */
function fakeUni() {
  const uni = {
    sockets: [],
    connectSocket({ url, header, complete }) {
      assert.equal(typeof complete, "function", "without a callback uni.connectSocket returns no SocketTask");
      const ws = new WebSocket(url, { headers: header ?? {} });
      const task = {
        header,
        send({ data }) {
          ws.send(data);
        },
        close({ code, reason }) {
          ws.close(code ?? 1000, reason);
        },
        onOpen(cb) {
          ws.on("open", () => cb({}));
        },
        onMessage(cb) {
          ws.on("message", (d) => cb({ data: d.toString() }));
        },
        onClose(cb) {
          ws.on("close", (code, reason) => cb({ code, reason: reason.toString() }));
        },
        onError(cb) {
          ws.on("error", (e) => cb({ errMsg: e.message }));
        },
      };
      uni.sockets.push(task);
      setTimeout(complete, 0);
      return task;
    },
    request({ url, method, header, data, dataType, success, fail }) {
      assert.notEqual(dataType, "json", "the adapter parses pushd's JSON itself");
      fetch(url, { method, headers: header, body: data }).then(
        async (res) => success({ statusCode: res.status, data: await res.text(), header: {} }),
        (e) => fail({ errMsg: e.message }),
      );
    },
  };
  return uni;
}

test("uniTransport: connect with the token in the header, receive, ack, bind", async () => {
  const uni = fakeUni();
  const token = pushd.token("u1");
  const c = new PushdClient({
    url: pushd.url,
    deviceId: "uni-phone",
    token,
    transport: uniTransport(uni, { headerAuth: true }),
  });
  const got = deferred();
  c.on("message", (ev) => got.resolve(ev));
  await c.connect();
  assert.equal(uni.sockets[0].header.Authorization, "Bearer " + token);
  const r = await pushd.api("POST", "/v1/messages", { from: "server", to: "u1", conversation_type: 0, type: 1, body: "from uni" });
  const ev = await got.promise;
  assert.equal(ev.message.body, "from uni");
  assert.equal(ev.seq, r.body.seq);
  const pushId = await c.bindDevice({ provider: "xiaomi", token: "mi-token-1" });
  const devices = (await pushd.api("GET", "/v1/users/u1/devices")).body.devices;
  assert.deepEqual(devices.map((d) => d.push_id), [pushId]);
  c.disconnect();
});

test("uniTransport: the H5 way, token in the URL", async () => {
  const uni = fakeUni();
  const c = new PushdClient({ url: pushd.url, deviceId: "uni-h5", token: pushd.token("u2"), transport: uniTransport(uni) });
  await c.connect();
  assert.equal(uni.sockets[0].header, undefined);
  c.setForeground(false);
  await c.logout();
  assert.equal(c.state, "closed");
});
