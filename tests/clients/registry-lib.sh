# Test infrastructure for berth pull/push/login: throw-away OCI registries
# (CNCF distribution 2.8, "docker-registry serve"), plain HTTP or TLS with
# htpasswd basic auth, byte-deterministic layer tars and `docker save`
# style archives, and pushing them (plain, zstd, manifest lists) with
# skopeo. Sourced by bash. Everything lives under a scratch directory the
# caller names; nothing touches /var/lib/docker-registry or /etc/docker.
# registry-proxy.py, next to this file, is the fault-injecting proxy
# (proxy_start / proxy_stop below run it).
#
# Registry directory DIR, after reg_start_*:
#   config.yml  log  pid  port  mode (plain|tls)  storage/
#   tls only:   ca.crt ca.key server.pem server-key.pem htpasswd user pass
#               certs/ca.crt   (a directory for skopeo --cert-dir: DIR
#                               itself will not do, see reg_cert_dir)
#
# Functions that take an image reference (HOST:PORT/NAME[:TAG|@DIGEST])
# find the registry's scheme, CA and credentials from the HOST:PORT of a
# registry started in this shell (both 127.0.0.1:PORT and
# localhost:PORT); REG_DIR=DIR in the environment names it explicitly
# instead (a registry started in a subshell). An unknown one is plain HTTP.
#
# Quirks found with skopeo 1.9.3 and distribution 2.8 (Debian bookworm):
# - zstd: `--dest-compress-format zstd` is all it takes; skopeo switches
#   to an OCI manifest by itself (layers ...oci.image.layer.v1.tar+zstd,
#   config ...oci.image.config.v1+json). `--format v2s2` with zstd fails
#   ("zstd compression is not supported for type ...diff.tar.gzip").
#   Distribution 2.8 stores and serves the OCI manifest and zstd blobs.
# - skopeo's blob info cache (/var/lib/containers/cache for root, one for
#   the whole host) makes it reuse a layer already in the registry in
#   whatever compression it was pushed: a zstd push of layers pushed
#   gzip'd before gets gzip layers (an OCI manifest mixing tar+gzip and
#   tar+zstd), and a default (gzip) push after a zstd one gets zstd
#   layers. reg_skopeo therefore runs skopeo with a fresh, empty cache
#   each time (tmpfs in a private mount namespace); with that, pushes are
#   reproducible (same archive, same args: same manifest digest).
# - skopeo --cert-dir loads every *.crt as a CA but wants every *.key to
#   have a matching *.cert client certificate ("missing client certificate
#   ca.cert for key ca.key"), so DIR itself is refused; hence DIR/certs/.
# - distribution 2.8 only returns a schema 2 / OCI manifest when the
#   Accept header names it (else it converts to schema 1), and a manifest
#   list PUT is refused unless every manifest it names is in the same
#   repository already.

REGLIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -gA _REG_DIR_OF    # HOST:PORT -> registry DIR; kept when sourced again

MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
REG_ACCEPT="$MT_DOCKER_MANIFEST, $MT_DOCKER_LIST, $MT_OCI_MANIFEST, $MT_OCI_INDEX"

reg_err () { echo "registry-lib: $*" >&2; }

# Whether process PID runs (a zombie does not: one whose parent is gone
# may stay one where PID 1 does not reap).
_pid_alive () {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ "${st%% *}" != Z ]
}

# ---------------------------------------------------------------- registries

# The config both kinds share; $3, if given, is appended (http.tls, auth).
_reg_write_config () {
  local dir=$1 port=$2
  mkdir -p "$dir/storage"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: berth-test-secret
$3
EOF
  echo "$port" >"$dir/port"
}

