export { PushdClient, PushdError, expiresWithin } from "./client.js";
export type { PushdClientOptions, ReconnectOptions } from "./client.js";
export { webTransport, uniTransport } from "./transport.js";
export type {
  Transport,
  TransportSocket,
  SocketHandlers,
  HttpRequest,
  HttpResponse,
  WebTransportOptions,
  WebSocketConstructor,
  WebSocketLike,
  FetchLike,
  UniLike,
  UniSocketTask,
  UniTransportOptions,
} from "./transport.js";
export type * from "./types.js";
