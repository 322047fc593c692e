// The ESM build in headless Chromium (Debian's package, through
// scripts/chromium) against a real pushd: the browser's own WebSocket (token
// in the URL) and fetch. The page is served at pushd's own origin by
// intercepting its requests, as an app served with its API would be (pushd
// sends no CORS headers), so the SDK's files load unbundled from dist/esm.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { WebSocket } from "ws";
import { PushdClient, webTransport } from "../dist/esm/index.js";
import { sdkRoot, startPushd, waitFor } from "./helpers.mjs";

let pushd;
let browser;

before(async () => {
  const chromium =
    process.env.CHROMIUM ||
    execFileSync(join(sdkRoot, "..", "..", "scripts", "chromium"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  pushd = await startPushd();
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // A page answered by interception has no known address space, so
    // Chromium's Local Network Access checks would block its WebSocket to
    // 127.0.0.1; a page the daemon's origin really served would pass them.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-features=LocalNetworkAccessChecks"],
    protocolTimeout: 60000,
  });
});

after(async () => {
  await browser?.close();
  await pushd?.stop();
});

const PAGE = `<!doctype html><meta charset="utf-8"><title>pushd sdk</title><body>sdk test</body>`;

async function openPage() {
  const page = await browser.newPage();
  const prefix = pushd.url + "/__sdk__/";
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(prefix)) return req.continue();
    const path = url.slice(prefix.length);
    if (path === "index.html") return req.respond({ status: 200, contentType: "text/html", body: PAGE });
    if (/^esm\/[a-z]+\.js$/.test(path)) {
      return req.respond({ status: 200, contentType: "text/javascript", body: readFileSync(join(sdkRoot, "dist", path)) });
    }
    return req.respond({ status: 404, body: "" });
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(prefix + "index.html");
  return { page, errors };
}

test("in Chromium: connect, receive a message and ack it, bind a device", async () => {
  const { page, errors } = await openPage();
  const token = pushd.token("web1");
  await page.evaluate(
    async (url, token) => {
      const { PushdClient } = await import("/__sdk__/esm/index.js");
      window.got = [];
      window.client = new PushdClient({ url, deviceId: "browser", token });
      window.client.on("message", (ev) => {
        window.got.push(ev);
      });
      await window.client.connect();
      window.pushId = await window.client.bindDevice({ provider: "fcm", token: "fcm-web1" });
    },
    pushd.url,
    token,
  );
  assert.equal(await page.evaluate(() => window.client.state), "connected");
  const sent = await pushd.api("POST", "/v1/messages", { from: "server", to: "web1", conversation_type: 0, type: 1, body: "hello browser" });
  await page.waitForFunction(() => window.got.length === 1, { timeout: 15000 });
  const got = await page.evaluate(() => window.got[0]);
  assert.equal(got.seq, sent.body.seq);
  assert.equal(got.message.body, "hello browser");
  const pushId = await page.evaluate(() => window.pushId);
  const devices = (await pushd.api("GET", "/v1/users/web1/devices")).body.devices;
  assert.deepEqual(devices.map((d) => d.push_id), [pushId]);

  // The ack went out after the handler returned: the same device connecting
  // from Node gets nothing old (a replay would come before the probe).
  await page.evaluate(() => window.client.disconnect());
  const node = new PushdClient({ url: pushd.url, deviceId: "browser", token, transport: webTransport({ WebSocket }) });
  const replayed = [];
  node.on("message", (ev) => replayed.push(ev.seq));
  await node.connect();
  const probe = await pushd.api("POST", "/v1/messages", { from: "server", to: "web1", conversation_type: 0, type: 1, body: "probe" });
  await waitFor(() => replayed.includes(probe.body.seq), "the probe");
  assert.deepEqual(replayed, [probe.body.seq]);
  node.disconnect();
  assert.deepEqual(errors, []);
  await page.close();
});
