#!/usr/bin/env bash
# Makes a throwaway CA and a server certificate for localhost / 127.0.0.1 / ::1, for the stand-in
# provider in tests and in scripts/demo.sh. Usage: make_certs.sh DIR
# Writes DIR/ca.pem (trust this, e.g. as [api] ca_file), DIR/server.pem, DIR/server.key.
set -euo pipefail
dir=${1:?usage: make_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -s ca.pem ] && [ -s server.pem ] && [ -s server.key ] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=genq test CA" \
  -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
  -extfile ext.cnf -out server.pem 2>/dev/null
rm -f server.csr ext.cnf ca.srl
