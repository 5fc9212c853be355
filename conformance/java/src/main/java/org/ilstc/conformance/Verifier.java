package org.ilstc.conformance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * An independent verifier of the ILSTC corridor wire format, written from docs/signing.md: envelope
 * parsing (section 2), the signed header list and signing input (3), batch signatures (envelope
 * v3, {@link BatchProof}), verification in order (4),
 * key announcements (5), unsealing (7), and the Avro decoding of the plaintext. JDK crypto only;
 * Avro by Apache Avro Java. Usage: {@code java -cp ... org.ilstc.conformance.Verifier <repo root> [vectors.json]}.
 */
public final class Verifier {

  /** A refusal with its docs/signing.md reason code. */
  static final class Refusal extends Exception {
    final String code;

    Refusal(String code, String why) {
      super(code + ": " + why);
      this.code = code;
    }
  }

  static Refusal malformed(String why) {
    return new Refusal("malformed-envelope", why);
  }

  record Header(String name, byte[] value) {}

  static final Pattern ATTRIBUTE = Pattern.compile("[a-z0-9]{1,20}");
  static final Pattern UUID_TEXT =
      Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static final Pattern NODE_ID = Pattern.compile("[A-Z]{2}-[A-Z0-9]{2,8}");
  static final Pattern KEY_ID = Pattern.compile("[0-9a-f]{64}");
  static final Pattern URI = Pattern.compile("[A-Za-z][A-Za-z0-9+.\\-]*:[!-~]+");
  static final Pattern RFC3339 =
      Pattern.compile(
          "([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
              + "(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})");
  static final List<String> SPECIFIED =
      List.of(
          "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type",
          "ce_sigalg", "ce_keyid", "ce_subject", "ce_dataschema", "ce_recipient", "ce_sealalg",
          "ce_sealkeyid", "ce_sealepk");
  static final List<String> REQUIRED =
      List.of(
          "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type",
          "ce_sigalg", "ce_keyid", "ce_signature");
  static final String NODE_URN = "urn:ilstc:node:";
  static final HexFormat HEX = HexFormat.of();
  static final DateTimeFormatter WRITER_TIME =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

  // ------------------------------------------------------------ section 2: the envelope

  static final class Envelope {
    int version = 1; // 1, 2, or 3 (v2 + ce_sigproof: a batch signature)
    final TreeMap<String, byte[]> covered = new TreeMap<>(); // sorted by name (ASCII)
    final Map<String, String> attrs = new HashMap<>();
    byte[] signature;
    Instant time;
    byte[] sealEpk;
    BatchProof proof; // v3 only

    byte[] signingInput(byte[] value) throws Exception {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.writeBytes(
          (version >= 2 ? "ilstc-ce-signature-v2\n" : "ilstc-ce-signature-v1\n") // v3 leaf: v2
              .getBytes(StandardCharsets.US_ASCII));
      for (Map.Entry<String, byte[]> header : covered.entrySet()) {
        out.writeBytes((header.getKey() + "=").getBytes(StandardCharsets.US_ASCII));
        if (version >= 2 && header.getKey().equals("ce_time")) { // v2 signs the instant (3.2)
          out.writeBytes(WRITER_TIME.format(time).getBytes(StandardCharsets.US_ASCII));
        } else {
          out.writeBytes(header.getValue());
        }
        out.write('\n');
      }
      String digest = HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(value));
      out.writeBytes(("value-sha256=" + digest + "\n").getBytes(StandardCharsets.US_ASCII));
      return out.toByteArray();
    }

