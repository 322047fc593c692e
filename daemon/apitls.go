package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pushd-im/pushd/config"
)

// apiCert is the API's TLS certificate, read from its files at start and
// again on ReloadTLS; a handshake takes whichever is current, so a reload
// changes no listener and drops no connection.
type apiCert struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// load reads the files; on error the certificate in use stays.
func (c *apiCert) load() (*x509.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls.cert_file %s and tls.key_file %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls.cert_file %s: %w", c.certFile, err)
		}
		pair.Leaf = leaf
	}
	c.cur.Store(&pair)
	return leaf, nil
}

func (c *apiCert) config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil },
	}
}

// CheckAPITLS loads the API's certificate and key as a start would (pushd
// check-config); nil when the API serves no TLS.
func CheckAPITLS(t config.APITLS) error {
	if !t.Enabled() {
		return nil
	}
	_, err := (&apiCert{certFile: t.CertFile, keyFile: t.KeyFile}).load()
	return err
}

// ReloadTLS reads the API's certificate and key files again (pushd serve
// calls it on SIGHUP). New handshakes get the new certificate; connections
// open keep theirs. When the files do not load, the error is logged and
// returned, and the old certificate stays in use. It logs what it did.
func (d *Daemon) ReloadTLS() error {
	if d.cert == nil {
		err := errors.New("no TLS configured for the API (tls.cert_file, tls.key_file): nothing to reload")
		d.log.Warn("API certificate not reloaded", "err", err)
		return err
	}
	leaf, err := d.cert.load()
	if err != nil {
		d.log.Error("API certificate not reloaded; the old one is still served", "err", err)
		return err
	}
	d.log.Info("API certificate reloaded", "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// APIURL is the API's base URL: https://host:port with TLS, else http://.
func (d *Daemon) APIURL() string {
	if d.cert != nil {
		return "https://" + d.APIAddr()
	}
	return "http://" + d.APIAddr()
}
