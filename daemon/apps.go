package daemon

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/api"
	"github.com/pushd-im/pushd/transport/vendors/apns"
	"github.com/pushd-im/pushd/transport/vendors/fcm"
	"github.com/pushd-im/pushd/transport/vendors/hms"
	"github.com/pushd-im/pushd/transport/vendors/oppo"
	"github.com/pushd-im/pushd/transport/vendors/vivo"
	"github.com/pushd-im/pushd/transport/vendors/xiaomi"
	"github.com/pushd-im/pushd/transport/vendorsim"
)

// vendorTimeout bounds one vendor HTTP exchange.
const vendorTimeout = 15 * time.Second

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
	return d.sim.WriteServiceAccountFile(d.simDir())
}

// simProviders points every provider the simulator speaks at it, with the
// IM channel and classification each simulated vendor has approved.
func (d *Daemon) simProviders() config.Providers {
	dir := d.simDir()
	c := d.sim.Credentials()
	ca := filepath.Join(dir, vendorsim.FileCACert)
	im := 1
	return config.Providers{
		APNs: &config.APNs{
			TeamID: c.APNs.TeamID, KeyID: c.APNs.KeyID, KeyFile: filepath.Join(dir, vendorsim.FileAPNsKey), BundleID: c.APNs.BundleID,
			EndpointProduction: d.sim.Endpoint(push.APNs), EndpointDevelopment: d.sim.Endpoint(push.APNs), CAFile: ca,
		},
		FCM: &config.FCM{
			ServiceAccountFile: filepath.Join(dir, vendorsim.FileFCMServiceAccount), ProjectID: c.FCM.ProjectID,
			Endpoint: d.sim.Endpoint(push.FCM), CAFile: ca,
		},
		HMS: &config.HMS{ClientID: c.HMS.ClientID, ClientSecret: c.HMS.ClientSecret, Endpoint: d.sim.Endpoint(push.HMS),
			AuthEndpoint: d.sim.AuthEndpoint(push.HMS), Category: "IM", CAFile: ca},
		Xiaomi: &config.Xiaomi{AppSecret: c.Xiaomi.AppSecret, PackageName: c.Xiaomi.PackageName, Endpoint: d.sim.Endpoint(push.Xiaomi),
			ChannelID: vendorsim.XiaomiPrivateChannelID, CAFile: ca},
		OPPO: &config.OPPO{AppKey: c.OPPO.AppKey, MasterSecret: c.OPPO.MasterSecret, Endpoint: d.sim.Endpoint(push.OPPO), Category: "IM", CAFile: ca},
		Vivo: &config.Vivo{AppID: c.Vivo.AppID, AppKey: c.Vivo.AppKey, AppSecret: c.Vivo.AppSecret, Endpoint: d.sim.Endpoint(push.Vivo),
			Classification: &im, Category: "IM", CAFile: ca},
	}
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
			provs = d.simProviders()
		}
		a := &actors.App{ID: ca.ID, Senders: map[push.Provider]push.Sender{}, RateLimits: map[push.Provider]actors.RateLimit{},
			Defaults: map[push.Provider]actors.Profile{}}
		if err := d.addSenders(a, ca.ID, provs); err != nil {
			return nil, nil, err
		}
		for name, rl := range ca.RateLimits {
			a.RateLimits[push.Provider(name)] = actors.RateLimit{QPS: rl.QPS, DailyQuota: rl.DailyQuota}
		}
		resources := map[string]bool{}
		a.Resources = map[string]map[push.Provider]actors.Profile{}
		for id, byProvider := range ca.Resources {
			resources[id] = true
			a.Resources[id] = map[push.Provider]actors.Profile{}
			for prov, r := range byProvider {
				a.Resources[id][push.Provider(prov)] = actors.Profile{
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
		apiApps = append(apiApps, &api.App{ID: ca.ID, APIKeySums: apiKeySums(ca.APIKeys), ClientTokenSecret: plain, ClientTokenSecrets: byKid, Resources: resources,
			DenyClientPushConfig: !ca.ClientPushConfigAllowed(), DenyClientCalls: !ca.ClientCallsAllowed()})
	}
	return apps, apiApps, nil
}

// addSenders builds the vendor client of every provider the app configures,
// and records each provider's channel and classification defaults.
func (d *Daemon) addSenders(a *actors.App, app string, p config.Providers) error {
	now := d.clock.Now
	add := func(prov push.Provider, s push.Sender, err error) error {
		if err != nil {
			return fmt.Errorf("apps[%s].providers.%s: %w", app, prov, err)
		}
		a.Senders[prov] = s
		return nil
	}
	if c := p.APNs; c != nil {
		s, err := apns.New(apns.Options{
			TeamID: c.TeamID, KeyID: c.KeyID, KeyFile: c.KeyFile, CertFile: c.CertFile, CertPassword: c.CertPassword,
			BundleID: c.BundleID, EndpointProduction: c.EndpointProduction, EndpointDevelopment: c.EndpointDevelopment,
			CAFile: c.CAFile, Timeout: vendorTimeout,
		})
		if err := add(push.APNs, s, err); err != nil {
			return err
		}
		a.BundleID = c.BundleID
	}
	if c := p.FCM; c != nil {
		s, err := fcm.New(fcm.Options{ServiceAccountFile: c.ServiceAccountFile, ProjectID: c.ProjectID, Endpoint: c.Endpoint, CAFile: c.CAFile, Timeout: vendorTimeout})
		if err := add(push.FCM, s, err); err != nil {
			return err
		}
	}
	if c := p.HMS; c != nil {
		s, err := hms.New(hms.Options{ClientID: c.ClientID, ClientSecret: c.ClientSecret, Endpoint: c.Endpoint, AuthEndpoint: c.AuthEndpoint,
			Category: c.Category, CAFile: c.CAFile, Timeout: vendorTimeout, Now: now})
		if err := add(push.HMS, s, err); err != nil {
			return err
		}
		a.Defaults[push.HMS] = actors.Profile{Category: c.Category}
	}
	if c := p.Xiaomi; c != nil {
		s, err := xiaomi.New(xiaomi.Options{AppSecret: c.AppSecret, PackageName: c.PackageName, Endpoint: c.Endpoint, ChannelID: c.ChannelID,
			CAFile: c.CAFile, Timeout: vendorTimeout, Now: now})
		if err := add(push.Xiaomi, s, err); err != nil {
			return err
		}
		a.Defaults[push.Xiaomi] = actors.Profile{ChannelID: c.ChannelID}
	}
	if c := p.OPPO; c != nil {
		s, err := oppo.New(oppo.Options{AppKey: c.AppKey, MasterSecret: c.MasterSecret, Endpoint: c.Endpoint, ChannelID: c.ChannelID,
			Category: c.Category, CAFile: c.CAFile, Timeout: vendorTimeout, Now: now})
		if err := add(push.OPPO, s, err); err != nil {
			return err
		}
		a.Defaults[push.OPPO] = actors.Profile{ChannelID: c.ChannelID, Category: c.Category}
	}
	if c := p.Vivo; c != nil {
		cls := c.ClassificationValue()
		s, err := vivo.New(vivo.Options{AppID: c.AppID, AppKey: c.AppKey, AppSecret: c.AppSecret, Endpoint: c.Endpoint,
			Classification: &cls, Category: c.Category, CAFile: c.CAFile, Timeout: vendorTimeout, Now: now})
		if err := add(push.Vivo, s, err); err != nil {
			return err
		}
		a.Defaults[push.Vivo] = actors.Profile{Classification: &cls, Category: c.Category}
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
