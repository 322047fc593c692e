package actors

import (
	"encoding/json"

	"github.com/pushd-im/pushd/wire"
)

// messageFrame is the long connection's "message" frame (API.md).
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

// MessageFrame renders a stored message as the frame a device receives.
func MessageFrame(m *wire.Message) []byte {
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
