// An independent verifier of the ILSTC corridor wire format, written from docs/signing.md.
//
// It checks every vector of conformance/vectors.json: envelope parsing (section 2), the signed
// header list and the signing input (section 3), batch signatures (envelope v3: `ce_sigproof`,
// RFC 9162 inclusion proofs, batch.go), verification in the specified order (section 4), key
// announcements (section 5), unsealing (section 7), and the Avro decoding of the plaintext
// (single-object framing, schemas from conformance/fingerprints.json). Standard library crypto
// only; Avro by github.com/hamba/avro.
//
//	go run . <repository root> [vectors.json]
//
// Prints one line per vector and exits 1 if any vector's outcome differs from the expected one.
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// ---------------------------------------------------------------- the kit's files

type header struct {
	name  string
	value []byte
}

type vector struct {
	Name     string          `json:"name"`
	Kind     string          `json:"kind"`
	Headers  [][2]string     `json:"headers"`
	Value    string          `json:"value_base64"`
	Key      *string         `json:"key_base64"`
	Appended string          `json:"appended_at"`
	Expected json.RawMessage `json:"expected"`
}

type kitContext struct {
	Receiver         string   `json:"receiver"`
	SealingKey       string   `json:"receiver_sealing_private_key_base64"`
	Now              string   `json:"now"`
	AllowedSkew      int64    `json:"allowed_skew_seconds"`
	ReplayRetention  int64    `json:"replay_retention_seconds"`
	TrustList        []string `json:"trust_list_pem"`
	KnownCertificate []string `json:"known_certificates_pem"`
	Revocations      []struct {
		KeyID     string `json:"key_id"`
		RevokedAt string `json:"revoked_at"`
	} `json:"revocations"`
	ReplaySeen []string `json:"replay_seen"`
}

type kit struct {
	Context kitContext `json:"context"`
	Vectors []vector   `json:"vectors"`
}

type fingerprintEntry struct {
	File          string `json:"file"`
	FingerprintLE uint64 `json:"fingerprint_uint64_le"`
	FingerprintHx string `json:"fingerprint_hex"`
}

// ---------------------------------------------------------------- refusals

type refusal struct{ code, why string }

func (r *refusal) Error() string { return r.code + ": " + r.why }

func refuse(code, format string, args ...any) *refusal {
	return &refusal{code, fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *refusal {
	return refuse("malformed-envelope", format, args...)
}

// ---------------------------------------------------------------- section 2: the envelope

var (
	attributeName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)
	uuidText      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	nodeID        = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{2,8}$`)
	keyID         = regexp.MustCompile(`^[0-9a-f]{64}$`)
	absoluteURI   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:[!-~]+$`)
	rfc3339       = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)
	specified     = []string{"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time",
		"content-type", "ce_sigalg", "ce_keyid", "ce_subject", "ce_dataschema", "ce_recipient",
		"ce_sealalg", "ce_sealkeyid", "ce_sealepk"}
	required = []string{"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time",
		"content-type", "ce_sigalg", "ce_keyid", "ce_signature"}
)

type envelope struct {
	version   int               // 1, 2, or 3 (v2 + ce_sigproof: a batch signature)
	attrs     map[string]string // covered headers, decoded
	covered   []header          // sorted by name
	signature []byte
	time      time.Time
	sealed    bool
	sealEPK   []byte
	proof     *sigProof // v3 only
}

func canonicalBase64(name string, text string) ([]byte, *refusal) {
	decoded, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil || base64.StdEncoding.EncodeToString(decoded) != text {
		return nil, malformed("%s is not canonical base64", name)
	}
	return decoded, nil
}

