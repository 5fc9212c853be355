"""Check a Go module zip against its go.sum `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1).

    python3 scripts/go_module_zip_check.py MODULE.zip h1:BASE64

Hash1 is the base64 SHA-256 of the lines "<hex sha256 of file>  <path in zip>\\n", sorted by
path. Used by scripts/ensure-system-deps.sh for the Go toolchain fetched from the module proxy.
"""

import base64
import hashlib
import sys
import zipfile


def hash1(path: str) -> str:
    with zipfile.ZipFile(path) as archive:
        lines = [
            f"{hashlib.sha256(archive.read(name)).hexdigest()}  {name}\n"
            for name in sorted(archive.namelist())
            if not name.endswith("/")
        ]
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


if __name__ == "__main__":
    got = hash1(sys.argv[1])
    if got != sys.argv[2]:
        sys.exit(f"{sys.argv[1]}: hash {got}, checksum database says {sys.argv[2]}")
