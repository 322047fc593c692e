package daemon

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/push/vendors"
	"github.com/pushd-im/pushd/push/vendors/apns"
	"github.com/pushd-im/pushd/push/vendorsim"
	"github.com/pushd-im/pushd/transport/api"
)

func (d *Daemon) simDir() string { return filepath.Join(d.cfg.DataDir, "simulator") }

func (d *Daemon) startSimulator() error {
	creds, err := vendorsim.LoadOrGenerateCredentials(d.simDir())
	if err != nil {
		return err
	}
	d.sim, err = vendorsim.New(vendorsim.Options{Credentials: creds, Addr: d.cfg.Simulator.Addr, Logger: d.log.With("component", "simulator"), Now: d.clock.Now})
	if err != nil {
		return err
	}
	if err := d.sim.Start(); err != nil {
		return err
	}
	// Said at warn level: a production node must not run with it.
	d.log.Warn("vendor simulator on: apps without providers push to it instead of the vendors; its admin API can inject vendor faults (a 410 unbinds a device) and answers loopback clients only",
		"url", d.sim.URL(), "admin", d.sim.URL()+"/sim/")
	return d.sim.WriteServiceAccountFile(d.simDir())
}

// simProviders points every provider the simulator speaks at it, with the
// IM channel and classification each simulated vendor has approved: the
// block `pushd sim` writes for a config, read as a config file's is.
func (d *Daemon) simProviders() (config.Providers, error) {
	return config.ParseProviders(d.sim.ConfigYAML(d.simDir()))
}

// buildApps makes each app's vendor clients. With the simulator enabled, a
// config without apps gets the demo app, and an app without providers gets the
// simulator's.
func (d *Daemon) buildApps() (map[string]*actors.App, []*api.App, error) {
	cfgApps := d.cfg.Apps
	if d.sim != nil && len(cfgApps) == 0 {
		key, secret, err := LoadDemoSecrets(d.cfg.DataDir, true)
		if err != nil {
			return nil, nil, err
		}
		d.demoKey, d.demoSecret = key, secret
		cfgApps = []config.App{{ID: DemoAppID, APIKeys: []string{key}, ClientTokenSecret: secret}}
	}
	apps := map[string]*actors.App{}
	var apiApps []*api.App
	for _, ca := range cfgApps {
		provs := ca.Providers
		if d.sim != nil && len(provs.Configured()) == 0 {
			var err error
			if provs, err = d.simProviders(); err != nil {
				return nil, nil, fmt.Errorf("simulator providers: %w", err)
			}
		}
		a := &actors.App{ID: ca.ID, Senders: map[push.Provider]push.Sender{}, RateLimits: map[push.Provider]actors.RateLimit{},
			Defaults: map[push.Provider]push.Profile{}, Vendors: map[push.Provider]push.Vendor{}}
		if err := d.addSenders(a, ca.ID, provs); err != nil {
			return nil, nil, err
		}
		for name, rl := range ca.RateLimits {
			a.RateLimits[push.Provider(name)] = actors.RateLimit{QPS: rl.QPS, DailyQuota: rl.DailyQuota}
		}
		resources := map[string]bool{}
		a.Resources = map[string]map[push.Provider]push.Profile{}
		for id, byProvider := range ca.Resources {
			resources[id] = true
			a.Resources[id] = map[push.Provider]push.Profile{}
			for prov, r := range byProvider {
				a.Resources[id][push.Provider(prov)] = push.Profile{
					Sound: r.Sound, ChannelID: r.ChannelID, Category: r.Category, Importance: r.Importance,
					Classification: r.Classification, Passthrough: r.PushType == "passthrough",
				}
			}
		}
		apps[ca.ID] = a
		var byKid map[string][]byte
		for _, ts := range ca.ClientTokenSecrets {
			if byKid == nil {
				byKid = map[string][]byte{}
			}
			byKid[ts.Kid] = []byte(ts.Secret)
		}
		var plain []byte
		if ca.ClientTokenSecret != "" {
			plain = []byte(ca.ClientTokenSecret)
		}
		var apnsEnv string
		if c, ok := provs[push.APNs].(*apns.Config); ok {
			apnsEnv = c.DefaultEnv
		}
		apiApps = append(apiApps, &api.App{ID: ca.ID, APIKeySums: apiKeySums(ca.APIKeys), ClientTokenSecret: plain, ClientTokenSecrets: byKid, Resources: resources,
			DenyClientPushConfig: !ca.ClientPushConfigAllowed(), DenyClientCalls: !ca.ClientCallsAllowed(), APNsDefaultEnv: apnsEnv,
			DenyClientStrangers: !ca.ClientMessageStrangersAllowed()})
	}
	return apps, apiApps, nil
}

// addSenders builds the vendor client of every provider the app configures,
// and records each provider's descriptor and its channel and classification
// defaults.
func (d *Daemon) addSenders(a *actors.App, app string, p config.Providers) error {
	for _, v := range vendors.All() {
		block := p[v.Provider]
		if block == nil {
			continue
		}
		s, err := block.NewSender(push.SenderOptions{Now: d.clock.Now, PlainHTTP: d.cfg.Simulator.Enabled})
		if err != nil {
			return fmt.Errorf("apps[%s].providers.%s: %w", app, v.Provider, err)
		}
		// Every vendor client's reasons pass through here on their way to the
		// logs, the bindings' last_reason and the API: no token or URL path in them.
		a.Senders[v.Provider] = push.ScrubbedSender{Sender: s}
		a.Vendors[v.Provider] = v
		a.Defaults[v.Provider] = block.Defaults()
	}
	return nil
}

// apiKeySums hashes an app's configured API keys (in the clear or sha256:<hex>) for the API
// server, which keeps only the hashes.
func apiKeySums(keys []string) [][sha256.Size]byte {
	sums := make([][sha256.Size]byte, len(keys))
	for i, k := range keys {
		sums[i] = config.APIKeySum(k)
	}
	return sums
}
