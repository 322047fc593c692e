// The CommonJS build loads with require and is the same client.
const { test } = require("node:test");
const assert = require("node:assert/strict");

test("require('@pushd/client') gives the CommonJS build", () => {
  const sdk = require("@pushd/client");
  assert.equal(typeof sdk.PushdClient, "function");
  assert.equal(typeof sdk.webTransport, "function");
  assert.equal(typeof sdk.uniTransport, "function");
  assert.match(require.resolve("@pushd/client"), /dist[\\/]cjs[\\/]index\.js$/);
  const c = new sdk.PushdClient({ url: "http://127.0.0.1:1", deviceId: "d", token: "t", transport: sdk.webTransport({}) });
  assert.equal(c.state, "idle");
});
