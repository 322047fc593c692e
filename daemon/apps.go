package daemon

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/pushd-im/pushd/actors"
	"github.com/pushd-im/pushd/config"
	"github.com/pushd-im/pushd/push"
	"github.com/pushd-im/pushd/transport/api"
	"github.com/pushd-im/pushd/transport/vendors/apns"
	"github.com/pushd-im/pushd/transport/vendors/fcm"
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

// simProviders points every provider the simulator speaks at it.
func (d *Daemon) simProviders() config.Providers {
	dir := d.simDir()
	c := d.sim.Credentials()
	ca := filepath.Join(dir, vendorsim.FileCACert)
	return config.Providers{
		APNs: &config.APNs{
			TeamID: c.APNs.TeamID, KeyID: c.APNs.KeyID, KeyFile: filepath.Join(dir, vendorsim.FileAPNsKey), BundleID: c.APNs.BundleID,
			EndpointProduction: d.sim.Endpoint(push.APNs), EndpointDevelopment: d.sim.Endpoint(push.APNs), CAFile: ca,
		},
		FCM: &config.FCM{
			ServiceAccountFile: filepath.Join(dir, vendorsim.FileFCMServiceAccount), ProjectID: c.FCM.ProjectID,
			Endpoint: d.sim.Endpoint(push.FCM), CAFile: ca,
		},
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
		if d.sim != nil && !providerSet(provs) {
			provs = d.simProviders()
		}
		a := &actors.App{ID: ca.ID, Senders: map[push.Provider]push.Sender{}, RateLimits: map[push.Provider]actors.RateLimit{}}
		if provs.APNs != nil {
			p := provs.APNs
			c, err := apns.New(apns.Options{
				TeamID: p.TeamID, KeyID: p.KeyID, KeyFile: p.KeyFile, CertFile: p.CertFile, CertPassword: p.CertPassword,
				BundleID: p.BundleID, EndpointProduction: p.EndpointProduction, EndpointDevelopment: p.EndpointDevelopment,
				CAFile: p.CAFile, Timeout: vendorTimeout,
			})
			if err != nil {
				return nil, nil, fmt.Errorf("apps[%s].providers.apns: %w", ca.ID, err)
			}
			a.Senders[push.APNs] = c
			a.BundleID = p.BundleID
		}
		if provs.FCM != nil {
			p := provs.FCM
			c, err := fcm.New(fcm.Options{ServiceAccountFile: p.ServiceAccountFile, ProjectID: p.ProjectID, Endpoint: p.Endpoint, CAFile: p.CAFile, Timeout: vendorTimeout})
			if err != nil {
				return nil, nil, fmt.Errorf("apps[%s].providers.fcm: %w", ca.ID, err)
			}
			a.Senders[push.FCM] = c
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
		apiApps = append(apiApps, &api.App{ID: ca.ID, APIKeys: ca.APIKeys, ClientTokenSecret: []byte(ca.ClientTokenSecret), Resources: resources})
	}
	return apps, apiApps, nil
}
