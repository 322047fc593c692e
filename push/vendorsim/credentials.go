package vendorsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DemoBundleID is the iOS bundle id (and Android package name) of the simulated demo app.
const DemoBundleID = "im.pushd.demo"

// DemoProjectID is the Firebase project id of the simulated demo app.
const DemoProjectID = "pushd-demo"

// The file names Credentials.Save writes and LoadCredentials reads.
const (
	FileCACert            = "ca.pem"
	FileCAKey             = "ca-key.pem"
	FileServerCert        = "server.pem"
	FileServerKey         = "server-key.pem"
	FileAPNsKey           = "apns-key.p8"
	FileAPNsClientCert    = "apns-client.pem"
	FileAPNsClientKey     = "apns-client-key.pem"
	FileFCMKey            = "fcm-service-account-key.pem"
	FileSecrets           = "secrets.json"
	FileFCMServiceAccount = "fcm-service-account.json" // written by Run once the token URI is known
	FilePushdProviders    = "pushd-providers.yaml"     // written by Run: the providers block of a pushd app
)

// Validity of the generated certificates. The server certificate stays under Apple's
// 825-day limit for TLS server certificates so macOS clients accept it too.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 800 * 24 * time.Hour
	clientValidity = 800 * 24 * time.Hour
)

// oidUID is the userId attribute Apple puts the bundle id in, in APNs client certificates.
var oidUID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// ErrBadCredentials is returned when credentials are incomplete or do not parse.
var ErrBadCredentials = errors.New("vendorsim: bad credentials")

// Credentials is everything a pushd app needs to talk to the simulator, and what the
// simulator checks requests against. All keys and ids are generated fresh by
// GenerateCredentials; Save and LoadCredentials keep them in a directory.
type Credentials struct {
	// CACertPEM is the self-signed ECDSA CA that signs the server and client
	// certificates; clients trust it (ca_file).
	CACertPEM []byte
	CAKeyPEM  []byte
	// ServerCertPEM is the TLS certificate for 127.0.0.1, ::1 and localhost.
	ServerCertPEM []byte
	ServerKeyPEM  []byte

	APNs   APNsCredentials
	FCM    FCMCredentials
	HMS    HMSCredentials
	Xiaomi XiaomiCredentials
	OPPO   OPPOCredentials
	Vivo   VivoCredentials
}

// APNsCredentials are the Apple provider credentials: a token-auth .p8 key and a
// certificate-auth client certificate.
type APNsCredentials struct {
	TeamID   string `json:"team_id"`   // 10 characters
	KeyID    string `json:"key_id"`    // 10 characters, the JWT kid
	BundleID string `json:"bundle_id"` // the apns-topic
	// KeyPEM is the .p8 signing key: PKCS#8 PEM of a P-256 key.
	KeyPEM []byte `json:"-"`
	// ClientCertPEM and ClientKeyPEM are a certificate-auth identity signed by the CA
	// (subject "Apple Push Services: <bundle>", UID <bundle>); the key is RSA PKCS#8.
	ClientCertPEM []byte `json:"-"`
	ClientKeyPEM  []byte `json:"-"`
}

// FCMCredentials are a Firebase service account. ServiceAccountJSON renders them as
// the JSON file Google hands out.
type FCMCredentials struct {
	ProjectID    string `json:"project_id"`
	ClientEmail  string `json:"client_email"`
	ClientID     string `json:"client_id"`
	PrivateKeyID string `json:"private_key_id"`
	// PrivateKeyPEM is the RSA 2048 key, PKCS#8 PEM.
	PrivateKeyPEM []byte `json:"-"`
}

// HMSCredentials are a Huawei Push Kit OAuth client.
type HMSCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// XiaomiCredentials are a MiPush app.
type XiaomiCredentials struct {
	AppSecret   string `json:"app_secret"`
	PackageName string `json:"package_name"`
}

// OPPOCredentials are an OPPO push app.
type OPPOCredentials struct {
	AppKey       string `json:"app_key"`
	MasterSecret string `json:"master_secret"`
}

