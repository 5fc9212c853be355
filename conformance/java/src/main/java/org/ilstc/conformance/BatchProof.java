package org.ilstc.conformance;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Batch signatures (envelope v3, docs/signing.md): one signature over the RFC 9162 Merkle tree
 * head of a batch of signing inputs; each record carries its inclusion proof in {@code
 * ce_sigproof = index ";" size ";" path}.
 */
record BatchProof(int index, int size, List<byte[]> path) {

  static final int MAX_SIZE = 1024;

  /** No sign, no leading zeros ("0" itself allowed), ASCII digits only. */
  static final Pattern DECIMAL = Pattern.compile("0|[1-9][0-9]{0,4}");

  /** Parses {@code index;size;path} with every rule of the specification. */
  static BatchProof parse(String text) throws Verifier.Refusal {
    String[] parts = text.split(";", -1);
    if (parts.length != 3) {
      throw Verifier.malformed("ce_sigproof is not index;size;path");
    }
    if (!DECIMAL.matcher(parts[0]).matches()) {
      throw Verifier.malformed("ce_sigproof index is not a canonical decimal");
    }
    if (!DECIMAL.matcher(parts[1]).matches()) {
      throw Verifier.malformed("ce_sigproof size is not a canonical decimal");
    }
    int index = Integer.parseInt(parts[0]);
    int size = Integer.parseInt(parts[1]);
    if (size < 1 || size > MAX_SIZE) {
      throw Verifier.malformed("ce_sigproof size is not 1-" + MAX_SIZE);
    }
    if (index >= size) {
      throw Verifier.malformed("ce_sigproof index " + index + " >= size " + size);
    }
    byte[] raw = Verifier.canonicalBase64("ce_sigproof path", parts[2]);
    if (raw.length % 32 != 0) {
      throw Verifier.malformed("ce_sigproof path is not a whole number of hashes");
    }
    int want = proofLength(index, size);
    if (raw.length / 32 != want) {
      throw Verifier.malformed(
          "ce_sigproof path has " + raw.length / 32 + " hashes, (" + index + ", " + size
              + ") needs " + want);
    }
    List<byte[]> path = new ArrayList<>();
    for (int at = 0; at < raw.length; at += 32) {
      path.add(Arrays.copyOfRange(raw, at, at + 32));
    }
    return new BatchProof(index, size, List.copyOf(path));
  }

  /**
   * The number of hashes RFC 9162 section 2.1.3.2 consumes for (index, size): its loop without
   * the hashing.
   */
  static int proofLength(int index, int size) {
    int fn = index;
    int sn = size - 1;
    int count = 0;
    while (sn != 0) {
      if ((fn & 1) == 1 || fn == sn) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
      fn >>= 1;
      sn >>= 1;
      count++;
    }
    return count;
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] leafHash(byte[] leaf) {
    MessageDigest digest = sha256();
    digest.update((byte) 0x00);
    return digest.digest(leaf);
  }

  static byte[] nodeHash(byte[] left, byte[] right) {
    MessageDigest digest = sha256();
    digest.update((byte) 0x01);
    digest.update(left);
    return digest.digest(right);
  }

  /**
   * RFC 9162 section 2.1.3.2: the root an inclusion proof leads to from a leaf hash, or null when
   * the path has too many or too few hashes.
   */
  static byte[] root(int index, int size, byte[] leafHash, List<byte[]> path) {
    if (index < 0 || index >= size) {
      return null;
    }
    int fn = index;
    int sn = size - 1;
    byte[] r = leafHash;
    for (byte[] p : path) {
      if (sn == 0) {
        return null;
      }
      if ((fn & 1) == 1 || fn == sn) {
        r = nodeHash(p, r);
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1;
      sn >>= 1;
    }
    return sn == 0 ? r : null;
  }

  /** What the key signs for a batch: three LF-terminated ASCII lines. */
  static byte[] rootMessage(int size, byte[] root) {
    return ("ilstc-ce-batch-v1\ntree-size=" + size + "\nroot-sha256="
            + HexFormat.of().formatHex(root) + "\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** The root message of the tree this proof leads to from a record's signing input. */
  byte[] rootMessageFor(byte[] signingInput) {
    byte[] root = root(index, size, leafHash(signingInput), path);
    if (root == null) { // parse() checked the count
      throw new IllegalStateException("inclusion proof length was not checked");
    }
    return rootMessage(size, root);
  }

  /** The canonical header text of a proof (what a writer puts in ce_sigproof). */
  static String format(int index, int size, List<byte[]> path) {
    byte[] raw = new byte[32 * path.size()];
    for (int i = 0; i < path.size(); i++) {
      System.arraycopy(path.get(i), 0, raw, 32 * i, 32);
    }
    return index + ";" + size + ";" + Base64.getEncoder().encodeToString(raw);
  }
}