func parseTime(text string) (time.Time, bool) {
	m := rfc3339.FindStringSubmatch(text)
	if m == nil {
		return time.Time{}, false
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	year, month, day, hour, minute, second := n(m[1]), n(m[2]), n(m[3]), n(m[4]), n(m[5]), n(m[6])
	if month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || day < 1 {
		return time.Time{}, false
	}
	nanos := 0
	if m[7] != "" {
		digits := (m[7][1:] + "000000000")[:9]
		nanos = n(digits)
	}
	offset := 0
	if zone := m[8]; zone != "Z" && zone != "z" {
		oh, om := n(zone[1:3]), n(zone[4:6])
		if oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if zone[0] == '-' {
			offset = -offset
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, nanos, time.FixedZone("", offset))
	if t.Day() != day || int(t.Month()) != month { // normalised: no such date
		return time.Time{}, false
	}
	utc := t.UTC()
	if utc.Year() < 1 || utc.Year() > 9999 {
		return time.Time{}, false
	}
	return utc.Truncate(time.Microsecond), true // the spec compares at microsecond precision
}

func parseEnvelope(headers []header) (*envelope, *refusal) {
	if len(headers) > 64 {
		return nil, malformed("%d headers", len(headers))
	}
	collected := map[string][]byte{}
	for _, h := range headers {
		if h.name != "content-type" {
			if !strings.HasPrefix(h.name, "ce_") {
				continue // not signed, ignored
			}
			if !attributeName.MatchString(h.name[3:]) || h.name == "ce_data" || h.name == "ce_datacontenttype" {
				return nil, malformed("invalid attribute name %q", h.name)
			}
		}
		if _, seen := collected[h.name]; seen {
			return nil, malformed("duplicated %s", h.name)
		}
		collected[h.name] = h.value
	}
	for _, name := range required {
		if _, ok := collected[name]; !ok {
			return nil, malformed("missing %s", name)
		}
	}
	env := &envelope{version: 1, attrs: map[string]string{}}
	coveredNames := []string{}
	proofText, batch := collected["ce_sigproof"]
	listing, v2 := collected["ce_sigheaders"]
	if batch && !v2 {
		return nil, malformed("ce_sigproof without ce_sigheaders (a v1 record)")
	}
	if v2 {
		env.version = 2
		names := strings.Split(string(listing), ",")
		for i, name := range names {
			if name == "" || (i > 0 && names[i-1] >= name) {
				return nil, malformed("ce_sigheaders not sorted, repeated or empty name")
			}
			if name == "ce_signature" || name == "ce_sigheaders" || name == "ce_sigproof" {
				return nil, malformed("ce_sigheaders lists %s", name)
			}
			if _, present := collected[name]; !present {
				return nil, malformed("ce_sigheaders lists absent %s", name)
			}
		}
		listed := map[string]bool{}
		for _, name := range names {
			listed[name] = true
		}
		for _, name := range specified {
			if _, present := collected[name]; present && !listed[name] {
				return nil, malformed("%s is present but not signed", name)
			}
		}
		coveredNames = append(names, "ce_sigheaders")
	} else {
		for name := range collected {
			if name != "ce_signature" {
				coveredNames = append(coveredNames, name)
			}
		}
	}
	sort.Strings(coveredNames)
	check := func(name string, value []byte) *refusal {
		if len(value) < 1 || len(value) > 1024 {
			return malformed("%s empty or over 1024 bytes", name)
		}
		for _, b := range value {
			if b < 0x20 || b == 0x7f {
				return malformed("%s has a control character", name)
			}
		}
		if !utf8.Valid(value) {
			return malformed("%s is not UTF-8", name)
		}
		return nil
	}
	for _, name := range coveredNames {
		if r := check(name, collected[name]); r != nil {
			return nil, r
		}
		env.covered = append(env.covered, header{name, collected[name]})
		env.attrs[name] = string(collected[name])
	}
	if r := check("ce_signature", collected["ce_signature"]); r != nil {
		return nil, r
	}
	if batch {
		if r := check("ce_sigproof", proofText); r != nil {
			return nil, r
		}
		proof, r := parseSigProof(string(proofText))
		if r != nil {
			return nil, r
		}
		env.version, env.proof = 3, proof
	}
	a := env.attrs
	if a["ce_specversion"] != "1.0" {
		return nil, malformed("ce_specversion")
	}
	if !uuidText.MatchString(a["ce_id"]) {
		return nil, malformed("ce_id is not a lower-case UUID")
	}
	if r, ok := a["ce_recipient"]; ok && !nodeID.MatchString(r) {
		return nil, malformed("ce_recipient")
	}
	if d, ok := a["ce_dataschema"]; ok && env.version >= 2 && !absoluteURI.MatchString(d) {
		return nil, malformed("ce_dataschema is not an absolute URI")
	}
	t, ok := parseTime(a["ce_time"])
	if !ok {
		return nil, malformed("ce_time is not RFC 3339")
	}
	env.time = t
	if !keyID.MatchString(a["ce_keyid"]) {
		return nil, malformed("ce_keyid")
	}
	seals := 0
	for _, name := range []string{"ce_sealalg", "ce_sealkeyid", "ce_sealepk"} {
		if _, ok := a[name]; ok {
			seals++
		}
	}
	if seals != 0 && seals != 3 {
		return nil, malformed("incomplete ce_seal* headers")
	}
	if seals == 3 {
		env.sealed = true
		if !keyID.MatchString(a["ce_sealkeyid"]) {
			return nil, malformed("ce_sealkeyid")
		}
		epk, r := canonicalBase64("ce_sealepk", a["ce_sealepk"])
		if r != nil {
			return nil, r
		}
		if len(epk) != 32 {
			return nil, malformed("ce_sealepk is not 32 bytes")
		}
		env.sealEPK = epk
	}
	sig, r := canonicalBase64("ce_signature", string(collected["ce_signature"]))
	if r != nil {
		return nil, r
	}
	env.signature = sig
	return env, nil
}

// ---------------------------------------------------------------- section 3: signing input

func (e *envelope) signingInput(value []byte) []byte {
	var b bytes.Buffer
	if e.version >= 2 { // a v3 leaf is the v2 signing input
		b.WriteString("ilstc-ce-signature-v2\n")
	} else {
		b.WriteString("ilstc-ce-signature-v1\n")
	}
	for _, h := range e.covered {
		b.WriteString(h.name)
		b.WriteByte('=')
		if e.version >= 2 && h.name == "ce_time" { // v2 signs the instant (section 3.2)
			b.WriteString(e.time.UTC().Format("2006-01-02T15:04:05.000000Z"))
		} else {
			b.Write(h.value)
		}
		b.WriteByte('\n')
	}
	digest := sha256.Sum256(value)
	b.WriteString("value-sha256=" + hex.EncodeToString(digest[:]) + "\n")
	return b.Bytes()
}

// ---------------------------------------------------------------- section 1: trust

type nodeKey struct {
	cert      *x509.Certificate
	ca        *x509.Certificate
	nodeID    string
	country   string
	caCountry string
	sigalg    string
}

func spkiKeyID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func country(name []string) string {
	if len(name) != 1 {
		return ""
	}
	return name[0]
}

// trusted checks a node certificate against the trust list (docs/signing.md section 1).
func trusted(cert *x509.Certificate, trustList []*x509.Certificate) (*nodeKey, *refusal) {
	var issuer *x509.Certificate
	for _, ca := range trustList {
		if bytes.Equal(ca.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(ca) == nil {
			issuer = ca
		}
	}
	if issuer == nil {
		return nil, refuse("untrusted-chain", "not issued by a trust-list CA")
	}
	if cert.BasicConstraintsValid && cert.IsCA {
		return nil, refuse("untrusted-chain", "a CA certificate")
	}
	if cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, refuse("untrusted-chain", "no digitalSignature")
	}
	var node string
	count := 0
	for _, uri := range cert.URIs {
		s := uri.String()
		if strings.HasPrefix(s, "urn:ilstc:node:") && nodeID.MatchString(s[len("urn:ilstc:node:"):]) {
			node = s[len("urn:ilstc:node:"):]
			count++
		}
	}
	if count != 1 || cert.Subject.CommonName != node {
		return nil, refuse("untrusted-chain", "does not name one node")
	}
	key := &nodeKey{cert: cert, ca: issuer, nodeID: node,
		country: country(cert.Subject.Country), caCountry: country(issuer.Subject.Country)}
	sigalg, r := keyAlgorithm(cert)
	if r != nil {
		return nil, r
	}
	key.sigalg = sigalg
	return key, nil
}

// keyAlgorithm is the ce_sigalg name of a certificate's key (section 1).
func keyAlgorithm(cert *x509.Certificate) (string, *refusal) {
	switch pub := cert.PublicKey.(type) {
	case ed25519.PublicKey:
		return "ed25519", nil
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P256() {
			return "ecdsa-p256-sha256", nil
		}
	}
	return "", refuse("untrusted-chain", "key type")
}

func verifySignature(cert *x509.Certificate, signature, input []byte) bool {
	switch pub := cert.PublicKey.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(pub, input, signature)
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(input)
		return ecdsa.VerifyASN1(pub, digest[:], signature)
	}
	return false
}

// ---------------------------------------------------------------- section 4: verification

type verifier struct {
	receiver     string
	trustList    []*x509.Certificate
	known        map[string]*x509.Certificate
	revoked      map[string]time.Time
	seen         map[string]bool
	now          time.Time
	skew, maxAge time.Duration
	sealingKey   *ecdh.PrivateKey
}

type accepted struct {
	sender string
	input  []byte // the signing input (for v3: the leaf)
	signed []byte // what the signature verified: the signing input, or the v3 root message
	plain  []byte
}

// verify checks one record; appended is the broker's append time (zero when unknown).
func (v *verifier) verify(headers []header, value []byte, appended time.Time) (*accepted, *refusal) {
	env, r := parseEnvelope(headers)
	if r != nil {
		return nil, r
	}
	source := env.attrs["ce_source"]
	sender := strings.TrimPrefix(source, "urn:ilstc:node:")
	if !strings.HasPrefix(source, "urn:ilstc:node:") || !nodeID.MatchString(sender) {
		return nil, malformed("ce_source is not a node URN")
	}
	cert, ok := v.known[env.attrs["ce_keyid"]]
	if !ok {
		return nil, refuse("unknown-key-id", "no certificate")
	}
	key, r := trusted(cert, v.trustList)
	if r != nil {
		return nil, r
	}
	notBefore, notAfter := cert.NotBefore, cert.NotAfter
	if key.ca.NotBefore.After(notBefore) {
		notBefore = key.ca.NotBefore
	}
	if key.ca.NotAfter.Before(notAfter) {
		notAfter = key.ca.NotAfter
	}
	judged := env.time // section 4, "Judged time"
	if !appended.IsZero() {
		bound := appended
		if v.now.Before(bound) {
			bound = v.now
		}
		if bound = bound.Add(-v.skew); bound.After(judged) {
			judged = bound
		}
	}
	if env.time.Before(notBefore) || judged.After(notAfter) {
		return nil, refuse("certificate-not-valid-at-time", "outside validity")
	}
	if key.country != key.caCountry || sender[:2] != key.country {
		return nil, refuse("country-mismatch", "country")
	}
	if source != "urn:ilstc:node:"+key.nodeID {
		return nil, refuse("source-mismatch", "another node's key")
	}
	if at, ok := v.revoked[env.attrs["ce_keyid"]]; ok && !judged.Before(at) {
		return nil, refuse("revoked", "revoked")
	}
	input := env.signingInput(value)
	signed := env.signedMessage(input)
	if env.attrs["ce_sigalg"] != key.sigalg || !verifySignature(cert, env.signature, signed) {
		return nil, refuse("bad-signature", "signature")
	}
	if env.attrs["ce_recipient"] != v.receiver {
		return nil, refuse("wrong-recipient", "recipient")
	}
	if env.time.Sub(v.now) > v.skew {
		return nil, refuse("clock-skew", "ahead")
	}
	if v.now.Sub(env.time) > v.maxAge {
		return nil, refuse("too-old", "old")
	}
	if v.seen[source+" "+env.attrs["ce_id"]] {
		return nil, refuse("replay", "seen")
	}
	plain := value
	if env.sealed {
		plain, r = v.unseal(env, sender, value)
		if r != nil {
			return nil, r
		}
	}
	return &accepted{sender, input, signed, plain}, nil
}

// ---------------------------------------------------------------- section 7: sealed values

func hkdfSHA256(ikm, salt, info []byte, length int) []byte {
	extract := hmac.New(sha256.New, salt)
	extract.Write(ikm)
	prk := extract.Sum(nil)
	var out, block []byte
	for counter := byte(1); len(out) < length; counter++ {
		expand := hmac.New(sha256.New, prk)
		expand.Write(block)
		expand.Write(info)
		expand.Write([]byte{counter})
		block = expand.Sum(nil)
		out = append(out, block...)
	}
	return out[:length]
}

func field(text string) []byte {
	out := make([]byte, 2, 2+len(text))
	binary.BigEndian.PutUint16(out, uint16(len(text)))
	return append(out, text...)
}

func (v *verifier) unseal(env *envelope, sender string, value []byte) ([]byte, *refusal) {
	fail := refuse("unseal-failed", "cannot unseal")
	if env.attrs["ce_sealalg"] != "x25519-hkdf-sha256-aes256gcm" {
		return nil, fail
	}
	public := v.sealingKey.PublicKey()
	spki, err := x509.MarshalPKIXPublicKey(public)
	if err != nil || spkiKeyID(spki) != env.attrs["ce_sealkeyid"] {
		return nil, fail
	}
	peer, err := ecdh.X25519().NewPublicKey(env.sealEPK)
	if err != nil {
		return nil, fail
	}
	shared, err := v.sealingKey.ECDH(peer)
	if err != nil {
		return nil, fail
	}
	context := bytes.Join([][]byte{field("ilstc-seal-v1"), field(sender),
		field(env.attrs["ce_recipient"]), field(env.attrs["ce_id"])}, nil)
	okm := hkdfSHA256(shared, append(append([]byte{}, env.sealEPK...), public.Bytes()...), context, 44)
	block, _ := aes.NewCipher(okm[:32])
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, okm[32:44], value, context)
	if err != nil {
		return nil, fail
	}
	return plain, nil
}