// VivoCredentials are a vivo push app.
type VivoCredentials struct {
	AppID     int    `json:"app_id"`
	AppKey    string `json:"app_key"`
	AppSecret string `json:"app_secret"`
}

// secretsFile is the shape of secrets.json: every id and secret that is not a PEM.
type secretsFile struct {
	APNs   APNsCredentials   `json:"apns"`
	FCM    FCMCredentials    `json:"fcm"`
	HMS    HMSCredentials    `json:"hms"`
	Xiaomi XiaomiCredentials `json:"xiaomi"`
	OPPO   OPPOCredentials   `json:"oppo"`
	Vivo   VivoCredentials   `json:"vivo"`
}

// GenerateCredentials makes a fresh CA, server certificate and a full set of vendor
// credentials for the demo app.
func GenerateCredentials() (*Credentials, error) {
	now := time.Now()
	c := &Credentials{}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "pushd vendor simulator CA", Organization: []string{"pushd"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := signCert(caTmpl, nil, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	c.CACertPEM = pemBlock("CERTIFICATE", caDER)
	if c.CAKeyPEM, err = pkcs8PEM(caKey); err != nil {
		return nil, err
	}

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serverDER, _, err := signCert(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost", Organization: []string{"pushd"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(serverValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	c.ServerCertPEM = pemBlock("CERTIFICATE", serverDER)
	if c.ServerKeyPEM, err = pkcs8PEM(serverKey); err != nil {
		return nil, err
	}

	// APNs: a .p8 token key and a certificate-auth identity.
	c.APNs.TeamID = randomID(10)
	c.APNs.KeyID = randomID(10)
	c.APNs.BundleID = DemoBundleID
	apnsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if c.APNs.KeyPEM, err = pkcs8PEM(apnsKey); err != nil {
		return nil, err
	}
	clientKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	clientDER, _, err := signCert(&x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "Apple Push Services: " + c.APNs.BundleID,
			OrganizationalUnit: []string{c.APNs.TeamID},
			Organization:       []string{"pushd demo"},
			Country:            []string{"US"},
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: oidUID, Value: c.APNs.BundleID}},
		},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(clientValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, &clientKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	c.APNs.ClientCertPEM = pemBlock("CERTIFICATE", clientDER)
	if c.APNs.ClientKeyPEM, err = pkcs8PEM(clientKey); err != nil {
		return nil, err
	}

	// FCM: a service account.
	fcmKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if c.FCM.PrivateKeyPEM, err = pkcs8PEM(fcmKey); err != nil {
		return nil, err
	}
	c.FCM.ProjectID = DemoProjectID
	c.FCM.ClientEmail = "pushd-sim@" + DemoProjectID + ".iam.gserviceaccount.com"
	c.FCM.ClientID = randomDigits(21)
	c.FCM.PrivateKeyID = randomHex(20)

	// The static-secret vendors, reserved for their simulators.
	c.HMS = HMSCredentials{ClientID: "1" + randomDigits(8), ClientSecret: randomHex(32)}
	c.Xiaomi = XiaomiCredentials{AppSecret: randomID(24), PackageName: DemoBundleID}
	c.OPPO = OPPOCredentials{AppKey: randomHex(16), MasterSecret: randomHex(16)}
	c.Vivo = VivoCredentials{AppID: 100000 + int(randomUint(900000)), AppKey: randomHex(16), AppSecret: randomHex(16)}

	if _, err := c.parse(); err != nil {
		return nil, err
	}
	return c, nil
}

// ServiceAccountJSON renders the FCM service account as the JSON key file Google
// hands out, with token_uri set to tokenURI (the simulator's AuthEndpoint(push.FCM)).
func (c *Credentials) ServiceAccountJSON(tokenURI string) []byte {
	b, err := json.MarshalIndent(map[string]string{
		"type":           "service_account",
		"project_id":     c.FCM.ProjectID,
		"private_key_id": c.FCM.PrivateKeyID,
		"private_key":    string(c.FCM.PrivateKeyPEM),
		"client_email":   c.FCM.ClientEmail,
		"client_id":      c.FCM.ClientID,
		"token_uri":      tokenURI,
	}, "", "  ")
	if err != nil { // a map of strings always marshals
		panic(err)
	}
	return append(b, '\n')
}

// CAPool returns a pool holding the simulator's CA, for clients' RootCAs.
func (c *Credentials) CAPool() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CACertPEM) {
		return nil, fmt.Errorf("%w: no CA certificate", ErrBadCredentials)
	}
	return pool, nil
}

