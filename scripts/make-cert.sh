#!/usr/bin/env bash
# Writes a throwaway test PKI into DIR: ca.pem (a self-signed CA), cert.pem (a server certificate
# for localhost, 127.0.0.1, ::1 and any further IP given, signed by that CA) and key.pem (its
# private key). A separate CA rather than a bare self-signed leaf keeps verification on the path
# every TLS stack tests most. Uses certtool (gnutls-bin) when present, otherwise openssl.
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [IP...]" >&2
    exit 2
fi
dir=$1
shift
extra_ips=("$@")
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v certtool >/dev/null 2>&1; then
    cat >"$work/ca.tmpl" <<'EOF'
cn = "tern test CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
EOF
    cat >"$work/leaf.tmpl" <<'EOF'
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
encryption_key
expiration_days = 3650
EOF
    for ip in "${extra_ips[@]}"; do echo "ip_address = \"$ip\"" >>"$work/leaf.tmpl"; done
    ct() { certtool --no-text "$@" >/dev/null 2>&1; }
    ct --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$work/ca.key"
    ct --generate-self-signed --load-privkey "$work/ca.key" --template "$work/ca.tmpl" \
        --outfile "$work/ca.pem"
    ct --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$work/key.pem"
    ct --generate-certificate --load-privkey "$work/key.pem" --load-ca-certificate "$work/ca.pem" \
        --load-ca-privkey "$work/ca.key" --template "$work/leaf.tmpl" --outfile "$work/cert.pem"
elif command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$work/ca.key" -out "$work/ca.pem" -days 3650 -subj "/CN=tern test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$work/key.pem" -out "$work/leaf.csr" -subj "/CN=localhost" >/dev/null 2>&1
    cat >"$work/leaf.ext" <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
EOF
    for ip in "${extra_ips[@]}"; do sed -i "/^subjectAltName/s/\$/,IP:$ip/" "$work/leaf.ext"; done
    openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
        -CAcreateserial -days 3650 -extfile "$work/leaf.ext" -out "$work/cert.pem" >/dev/null 2>&1
else
    echo "$0: neither certtool (gnutls-bin) nor openssl is installed" >&2
    exit 1
fi

install -m 0644 "$work/ca.pem" "$dir/ca.pem"
install -m 0644 "$work/cert.pem" "$dir/cert.pem"
install -m 0600 "$work/key.pem" "$dir/key.pem"