// ---------------------------------------------------------------- section 5: key announcements

type announcementBody struct {
	Certificate *string `json:"certificate"`
	Kind        string  `json:"kind"`
	Reason      string  `json:"reason"`
	RevokedAt   string  `json:"revoked_at"`
}

var revocationReasons = map[string]bool{"unspecified": true, "key-compromise": true,
	"affiliation-changed": true, "superseded": true, "cessation-of-operation": true}

func applyAnnouncement(trustList []*x509.Certificate, headers []header, value []byte, recordKey []byte) (map[string]string, *refusal) {
	bad := func(why string) *refusal { return refuse("malformed-announcement", "%s", why) }
	env, r := parseEnvelope(headers)
	if r != nil {
		return nil, r
	}
	if env.attrs["ce_type"] != "org.ilstc.customs.keyannouncement.v1" || env.attrs["content-type"] != "application/json" {
		return nil, bad("not a key announcement")
	}
	var ca *x509.Certificate
	for _, candidate := range trustList {
		if spkiKeyID(candidate.RawSubjectPublicKeyInfo) == env.attrs["ce_keyid"] {
			ca = candidate
		}
	}
	if ca == nil {
		return nil, refuse("unknown-key-id", "not a trust-list CA")
	}
	caCountry := country(ca.Subject.Country)
	if env.attrs["ce_source"] != "urn:ilstc:ca:"+caCountry {
		return nil, refuse("source-mismatch", "another CA's URN")
	}
	caKey, r := keyAlgorithm(ca)
	if r != nil || env.attrs["ce_sigalg"] != caKey || !verifySignature(ca, env.signature, env.signedMessage(env.signingInput(value))) {
		return nil, refuse("bad-signature", "signature")
	}
	var body announcementBody
	if json.Unmarshal(value, &body) != nil || body.Certificate == nil {
		return nil, bad("not an announcement object")
	}
	if body.Kind != "node-certificate" && body.Kind != "revocation" {
		return nil, bad("kind")
	}
	block, _ := pem.Decode([]byte(*body.Certificate))
	if block == nil {
		return nil, bad("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, bad("certificate is not PEM")
	}
	key, r := trusted(cert, trustList)
	if r != nil {
		return nil, r
	}
	if key.caCountry != caCountry || key.country != caCountry {
		return nil, refuse("country-mismatch", "another country's node")
	}
	announcedKey := spkiKeyID(cert.RawSubjectPublicKeyInfo)
	announced := announcedKey
	if body.Kind == "revocation" {
		announced = "revoked:" + announcedKey
	}
	if env.attrs["ce_subject"] != announced {
		return nil, bad("ce_subject is not what the announcement announces")
	}
	if string(recordKey) != announced {
		return nil, bad("the record key is not what the announcement announces")
	}
	result := map[string]string{"kind": body.Kind, "key_id": announcedKey, "node_id": key.nodeID}
	if body.Kind == "revocation" {
		if _, ok := parseTime(body.RevokedAt); !ok || !revocationReasons[body.Reason] {
			return nil, bad("revocation fields")
		}
		result["revoked_at"] = body.RevokedAt
	}
	return result, nil
}

// ---------------------------------------------------------------- Avro, the kit's JSON form

func stripLogical(node any) any {
	switch n := node.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range n {
			if k != "logicalType" {
				out[k] = stripLogical(v)
			}
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = stripLogical(v)
		}
		return out
	}
	return node
}

