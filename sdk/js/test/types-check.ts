// Compiled (not run) by `npm run build`: the published types let an app
// listen to each event with its own payload type, and catch a wrong one.
import { PushdClient, PushdError, uniTransport, webTransport } from "@pushd/client";
import type { CallInvitationReceived, KickedEvent, MessageEvent, UniLike } from "@pushd/client";

declare const uni: UniLike;
const c = new PushdClient({ url: "https://push.example.com", deviceId: "d", token: "t", transport: uniTransport(uni) });
c.on("message", async (ev: MessageEvent) => {
  const body: string = ev.message.body;
  const seq: number = ev.seq;
  void body, seq;
});
c.on("call_invitation_received", (ev: CallInvitationReceived) => {
  const inviter: string = ev.inviter;
  const invitees: string[] = ev.invitees;
  void inviter, invitees;
});
c.on("call", (ev) => {
  if (ev.type === "call_invitation_accepted") {
    const invitee: string = ev.invitee;
    void invitee;
  }
});
c.on("kicked", (k: KickedEvent) => void k.reason);
// @ts-expect-error a message listener does not get a call event's fields
c.on("message", (ev) => ev.inviter);
// @ts-expect-error no such event
c.on("nope", () => {});
void webTransport({ headerAuth: true });
void (async () => {
  const pushId: string = await c.bindDevice({ provider: "apns", token: "x" });
  const call = await c.invite({ invitees: ["bob"] });
  await c.acceptCall(call.call_id);
  void pushId, PushdError;
})();
