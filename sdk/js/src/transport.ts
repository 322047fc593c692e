// Transports: how the client opens a WebSocket and makes an HTTP request on
// the platform it runs on. The client speaks only to this interface, so the
// same code runs in browsers, in Node 18+ and in uni-app.

/** What a transport calls back on one socket's life. */
export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: string): void;
  /** The socket is closed (after an error too); called once. */
  onClose(code: number, reason: string): void;
}

/** An open (or opening) socket. */
export interface TransportSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  status: number;
  body: string;
}

/**
 * A platform's WebSocket and HTTP. `headerAuth` says whether `connect` can
 * send request headers: when it cannot (browsers), the client token goes in
 * the URL's `token` query parameter, which pushd accepts on `/v1/connect`.
 */
export interface Transport {
  readonly headerAuth: boolean;
  connect(url: string, headers: Record<string, string>, handlers: SocketHandlers): TransportSocket;
  request(req: HttpRequest): Promise<HttpResponse>;
}

/** The standard WebSocket constructor, or one with its shape (the `ws` package). */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[], options?: unknown): WebSocketLike;
}

export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface WebTransportOptions {
  /** Defaults to the global WebSocket (browsers, Node 22+). On Node 18 and 20 pass the `ws` package's WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Defaults to the global fetch (browsers, Node 18+). */
  fetch?: FetchLike;
  /**
   * Send the token in an `Authorization` header on the upgrade instead of
   * the URL. Only constructors that take `{headers}` as their third argument
   * (the `ws` package) can; default: false.
   */
  headerAuth?: boolean;
}

/** The transport for browsers and Node: the standard WebSocket and fetch. */
export function webTransport(opts: WebTransportOptions = {}): Transport {
  const g = globalThis as any;
  const WS: WebSocketConstructor | undefined = opts.WebSocket ?? g.WebSocket;
  const fetchFn: FetchLike | undefined = opts.fetch ?? (g.fetch ? g.fetch.bind(g) : undefined);
  const headerAuth = !!opts.headerAuth;
  return {
    headerAuth,
    connect(url, headers, h) {
      if (!WS) {
        throw new Error(
          "pushd: no WebSocket here; pass one: webTransport({ WebSocket }) (on Node 18/20, the `ws` package's)",
        );
      }
      const ws = headerAuth ? new WS(url, [], { headers }) : new WS(url);
      let closed = false;
      const closeOnce = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        h.onClose(code, reason);
      };
      ws.onopen = () => h.onOpen();
      ws.onmessage = (ev) => {
        const d = ev.data;
        h.onMessage(typeof d === "string" ? d : String(d));
      };
      ws.onclose = (ev) => closeOnce(ev.code, ev.reason || "");
      ws.onerror = () => {
        // An error is followed by close in browsers and `ws`; make sure of it.
        try {
          ws.close();
        } catch {
          /* already closing */
        }
      };
      return {
        send: (data) => ws.send(data),
        close: (code, reason) => {
          try {
            ws.close(code, reason);
          } catch {
            ws.close();
          }
        },
      };
    },
    async request(req) {
      if (!fetchFn) throw new Error("pushd: no fetch here; pass one: webTransport({ fetch })");
      const res = await fetchFn(req.url, { method: req.method, headers: req.headers, body: req.body });
      return { status: res.status, body: await res.text() };
    },
  };
}

/** The part of uni-app's `uni` object the uni transport uses. */
export interface UniLike {
  connectSocket(opts: {
    url: string;
    header?: Record<string, string>;
    complete?: () => void;
  }): UniSocketTask;
  request(opts: {
    url: string;
    method: any;
    header?: Record<string, string>;
    data?: string;
    dataType?: string;
    responseType?: string;
    success?: (res: { statusCode: number; data: any }) => void;
    fail?: (err: { errMsg?: string }) => void;
  }): unknown;
}

export interface UniSocketTask {
  send(opts: { data: string; fail?: (err: any) => void }): void;
  close(opts: { code?: number; reason?: string }): void;
  onOpen(cb: (res?: any) => void): void;
  onMessage(cb: (res: { data: any }) => void): void;
  onClose(cb: (res: { code?: number; reason?: string }) => void): void;
  onError(cb: (err: any) => void): void;
}

export interface UniTransportOptions {
  /**
   * Send the token in the upgrade's `header` (App and mini-programs) rather
   * than the URL. uni-app's H5 build cannot set headers: leave it false there.
   * Default: false.
   */
  headerAuth?: boolean;
}

/** The transport for uni-app: `uni.connectSocket` and `uni.request`. */
export function uniTransport(uni: UniLike, opts: UniTransportOptions = {}): Transport {
  const headerAuth = !!opts.headerAuth;
  return {
    headerAuth,
    connect(url, headers, h) {
      // uni.connectSocket returns its SocketTask only when given a callback.
      const task = uni.connectSocket({ url, header: headerAuth ? headers : undefined, complete: () => {} });
      let closed = false;
      const closeOnce = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        h.onClose(code, reason);
      };
      task.onOpen(() => h.onOpen());
      task.onMessage((res) => h.onMessage(typeof res.data === "string" ? res.data : String(res.data)));
      task.onClose((res) => closeOnce(res?.code ?? 1006, res?.reason ?? ""));
      task.onError(() => {
        try {
          task.close({});
        } catch {
          /* already closing */
        }
        // Some platforms send no close after an error.
        closeOnce(1006, "error");
      });
      return {
        send: (data) => task.send({ data, fail: () => task.close({}) }),
        close: (code, reason) => task.close({ code, reason }),
      };
    },
    request(req) {
      return new Promise((resolve, reject) => {
        uni.request({
          url: req.url,
          method: req.method,
          header: req.headers,
          data: req.body,
          // Anything but "json" leaves the body as the server's text.
          dataType: "text",
          responseType: "text",
          success: (res) =>
            resolve({
              status: res.statusCode,
              body: typeof res.data === "string" ? res.data : JSON.stringify(res.data ?? ""),
            }),
          fail: (err) => reject(new Error("pushd: uni.request failed: " + (err?.errMsg ?? "unknown"))),
        });
      });
    },
  };
}