// normalize turns what hamba/avro decoded into the kit's decoded-JSON form (README).
func normalize(schema avro.Schema, value any) any {
	switch s := schema.(type) {
	case *avro.RefSchema: // a named type used again
		return normalize(s.Schema(), value)
	case *avro.RecordSchema:
		m := value.(map[string]any)
		out := map[string]any{}
		for _, f := range s.Fields() {
			out[f.Name()] = normalize(f.Type(), m[f.Name()])
		}
		return out
	case *avro.UnionSchema:
		if value == nil {
			return nil
		}
		if m, ok := value.(map[string]any); ok && len(m) == 1 {
			for name, inner := range m { // hamba/avro: {"branch name": value}
				for _, typ := range s.Types() {
					if branchName(typ) == name {
						return normalize(typ, inner)
					}
				}
			}
		}
		for _, typ := range s.Types() {
			if typ.Type() != avro.Null {
				return normalize(typ, value)
			}
		}
	case *avro.ArraySchema:
		items := value.([]any)
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = normalize(s.Items(), item)
		}
		return out
	case *avro.MapSchema:
		out := map[string]any{}
		for k, item := range value.(map[string]any) {
			out[k] = normalize(s.Values(), item)
		}
		return out
	case *avro.FixedSchema:
		rv := reflect.ValueOf(value)
		raw := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(raw), rv)
		return hex.EncodeToString(raw)
	case *avro.PrimitiveSchema:
		if s.Type() == avro.Bytes {
			return hex.EncodeToString(value.([]byte))
		}
	}
	return value
}