# Whether the registry in DIR answers /v2/ as its mode expects: 200
# plain, 401 (wants credentials) with TLS.
_reg_answers () {
  local dir=$1 port
  port=$(cat "$dir/port")
  if [ "$(cat "$dir/mode")" = tls ]; then
    [ "$(curl --cacert "$dir/ca.crt" -s -o /dev/null -w '%{http_code}' \
         "https://127.0.0.1:$port/v2/")" = 401 ]
  else
    curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"
  fi
}

# Wait (20 s at most) until the registry in DIR, its log new from byte
# OFF on, says it listens (so the answer is not some other server's on the
# port) and answers.
_reg_wait_ready () {
  local dir=$1 off=$2 port i
  port=$(cat "$dir/port")
  for ((i = 0; i < 100; i++)); do
    tail -c +$((off + 1)) "$dir/log" | grep -aq "listening on 127.0.0.1:$port" &&
      _reg_answers "$dir" && return 0
    _pid_alive "$(cat "$dir/pid")" || break
    sleep 0.2
  done
  reg_err "registry in $dir (port $port, $(cat "$dir/mode")) not ready; log:"
  tail -n 20 "$dir/log" >&2
  return 1
}

# Start the registry of DIR's config.yml in the background; wait ready.
_reg_launch () {
  local dir=$1 port off
  if [ -f "$dir/pid" ] && _pid_alive "$(cat "$dir/pid")"; then
    reg_err "a registry already runs in $dir (pid $(cat "$dir/pid"))"; return 1
  fi
  port=$(cat "$dir/port"); off=$(stat -c %s "$dir/log" 2>/dev/null || echo 0)
  docker-registry serve "$dir/config.yml" </dev/null >>"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  _REG_DIR_OF[127.0.0.1:$port]=$dir
  _REG_DIR_OF[localhost:$port]=$dir
  _reg_wait_ready "$dir" "$off"
}

# reg_start_plain DIR PORT: plain HTTP, no auth.
reg_start_plain () {
  local dir=$1 port=$2
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  _reg_write_config "$dir" "$port" ""
  echo plain >"$dir/mode"
  _reg_launch "$dir"
}

# A CA (DIR/ca.crt, ca.key) and a server certificate it signs for
# 127.0.0.1 and localhost (DIR/server.pem, server-key.pem).
_reg_make_certs () {
  local dir=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=berth test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null &&
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server-key.pem" -out "$dir/server.csr" 2>/dev/null &&
  printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' >"$dir/server.ext" &&
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null ||
    { reg_err "openssl failed in $dir"; return 1; }
  mkdir -p "$dir/certs" && cp "$dir/ca.crt" "$dir/certs/ca.crt"
}

# reg_start_tls DIR PORT USER PASS: HTTPS (own CA) and htpasswd basic auth.
reg_start_tls () {
  local dir=$1 port=$2 user=$3 pass=$4
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  _reg_make_certs "$dir" || return 1
  htpasswd -Bbn "$user" "$pass" >"$dir/htpasswd" 2>/dev/null ||
    { reg_err "htpasswd failed"; return 1; }
  echo "$user" >"$dir/user"; echo "$pass" >"$dir/pass"
  _reg_write_config "$dir" "$port" "  tls:
    certificate: $dir/server.pem
    key: $dir/server-key.pem
auth:
  htpasswd:
    realm: berth-test
    path: $dir/htpasswd"
  echo tls >"$dir/mode"
  _reg_launch "$dir"
}

# reg_stop DIR: TERM, KILL after 5 s, wait until gone.
reg_stop () {
  local dir=$1 pid
  pid=$(cat "$dir/pid" 2>/dev/null) || return 0
  _stop_pid "$pid"
  rm -f "$dir/pid"
}

# TERM PID, KILL it after 5 s; returns once it is gone.
_stop_pid () {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    _pid_alive "$pid" || break
    sleep 0.1
  done
  _pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  while _pid_alive "$pid"; do sleep 0.1; done
  wait "$pid" 2>/dev/null    # reaps it when started from this shell
}

# reg_restart DIR: the same registry again (config, port, storage, mode).
reg_restart () {
  reg_stop "$1" && _reg_launch "$(cd "$1" && pwd)"
}

# reg_cert_dir DIR: the directory to give skopeo --cert-dir (or
# --dest-cert-dir / --src-cert-dir) for the TLS registry in DIR.
reg_cert_dir () { echo "$1/certs"; }

# reg_creds DIR: USER:PASS of the TLS registry in DIR.
reg_creds () { echo "$(cat "$1/user"):$(cat "$1/pass")"; }

# ------------------------------------------------------- talking to registries

# _reg_parse REF: sets R_HOST (host:port), R_NAME, R_REF (tag or digest).
_reg_parse () {
  local ref=$1 rest
  R_HOST=${ref%%/*}; rest=${ref#*/}
  if [[ $rest == *@* ]]; then
    R_NAME=${rest%%@*}; R_REF=${rest#*@}
  elif [[ ${rest##*/} == *:* ]]; then
    R_NAME=${rest%:*}; R_REF=${rest##*:}
  else
    R_NAME=$rest; R_REF=latest
  fi
}

# _reg_curl HOST:PORT PATH [curl args...]: curl the registry's URL PATH
# with the scheme, CA and credentials the registry needs.
_reg_curl () {
  local host=$1 path=$2 dir; shift 2
  dir=${REG_DIR:-${_REG_DIR_OF[$host]}}
  if [ -n "$dir" ] && [ "$(cat "$dir/mode")" = tls ]; then
    curl -sS --cacert "$dir/ca.crt" -u "$(reg_creds "$dir")" "$@" "https://$host$path"
  else
    curl -sS "$@" "http://$host$path"
  fi
}

# reg_get_manifest REF OUT: the manifest's bytes into OUT; prints its
# media type (the Content-Type the registry answered).
reg_get_manifest () {
  local ref=$1 out=$2
  _reg_parse "$ref"
  _reg_curl "$R_HOST" "/v2/$R_NAME/manifests/$R_REF" -f -H "Accept: $REG_ACCEPT" \
    -o "$out" -w '%{content_type}\n' | sed 's/;.*//'
}

# reg_manifest_digest REF: prints sha256:... of REF's manifest, hashed
# from the bytes the registry serves (REG_DIR=DIR for a registry started
# elsewhere; see the top).
reg_manifest_digest () {
  local tmp sum
  tmp=$(mktemp) || return 1
  reg_get_manifest "$1" "$tmp" >/dev/null || { rm -f "$tmp"; return 1; }
  sum=$(sha256sum <"$tmp"); rm -f "$tmp"
  echo "sha256:${sum%% *}"
}

# skopeo, with a blob info cache of its own (see the top): in a private
# mount namespace, a tmpfs over /var/lib/containers, when root may do
# that; else plain skopeo. REG_SKOPEO_CACHE=shared: always plain skopeo.
reg_skopeo () {
  if [ "${REG_SKOPEO_CACHE:-private}" = private ] && [ "$(id -u)" = 0 ] &&
     [ -d /var/lib/containers ] && unshare -m true 2>/dev/null; then
    unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib/containers ||
      echo "registry-lib: skopeo uses the shared blob info cache" >&2
      exec skopeo "$@"' skopeo "$@"
  else
    skopeo "$@"
  fi
}

# reg_push_archive ARCHIVE REF [extra skopeo args...]: push a
# docker-archive (layers gzip'd unless the args say otherwise). For a TLS
# registry add --dest-creds USER:PASS (TLS is not verified). zstd:
# --dest-compress-format zstd (skopeo then writes an OCI manifest itself).
reg_push_archive () {
  local archive=$1 ref=$2; shift 2
  reg_skopeo copy --quiet --dest-tls-verify=false \
    "docker-archive:$archive" "docker://$ref" "$@"
}

# One manifest list / index entry (JSON) for the manifest at REF.
_reg_list_entry () {
  local ref=$1 arch=$2 tmp mt sum size
  tmp=$(mktemp) || return 1
  mt=$(reg_get_manifest "$ref" "$tmp") || { rm -f "$tmp"; return 1; }
  sum=$(sha256sum <"$tmp"); size=$(stat -c %s "$tmp"); rm -f "$tmp"
  printf '{"mediaType":"%s","size":%s,"digest":"sha256:%s","platform":{"architecture":"%s","os":"linux"}}' \
    "$mt" "$size" "${sum%% *}" "$arch"
}

# reg_push_manifest_list REF ARCHIVE_AMD64 ARCHIVE_ARM64 [skopeo args...]:
# pushes the archives as REF-amd64 and REF-arm64 (tag suffixes), then PUTs
# a manifest list naming both at REF. The skopeo args go to both pushes;
# when they make OCI manifests (zstd, --format oci) the list is an OCI
# index instead of a Docker manifest list.
reg_push_manifest_list () {
  local ref=$1 a64=$2 arm=$3 e1 e2 mt body; shift 3
  _reg_parse "$ref"
  local host=$R_HOST name=$R_NAME tag=$R_REF
  reg_push_archive "$a64" "$host/$name:$tag-amd64" "$@" &&
  reg_push_archive "$arm" "$host/$name:$tag-arm64" "$@" &&
  e1=$(_reg_list_entry "$host/$name:$tag-amd64" amd64) &&
  e2=$(_reg_list_entry "$host/$name:$tag-arm64" arm64) || return 1
  mt=$MT_DOCKER_LIST
  [[ $e1 == *'"'$MT_OCI_MANIFEST'"'* ]] && mt=$MT_OCI_INDEX
  body=$(printf '{"schemaVersion":2,"mediaType":"%s","manifests":[%s,%s]}' "$mt" "$e1" "$e2")
  _reg_curl "$host" "/v2/$name/manifests/$tag" -f -o /dev/null -X PUT \
    -H "Content-Type: $mt" --data-binary "$body"
}

# ----------------------------------------------------------------- images

# Tar the contents of directory SRC into OUT, byte-deterministically:
# names without "./" and no entry for SRC itself (names have no spaces).
_det_tar () {
  local src=$1 out=$2
  tar -C "$src" -cf "$out" --sort=name --mtime=@0 --owner=0 --group=0 \
    --numeric-owner --format=posix \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    $(cd "$src" && LC_ALL=C ls -A)
}

# make_layer_tar OUT.tar SEED [SIZE_KB]: layerSEED/file holding SEED, and
# with SIZE_KB, layerSEED/big: SIZE_KB KiB of incompressible bytes that
# depend on SEED only.
make_layer_tar () {
  local out=$1 seed=$2 kb=$3 tmp
  tmp=$(mktemp -d) || return 1
  mkdir "$tmp/layer$seed"
  printf '%s\n' "$seed" >"$tmp/layer$seed/file"
  if [ -n "$kb" ]; then
    openssl enc -aes-128-ctr -pass "pass:$seed" -nosalt </dev/zero 2>/dev/null |
      head -c $((kb * 1024)) >"$tmp/layer$seed/big"
  fi
  chmod 755 "$tmp/layer$seed"; chmod 644 "$tmp/layer$seed"/*
  _det_tar "$tmp" "$out"; local rc=$?
  rm -rf "$tmp"; return $rc
}

# make_busybox_layer OUT.tar: bin/busybox with sh, ls, cat, echo linked
# to it, and etc/passwd with root.
make_busybox_layer () {
  local out=$1 tmp l
  tmp=$(mktemp -d) || return 1
  mkdir -p "$tmp/bin" "$tmp/etc"
  cp /bin/busybox "$tmp/bin/busybox"
  for l in sh ls cat echo; do ln -s busybox "$tmp/bin/$l"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/etc/passwd"
  chmod 755 "$tmp/bin" "$tmp/etc" "$tmp/bin/busybox"; chmod 644 "$tmp/etc/passwd"
  _det_tar "$tmp" "$out"; local rc=$?
  rm -rf "$tmp"; return $rc
}

_sha256_of () { local s; s=$(sha256sum <"$1") && echo "${s%% *}"; }

# make_docker_archive OUT.tar ARCH LAYER.tar...: a `docker save` archive
# (manifest.json, <config hex>.json, <diff id hex>/layer.tar) of the
# uncompressed layers, in order, for linux/ARCH.
make_docker_archive () {
  local out=$1 arch=$2 tmp l hex ids= hist= layers= cfg chex n=0; shift 2
  tmp=$(mktemp -d) || return 1
  for l in "$@"; do
    hex=$(_sha256_of "$l") || { rm -rf "$tmp"; return 1; }
    mkdir -p "$tmp/$hex" && cp "$l" "$tmp/$hex/layer.tar"
    ids+=${ids:+,}"\"sha256:$hex\""
    layers+=${layers:+,}"\"$hex/layer.tar\""
    hist+=${hist:+,}"{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"layer $((++n))\"}"
  done
  cfg=$(printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$arch" "$ids" "$hist")
  printf '%s' "$cfg" >"$tmp/config.json"
  chex=$(_sha256_of "$tmp/config.json") && mv "$tmp/config.json" "$tmp/$chex.json"
  printf '[{"Config":"%s.json","RepoTags":[],"Layers":[%s]}]' "$chex" "$layers" \
    >"$tmp/manifest.json"
  chmod -R u=rwX,go=rX "$tmp"
  _det_tar "$tmp" "$out"; local rc=$?
  rm -rf "$tmp"; return $rc
}

# ----------------------------------------------------------------- the proxy

# proxy_start DIR LISTEN_PORT UPSTREAM_PORT MODE: registry-proxy.py in the
# background (log DIR/proxy-PORT.log, pid DIR/proxy-PORT.pid), returns once
# it listens.
proxy_start () {
  local dir=$1 port=$2 up=$3 mode=$4 i
  mkdir -p "$dir"
  python3 -u "$REGLIB_DIR/registry-proxy.py" "$port" "$up" "$mode" \
    </dev/null >"$dir/proxy-$port.log" 2>&1 &
  echo $! >"$dir/proxy-$port.pid"
  for ((i = 0; i < 100; i++)); do
    grep -aq "^listening $port" "$dir/proxy-$port.log" 2>/dev/null && return 0
    _pid_alive "$(cat "$dir/proxy-$port.pid")" || break
    sleep 0.1
  done
  reg_err "proxy on $port did not start:"; cat "$dir/proxy-$port.log" >&2
  return 1
}

# proxy_stop DIR LISTEN_PORT
proxy_stop () {
  local pid
  pid=$(cat "$1/proxy-$2.pid" 2>/dev/null) || return 0
  _stop_pid "$pid"
  rm -f "$1/proxy-$2.pid"
}
