#!/usr/bin/env bash
# Makes a development CA and the certificates for mutual TLS between the
# agent and the central collector on this machine, into DIR (created 0700),
# once: files that exist are kept. Not for production: see docs/export.md
# for certificates from your own CA or cert-manager.
#
#   scripts/dev-certs.sh DIR NODE
#
#   DIR/ca.pem, ca.key              the development CA (10 years)
#   DIR/central.pem, central.key    the collector: SAN DNS:localhost, IP:127.0.0.1
#   DIR/node-NODE.pem, .key         the agent of node NODE: SAN DNS:NODE (its identity)
set -euo pipefail
if (($# != 2)); then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
dir=$1
node=$2
command -v openssl >/dev/null || { echo "dev-certs.sh: openssl not found (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"

if [[ ! -s ca.pem || ! -s ca.key ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 3650 -subj "/CN=Vigil development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# issue NAME SAN: a leaf certificate signed by the development CA.
issue() {
  local name=$1 san=$2
  if [[ -s $name.pem && -s $name.key ]]; then
    return
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=${san#*:}" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' "$san" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days 825 \
    -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  chmod 600 "$name.key"
}

issue central "DNS:localhost,IP:127.0.0.1"
issue "node-$node" "DNS:$node"
echo "dev-certs.sh: certificates in $dir (CA, central, node-$node)" >&2