// ClientTLSConfig returns a TLS client configuration that trusts the simulator's CA.
func (c *Credentials) ClientTLSConfig() (*tls.Config, error) {
	pool, err := c.CAPool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// APNsClientCertificate returns the APNs certificate-auth identity, for a client's
// tls.Config.Certificates.
func (c *Credentials) APNsClientCertificate() (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(c.APNs.ClientCertPEM, c.APNs.ClientKeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: apns client certificate: %v", ErrBadCredentials, err)
	}
	return cert, nil
}

// credentialFile maps a file in the credentials directory to the field holding it.
type credentialFile struct {
	name    string
	field   func(c *Credentials) *[]byte
	private bool
}

// credentialFiles lists the PEM files of a credentials directory.
var credentialFiles = []credentialFile{
	{FileCACert, func(c *Credentials) *[]byte { return &c.CACertPEM }, false},
	{FileCAKey, func(c *Credentials) *[]byte { return &c.CAKeyPEM }, true},
	{FileServerCert, func(c *Credentials) *[]byte { return &c.ServerCertPEM }, false},
	{FileServerKey, func(c *Credentials) *[]byte { return &c.ServerKeyPEM }, true},
	{FileAPNsKey, func(c *Credentials) *[]byte { return &c.APNs.KeyPEM }, true},
	{FileAPNsClientCert, func(c *Credentials) *[]byte { return &c.APNs.ClientCertPEM }, false},
	{FileAPNsClientKey, func(c *Credentials) *[]byte { return &c.APNs.ClientKeyPEM }, true},
	{FileFCMKey, func(c *Credentials) *[]byte { return &c.FCM.PrivateKeyPEM }, true},
}

// Save writes the credentials to dir (created 0700 if missing): the PEM files, and
// secrets.json last, so that a directory with secrets.json is complete. Private keys
// and secrets.json are 0600, certificates 0644.
func (c *Credentials) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range credentialFiles {
		perm := fs.FileMode(0o644)
		if f.private {
			perm = 0o600
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), *f.field(c), perm); err != nil {
			return err
		}
	}
	secrets, err := json.MarshalIndent(secretsFile{
		APNs: c.APNs, FCM: c.FCM, HMS: c.HMS, Xiaomi: c.Xiaomi, OPPO: c.OPPO, Vivo: c.Vivo,
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, FileSecrets), append(secrets, '\n'), 0o600)
}

