import type { Transport, TransportSocket } from "./transport.js";
import { webTransport } from "./transport.js";
import type {
  BindDeviceOptions,
  CallAnswer,
  CallEvent,
  ConnectionState,
  InviteOptions,
  PushConfig,
  PushdEvents,
  SendAnswer,
  SendMessageOptions,
  UnknownFrame,
} from "./types.js";

export interface ReconnectOptions {
  /** First delay after a lost connection, ms (default 500). */
  initialDelay?: number;
  /** Longest delay, ms (default 30000). */
  maxDelay?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Fraction of each delay taken off at random, 0..1 (default 0.5), so that devices dropped together come back spread out. */
  jitter?: number;
}

export interface PushdClientOptions {
  /** pushd's base URL, `http(s)://host:port` (the WebSocket URL is derived from it). */
  url: string;
  /** This device's id (1–128 bytes of `A-Z a-z 0-9 _ - . @ :`). */
  deviceId: string;
  /** The client token from your login service. May be left out when `refreshToken` gives the first one. */
  token?: string;
  /**
   * Gives a fresh client token: called before a connect or request when the
   * token is missing or expires within `refreshMargin`, and when pushd
   * refuses the token (401).
   */
  refreshToken?: () => string | Promise<string>;
  /** Seconds before a token's `exp` at which it is refreshed (default 60). */
  refreshMargin?: number;
  /** Defaults to `webTransport()`: the global WebSocket and fetch. */
  transport?: Transport;
  /** A ping every this many ms while connected (default 20000; keep it under the server's heartbeat_timeout, 30 s). */
  heartbeatInterval?: number;
  /** A connection that sends nothing for this long after a ping is taken as dead and replaced, ms (default 10000). */
  pongTimeout?: number;
  /** Backoff for reconnecting, or false for no reconnecting. */
  reconnect?: ReconnectOptions | false;
  /** Whether the app starts in the foreground (default true). */
  foreground?: boolean;
}

/** An HTTP call that pushd refused: its status and pushd's error code and message. */
export class PushdError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(`pushd: ${status} ${code}: ${message}`);
    this.name = "PushdError";
    this.status = status;
    this.code = code;
  }
}

type Listener<T> = (ev: T) => void | Promise<void>;

/** Kicks after which connecting again is wrong: the device logged out, or another connection of it took over. */
const FINAL_KICKS = new Set(["logout", "connected_elsewhere"]);

const CALL_EVENTS = new Set([
  "call_invitation_received",
  "call_invitation_cancelled",
  "call_invitation_accepted",
  "call_invitation_rejected",
  "call_invitation_timeout",
]);

/**
 * A device's client of pushd: the long connection (with heartbeats,
 * reconnects, acks and once-only delivery per seq) and the client routes.
 */
export class PushdClient {
  private readonly o: Required<Omit<PushdClientOptions, "token" | "refreshToken" | "reconnect">> & {
    refreshToken?: () => string | Promise<string>;
    reconnect: Required<ReconnectOptions> | false;
  };
  private readonly transport: Transport;
  private readonly base: string;
  private readonly listeners = new Map<keyof PushdEvents, Set<Listener<any>>>();

  private token: string | undefined;
  private refreshing: Promise<string> | undefined;
  private _state: ConnectionState = "idle";
  private foreground: boolean;
  private want = false; // the app wants a connection
  private everConnected = false;

