package org.ilstc.conformance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The batch-signature proof code against RFC 9162 itself, independent of the kit's vectors:
 * trees are built here from the section 2.1.1 definition (MTH) and proofs from section 2.1.3.1
 * (PATH); the known answers are the Certificate Transparency reference test data (the eight leaves
 * "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f of the RFC
 * 6962 reference implementation's tests; RFC 9162 hashes the same way).
 */
class BatchProofTest {

  static final HexFormat HEX = HexFormat.of();

  static final List<String> LEAVES =
      List.of("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f");

  static final List<String> ROOTS = // MTH of the first n reference leaves, n = 1..8
      List.of(
          "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
          "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
          "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
          "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
          "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
          "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
          "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");

  record Reference(int index, int size, List<String> path) {}

  static final List<Reference> PROOFS =
      List.of(
          new Reference(0, 8, List.of(
              "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
          new Reference(5, 8, List.of(
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
              "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
              "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
          new Reference(2, 3, List.of(
              "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
          new Reference(1, 5, List.of(
              "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
              "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
              "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")));

  static int largestPowerOfTwoBelow(int n) {
    int k = 1;
    while (k * 2 < n) {
      k *= 2;
    }
    return k;
  }

  /** RFC 9162 section 2.1.1 over leaf data. */
  static byte[] mth(List<byte[]> leaves) {
    if (leaves.size() == 1) {
      return BatchProof.leafHash(leaves.get(0));
    }
    int k = largestPowerOfTwoBelow(leaves.size());
    return BatchProof.nodeHash(
        mth(leaves.subList(0, k)), mth(leaves.subList(k, leaves.size())));
  }

  /** PATH(m, D[n]) of RFC 9162 section 2.1.3.1. */
  static List<byte[]> path(int m, List<byte[]> leaves) {
    List<byte[]> out = new ArrayList<>();
    if (leaves.size() == 1) {
      return out;
    }
    int k = largestPowerOfTwoBelow(leaves.size());
    if (m < k) {
      out.addAll(path(m, leaves.subList(0, k)));
      out.add(mth(leaves.subList(k, leaves.size())));
    } else {
      out.addAll(path(m - k, leaves.subList(k, leaves.size())));
      out.add(mth(leaves.subList(0, k)));
    }
    return out;
  }

  static List<byte[]> referenceData() {
    return LEAVES.stream().map(HEX::parseHex).toList();
  }

  static List<byte[]> made(int n) {
    List<byte[]> leaves = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      leaves.add(("ilstc-ce-signature-v2\nleaf=" + i + " of " + n + "\n")
          .getBytes(StandardCharsets.US_ASCII));
    }
    return leaves;
  }

  static boolean leadsTo(int index, int size, byte[] leafHash, List<byte[]> path, byte[] root) {
    return Arrays.equals(BatchProof.root(index, size, leafHash, path), root);
  }

  @Test
  void treeHeadsMatchTheReferenceRoots() {
    List<byte[]> leaves = referenceData();
    for (int n = 1; n <= leaves.size(); n++) {
      assertEquals(ROOTS.get(n - 1), HEX.formatHex(mth(leaves.subList(0, n))), "size " + n);
    }
  }

  @Test
  void referenceProofsLeadToTheReferenceRoots() {
    List<byte[]> leaves = referenceData();
    for (Reference c : PROOFS) {
      List<byte[]> expected = c.path().stream().map(HEX::parseHex).toList();
      List<byte[]> built = path(c.index(), leaves.subList(0, c.size()));
      assertEquals(expected.size(), built.size());
      for (int i = 0; i < built.size(); i++) {
        assertArrayEquals(expected.get(i), built.get(i), c + " hash " + i);
      }
      byte[] leaf = BatchProof.leafHash(leaves.get(c.index()));
      assertEquals(ROOTS.get(c.size() - 1),
          HEX.formatHex(BatchProof.root(c.index(), c.size(), leaf, expected)), c.toString());
    }
  }

  /**
   * Every leaf of trees of 1..17 leaves (and some up to a full 1024) verifies; its hash count is
   * what the parser demands; a flipped bit in any path hash, another leaf, another index, or a
   * hash added or removed does not lead to the root. (Another size can lead to the same root,
   * e.g. index 0 of 3 and of 4 leaves: the root message states the size.)
   */
  @Test
  void everyLeafOfEveryTreeShapeVerifiesAndTamperingFails() throws Exception {
    List<Integer> sizes = new ArrayList<>();
    for (int n = 1; n <= 17; n++) {
      sizes.add(n);
    }
    sizes.addAll(List.of(31, 32, 33, 1023, 1024));
    for (int n : sizes) {
      List<byte[]> leaves = made(n);
      byte[] root = mth(leaves);
      int step = n > 64 ? 97 : 1; // a spread of indexes in the large trees, and the last one
      for (int m = 0; m < n; m += step) {
        checkLeaf(leaves, m, root);
      }
      checkLeaf(leaves, n - 1, root);
    }
  }

  static void checkLeaf(List<byte[]> leaves, int m, byte[] root) throws Exception {
    int n = leaves.size();
    String at = "(" + m + ", " + n + ")";
    List<byte[]> path = path(m, leaves);
    assertEquals(path.size(), BatchProof.proofLength(m, n), at);
    BatchProof parsed = BatchProof.parse(BatchProof.format(m, n, path));
    assertEquals(m, parsed.index());
    assertEquals(n, parsed.size());
    byte[] leaf = BatchProof.leafHash(leaves.get(m));
    assertTrue(leadsTo(m, n, leaf, parsed.path(), root), at);
    assertArrayEquals(
        BatchProof.rootMessage(n, root), parsed.rootMessageFor(leaves.get(m)), at);
    for (int i = 0; i < path.size(); i++) {
      List<byte[]> flipped = new ArrayList<>(path);
      byte[] hash = flipped.get(i).clone();
      hash[i % 32] ^= 0x01;
      flipped.set(i, hash);
      assertFalse(leadsTo(m, n, leaf, flipped, root), at + " hash " + i + " flipped");
    }
    byte[] otherLeaf = BatchProof.leafHash(("x" + m).getBytes(StandardCharsets.US_ASCII));
    assertFalse(leadsTo(m, n, otherLeaf, path, root), at + " another leaf");
    for (int other = 0; other < n && other < 40; other++) {
      if (other != m && BatchProof.proofLength(other, n) == path.size()) {
        assertFalse(leadsTo(other, n, leaf, path, root), at + " as index " + other);
      }
    }
    List<byte[]> tooMany = new ArrayList<>(path);
    tooMany.add(root);
    assertNull(BatchProof.root(m, n, leaf, tooMany), at + " a hash too many");
    if (!path.isEmpty()) {
      assertNull(BatchProof.root(m, n, leaf, path.subList(0, path.size() - 1)), at + " too few");
    }
  }

  @Test
  void sigProofSyntax() throws Exception {
    List<byte[]> leaves = made(5);
    String good = BatchProof.format(3, 5, path(3, leaves));
    String path = good.substring("3;5;".length());
    Base64.Encoder b64 = Base64.getEncoder();
    String oneHash = b64.encodeToString(new byte[32]);
    String twoHashes = b64.encodeToString(new byte[64]);
    for (String fine : List.of(good, "0;1;", "2;3;" + oneHash,
        "1023;1024;" + b64.encodeToString(new byte[320]))) {
      assertNotNull(BatchProof.parse(fine), fine);
    }
    for (String bad : List.of(
        "", "0;1", "0;1;;", "0;1; ", "3;5", ";5;" + path, "3;;" + path,
        "03;5;" + path, "3;05;" + path, "+3;5;" + path, "-0;1;", "3;+5;" + path, " 3;5;" + path,
        "3;5;" + path + "\n", "5;5;" + path, "7;5;" + path, "0;0;", "0;1025;" + path,
        "0;99999999999999999999;", "99999999999999999999;5;" + path, "\u0969;5;" + path,
        "0;1;" + twoHashes, "3;5;" + twoHashes, "3;5;" + path + twoHashes,
        "3;5;" + path.substring(0, path.length() - 4) + "AAA=",
        "2;3;" + oneHash.replace("=", ""), "2;3;" + oneHash + "\n",
        "3;5;" + Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[96]) + "_",
        "3;5;" + b64.encodeToString(new byte[95]),
        "0;2;" + b64.encodeToString(new byte[31]) + "A")) {
      Verifier.Refusal refusal = assertThrows(Verifier.Refusal.class, () -> BatchProof.parse(bad),
          bad);
      assertEquals("malformed-envelope", refusal.code, bad);
    }
  }

  @Test
  void rootMessageAndItsSignature() throws Exception {
    byte[] root = HEX.parseHex(ROOTS.get(4));
    String want = "ilstc-ce-batch-v1\ntree-size=5\nroot-sha256=" + ROOTS.get(4) + "\n";
    assertEquals(want, new String(BatchProof.rootMessage(5, root), StandardCharsets.US_ASCII));
    for (String algorithm : List.of("Ed25519", "EC")) {
      KeyPair pair = KeyPairGenerator.getInstance(algorithm).generateKeyPair();
      Signature signer =
          Signature.getInstance(algorithm.equals("EC") ? "SHA256withECDSA" : "Ed25519");
      signer.initSign(pair.getPrivate());
      signer.update(BatchProof.rootMessage(5, root));
      byte[] signature = signer.sign();
      assertTrue(Verifier.verifySignature(
          pair.getPublic(), signature, BatchProof.rootMessage(5, root)), algorithm);
      assertFalse(Verifier.verifySignature(
          pair.getPublic(), signature, BatchProof.rootMessage(4, root)), algorithm + " size 4");
    }
  }
}