// LoadCredentials reads credentials that Save wrote to dir and checks that they parse.
func LoadCredentials(dir string) (*Credentials, error) {
	c := &Credentials{}
	raw, err := os.ReadFile(filepath.Join(dir, FileSecrets))
	if err != nil {
		return nil, err
	}
	var s secretsFile
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCredentials, FileSecrets, err)
	}
	c.APNs, c.FCM, c.HMS, c.Xiaomi, c.OPPO, c.Vivo = s.APNs, s.FCM, s.HMS, s.Xiaomi, s.OPPO, s.Vivo
	for _, f := range credentialFiles {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, err
		}
		*f.field(c) = b
	}
	if _, err := c.parse(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadOrGenerateCredentials loads the credentials in dir, or, when dir holds none
// (no secrets.json), generates fresh ones and saves them there.
func LoadOrGenerateCredentials(dir string) (*Credentials, error) {
	c, err := LoadCredentials(dir)
	if err == nil {
		return c, nil
	}
	if _, statErr := os.Stat(filepath.Join(dir, FileSecrets)); !errors.Is(statErr, fs.ErrNotExist) {
		return nil, err // present but broken: do not overwrite it
	}
	if c, err = GenerateCredentials(); err != nil {
		return nil, err
	}
	if err := c.Save(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// parsedCredentials are the keys and certificates the simulator checks against.
type parsedCredentials struct {
	server  tls.Certificate
	caPool  *x509.CertPool
	apnsKey *ecdsa.PublicKey
	fcmKey  *rsa.PublicKey
}

// parse checks that every credential is present and parses, and returns the public
// halves the simulator verifies with.
func (c *Credentials) parse() (*parsedCredentials, error) {
	var problems []string
	need := func(name, v string) {
		if v == "" {
			problems = append(problems, name+" is empty")
		}
	}
	need("apns.team_id", c.APNs.TeamID)
	need("apns.key_id", c.APNs.KeyID)
	need("apns.bundle_id", c.APNs.BundleID)
	need("fcm.project_id", c.FCM.ProjectID)
	need("fcm.client_email", c.FCM.ClientEmail)
	need("fcm.private_key_id", c.FCM.PrivateKeyID)

	p := &parsedCredentials{}
	var err error
	if p.caPool, err = c.CAPool(); err != nil {
		problems = append(problems, "ca: no certificate")
	}
	if p.server, err = tls.X509KeyPair(c.ServerCertPEM, c.ServerKeyPEM); err != nil {
		problems = append(problems, "server certificate: "+err.Error())
	}
	if key, err := parsePKCS8PEM(c.APNs.KeyPEM); err != nil {
		problems = append(problems, "apns key: "+err.Error())
	} else if ec, ok := key.(*ecdsa.PrivateKey); !ok || ec.Curve != elliptic.P256() {
		problems = append(problems, "apns key: not a P-256 key")
	} else {
		p.apnsKey = &ec.PublicKey
	}
	if _, err := c.APNsClientCertificate(); err != nil {
		problems = append(problems, "apns client certificate: "+err.Error())
	}
	if key, err := parsePKCS8PEM(c.FCM.PrivateKeyPEM); err != nil {
		problems = append(problems, "fcm key: "+err.Error())
	} else if rk, ok := key.(*rsa.PrivateKey); !ok {
		problems = append(problems, "fcm key: not an RSA key")
	} else {
		p.fcmKey = &rk.PublicKey
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrBadCredentials, strings.Join(problems, "; "))
	}
	return p, nil
}

// signCert signs tmpl with signer (self-signed when parent is nil) after giving it a
// random serial number.
func signCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return der, cert, err
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func pkcs8PEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func parsePKCS8PEM(b []byte) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParsePKCS8PrivateKey(block.Bytes)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, so a reader never sees half a key, and leaves it with perm.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// idAlphabet is the alphabet of Apple team and key ids.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomID returns n characters of A-Z0-9.
func randomID(n int) string {
	return randomFrom(idAlphabet, n)
}

func randomDigits(n int) string {
	return randomFrom("0123456789", n)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[randomUint(uint64(len(alphabet)))]
	}
	return string(b)
}

// randomUint returns a uniform random number in [0, n).
func randomUint(n uint64) uint64 {
	v, err := rand.Int(rand.Reader, new(big.Int).SetUint64(n))
	if err != nil { // crypto/rand does not fail on supported platforms
		panic(err)
	}
	return v.Uint64()
}

// randomHex returns n random bytes as lower-case hex.
// derive is a stable id or secret of n characters of alphabet for label,
// drawn from the CA key. A vendor simulated later than the credentials file's
// fields (Honor) keeps its ids in no file, yet gets the same ones from the
// same credentials directory, so adding one changes no file format.
func (c *Credentials) derive(label, alphabet string, n int) string {
	out := make([]byte, 0, n)
	for block := byte(0); len(out) < n; block++ {
		m := hmac.New(sha256.New, c.CAKeyPEM)
		m.Write(append([]byte(label), block))
		for _, b := range m.Sum(nil) {
			if len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
