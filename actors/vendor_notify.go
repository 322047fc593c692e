package actors

import (
	"strconv"
	"time"

	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/wire"
)

// notification turns an outbox job into the vendor-neutral push, with the
// provider's defaults and the push's resources profile applied.
func notification(app *App, j *wire.PushJob) *push.Notification {
	pc := j.GetPushConfig()
	p := push.Provider(j.Provider)
	n := &push.Notification{
		ID: strconv.FormatUint(j.Id, 10), App: j.App, Provider: p, Token: j.Token,
		BundleID: j.BundleId, APNsEnv: j.ApnsEnv, PushType: j.PushType,
		Title: pc.GetTitle(), Body: pc.GetContent(), Payload: pc.GetPayload(), Badge: int(pc.GetBadgeIncrement()),
		BadgeAdd: int(pc.GetBadgeIncrement()),
		Priority: push.Priority(j.Priority), CollapseID: j.CollapseId,
		Data: map[string]string{},
	}
	// Only what the push has: a test push (POST /v1/push/test) has no message.
	setData(n.Data, "message_id", j.MessageId)
	setData(n.Data, "sender", j.From)
	setData(n.Data, "stream", j.Stream)
	if j.Seq > 0 {
		n.Data["seq"] = strconv.FormatUint(j.Seq, 10)
	}
	if n.BundleID == "" {
		n.BundleID = app.BundleID
	}
	if j.ExpiresAtMs != 0 {
		n.Expiration = time.UnixMilli(j.ExpiresAtMs)
	}
	for k, val := range j.Data {
		n.Data[k] = val
	}
	if vo := pc.GetVoip(); vo != nil && j.PushType == "voip" {
		n.VoIP = &push.VoIP{HandleType: int(vo.HandleType), HandleValue: vo.HandleValue, HasVideo: vo.HasVideo}
	}
	if prof, ok := app.Resources[pc.GetResourcesId()][p]; ok {
		applyProfile(n, prof)
	}
	event := callEvent(j)
	// The app ends the call it shows (CallKit's, on iOS) when it runs.
	n.Wake = event == eventCancelled
	if n.Category == "" && event != "" {
		// A call push goes in the vendor's call class unless its profile
		// names a category: ahead of the app's default (IM), which is for
		// messages.
		n.Category = app.Vendors[p].CallCategory
	}
	applyProfile(n, app.Defaults[p])
	if app.Vendors[p].NeedsTitleAndBody {
		// The vendor refuses a notification without both a title and a
		// body: a push_config that gives one shows it in both places.
		if !n.Passthrough && n.Title == "" {
			n.Title = n.Body
		} else if !n.Passthrough && n.Body == "" {
			n.Body = n.Title
		}
	}
	return n
}

// callEvent is the call event a job pushes, "" for any other push. A raw
// push (gorush) may carry any data keys, but no message.
func callEvent(j *wire.PushJob) string {
	if j.MessageId == "" || j.Data["call_id"] == "" {
		return ""
	}
	return j.Data["event"]
}

func setData(d map[string]string, k, v string) {
	if v != "" {
		d[k] = v
	}
}

// applyProfile fills what the notification leaves empty from the profile.
func applyProfile(n *push.Notification, p push.Profile) {
	if n.Sound == "" {
		n.Sound = p.Sound
	}
	if n.ChannelID == "" {
		n.ChannelID = p.ChannelID
	}
	if n.Category == "" {
		n.Category = p.Category
	}
	if n.Importance == "" {
		n.Importance = p.Importance
	}
	if n.Classification == nil && p.Classification != nil {
		c := *p.Classification
		n.Classification = &c
	}
	n.Passthrough = n.Passthrough || p.Passthrough
}