func branchName(schema avro.Schema) string {
	if ref, ok := schema.(*avro.RefSchema); ok {
		schema = ref.Schema()
	}
	if named, ok := schema.(avro.NamedSchema); ok {
		return named.FullName()
	}
	return string(schema.Type())
}

type schemas struct {
	byFingerprint map[uint64]avro.Schema
}

func loadSchemas(root string, entries []fingerprintEntry) (*schemas, error) {
	out := &schemas{byFingerprint: map[uint64]avro.Schema{}}
	for _, e := range entries {
		text, err := os.ReadFile(filepath.Join(root, e.File))
		if err != nil {
			return nil, err
		}
		var definition any
		if err := json.Unmarshal(text, &definition); err != nil {
			return nil, err
		}
		plainText, _ := json.Marshal(stripLogical(definition))
		plain, err := avro.ParseBytesWithCache(plainText, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.File, err)
		}
		// hamba/avro keeps logicalType in its canonical form, against the specification's
		// [STRIP] rule (which keeps only type, name, fields, symbols, items, values, size): the
		// canonical form of the schema without logical types is the specification's.
		sum, err := plain.FingerprintUsing(avro.CRC64Avro)
		if err != nil {
			return nil, err
		}
		if got := binary.BigEndian.Uint64(sum); got != e.FingerprintLE {
			return nil, fmt.Errorf("%s: fingerprint %016x, published %s", e.File, got, e.FingerprintHx)
		}
		out.byFingerprint[e.FingerprintLE] = plain
	}
	return out, nil
}

