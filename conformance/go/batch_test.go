package main

// Tests of the batch-signature proof code against RFC 9162 itself, independent of the kit's
// vectors: trees are built here from the section 2.1.1 definition (MTH) and proofs from section
// 2.1.3.1 (PATH); the known answers are the Certificate Transparency reference test data (the
// eight leaves "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f
// of the RFC 6962 reference implementation's tests, same hashing as RFC 9162).

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

var referenceLeaves = []string{"", "00", "10", "2021", "3031", "40414243",
	"5051525354555657", "606162636465666768696a6b6c6d6e6f"}

var referenceRoots = []string{ // MTH of the first n reference leaves, n = 1..8
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

var referenceProofs = []struct {
	index, size int
	path        []string
}{
	{0, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
	{5, 8, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	{2, 3, []string{"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
	{1, 5, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
}

// largestPowerOfTwoBelow is RFC 9162's k for n > 1.
func largestPowerOfTwoBelow(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

// mth is RFC 9162 section 2.1.1 over leaf data.
func mth(leaves [][]byte) [32]byte {
	if len(leaves) == 1 {
		return leafHash(leaves[0])
	}
	k := largestPowerOfTwoBelow(len(leaves))
	return nodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

// inclusionPath is PATH(m, D[n]) of RFC 9162 section 2.1.3.1.
func inclusionPath(m int, leaves [][]byte) [][32]byte {
	if len(leaves) == 1 {
		return nil
	}
	k := largestPowerOfTwoBelow(len(leaves))
	if m < k {
		return append(inclusionPath(m, leaves[:k]), mth(leaves[k:]))
	}
	return append(inclusionPath(m-k, leaves[k:]), mth(leaves[:k]))
}

func unhex(t *testing.T, text string) []byte {
	t.Helper()
	raw, err := hex.DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func referenceData(t *testing.T) [][]byte {
	var out [][]byte
	for _, leaf := range referenceLeaves {
		out = append(out, unhex(t, leaf))
	}
	return out
}

func proofText(index, size int, path [][32]byte) string {
	var raw []byte
	for _, p := range path {
		raw = append(raw, p[:]...)
	}
	return fmt.Sprintf("%d;%d;%s", index, size, base64.StdEncoding.EncodeToString(raw))
}

func TestTreeHeadsMatchTheReferenceRoots(t *testing.T) {
	leaves := referenceData(t)
	for n := 1; n <= len(leaves); n++ {
		if root := mth(leaves[:n]); hex.EncodeToString(root[:]) != referenceRoots[n-1] {
			t.Errorf("MTH of %d leaves = %x, reference %s", n, root, referenceRoots[n-1])
		}
	}
}

func TestReferenceProofsLeadToTheReferenceRoots(t *testing.T) {
	leaves := referenceData(t)
	for _, c := range referenceProofs {
		var path [][32]byte
		for _, p := range c.path {
			path = append(path, [32]byte(unhex(t, p)))
		}
		if got := inclusionPath(c.index, leaves[:c.size]); fmt.Sprint(got) != fmt.Sprint(path) {
			t.Errorf("PATH(%d, D[%d]) differs from the reference", c.index, c.size)
		}
		root, ok := rootFromProof(c.index, c.size, leafHash(leaves[c.index]), path)
		if !ok || hex.EncodeToString(root[:]) != referenceRoots[c.size-1] {
			t.Errorf("(%d, %d): root %x ok=%v, reference %s", c.index, c.size, root, ok, referenceRoots[c.size-1])
		}
	}
}

// Every leaf of trees of 1..17 leaves (and some up to a full 1024) verifies; its hash count is
// what the parser demands; a flipped bit in any path hash, another leaf, another index, or a hash
// added or removed does not lead to the root. (Another size can lead to the same root, e.g.
// index 0 of 3 and of 4 leaves: the root message states the size, TestRootMessageAndItsSignature.)
func TestEveryLeafOfEveryTreeShapeVerifiesAndTamperingFails(t *testing.T) {
	sizes := []int{}
	for n := 1; n <= 17; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 31, 32, 33, 1023, 1024)
	for _, n := range sizes {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = []byte(fmt.Sprintf("ilstc-ce-signature-v2\nleaf=%d of %d\n", i, n))
		}
		root := mth(leaves)
		step := 1
		if n > 64 {
			step = 97 // a spread of indexes in the large trees, always the last one too
		}
		for m := 0; m < n; m += step {
			checkLeaf(t, leaves, m, root)
		}
		checkLeaf(t, leaves, n-1, root)
	}
}

func checkLeaf(t *testing.T, leaves [][]byte, m int, root [32]byte) {
	t.Helper()
	n := len(leaves)
	path := inclusionPath(m, leaves)
	if proofLength(m, n) != len(path) {
		t.Fatalf("(%d, %d): proofLength %d, PATH has %d", m, n, proofLength(m, n), len(path))
	}
	parsed, r := parseSigProof(proofText(m, n, path))
	if r != nil || parsed.index != m || parsed.size != n || len(parsed.path) != len(path) {
		t.Fatalf("(%d, %d): the writer's own proof does not parse: %v", m, n, r)
	}
	h := leafHash(leaves[m])
	if got, ok := rootFromProof(m, n, h, path); !ok || got != root {
		t.Fatalf("(%d, %d): proof does not lead to the root", m, n)
	}
	for i := range path {
		flipped := append([][32]byte{}, path...)
		flipped[i][i%32] ^= 0x01
		if got, ok := rootFromProof(m, n, h, flipped); ok && got == root {
			t.Fatalf("(%d, %d): hash %d flipped still verifies", m, n, i)
		}
	}
	if got, ok := rootFromProof(m, n, leafHash(append([]byte("x"), leaves[m]...)), path); ok && got == root {
		t.Fatalf("(%d, %d): another leaf verifies", m, n)
	}
	for other := 0; other < n && other < 40; other++ { // the same path claimed for another index
		if other != m && proofLength(other, n) == len(path) {
			if got, ok := rootFromProof(other, n, h, path); ok && got == root {
				t.Fatalf("(%d, %d): verifies as index %d", m, n, other)
			}
		}
	}
	if _, ok := rootFromProof(m, n, h, append(append([][32]byte{}, path...), root)); ok {
		t.Fatalf("(%d, %d): a hash too many is accepted", m, n)
	}
	if len(path) > 0 {
		if _, ok := rootFromProof(m, n, h, path[:len(path)-1]); ok {
			t.Fatalf("(%d, %d): a hash too few is accepted", m, n)
		}
	}
}

func TestSigProofSyntax(t *testing.T) {
	leaves := make([][]byte, 5)
	for i := range leaves {
		leaves[i] = []byte{byte(i)}
	}
	good := proofText(3, 5, inclusionPath(3, leaves))
	path := good[len("3;5;"):]
	oneHash := base64.StdEncoding.EncodeToString(make([]byte, 32))
	twoHashes := base64.StdEncoding.EncodeToString(make([]byte, 64))
	if _, r := parseSigProof(good); r != nil {
		t.Fatalf("%s: %v", good, r)
	}
	for _, fine := range []string{"0;1;", "2;3;" + oneHash} {
		if _, r := parseSigProof(fine); r != nil {
			t.Fatalf("%s: %v", fine, r)
		}
	}
	a1024 := make([]byte, 10*32)
	if _, r := parseSigProof("1023;1024;" + base64.StdEncoding.EncodeToString(a1024)); r != nil {
		t.Fatalf("1023;1024: %v", r)
	}
	for _, bad := range []string{
		"", "0;1", "0;1;;", "0;1; ", "3;5", ";5;" + path, "3;;" + path,
		"03;5;" + path, "3;05;" + path, "+3;5;" + path, "-0;1;", "3;+5;" + path, " 3;5;" + path,
		"3;5;" + path + "\n", "5;5;" + path, "7;5;" + path, "0;0;", "0;1025;" + path,
		"0;99999999999999999999;", "99999999999999999999;5;" + path, "३;5;" + path,
		"0;1;" + twoHashes, // size 1 has no hashes
		"3;5;" + twoHashes, // (3, 5) needs 3
		"3;5;" + path + twoHashes, "3;5;" + path[:len(path)-4] + "AAA=",
		"2;3;" + strings.TrimRight(oneHash, "="), "2;3;" + oneHash + "\n", "3;5;" + base64.RawURLEncoding.EncodeToString(make([]byte, 96)) + "_",
		"3;5;" + base64.StdEncoding.EncodeToString(make([]byte, 95)),
		"0;2;" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "A",
	} {
		if _, r := parseSigProof(bad); r == nil || r.code != "malformed-envelope" {
			t.Errorf("%q: want malformed-envelope, got %v", bad, r)
		}
	}
}

func TestRootMessageAndItsSignature(t *testing.T) {
	var root [32]byte
	copy(root[:], unhex(t, referenceRoots[4]))
	want := "ilstc-ce-batch-v1\ntree-size=5\nroot-sha256=" + referenceRoots[4] + "\n"
	if got := string(rootMessage(5, root)); got != want {
		t.Fatalf("root message %q, want %q", got, want)
	}
	// RFC 8032 section 7.1 TEST 1 key (also the spec's worked example key)
	seed := unhex(t, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	key := ed25519.NewKeyFromSeed(seed)
	signature := ed25519.Sign(key, rootMessage(5, root))
	if !ed25519.Verify(key.Public().(ed25519.PublicKey), rootMessage(5, root), signature) {
		t.Fatal("root message signature")
	}
	if ed25519.Verify(key.Public().(ed25519.PublicKey), rootMessage(4, root), signature) {
		t.Fatal("a signature over size 5 verifies for size 4")
	}
}
