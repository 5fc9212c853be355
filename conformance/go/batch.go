// Batch signatures (envelope v3, docs/signing.md): one signature over the RFC 9162 Merkle tree
// head of a batch of signing inputs; each record carries its inclusion proof in `ce_sigproof`.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

const maxBatchSize = 1024

// decimal: no sign, no leading zeros ("0" itself allowed), ASCII digits only.
var decimal = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

type sigProof struct {
	index, size int
	path        [][32]byte
}

// proofLength is the number of hashes RFC 9162 section 2.1.3.2 consumes for (index, size):
// the loop of rootFromProof run without hashing.
func proofLength(index, size int) int {
	fn, sn, count := index, size-1, 0
	for sn != 0 {
		if fn%2 == 1 || fn == sn {
			for fn%2 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		}
		fn >>= 1
		sn >>= 1
		count++
	}
	return count
}

func parseNumber(text string) (int, bool) {
	if !decimal.MatchString(text) || len(text) > 5 { // > 5 digits is beyond any valid size
		return 0, false
	}
	n, err := strconv.Atoi(text)
	return n, err == nil
}

// parseSigProof reads `index;size;path` with every rule of the specification; any failure is
// malformed-envelope, including a path that does not hold exactly the hashes the proof consumes.
func parseSigProof(text string) (*sigProof, *refusal) {
	parts := strings.Split(text, ";")
	if len(parts) != 3 {
		return nil, malformed("ce_sigproof is not index;size;path")
	}
	index, ok := parseNumber(parts[0])
	if !ok {
		return nil, malformed("ce_sigproof index is not a canonical decimal")
	}
	size, ok := parseNumber(parts[1])
	if !ok || size < 1 || size > maxBatchSize {
		return nil, malformed("ce_sigproof size is not a decimal 1-%d", maxBatchSize)
	}
	if index >= size {
		return nil, malformed("ce_sigproof index %d >= size %d", index, size)
	}
	raw, r := canonicalBase64("ce_sigproof path", parts[2])
	if r != nil {
		return nil, r
	}
	if len(raw)%32 != 0 {
		return nil, malformed("ce_sigproof path is not a whole number of hashes")
	}
	if want := proofLength(index, size); len(raw)/32 != want {
		return nil, malformed("ce_sigproof path has %d hashes, (%d, %d) needs %d", len(raw)/32, index, size, want)
	}
	proof := &sigProof{index: index, size: size}
	for at := 0; at < len(raw); at += 32 {
		proof.path = append(proof.path, [32]byte(raw[at:at+32]))
	}
	return proof, nil
}

func leafHash(leaf []byte) [32]byte {
	return sha256.Sum256(append([]byte{0x00}, leaf...))
}

func nodeHash(left, right [32]byte) [32]byte {
	joined := make([]byte, 0, 65)
	joined = append(append(append(joined, 0x01), left[:]...), right[:]...)
	return sha256.Sum256(joined)
}

// rootFromProof is RFC 9162 section 2.1.3.2 (verifying an inclusion proof), returning the root
// it arrives at; ok is false when the path has too many or too few hashes.
func rootFromProof(index, size int, leaf [32]byte, path [][32]byte) ([32]byte, bool) {
	if index < 0 || index >= size {
		return [32]byte{}, false
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return [32]byte{}, false
		}
		if fn%2 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn%2 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return r, sn == 0
}

// rootMessage is what the key signs for a batch: three LF-terminated ASCII lines.
func rootMessage(size int, root [32]byte) []byte {
	return []byte("ilstc-ce-batch-v1\ntree-size=" + strconv.Itoa(size) +
		"\nroot-sha256=" + hex.EncodeToString(root[:]) + "\n")
}

// signedMessage is what ce_signature must verify over: the signing input itself (v1, v2), or
// for v3 the root message of the tree the proof leads to from the signing input's leaf.
func (e *envelope) signedMessage(input []byte) []byte {
	if e.proof == nil {
		return input
	}
	root, ok := rootFromProof(e.proof.index, e.proof.size, leafHash(input), e.proof.path)
	if !ok { // parseSigProof checked the count: cannot happen
		panic("inclusion proof length was not checked")
	}
	return rootMessage(e.proof.size, root)
}