func (s *schemas) decode(framed []byte) (any, error) {
	if len(framed) < 10 || framed[0] != 0xc3 || framed[1] != 0x01 {
		return nil, fmt.Errorf("not single-object framed")
	}
	schema, ok := s.byFingerprint[binary.LittleEndian.Uint64(framed[2:10])]
	if !ok {
		return nil, fmt.Errorf("unknown fingerprint %x", framed[2:10])
	}
	var value any
	if err := avro.Unmarshal(schema, framed[10:], &value); err != nil {
		return nil, err
	}
	return normalize(schema, value), nil
}

// ---------------------------------------------------------------- running the kit

func parsePEMs(texts []string) []*x509.Certificate {
	var out []*x509.Certificate
	for _, text := range texts {
		block, _ := pem.Decode([]byte(text))
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			panic(err)
		}
		out = append(out, cert)
	}
	return out
}

func canonicalJSON(value any) string {
	text, _ := json.Marshal(value)
	var back any
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber()
	_ = decoder.Decode(&back)
	again, _ := json.Marshal(back)
	return string(again)
}

func run(root, vectorsPath string) (int, error) {
	var k kit
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return 0, err
	}
	var fp struct {
		Schemas []fingerprintEntry `json:"schemas"`
	}
	raw, err = os.ReadFile(filepath.Join(root, "conformance", "fingerprints.json"))
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw, &fp); err != nil {
		return 0, err
	}
	avroSchemas, err := loadSchemas(root, fp.Schemas)
	if err != nil {
		return 0, err
	}
	c := k.Context
	now, _ := parseTime(c.Now)
	sealingRaw, _ := base64.StdEncoding.DecodeString(c.SealingKey)
	sealingKey, err := ecdh.X25519().NewPrivateKey(sealingRaw)
	if err != nil {
		return 0, err
	}
	v := &verifier{receiver: c.Receiver, trustList: parsePEMs(c.TrustList),
		known: map[string]*x509.Certificate{}, revoked: map[string]time.Time{}, seen: map[string]bool{},
		now: now, skew: time.Duration(c.AllowedSkew) * time.Second,
		maxAge:     time.Duration(c.ReplayRetention-c.AllowedSkew) * time.Second,
		sealingKey: sealingKey}
	for _, cert := range parsePEMs(c.KnownCertificate) {
		v.known[spkiKeyID(cert.RawSubjectPublicKeyInfo)] = cert
	}
	for _, r := range c.Revocations {
		v.revoked[r.KeyID], _ = parseTime(r.RevokedAt)
	}
	for _, key := range c.ReplaySeen {
		v.seen[key] = true
	}
	failures := 0
	for _, vec := range k.Vectors {
		var expected map[string]any
		decoder := json.NewDecoder(bytes.NewReader(vec.Expected))
		decoder.UseNumber()
		if err := decoder.Decode(&expected); err != nil {
			return 0, err
		}
		var headers []header
		for _, h := range vec.Headers {
			value, _ := base64.StdEncoding.DecodeString(h[1])
			headers = append(headers, header{h[0], value})
		}
		value, _ := base64.StdEncoding.DecodeString(vec.Value)
		var recordKey []byte
		if vec.Key != nil {
			recordKey, _ = base64.StdEncoding.DecodeString(*vec.Key)
		}
		var appended time.Time
		if vec.Appended != "" {
			appended, _ = parseTime(vec.Appended)
		}
		problem := check(v, avroSchemas, vec.Kind, headers, value, recordKey, appended, expected)
		if problem != "" {
			failures++
			fmt.Printf("FAIL %s: %s\n", vec.Name, problem)
		} else {
			fmt.Printf("ok   %s (%v)\n", vec.Name, expected["outcome"].(string)+" "+fmt.Sprint(orEmpty(expected["code"])))
		}
	}
	return failures, nil
}

