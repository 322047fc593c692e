package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// ErrPeerRefused wraps a failed mutual-TLS check against a peer: this node could not verify the
// peer's certificate, or the peer refused this node's.
var ErrPeerRefused = errors.New("cluster: peer failed mutual TLS")

// TLS is a node's mutual-TLS material for traffic between nodes. One certificate, signed by the
// cluster CA, serves as the node's server and client certificate; only certificates signed by that
// CA are accepted either way.
type TLS struct {
	cert tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
	ca   *x509.Certificate
}

// LoadTLS reads a node's certificate, its key and the cluster CA (PEM files), and checks that they
// belong together: the key is the certificate's, the certificate is signed by the CA, valid now
// and good for both server and client authentication. Each problem names the file it is about.
func LoadTLS(certFile, keyFile, caFile string) (*TLS, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	ca, err := parseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("ca_file %s: %w", caFile, err)
	}
	if !ca.IsCA {
		return nil, fmt.Errorf("ca_file %s: the certificate %q is not a CA", caFile, ca.Subject.CommonName)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key_file: %w", err)
	}
	return newTLS(certPEM, keyPEM, ca, certFile)
}

func newTLS(certPEM, keyPEM []byte, ca *x509.Certificate, certName string) (*TLS, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cert_file %s with key_file: %w", certName, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cert_file %s: %w", certName, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			return nil, fmt.Errorf("cert_file %s is not a node certificate of ca_file's CA %q: %w",
				certName, ca.Subject.CommonName, err)
		}
	}
	if len(leaf.IPAddresses) == 0 && len(leaf.DNSNames) == 0 {
		return nil, fmt.Errorf("cert_file %s names no address (IP or DNS): peers could not verify it", certName)
	}
	return &TLS{cert: pair, leaf: leaf, pool: pool, ca: ca}, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// ServerConfig is the TLS config of a listener for other nodes: it requires a client certificate
// signed by the cluster CA.
func (t *TLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		ClientCAs:    t.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// ClientConfig is the TLS config for dialling another node: the peer's certificate must be signed
// by the cluster CA and name the address dialled; this node presents its own.
func (t *TLS) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{t.cert},
		RootCAs:      t.pool,
	}
}

// CAFingerprint is the hex SHA-256 of the CA certificate, cut to 16 bytes: the default cluster id,
// so that nodes of clusters with different CAs refuse each other already at the gossip layer.
func (t *TLS) CAFingerprint() string {
	sum := sha256.Sum256(t.ca.Raw)
	return hex.EncodeToString(sum[:16])
}

// peerVerdictWait is how long VerifyPeer waits after its handshake for the peer to refuse this
// node's certificate: TLS 1.3 finishes the client's side before the server has checked it.
const peerVerdictWait = 300 * time.Millisecond

// VerifyPeer dials addr (host:port of a peer's TLS listener), completes a mutual-TLS handshake and
// waits briefly for the peer's verdict on this node's certificate. It returns an error wrapping
// ErrPeerRefused when either side rejects the other.
func (t *TLS) VerifyPeer(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("cluster: peer address %q: %w", addr, err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cluster: dial %s: %w", addr, err)
	}
	defer raw.Close()
	cfg := t.ClientConfig()
	cfg.ServerName = host
	cfg.NextProtos = []string{"h2"} // the peers' listeners are gRPC servers
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrPeerRefused, addr, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(peerVerdictWait))
	var buf [64]byte
	_, err = conn.Read(buf[:])
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		return nil // the peer accepted us: it spoke (HTTP/2 settings) or stayed silent
	}
	return fmt.Errorf("%w: %s refused this node's certificate: %w", ErrPeerRefused, addr, err)
}

// ParseGossipKey decodes a gossip key file's text: base64 of 16, 24 or 32 bytes (AES-128, -192 or
// -256), surrounding whitespace ignored.
func ParseGossipKey(text []byte) ([]byte, error) {
	s := bytes.TrimSpace(text)
	key := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(key, s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	key = key[:n]
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes, want 16, 24 or 32", len(key))
}
