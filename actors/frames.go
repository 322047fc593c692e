package actors

import (
	"encoding/json"

	"github.com/pushd-im/pushd/wire"
)

// messageFrame is the long connection's "message" frame (README, "The long connection").
type messageFrame struct {
	Type    string       `json:"type"`
	Stream  string       `json:"stream"`
	Seq     uint64       `json:"seq"`
	Message frameMessage `json:"message"`
}

type frameMessage struct {
	MessageID        string `json:"message_id"`
	From             string `json:"from"`
	To               string `json:"to"`
	ConversationType int32  `json:"conversation_type"`
	Type             int32  `json:"type"`
	Body             string `json:"body"`
	Priority         int32  `json:"priority"`
	Timestamp        int64  `json:"timestamp"`
}

// The call events, stored in the inbox and sent as frames of these types.
const (
	eventInvitation = "call_invitation_received"
	eventCancelled  = "call_invitation_cancelled"
	eventAccepted   = "call_invitation_accepted"
	eventRejected   = "call_invitation_rejected"
	eventTimeout    = "call_invitation_timeout"
)

// MessageFrame renders a stored message as the frame a device receives: a
// "message" frame, or a call event's frame.
func MessageFrame(m *wire.Message) []byte {
	if m.Event != "" {
		return callFrame(m)
	}
	b, _ := json.Marshal(messageFrame{
		Type: "message", Stream: m.Stream, Seq: m.Seq,
		Message: frameMessage{
			MessageID: m.MessageId, From: m.From, To: m.To, ConversationType: m.ConversationType,
			Type: m.Type, Body: m.Body, Priority: m.Priority, Timestamp: m.TimestampMs,
		},
	})
	return b
}

// KickedFrame is the frame sent before the server closes a connection.
func KickedFrame(reason string) []byte {
	b, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}{"kicked", reason})
	return b
}

// callFrame is a call event's frame: its type, stream and seq, the call id,
// the timestamp, and the call fields the event carries (inviter, invitee,
// invitees, mode, extended_data, timeout).
func callFrame(m *wire.Message) []byte {
	f := map[string]any{}
	if m.CallJson != "" {
		_ = json.Unmarshal([]byte(m.CallJson), &f)
	}
	f["type"], f["stream"], f["seq"], f["call_id"], f["timestamp"] = m.Event, m.Stream, m.Seq, m.CallId, m.TimestampMs
	b, _ := json.Marshal(f)
	return b
}