func orEmpty(value any) any {
	if value == nil {
		return ""
	}
	return value
}

// outcomeProblem compares a refusal (or its absence) with the expected outcome; done is true
// when nothing more is to be checked (a refusal, or an acceptance that should not be).
func outcomeProblem(r *refusal, expected map[string]any) (string, bool) {
	want := expected["outcome"]
	if r != nil {
		if want == "refuse" && r.code == expected["code"] {
			return "", true
		}
		return fmt.Sprintf("refused %s, want %v %v", r, want, orEmpty(expected["code"])), true
	}
	if want != "accept" {
		return fmt.Sprintf("accepted, want refuse %v", expected["code"]), true
	}
	return "", false
}

func check(v *verifier, s *schemas, kind string, headers []header, value, recordKey []byte, appended time.Time, expected map[string]any) string {
	if kind == "announcement" {
		result, r := applyAnnouncement(v.trustList, headers, value, recordKey)
		if problem, done := outcomeProblem(r, expected); done {
			return problem
		}
		if canonicalJSON(result) != canonicalJSON(expected["announcement"]) {
			return fmt.Sprintf("announcement %v, want %v", result, expected["announcement"])
		}
		return ""
	}
	got, r := v.verify(headers, value, appended)
	if problem, done := outcomeProblem(r, expected); done {
		return problem
	}
	input, _ := base64.StdEncoding.DecodeString(expected["signing_input_base64"].(string))
	plain, _ := base64.StdEncoding.DecodeString(expected["plaintext_base64"].(string))
	if got.sender != expected["sender"] || !bytes.Equal(got.input, input) || !bytes.Equal(got.plain, plain) {
		return "sender, signing input or plaintext differ"
	}
	if text, ok := expected["root_message_base64"].(string); ok { // v3: what the key signed
		if root, _ := base64.StdEncoding.DecodeString(text); !bytes.Equal(got.signed, root) {
			return fmt.Sprintf("root message %q differs", got.signed)
		}
	}
	decoded, err := s.decode(got.plain)
	if err != nil {
		return "decode: " + err.Error()
	}
	if canonicalJSON(decoded) != canonicalJSON(expected["decoded"]) {
		got, want := []rune(canonicalJSON(decoded)), []rune(canonicalJSON(expected["decoded"]))
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		from := max(0, at-40)
		return fmt.Sprintf("decoded JSON differs at character %d: got ...%s", at,
			string(got[from:min(len(got), at+40)]))
	}
	return ""
}

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: verifier <repository root> [vectors.json]")
		os.Exit(2)
	}
	vectors := filepath.Join(os.Args[1], "conformance", "vectors.json")
	if len(os.Args) == 3 {
		vectors = os.Args[2]
	}
	failures, err := run(os.Args[1], vectors)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	if failures > 0 {
		fmt.Printf("%d vector(s) failed\n", failures)
		os.Exit(1)
	}
	fmt.Println("all vectors pass")
}
