// Test helpers: a real pushd (`pushd serve` on the built-in default, a free
// port and a temp data dir), client tokens signed with its demo secret, and
// waiting on conditions.
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const sdkRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = join(sdkRoot, "..", "..");

/** The pushd binary: $PUSHD_BIN, or one built from this checkout (go build caches). */
export function pushdBinary() {
  if (process.env.PUSHD_BIN) return process.env.PUSHD_BIN;
  const dir = join(sdkRoot, ".cache");
  mkdirSync(dir, { recursive: true });
  const bin = join(dir, "pushd");
  execFileSync("go", ["build", "-o", bin, "./cmd/pushd"], { cwd: repoRoot, stdio: "inherit" });
  return bin;
}

/**
 * Starts `pushd serve` and resolves once it prints its address and the demo
 * API key. env adds PUSHD_* settings.
 */
export async function startPushd(env = {}) {
  const bin = pushdBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "pushd-sdk-"));
  const childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith("PUSHD_")) delete childEnv[k];
  Object.assign(childEnv, {
    PUSHD_LISTEN: "127.0.0.1:0",
    PUSHD_DATA_DIR: dataDir,
    PUSHD_LOG_LEVEL: "warn",
    ...env,
  });
  const proc = spawn(bin, ["serve"], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let errOut = "";
  proc.stderr.on("data", (d) => {
    errOut += d;
    if (process.env.PUSHD_TEST_LOG) process.stderr.write(d);
  });
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  // A test process that ends without its after hook (a crash, process.exit)
  // still takes its daemon with it.
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("pushd did not start in 60s:\n" + out + errOut)), 60000);
    proc.stdout.on("data", (d) => {
      out += d;
      const addr = /pushd is serving http:\/\/(\S+?) /.exec(out);
      const key = /X-API-Key: (\S+)/.exec(out);
      const sim = /vendors simulated at (\S+?)\)/.exec(out);
      if (addr && key) {
        clearTimeout(timer);
        resolve({ addr: addr[1], key: key[1], sim: sim?.[1] });
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`pushd exited (${code}) before serving:\n${out}${errOut}`));
    });
  });
  const { client_token_secret: secret } = JSON.parse(readFileSync(join(dataDir, "demo-app.json"), "utf8"));
  const url = "http://" + ready.addr;
  return {
    url,
    key: ready.key,
    simURL: ready.sim,
    dataDir,
    /** A client token for user, valid ttl seconds (negative: already expired). */
    token(user, ttl = 3600, signWith = secret) {
      return mintToken({ app: "demo", sub: user, ttl, secret: signWith });
    },
    /** A server call with the demo API key; resolves to {status, body}. */
    async api(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { "X-API-Key": ready.key, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      process.off("exit", killOnExit);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 20000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An HS256 JWT as pushd's client tokens are (claims app, sub, iat, exp). */
export function mintToken({ app, sub, ttl, secret }) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const iat = ttl > 0 ? now : now + ttl - 60;
  const head = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ app, sub, iat, exp: now + ttl });
  return head + "." + createHmac("sha256", secret).update(head).digest("base64url");
}

/** Polls cond (sync or async) every 20 ms until it returns a truthy value, which it resolves to. */
export async function waitFor(cond, what = "condition", timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A promise and the functions that settle it. */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * Wraps a transport to record every frame the client sends, and to let a
 * test cut the current socket as a network would (no close handshake) or
 * swallow the frames the server sends (a dead link).
 */
export function recordingTransport(inner) {
  const sent = [];
  const received = [];
  const requests = [];
  let current = null;
  const t = {
    sent,
    received,
    requests,
    swallow: false,
    get headerAuth() {
      return inner.headerAuth;
    },
    connect(url, headers, h) {
      let cut = false;
      const sock = inner.connect(url, headers, {
        onOpen: () => !cut && h.onOpen(),
        onMessage: (d) => {
          if (cut || t.swallow) return;
          received.push(JSON.parse(d));
          h.onMessage(d);
        },
        onClose: (c, r) => h.onClose(c, r),
      });
      current = {
        cut() {
          cut = true;
          sock.close();
          h.onClose(1006, "cut by the test");
        },
      };
      return {
        send(data) {
          sent.push(JSON.parse(data));
          sock.send(data);
        },
        close: (c, r) => sock.close(c, r),
      };
    },
    request: (req) => (requests.push(req), inner.request(req)),
    /** Drops the current socket as a failed network would. */
    cut() {
      current?.cut();
    },
    acks(stream = "inbox") {
      return sent.filter((f) => f.type === "ack" && f.stream === stream).map((f) => f.seq);
    },
  };
  return t;
}

export { existsSync };
