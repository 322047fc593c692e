// The shapes pushd sends and takes (README: "HTTP API", "The long connection").

/** A message as the long connection carries it. */
export interface Message {
  message_id: string;
  from: string;
  to: string;
  /** 0 one-to-one, 2 group */
  conversation_type: number;
  /** ZIM's message type: 1 text, 2 command, 11 image, 12 file, 13 audio, 14 video, 200 custom */
  type: number;
  body: string;
  /** 1 low, 2 medium, 3 high */
  priority: number;
  /** milliseconds since the epoch */
  timestamp: number;
}

/** Every frame of a stream has its stream ("inbox" or "group:<id>") and seq. */
export interface StreamFrame {
  stream: string;
  seq: number;
}

export interface MessageEvent extends StreamFrame {
  type: "message";
  message: Message;
}

interface CallEventBase extends StreamFrame {
  call_id: string;
  timestamp: number;
  extended_data?: string;
}

/** An invitee's device: a call rings. */
export interface CallInvitationReceived extends CallEventBase {
  type: "call_invitation_received";
  inviter: string;
  invitees: string[];
  /** 0 general, 1 advanced */
  mode: number;
  /** seconds */
  timeout: number;
}

/** An invitee's device: the inviter cancelled. */
export interface CallInvitationCancelled extends CallEventBase {
  type: "call_invitation_cancelled";
  inviter: string;
}

/** The inviter's devices (and the invitee's other devices): an invitee accepted. */
export interface CallInvitationAccepted extends CallEventBase {
  type: "call_invitation_accepted";
  invitee: string;
}

/** The inviter's devices (and the invitee's other devices): an invitee rejected. */
export interface CallInvitationRejected extends CallEventBase {
  type: "call_invitation_rejected";
  invitee: string;
}

/** An invitee's devices (`inviter` set), or the inviter's, once per invitee who never answered (`invitee` set). */
export interface CallInvitationTimeout extends CallEventBase {
  type: "call_invitation_timeout";
  inviter?: string;
  invitee?: string;
}

export type CallEvent =
  | CallInvitationReceived
  | CallInvitationCancelled
  | CallInvitationAccepted
  | CallInvitationRejected
  | CallInvitationTimeout;

/** Why the server closed the connection: logout, connected_elsewhere, slow_consumer, server_shutdown, unavailable, too_many_connections. */
export interface KickedEvent {
  reason: string;
  /** Whether the client connects again (not after logout or connected_elsewhere). */
  reconnecting: boolean;
}

export interface DisconnectedEvent {
  code: number;
  reason: string;
  /** The delay before the next attempt, in ms; null when the client does not connect again. */
  retryIn: number | null;
}

export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

/** A frame the server sent that the client does not know (a newer server), or an `error` frame. */
export interface UnknownFrame {
  type: string;
  [k: string]: unknown;
}

/** The client's events and what each listener gets. */
export interface PushdEvents {
  message: MessageEvent;
  call_invitation_received: CallInvitationReceived;
  call_invitation_cancelled: CallInvitationCancelled;
  call_invitation_accepted: CallInvitationAccepted;
  call_invitation_rejected: CallInvitationRejected;
  call_invitation_timeout: CallInvitationTimeout;
  /** Every call event, whichever its type. */
  call: CallEvent;
  kicked: KickedEvent;
  connected: { resumed: boolean };
  disconnected: DisconnectedEvent;
  state: ConnectionState;
  /** Transport, token and handler errors; the client goes on. */
  error: Error;
  /** An `error` frame from the server (a bad client frame), or a frame of an unknown type. */
  frame: UnknownFrame;
}

export interface VoipConfig {
  handle_type?: number;
  handle_value?: string;
  has_video?: boolean;
}

export interface PushConfig {
  title?: string;
  content?: string;
  payload?: string;
  resources_id?: string;
  badge_increment?: number;
  voip?: VoipConfig;
}

export type Provider = "apns" | "fcm" | "hms" | "xiaomi" | "oppo" | "vivo";

export interface BindDeviceOptions {
  provider: Provider;
  /** The vendor push token, from the platform's push plugin. */
  token: string;
  bundleId?: string;
  /** auto: production first, the sandbox once when production calls the token bad. */
  apnsEnv?: "development" | "production" | "auto" | string;
  pushType?: "alert" | "voip";
  locale?: string;
}

export interface SendMessageOptions {
  to: string;
  /** 0 one-to-one (the default), 2 group */
  conversationType?: 0 | 2;
  /** default 1 (text) */
  type?: number;
  body: string;
  priority?: 1 | 2 | 3;
  pushConfig?: PushConfig;
  clientMsgId?: string;
}

export interface SendAnswer {
  message_id: string;
  seq: number;
  timestamp: number;
}

export interface InviteOptions {
  invitees: string[];
  /** seconds, default 90 */
  timeout?: number;
  mode?: 0 | 1;
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallAnswer {
  call_id: string;
  timeout: number;
}