    /** What ce_signature signs: the signing input (v1, v2) or the v3 batch root message. */
    byte[] signedMessage(byte[] signingInput) {
      return proof == null ? signingInput : proof.rootMessageFor(signingInput);
    }
  }

  static byte[] canonicalBase64(String name, String text) throws Refusal {
    try {
      byte[] decoded = Base64.getDecoder().decode(text);
      if (!Base64.getEncoder().encodeToString(decoded).equals(text)) {
        throw malformed(name + " is not canonical base64");
      }
      return decoded;
    } catch (IllegalArgumentException e) {
      throw malformed(name + " is not base64");
    }
  }

  /** RFC 3339 date-time as a UTC instant at microsecond precision, or null. */
  static Instant parseTime(String text) {
    Matcher m = RFC3339.matcher(text);
    if (!m.matches()) {
      return null;
    }
    try {
      int nanos = 0;
      if (m.group(7) != null) {
        nanos = Integer.parseInt((m.group(7).substring(1) + "000000000").substring(0, 9));
      }
      ZoneOffset offset = ZoneOffset.UTC;
      String zone = m.group(8);
      if (!zone.equalsIgnoreCase("Z")) {
        int hours = Integer.parseInt(zone.substring(1, 3));
        int minutes = Integer.parseInt(zone.substring(4, 6));
        if (hours > 23 || minutes > 59) {
          return null;
        }
        int sign = zone.charAt(0) == '-' ? -1 : 1;
        offset = ZoneOffset.ofTotalSeconds(sign * (hours * 3600 + minutes * 60));
      }
      LocalDateTime local =
          LocalDateTime.of(
              Integer.parseInt(m.group(1)),
              Integer.parseInt(m.group(2)),
              Integer.parseInt(m.group(3)),
              Integer.parseInt(m.group(4)),
              Integer.parseInt(m.group(5)),
              Integer.parseInt(m.group(6)),
              nanos);
      Instant instant = local.toInstant(offset);
      int year = instant.atOffset(ZoneOffset.UTC).getYear();
      if (year < 1 || year > 9999) {
        return null;
      }
      return instant.truncatedTo(ChronoUnit.MICROS);
    } catch (DateTimeException e) {
      return null;
    }
  }

  static boolean utf8(byte[] value) {
    try {
      StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(value));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  static void checkValue(String name, byte[] value) throws Refusal {
    if (value.length < 1 || value.length > 1024) {
      throw malformed(name + " empty or over 1024 bytes");
    }
    for (byte b : value) {
      if ((b & 0xff) < 0x20 || b == 0x7f) {
        throw malformed(name + " has a control character");
      }
    }
    if (!utf8(value)) {
      throw malformed(name + " is not UTF-8");
    }
  }

  static Envelope parseEnvelope(List<Header> headers) throws Refusal {
    if (headers.size() > 64) {
      throw malformed("too many headers");
    }
    Map<String, byte[]> collected = new HashMap<>();
    for (Header h : headers) {
      if (!h.name().equals("content-type")) {
        if (!h.name().startsWith("ce_")) {
          continue; // not signed: ignored
        }
        if (!ATTRIBUTE.matcher(h.name().substring(3)).matches()
            || h.name().equals("ce_data")
            || h.name().equals("ce_datacontenttype")) {
          throw malformed("invalid attribute name " + h.name());
        }
      }
      if (collected.put(h.name(), h.value()) != null) {
        throw malformed("duplicated " + h.name());
      }
    }
    for (String name : REQUIRED) {
      if (!collected.containsKey(name)) {
        throw malformed("missing " + name);
      }
    }
    Envelope env = new Envelope();
    List<String> names = new ArrayList<>();
    byte[] listing = collected.get("ce_sigheaders");
    byte[] proofText = collected.get("ce_sigproof");
    if (proofText != null && listing == null) {
      throw malformed("ce_sigproof without ce_sigheaders (a v1 record)");
    }
    if (listing != null) {
      env.version = 2;
      String[] listed = new String(listing, StandardCharsets.ISO_8859_1).split(",", -1);
      for (int i = 0; i < listed.length; i++) {
        String name = listed[i];
        if (name.isEmpty() || (i > 0 && listed[i - 1].compareTo(name) >= 0)) {
          throw malformed("ce_sigheaders not sorted, repeated or empty name");
        }
        if (name.equals("ce_signature")
            || name.equals("ce_sigheaders")
            || name.equals("ce_sigproof")) {
          throw malformed("ce_sigheaders lists " + name);
        }
        if (!collected.containsKey(name)) {
          throw malformed("ce_sigheaders lists absent " + name);
        }
      }
      Set<String> listedSet = new HashSet<>(Arrays.asList(listed));
      for (String name : SPECIFIED) {
        if (collected.containsKey(name) && !listedSet.contains(name)) {
          throw malformed(name + " is present but not signed");
        }
      }
      names.addAll(listedSet);
      names.add("ce_sigheaders");
    } else {
      for (String name : collected.keySet()) {
        if (!name.equals("ce_signature")) {
          names.add(name);
        }
      }
    }
    for (String name : names) {
      checkValue(name, collected.get(name));
      env.covered.put(name, collected.get(name));
      env.attrs.put(name, new String(collected.get(name), StandardCharsets.UTF_8));
    }
    checkValue("ce_signature", collected.get("ce_signature"));
    if (proofText != null) {
      checkValue("ce_sigproof", proofText);
      env.proof = BatchProof.parse(new String(proofText, StandardCharsets.UTF_8));
      env.version = 3;
    }
    Map<String, String> a = env.attrs;
    if (!a.get("ce_specversion").equals("1.0")) {
      throw malformed("ce_specversion");
    }
    if (!UUID_TEXT.matcher(a.get("ce_id")).matches()) {
      throw malformed("ce_id is not a lower-case UUID");
    }
    if (a.containsKey("ce_recipient") && !NODE_ID.matcher(a.get("ce_recipient")).matches()) {
      throw malformed("ce_recipient");
    }
    if (env.version >= 2
        && a.containsKey("ce_dataschema")
        && !URI.matcher(a.get("ce_dataschema")).matches()) {
      throw malformed("ce_dataschema is not an absolute URI");
    }
    env.time = parseTime(a.get("ce_time"));
    if (env.time == null) {
      throw malformed("ce_time is not RFC 3339");
    }
    if (!KEY_ID.matcher(a.get("ce_keyid")).matches()) {
      throw malformed("ce_keyid");
    }
    int seals = 0;
    for (String name : List.of("ce_sealalg", "ce_sealkeyid", "ce_sealepk")) {
      seals += a.containsKey(name) ? 1 : 0;
    }
    if (seals != 0 && seals != 3) {
      throw malformed("incomplete ce_seal* headers");
    }
    if (seals == 3) {
      if (!KEY_ID.matcher(a.get("ce_sealkeyid")).matches()) {
        throw malformed("ce_sealkeyid");
      }
      env.sealEpk = canonicalBase64("ce_sealepk", a.get("ce_sealepk"));
      if (env.sealEpk.length != 32) {
        throw malformed("ce_sealepk is not 32 bytes");
      }
    }
    env.signature =
        canonicalBase64(
            "ce_signature", new String(collected.get("ce_signature"), StandardCharsets.UTF_8));
    return env;
  }

  // ------------------------------------------------------------ section 1: trust

  record NodeKey(
      X509Certificate cert,
      X509Certificate ca,
      String nodeId,
      String country,
      String caCountry,
      String sigalg) {}

  static String keyId(PublicKey key) throws Exception {
    return HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(key.getEncoded()));
  }

  static String attribute(X509Certificate cert, boolean subject, String type) throws Exception {
    String dn =
        (subject ? cert.getSubjectX500Principal() : cert.getIssuerX500Principal()).getName();
    String found = null;
    for (Rdn rdn : new LdapName(dn).getRdns()) {
      if (rdn.getType().equalsIgnoreCase(type)) {
        if (found != null) {
          return null;
        }
        found = rdn.getValue().toString();
      }
    }
    return found;
  }

  static final ECParameterSpec P256;

  static {
    try {
      AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
      params.init(new ECGenParameterSpec("secp256r1"));
      P256 = params.getParameterSpec(ECParameterSpec.class);
    } catch (Exception e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  static NodeKey trusted(X509Certificate cert, List<X509Certificate> trustList) throws Exception {
    X509Certificate issuer = null;
    for (X509Certificate ca : trustList) {
      if (Arrays.equals(
          ca.getSubjectX500Principal().getEncoded(), cert.getIssuerX500Principal().getEncoded())) {
        try {
          cert.verify(ca.getPublicKey());
          issuer = ca;
        } catch (Exception e) {
          // same name, other key: not this CA
        }
      }
    }
    if (issuer == null) {
      throw new Refusal("untrusted-chain", "not issued by a trust-list CA");
    }
    if (cert.getBasicConstraints() != -1) {
      throw new Refusal("untrusted-chain", "a CA certificate");
    }
    boolean[] usage = cert.getKeyUsage();
    if (usage == null || !usage[0]) {
      throw new Refusal("untrusted-chain", "no digitalSignature");
    }
    List<String> nodes = new ArrayList<>();
    if (cert.getSubjectAlternativeNames() != null) {
      for (List<?> entry : cert.getSubjectAlternativeNames()) {
        if ((Integer) entry.get(0) == 6) { // uniformResourceIdentifier
          String uri = (String) entry.get(1);
          if (uri.startsWith(NODE_URN)
              && NODE_ID.matcher(uri.substring(NODE_URN.length())).matches()) {
            nodes.add(uri.substring(NODE_URN.length()));
          }
        }
      }
    }
    if (nodes.size() != 1 || !nodes.get(0).equals(attribute(cert, true, "CN"))) {
      throw new Refusal("untrusted-chain", "does not name one node");
    }
    String sigalg = keyAlgorithm(cert.getPublicKey());
    if (sigalg == null) {
      throw new Refusal("untrusted-chain", "key type");
    }
    return new NodeKey(
        cert,
        issuer,
        nodes.get(0),
        attribute(cert, true, "C"),
        attribute(issuer, true, "C"),
        sigalg);
  }

  /** The ce_sigalg name of a key (section 1), or null. */
  static String keyAlgorithm(PublicKey key) {
    if (key.getAlgorithm().equals("EdDSA") || key.getAlgorithm().equals("Ed25519")) {
      return "ed25519";
    }
    if (key instanceof ECPublicKey ec
        && ec.getParams().getCurve().equals(P256.getCurve())
        && ec.getParams().getOrder().equals(P256.getOrder())) {
      return "ecdsa-p256-sha256";
    }
    return null;
  }

  static boolean verifySignature(PublicKey key, byte[] signature, byte[] input) {
    try {
      Signature verifier =
          Signature.getInstance(key instanceof ECPublicKey ? "SHA256withECDSA" : "Ed25519");
      verifier.initVerify(key);
      verifier.update(input);
      return verifier.verify(signature);
    } catch (Exception e) {
      return false;
    }
  }

  // ------------------------------------------------------------ section 4: verification

  final String receiver;
  final List<X509Certificate> trustList;
  final Map<String, X509Certificate> known = new HashMap<>();
  final Map<String, Instant> revoked = new HashMap<>();
  final Set<String> seen = new HashSet<>();
  final Instant now;
  final Duration skew;
  final Duration maxAge;
  final byte[] sealingPrivate;

  Verifier(JsonNode context) throws Exception {
    receiver = context.get("receiver").asText();
    trustList = certificates(context.get("trust_list_pem"));
    for (X509Certificate cert : certificates(context.get("known_certificates_pem"))) {
      known.put(keyId(cert.getPublicKey()), cert);
    }
    for (JsonNode r : context.get("revocations")) {
      revoked.put(r.get("key_id").asText(), parseTime(r.get("revoked_at").asText()));
    }
    for (JsonNode s : context.get("replay_seen")) {
      seen.add(s.asText());
    }
    now = parseTime(context.get("now").asText());
    skew = Duration.ofSeconds(context.get("allowed_skew_seconds").asLong());
    maxAge =
        Duration.ofSeconds(context.get("replay_retention_seconds").asLong()).minus(skew);
    sealingPrivate =
        Base64.getDecoder().decode(context.get("receiver_sealing_private_key_base64").asText());
  }

  static List<X509Certificate> certificates(JsonNode pems) throws Exception {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    List<X509Certificate> out = new ArrayList<>();
    for (JsonNode pem : pems) {
      out.add(
          (X509Certificate)
              factory.generateCertificate(
                  new ByteArrayInputStream(pem.asText().getBytes(StandardCharsets.US_ASCII))));
    }
    return out;
  }

  /** {@code input}: the signing input (v3: the leaf); {@code signed}: what the key signed. */
  record Accepted(String sender, byte[] input, byte[] signed, byte[] plain) {}

  /** Checks one record; {@code appended} is the broker's append time (null when unknown). */
  Accepted verify(List<Header> headers, byte[] value, Instant appended) throws Exception {
    Envelope env = parseEnvelope(headers);
    String source = env.attrs.get("ce_source");
    String sender = source.startsWith(NODE_URN) ? source.substring(NODE_URN.length()) : "";
    if (!NODE_ID.matcher(sender).matches()) {
      throw malformed("ce_source is not a node URN");
    }
    X509Certificate cert = known.get(env.attrs.get("ce_keyid"));
    if (cert == null) {
      throw new Refusal("unknown-key-id", "no certificate");
    }
    NodeKey key = trusted(cert, trustList);
    Instant notBefore = max(cert.getNotBefore().toInstant(), key.ca().getNotBefore().toInstant());
    Instant notAfter = min(cert.getNotAfter().toInstant(), key.ca().getNotAfter().toInstant());
    Instant judged = env.time; // section 4, "Judged time"
    if (appended != null) {
      judged = max(judged, min(appended, now).minus(skew));
    }
    if (env.time.isBefore(notBefore) || judged.isAfter(notAfter)) {
      throw new Refusal("certificate-not-valid-at-time", "outside validity");
    }
    if (key.country() == null
        || !key.country().equals(key.caCountry())
        || !sender.substring(0, 2).equals(key.country())) {
      throw new Refusal("country-mismatch", "country");
    }
    if (!source.equals(NODE_URN + key.nodeId())) {
      throw new Refusal("source-mismatch", "another node's key");
    }
    Instant revokedAt = revoked.get(env.attrs.get("ce_keyid"));
    if (revokedAt != null && !judged.isBefore(revokedAt)) {
      throw new Refusal("revoked", "revoked");
    }
    byte[] input = env.signingInput(value);
    byte[] signed = env.signedMessage(input);
    if (!env.attrs.get("ce_sigalg").equals(key.sigalg())
        || !verifySignature(cert.getPublicKey(), env.signature, signed)) {
      throw new Refusal("bad-signature", "signature");
    }
    if (!receiver.equals(env.attrs.get("ce_recipient"))) {
      throw new Refusal("wrong-recipient", "recipient");
    }
    if (Duration.between(now, env.time).compareTo(skew) > 0) {
      throw new Refusal("clock-skew", "ahead");
    }
    if (Duration.between(env.time, now).compareTo(maxAge) > 0) {
      throw new Refusal("too-old", "old");
    }
    if (seen.contains(source + " " + env.attrs.get("ce_id"))) {
      throw new Refusal("replay", "seen");
    }
    byte[] plain = env.sealEpk == null ? value : unseal(env, sender, value);
    return new Accepted(sender, input, signed, plain);
  }

  static Instant max(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  static Instant min(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }

  // ------------------------------------------------------------ section 7: sealed values

  static final byte[] X25519_SPKI_PREFIX = HEX.parseHex("302a300506032b656e032100");
  static final byte[] X25519_PKCS8_PREFIX = HEX.parseHex("302e020100300506032b656e04220420");

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }

  static byte[] x25519(byte[] privateRaw, byte[] publicRaw) throws Exception {
    KeyFactory factory = KeyFactory.getInstance("X25519");
    PrivateKey privateKey =
        factory.generatePrivate(new PKCS8EncodedKeySpec(concat(X25519_PKCS8_PREFIX, privateRaw)));
    PublicKey publicKey =
        factory.generatePublic(new X509EncodedKeySpec(concat(X25519_SPKI_PREFIX, publicRaw)));
    KeyAgreement agreement = KeyAgreement.getInstance("X25519");
    agreement.init(privateKey);
    agreement.doPhase(publicKey, true);
    return agreement.generateSecret();
  }

  static byte[] hkdfSha256(byte[] ikm, byte[] salt, byte[] info, int length) throws Exception {
    Mac extract = Mac.getInstance("HmacSHA256");
    extract.init(new SecretKeySpec(salt, "HmacSHA256"));
    byte[] prk = extract.doFinal(ikm);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] block = new byte[0];
    for (int counter = 1; out.size() < length; counter++) {
      Mac expand = Mac.getInstance("HmacSHA256");
      expand.init(new SecretKeySpec(prk, "HmacSHA256"));
      expand.update(block);
      expand.update(info);
      expand.update((byte) counter);
      block = expand.doFinal();
      out.writeBytes(block);
    }
    return Arrays.copyOf(out.toByteArray(), length);
  }

  static byte[] field(String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    return concat(new byte[] {(byte) (bytes.length >> 8), (byte) bytes.length}, bytes);
  }

  byte[] unseal(Envelope env, String sender, byte[] value) throws Refusal {
    try {
      if (!env.attrs.get("ce_sealalg").equals("x25519-hkdf-sha256-aes256gcm")) {
        throw new Refusal("unseal-failed", "algorithm");
      }
      byte[] basePoint = new byte[32];
      basePoint[0] = 9;
      byte[] publicRaw = x25519(sealingPrivate, basePoint);
      String sealKeyId =
          HEX.formatHex(
              MessageDigest.getInstance("SHA-256").digest(concat(X25519_SPKI_PREFIX, publicRaw)));
      if (!sealKeyId.equals(env.attrs.get("ce_sealkeyid"))) {
        throw new Refusal("unseal-failed", "sealed to another key");
      }
      byte[] shared = x25519(sealingPrivate, env.sealEpk);
      byte[] context =
          concat(
              field("ilstc-seal-v1"),
              field(sender),
              field(env.attrs.get("ce_recipient")),
              field(env.attrs.get("ce_id")));
      byte[] okm = hkdfSha256(shared, concat(env.sealEpk, publicRaw), context, 44);
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(
          Cipher.DECRYPT_MODE,
          new SecretKeySpec(Arrays.copyOf(okm, 32), "AES"),
          new GCMParameterSpec(128, Arrays.copyOfRange(okm, 32, 44)));
      cipher.updateAAD(context);
      return cipher.doFinal(value);
    } catch (Refusal r) {
      throw r;
    } catch (Exception e) {
      throw new Refusal("unseal-failed", e.toString());
    }
  }

  // ------------------------------------------------------------ section 5: key announcements

  static final Set<String> REASONS =
      Set.of(
          "unspecified",
          "key-compromise",
          "affiliation-changed",
          "superseded",
          "cessation-of-operation");

  Map<String, Object> applyAnnouncement(List<Header> headers, byte[] value, byte[] recordKey)
      throws Exception {
    Envelope env = parseEnvelope(headers);
    if (!env.attrs.get("ce_type").equals("org.ilstc.customs.keyannouncement.v1")
        || !env.attrs.get("content-type").equals("application/json")) {
      throw new Refusal("malformed-announcement", "not a key announcement");
    }
    X509Certificate ca = null;
    for (X509Certificate candidate : trustList) {
      if (keyId(candidate.getPublicKey()).equals(env.attrs.get("ce_keyid"))) {
        ca = candidate;
      }
    }
    if (ca == null) {
      throw new Refusal("unknown-key-id", "not a trust-list CA");
    }
    String caCountry = attribute(ca, true, "C");
    if (!env.attrs.get("ce_source").equals("urn:ilstc:ca:" + caCountry)) {
      throw new Refusal("source-mismatch", "another CA's URN");
    }
    if (!env.attrs.get("ce_sigalg").equals(keyAlgorithm(ca.getPublicKey()))
        || !verifySignature(
            ca.getPublicKey(), env.signature, env.signedMessage(env.signingInput(value)))) {
      throw new Refusal("bad-signature", "signature");
    }
    JsonNode body;
    try {
      body = MAPPER.readTree(value);
    } catch (Exception e) {
      throw new Refusal("malformed-announcement", "not JSON");
    }
    if (body == null || !body.isObject() || !body.path("certificate").isTextual()) {
      throw new Refusal("malformed-announcement", "not an announcement object");
    }
    String kind = body.path("kind").asText("");
    if (!kind.equals("node-certificate") && !kind.equals("revocation")) {
      throw new Refusal("malformed-announcement", "kind");
    }
    X509Certificate cert;
    try {
      cert =
          (X509Certificate)
              CertificateFactory.getInstance("X.509")
                  .generateCertificate(
                      new ByteArrayInputStream(
                          body.get("certificate").asText().getBytes(StandardCharsets.US_ASCII)));
    } catch (Exception e) {
      throw new Refusal("malformed-announcement", "certificate is not PEM");
    }
    NodeKey key = trusted(cert, trustList);
    if (!caCountry.equals(key.caCountry()) || !caCountry.equals(key.country())) {
      throw new Refusal("country-mismatch", "another country's node");
    }
    String announcedKey = keyId(cert.getPublicKey());
    String announced = kind.equals("revocation") ? "revoked:" + announcedKey : announcedKey;
    if (!announced.equals(env.attrs.get("ce_subject"))) {
      throw new Refusal("malformed-announcement", "ce_subject is not what it announces");
    }
    if (recordKey == null
        || !announced.equals(new String(recordKey, StandardCharsets.ISO_8859_1))) {
      throw new Refusal("malformed-announcement", "the record key is not what it announces");
    }
    Map<String, Object> result = new TreeMap<>();
    result.put("kind", kind);
    result.put("key_id", announcedKey);
    result.put("node_id", key.nodeId());
    if (kind.equals("revocation")) {
      String revokedAt = body.path("revoked_at").asText("");
      if (parseTime(revokedAt) == null || !REASONS.contains(body.path("reason").asText(""))) {
        throw new Refusal("malformed-announcement", "revocation fields");
      }
      result.put("revoked_at", revokedAt);
    }
    return result;
  }

  // ------------------------------------------------------------ Avro, the kit's JSON form

  static final ObjectMapper MAPPER =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  static final Map<Long, Schema> SCHEMAS = new HashMap<>();

  static void loadSchemas(Path root) throws Exception {
    JsonNode published = MAPPER.readTree(root.resolve("conformance/fingerprints.json").toFile());
    for (JsonNode entry : published.get("schemas")) {
      Schema schema = new Schema.Parser().parse(root.resolve(entry.get("file").asText()).toFile());
      long fingerprint = SchemaNormalization.parsingFingerprint64(schema);
      // The framed bytes are little-endian; parsingFingerprint64 returns the number.
      byte[] framed =
          ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(fingerprint).array();
      if (!HEX.formatHex(framed).equals(entry.get("fingerprint_hex").asText())) {
        throw new IllegalStateException(
            entry.get("file").asText() + ": Apache Avro Java fingerprint " + HEX.formatHex(framed)
                + ", published " + entry.get("fingerprint_hex").asText());
      }
      SCHEMAS.put(fingerprint, schema);
    }
  }

  static Object decode(byte[] framed) throws Exception {
    if (framed.length < 10 || (framed[0] & 0xff) != 0xc3 || framed[1] != 0x01) {
      throw new IllegalArgumentException("not single-object framed");
    }
    long fingerprint = ByteBuffer.wrap(framed, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    Schema schema = SCHEMAS.get(fingerprint);
    if (schema == null) {
      throw new IllegalArgumentException("unknown fingerprint");
    }
    // GenericData without conversions: logical types stay their base types (the kit's form).
    GenericDatumReader<Object> reader = new GenericDatumReader<>(schema, schema, new GenericData());
    BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(framed, 10, framed.length - 10, null);
    Object datum = reader.read(null, decoder);
    if (!decoder.isEnd()) {
      throw new IllegalArgumentException("bytes left over");
    }
    return normalize(datum);
  }

  static Object normalize(Object value) {
    if (value instanceof GenericRecord record) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Schema.Field f : record.getSchema().getFields()) {
        out.put(f.name(), normalize(record.get(f.name())));
      }
      return out;
    }
    if (value instanceof GenericEnumSymbol<?> || value instanceof CharSequence) {
      return value.toString();
    }
    if (value instanceof ByteBuffer buffer) {
      byte[] bytes = new byte[buffer.remaining()];
      buffer.duplicate().get(bytes);
      return HEX.formatHex(bytes);
    }
    if (value instanceof GenericFixed fixed) {
      return HEX.formatHex(fixed.bytes());
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> out = new TreeMap<>();
      map.forEach((k, v) -> out.put(k.toString(), normalize(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>();
      list.forEach(item -> out.add(normalize(item)));
      return out;
    }
    return value; // Integer, Long, Float, Double, Boolean, null
  }

  static String canonical(Object value) throws Exception {
    Object plain = value instanceof JsonNode node ? MAPPER.treeToValue(node, Object.class) : value;
    return MAPPER.writeValueAsString(MAPPER.readValue(MAPPER.writeValueAsString(plain), Object.class));
  }

  // ------------------------------------------------------------ running the kit

  String check(JsonNode vector) throws Exception {
    List<Header> headers = new ArrayList<>();
    for (JsonNode h : vector.get("headers")) {
      headers.add(new Header(h.get(0).asText(), Base64.getDecoder().decode(h.get(1).asText())));
    }
    byte[] value = Base64.getDecoder().decode(vector.get("value_base64").asText());
    JsonNode expected = vector.get("expected");
    String want = expected.get("outcome").asText();
    String wantCode = expected.path("code").asText("");
    byte[] recordKey =
        vector.path("key_base64").isTextual()
            ? Base64.getDecoder().decode(vector.get("key_base64").asText())
            : null;
    Instant appended =
        vector.path("appended_at").isTextual()
            ? parseTime(vector.get("appended_at").asText())
            : null;
    try {
      if (vector.get("kind").asText().equals("announcement")) {
        Map<String, Object> result = applyAnnouncement(headers, value, recordKey);
        if (!want.equals("accept")) {
          return "accepted, want refuse " + wantCode;
        }
        if (!canonical(result).equals(canonical(expected.get("announcement")))) {
          return "announcement " + result;
        }
        return null;
      }
      Accepted got = verify(headers, value, appended);
      if (!want.equals("accept")) {
        return "accepted, want refuse " + wantCode;
      }
      Base64.Decoder b64 = Base64.getDecoder();
      if (!got.sender().equals(expected.get("sender").asText())
          || !Arrays.equals(got.input(), b64.decode(expected.get("signing_input_base64").asText()))
          || !Arrays.equals(got.plain(), b64.decode(expected.get("plaintext_base64").asText()))) {
        return "sender, signing input or plaintext differ";
      }
      JsonNode rootMessage = expected.path("root_message_base64"); // v3: what the key signed
      if (rootMessage.isTextual()
          && !Arrays.equals(got.signed(), b64.decode(rootMessage.asText()))) {
        return "root message differs: " + new String(got.signed(), StandardCharsets.US_ASCII);
      }
      String decoded = canonical(decode(got.plain()));
      String wanted = canonical(expected.get("decoded"));
      if (!decoded.equals(wanted)) {
        int at = 0;
        while (at < decoded.length() && at < wanted.length()
            && decoded.charAt(at) == wanted.charAt(at)) {
          at++;
        }
        return "decoded JSON differs at " + at + ": "
            + decoded.substring(Math.max(0, at - 40), Math.min(decoded.length(), at + 40));
      }
      return null;
    } catch (Refusal r) {
      if (want.equals("refuse") && r.code.equals(wantCode)) {
        return null;
      }
      return "refused " + r.getMessage() + ", want " + want + " " + wantCode;
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1 && args.length != 2) {
      System.err.println("usage: Verifier <repository root> [vectors.json]");
      System.exit(2);
    }
    Path root = Path.of(args[0]);
    loadSchemas(root);
    Path vectors = args.length == 2 ? Path.of(args[1]) : root.resolve("conformance/vectors.json");
    JsonNode kit = MAPPER.readTree(vectors.toFile());
    Verifier verifier = new Verifier(kit.get("context"));
    int failures = 0;
    for (JsonNode vector : kit.get("vectors")) {
      String problem = verifier.check(vector);
      JsonNode expected = vector.get("expected");
      if (problem == null) {
        System.out.println("ok   " + vector.get("name").asText() + " ("
            + expected.get("outcome").asText() + " " + expected.path("code").asText("") + ")");
      } else {
        failures++;
        System.out.println("FAIL " + vector.get("name").asText() + ": " + problem);
      }
    }
    if (failures > 0) {
      System.out.println(failures + " vector(s) failed");
      System.exit(1);
    }
    System.out.println("all vectors pass");
  }
}