  private sock: TransportSocket | undefined;
  private gen = 0; // the current socket's number; callbacks of older ones are ignored
  private opened = false;
  private opening = false; // open() is getting a token for a new socket
  private kicked: string | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  /** The highest seq handled, per stream: a frame at or below it is a replay and is not handed to the app again. */
  private readonly delivered = new Map<string, number>();
  /** Frames are handled one at a time, in the order they came, so that a cumulative ack never runs ahead of a handler. */
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: PushdClientOptions) {
    if (!opts.url) throw new Error("pushd: url is required");
    if (!opts.deviceId) throw new Error("pushd: deviceId is required");
    if (!opts.token && !opts.refreshToken) throw new Error("pushd: give a token or refreshToken");
    if (!opts.transport && typeof (globalThis as any).WebSocket !== "function") {
      throw new Error(
        "pushd: this runtime has no global WebSocket (Node before 22?): pass transport: webTransport({ WebSocket }) with the `ws` package's, or uniTransport(uni)",
      );
    }
    const rc = opts.reconnect;
    this.o = {
      url: opts.url,
      deviceId: opts.deviceId,
      refreshToken: opts.refreshToken,
      refreshMargin: opts.refreshMargin ?? 60,
      transport: opts.transport ?? webTransport(),
      heartbeatInterval: opts.heartbeatInterval ?? 20000,
      pongTimeout: opts.pongTimeout ?? 10000,
      foreground: opts.foreground ?? true,
      reconnect:
        rc === false
          ? false
          : {
              initialDelay: rc?.initialDelay ?? 500,
              maxDelay: rc?.maxDelay ?? 30000,
              factor: rc?.factor ?? 2,
              jitter: Math.min(1, Math.max(0, rc?.jitter ?? 0.5)),
            },
    };
    this.transport = this.o.transport;
    this.base = opts.url.replace(/\/+$/, "");
    this.token = opts.token;
    this.foreground = this.o.foreground;
  }

  // ---- events ----

  /** Adds a listener; returns a function that removes it. A listener of a message or call event may return a promise: the ack waits for it. */
  on<K extends keyof PushdEvents>(event: K, fn: Listener<PushdEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  off<K extends keyof PushdEvents>(event: K, fn: Listener<PushdEvents[K]>): void {
    this.listeners.get(event)?.delete(fn);
  }

  /** Calls the listeners without waiting for them (state and connection events). */
  private emit<K extends keyof PushdEvents>(event: K, ev: PushdEvents[K]): void {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        const r = fn(ev);
        if (r && typeof (r as Promise<void>).then === "function") {
          (r as Promise<void>).then(undefined, (e) => this.listenerFailed(event, e));
        }
      } catch (e) {
        this.listenerFailed(event, e);
      }
    }
  }

  /** Calls the listeners one after another and waits for each (messages and call events). */
  private async dispatch<K extends keyof PushdEvents>(event: K, ev: PushdEvents[K]): Promise<void> {
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        await fn(ev);
      } catch (e) {
        this.listenerFailed(event, e);
      }
    }
  }

  private listenerFailed(event: keyof PushdEvents, e: unknown): void {
    if (event === "error") return; // never loop on a failing error listener
    this.emit("error", toError(e, `a "${String(event)}" listener failed`));
  }

  // ---- the long connection ----

  get state(): ConnectionState {
    return this._state;
  }

  private setState(s: ConnectionState): void {
    if (this._state === s) return;
    this._state = s;
    this.emit("state", s);
  }

  /**
   * Opens the long connection and keeps it open (reconnecting with backoff)
   * until `disconnect()` or `logout()`. Resolves once connected; rejects if
   * the client stops first (disconnect, a final kick, a refused token).
   */
  connect(): Promise<void> {
    if (this._state === "connected") return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.want) {
      this.want = true;
      this.attempt = 0;
      void this.open();
    }
    return p;
  }

  /** Closes the connection and stops reconnecting. Handlers already running finish; their acks are not sent. */
  disconnect(): void {
    this.stop("disconnected by the app");
  }

  /** Connects at once if waiting to reconnect (call it when the network comes back or the app wakes). */
  reconnectNow(): void {
    if (!this.want || this.sock || this.opening) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.open();
  }

  /** Tells pushd whether the app is in the foreground: in the background a device still gets frames, and is pushed as well. Kept across reconnects. */
  setForeground(foreground: boolean): void {
    this.foreground = foreground;
    if (this.opened) this.sendFrame({ type: "state", foreground });
  }

  /** Replaces the client token (for the next connect and request). */
  setToken(token: string): void {
    this.token = token;
  }

  private stop(why: string, err?: Error): void {
    this.want = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const sock = this.sock;
    this.dropSocket();
    if (sock) {
      try {
        sock.close(1000, "bye");
      } catch {
        /* closed */
      }
    }
    this.setState("closed");
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err ?? new Error("pushd: " + why));
  }

  /** Forgets the current socket: its callbacks are ignored from now on. */
  private dropSocket(): void {
    this.gen++;
    this.sock = undefined;
    this.opened = false;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = undefined;
  }

  private async open(): Promise<void> {
    if (!this.want || this.sock || this.opening) return;
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    let token: string;
    this.opening = true;
    try {
      token = await this.validToken();
    } catch (e) {
      this.emit("error", toError(e, "refreshToken failed"));
      this.afterClose(1006, "no token");
      return;
    } finally {
      this.opening = false;
    }
    if (!this.want || this.sock) return;
    let url = this.base.replace(/^http/, "ws") + "/v1/connect?device_id=" + encodeURIComponent(this.o.deviceId);
    if (!this.transport.headerAuth) url += "&token=" + encodeURIComponent(token);
    const gen = ++this.gen;
    this.kicked = undefined;
    this.opened = false;
    try {
      this.sock = this.transport.connect(url, { Authorization: "Bearer " + token }, {
        onOpen: () => gen === this.gen && this.onOpen(),
        onMessage: (d) => gen === this.gen && this.onMessage(gen, d),
        onClose: (code, reason) => gen === this.gen && this.onClose(code, reason),
      });
    } catch (e) {
      this.emit("error", toError(e, "could not open the WebSocket"));
      this.afterClose(1006, "connect failed");
    }
  }

  private onOpen(): void {
    this.opened = true;
    const resumed = this.everConnected;
    this.everConnected = true;
    // The server takes a new connection as in the foreground.
    if (!this.foreground) this.sendFrame({ type: "state", foreground: false });
    this.ping(); // its pong proves the connection, and resets the backoff
    this.pingTimer = setInterval(() => this.ping(), this.o.heartbeatInterval);
    this.setState("connected");
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
    this.emit("connected", { resumed });
  }

  private ping(): void {
    this.sendFrame({ type: "ping" });
    if (!this.pongTimer) {
      const gen = this.gen;
      this.pongTimer = setTimeout(() => {
        if (gen !== this.gen) return;
        // Nothing came back: the link is dead even if the socket does not know yet.
        const sock = this.sock;
        this.onClose(4000, "heartbeat timeout");
        try {
          sock?.close(4000, "heartbeat timeout");
        } catch {
          /* closed */
        }
      }, this.o.pongTimeout);
    }
  }

  private sendFrame(f: object): boolean {
    if (!this.sock || !this.opened) return false;
    try {
      this.sock.send(JSON.stringify(f));
      return true;
    } catch (e) {
      this.emit("error", toError(e, "send failed"));
      return false;
    }
  }

  private onMessage(gen: number, data: string): void {
    // Any frame shows the connection is alive.
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    let f: any;
    try {
      f = JSON.parse(data);
    } catch {
      this.emit("error", new Error("pushd: a frame that is not JSON: " + data.slice(0, 100)));
      return;
    }
    if (!f || typeof f.type !== "string") return;
    switch (f.type) {
      case "pong":
        this.attempt = 0;
        return;
      case "kicked": {
        const reason = String(f.reason ?? "");
        this.kicked = reason;
        this.emit("kicked", { reason, reconnecting: this.want && !FINAL_KICKS.has(reason) && this.o.reconnect !== false });
        return;
      }
      case "message":
        this.enqueue(gen, f);
        return;
      default:
        if (CALL_EVENTS.has(f.type) && typeof f.seq === "number") {
          this.enqueue(gen, f);
        } else {
          this.emit("frame", f as UnknownFrame);
        }
    }
  }

  private enqueue(gen: number, f: any): void {
    this.queue = this.queue.then(() => this.handle(gen, f));
  }

  /** Hands one stream frame to the app once, then acks it on the connection that brought it. */
  private async handle(gen: number, f: any): Promise<void> {
    const stream = String(f.stream);
    const seq = Number(f.seq);
    const last = this.delivered.get(stream) ?? 0;
    if (seq > last) {
      if (f.type === "message") {
        await this.dispatch("message", f);
      } else {
        await this.dispatch(f.type as keyof PushdEvents, f);
        await this.dispatch("call", f as CallEvent);
      }
      if (seq > (this.delivered.get(stream) ?? 0)) this.delivered.set(stream, seq);
    }
    // A replay of something handled is acked again: the first ack may have
    // been lost with its connection. Acks are cumulative.
    if (gen === this.gen) this.sendFrame({ type: "ack", stream, seq: this.delivered.get(stream) ?? seq });
  }

  private onClose(code: number, reason: string): void {
    const wasOpen = this.opened;
    this.dropSocket();
    const kick = this.kicked;
    if (kick && FINAL_KICKS.has(kick)) {
      this.emit("disconnected", { code, reason: kick, retryIn: null });
      this.stop("kicked: " + kick, new PushdError(0, "kicked", kick));
      return;
    }
    if (!wasOpen && this.want) {
      // The upgrade failed; a WebSocket does not say why. Ask over HTTP
      // whether it was the token, so that a refused token is refreshed.
      void this.checkToken().then(() => this.afterClose(code, reason));
      return;
    }
    this.afterClose(code, kick ?? reason);
  }

  /** Schedules the next attempt, or stops when reconnecting is off or the app stopped. */
  private afterClose(code: number, reason: string): void {
    if (!this.want) {
      this.setState("closed");
      return;
    }
    const rc = this.o.reconnect;
    if (rc === false) {
      this.emit("disconnected", { code, reason, retryIn: null });
      this.stop("connection lost: " + reason);
      return;
    }
    const base = Math.min(rc.maxDelay, rc.initialDelay * Math.pow(rc.factor, this.attempt));
    const delay = Math.round(base * (1 - rc.jitter * Math.random()));
    this.attempt++;
    this.setState("reconnecting");
    this.emit("disconnected", { code, reason, retryIn: delay });
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delay);
  }

  /** After a failed upgrade: refresh the token if pushd refuses it; stop if it does and there is no way to refresh. */
  private async checkToken(): Promise<void> {
    try {
      const token = await this.validToken();
      const res = await this.transport.request({
        method: "GET",
        url: this.base + "/v1/connect?device_id=" + encodeURIComponent(this.o.deviceId),
        headers: { Authorization: "Bearer " + token },
      });
      if (res.status !== 401) return;
      if (!this.o.refreshToken) {
        const e = errorOf(res.status, res.body);
        this.emit("error", e);
        this.stop("the client token is refused", e);
        return;
      }
      await this.refresh();
    } catch (e) {
      this.emit("error", toError(e, "checking the token failed"));
    }
  }

  // ---- tokens ----

  private async validToken(): Promise<string> {
    const t = this.token;
    if (t && !(this.o.refreshToken && expiresWithin(t, this.o.refreshMargin))) return t;
    if (!this.o.refreshToken) {
      if (t) return t;
      throw new Error("pushd: no client token");
    }
    return this.refresh();
  }

  /** One refresh at a time: concurrent callers share it. */
  private refresh(): Promise<string> {
    const fn = this.o.refreshToken;
    if (!fn) return Promise.reject(new Error("pushd: no refreshToken"));
    if (!this.refreshing) {
      this.refreshing = Promise.resolve()
        .then(fn)
        .then((t) => {
          if (typeof t !== "string" || !t) throw new Error("pushd: refreshToken gave no token");
          this.token = t;
          return t;
        })
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    return this.refreshing;
  }

  // ---- HTTP routes ----

  private async request<T>(method: string, path: string, body?: object): Promise<T> {
    let token = await this.validToken();
    for (let tries = 0; ; tries++) {
      const headers: Record<string, string> = { Authorization: "Bearer " + token };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const res = await this.transport.request({
        method,
        url: this.base + path,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.status === 401 && tries === 0 && this.o.refreshToken) {
        token = await this.refresh();
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw errorOf(res.status, res.body);
      return (res.body ? JSON.parse(res.body) : {}) as T;
    }
  }

  /** Binds this device's vendor push token (from the platform's push plugin) to the user; returns its push id. */
  async bindDevice(opts: BindDeviceOptions): Promise<string> {
    const r = await this.request<{ push_id: string }>("POST", "/v1/devices", {
      device_id: this.o.deviceId,
      provider: opts.provider,
      token: opts.token,
      bundle_id: opts.bundleId,
      apns_env: opts.apnsEnv,
      push_type: opts.pushType,
      locale: opts.locale,
    });
    return r.push_id;
  }

  /** Stops pushes to one binding of this user (unregisterPush). */
  async unregister(pushId: string): Promise<void> {
    await this.request("DELETE", "/v1/devices/" + encodeURIComponent(pushId));
  }

  /** Removes this device's bindings and closes its connection; the client stops. Its ack cursors stay on the server. */
  async logout(): Promise<void> {
    await this.request("POST", "/v1/logout", { device_id: this.o.deviceId });
    this.stop("logged out");
  }

  /** Sets the user's unread badge (usually 0 when the app opens): `POST /v1/badge`. */
  async setBadge(count: number): Promise<void> {
    await this.request("POST", "/v1/badge", { count });
  }

  /** Sends a message as this user; resolves once pushd has stored it. */
  async sendMessage(opts: SendMessageOptions): Promise<SendAnswer> {
    return this.request<SendAnswer>("POST", "/v1/messages", {
      to: opts.to,
      conversation_type: opts.conversationType ?? 0,
      type: opts.type ?? 1,
      body: opts.body,
      priority: opts.priority,
      push_config: opts.pushConfig,
      client_msg_id: opts.clientMsgId,
    });
  }

  /** Invites up to 9 users to a call; they get `call_invitation_received`. */
  async invite(opts: InviteOptions): Promise<CallAnswer> {
    return this.request<CallAnswer>("POST", "/v1/calls", {
      invitees: opts.invitees,
      timeout: opts.timeout,
      mode: opts.mode,
      extended_data: opts.extendedData,
      push_config: opts.pushConfig,
    });
  }

  /** Accepts a call on this device; the user's other devices stop ringing. */
  async acceptCall(callId: string, opts: { extendedData?: string } = {}): Promise<void> {
    await this.callAction(callId, "accept", { device_id: this.o.deviceId, extended_data: opts.extendedData });
  }

  /** Rejects a call on this device; the user's other devices stop ringing. */
  async rejectCall(callId: string, opts: { extendedData?: string } = {}): Promise<void> {
    await this.callAction(callId, "reject", { device_id: this.o.deviceId, extended_data: opts.extendedData });
  }

  /** The inviter cancels a call; invitees still ringing get `call_invitation_cancelled`. */
  async cancelCall(callId: string, opts: { extendedData?: string; pushConfig?: PushConfig } = {}): Promise<void> {
    await this.callAction(callId, "cancel", { extended_data: opts.extendedData, push_config: opts.pushConfig });
  }

  private async callAction(callId: string, action: string, body: object): Promise<void> {
    await this.request("POST", "/v1/calls/" + encodeURIComponent(callId) + "/" + action, body);
  }
}

function errorOf(status: number, body: string): PushdError {
  try {
    const e = JSON.parse(body)?.error;
    if (e && typeof e.code === "string") return new PushdError(status, e.code, String(e.message ?? ""));
  } catch {
    /* not pushd's error body */
  }
  return new PushdError(status, "http_" + status, body.slice(0, 200));
}

function toError(e: unknown, what: string): Error {
  if (e instanceof Error) return e;
  return new Error(`pushd: ${what}: ${String(e)}`);
}

/** Whether a JWT's exp is within `margin` seconds (false when it has none or cannot be read: the server decides). */
export function expiresWithin(token: string, margin: number, nowMs: number = Date.now()): boolean {
  const part = token.split(".")[1];
  if (!part) return false;
  try {
    const claims = JSON.parse(base64urlDecode(part));
    if (typeof claims?.exp !== "number") return false;
    return claims.exp - margin <= nowMs / 1000;
  } catch {
    return false;
  }
}

// Not atob: uni-app's App runtime may not have it. Bytes become chars one to
// one, which keeps the ASCII of the claims we read.
function base64urlDecode(s: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let bits = 0;
  let n = 0;
  let out = "";
  for (const ch of s.replace(/=+$/, "")) {
    const v = alphabet.indexOf(ch === "+" ? "-" : ch === "/" ? "_" : ch);
    if (v < 0) throw new Error("not base64url");
    bits = (bits << 6) | v;
    n += 6;
    if (n >= 8) {
      n -= 8;
      out += String.fromCharCode((bits >> n) & 0xff);
    }
  }
  return out;
}
