#!/bin/bash
# berth pull, push, login and logout against Debian's docker-registry
# (distribution 2.8), started here: one plain HTTP instance, one with TLS
# (a CA this test makes) and htpasswd basic auth. Images are put there by
# skopeo from docker-archive files made here (registry-lib.sh), and by
# berth push; berth pulls what skopeo pushed, and skopeo (and podman)
# pull what berth pushed, each compared by image id (the config's digest)
# and manifest digest. Faults come from registry-proxy.py between berth
# and the registry. After every failure the store must be as it was.
# TAP; needs root. By hand:
#     BERTH_BIN=$PWD/berth tests/clients/test-registry.sh
# ONLY=REGEX runs the cases whose name matches.
. "$(dirname "$0")/registry-lib.sh"
{

BERTH=${BERTH_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/berth}
CASES=(pull_layers pull_again pull_shared_base pull_zstd pull_platform push_skopeo_reads
       push_chunked push_podman_reads unknown_tag corrupt_blob dropped_connection
       registry_restart retry_429 status_503 auth_tls auth_bearer registries_config concurrent_pulls
       nothing_left)
[ -z "$ONLY" ] || mapfile -t CASES < <(printf '%s\n' "${CASES[@]}" | grep -E "$ONLY")
echo "1..${#CASES[@]}"

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in docker-registry skopeo htpasswd openssl python3 curl busybox; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
[ -n "$reason" ] || [ -x "$BERTH" ] || reason="berth is not built ($BERTH)"
if [ -n "$reason" ]; then
  for c in "${CASES[@]}"; do echo "ok - $c # SKIP $reason"; done
  exit 0
fi

W=$(mktemp -d /var/tmp/berth-registry.XXXXXX)
PORT_BASE=$((16000 + ($$ % 400) * 10))
PLAIN=127.0.0.1:$PORT_BASE
TLS=127.0.0.1:$((PORT_BASE + 1))
PROXY_PORT=$((PORT_BASE + 2))
PROXY=127.0.0.1:$PROXY_PORT
ROOT=$W/root
N=0
B () { "$BERTH" --root "$ROOT" "$@"; }

cleanup () {
  proxy_stop "$W" "$PROXY_PORT"
  reg_stop "$W/plain"
  reg_stop "$W/tls"
  for p in $(pgrep -f "$W"); do kill -9 "$p" 2>/dev/null; done
  grep -o " $W[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$W"
}
trap cleanup EXIT

tap () {  # tap NAME STATUS [DIAGNOSTIC FILE]
  N=$((N + 1))
  if [ "$2" = 0 ]; then echo "ok $N - $1"; else
    echo "not ok $N - $1"
    [ -n "$3" ] && [ -f "$3" ] && sed 's/^/# /' "$3" | tail -n 30
  fi
}
# A case that cannot run here says why (TAP SKIP).
skip () { echo "$*" >"$W/skip"; }
# A failed check marks the case failed, whatever the case does after it.
fail () { echo "FAIL: $*" >&2; : >"$W/failed"; return 1; }

# The image id skopeo sees: the sha256 of the config's exact bytes.
config_id () { reg_skopeo inspect --config --raw "$@" | sha256sum | cut -c1-64; }
# What berth's store holds, to compare before and after a failed command.
store_state () {
  { B images -q 2>&1 | sort
    ls "$ROOT/blobs/sha256" 2>/dev/null | sort
    ls -A "$ROOT/tmp" 2>/dev/null
    grep -c " $ROOT" /proc/mounts; } >"$1"
}
# A failed command: exit 1, one line on stderr that names $2, store unchanged.
expect_failure () {  # expect_failure WHAT_IN_MESSAGE CMD...
  local want=$1; shift
  store_state "$W/before"
  "$@" >"$W/out" 2>"$W/err"; local rc=$?
  store_state "$W/after"
  [ $rc = 1 ] || fail "exit $rc, not 1"
  [ "$(wc -l <"$W/err")" = 1 ] || fail "stderr is not one line: $(cat "$W/err")"
  grep -q -- "$want" "$W/err" || fail "no '$want' in: $(cat "$W/err")"
  diff "$W/before" "$W/after" >&2 || fail "the store changed"
}

setup () {
  mkdir -p "$W/img" && cd "$W/img" || return 1
  reg_start_plain "$W/plain" "$PORT_BASE" &&
  reg_start_tls "$W/tls" "$((PORT_BASE + 1))" alice s3cret &&
  make_busybox_layer bb.tar && make_layer_tar l1.tar 1 2048 && make_layer_tar l2.tar 2 1024 &&
  make_layer_tar l3.tar 3 && make_layer_tar big.tar 9 20480 && make_layer_tar arm.tar arm &&
  make_layer_tar slow.tar slow 8192 &&
  make_docker_archive three.tar amd64 bb.tar l1.tar l2.tar &&
  make_docker_archive shared.tar amd64 bb.tar l3.tar &&
  make_docker_archive big.tar.img amd64 bb.tar big.tar &&
  make_docker_archive arm64.tar arm64 bb.tar arm.tar &&
  make_docker_archive slow.tar.img amd64 bb.tar slow.tar &&
  reg_push_archive three.tar "$PLAIN/test/three:v1" &&
  reg_push_archive shared.tar "$PLAIN/test/shared:v1" &&
  reg_push_archive three.tar "$PLAIN/test/zstd:v1" --dest-compress-format zstd &&
  reg_push_archive slow.tar.img "$PLAIN/test/slow:v1" &&
  reg_push_manifest_list "$PLAIN/test/multi:v1" three.tar arm64.tar &&
  reg_push_archive three.tar "$TLS/private/three:v1" --dest-creds alice:s3cret &&
  cd "$W"
}
if ! setup >"$W/setup.log" 2>&1; then
  for c in "${CASES[@]}"; do echo "not ok - $c (setup failed)"; done
  sed 's/^/# /' "$W/setup.log" | tail -n 30
  exit 1
fi
THREE_ID=$(config_id --tls-verify=false "docker://$PLAIN/test/three:v1")

case_pull_layers () {
  B pull "$PLAIN/test/three:v1" >"$W/out" 2>"$W/err" || fail "pull: $(cat "$W/err")" || return 1
  [ "$(grep -c ': done' "$W/err")" = 3 ] || fail "not 3 layers fetched: $(cat "$W/err")"
  grep -qx "Image: sha256:$THREE_ID" "$W/out" || fail "id is not skopeo's $THREE_ID: $(cat "$W/out")"
  grep -qx "Digest: $(reg_manifest_digest "$PLAIN/test/three:v1")" "$W/out" || fail "manifest digest"
  B images | grep -q "^$PLAIN/test/three  *v1 " || fail "not tagged: $(B images)"
  [ "$(B images --digests --format '{{.Repository}}:{{.Tag}} {{.Digest}}')" = \
    "$PLAIN/test/three:v1 $(reg_manifest_digest "$PLAIN/test/three:v1")" ] ||
    fail "images --digests: $(B images --digests)"
  [ "$(B run --rm "$PLAIN/test/three:v1" cat /layer1/file /layer2/file | tr -d '\n')" = 12 ] ||
    fail "the layers' files are not in the container"
}

case_pull_again () {
  B pull "$PLAIN/test/three:v1" >"$W/out" 2>"$W/err" || fail "pull: $(cat "$W/err")" || return 1
  ! grep -q ': done' "$W/err" || fail "layers fetched again: $(cat "$W/err")"
  grep -qx "Image: sha256:$THREE_ID" "$W/out" || fail "another id"
}

case_pull_shared_base () {
  B pull "$PLAIN/test/shared:v1" >"$W/out" 2>"$W/err" || fail "pull: $(cat "$W/err")" || return 1
  [ "$(grep -c ': done' "$W/err")" = 1 ] || fail "the shared base was fetched again: $(cat "$W/err")"
  [ "$(B run --rm "$PLAIN/test/shared:v1" cat /layer3/file)" = 3 ] || fail "layer3 missing"
}

case_pull_zstd () {
  reg_get_manifest "$PLAIN/test/zstd:v1" "$W/m" >/dev/null
  grep -q 'tar+zstd' "$W/m" || fail "skopeo did not push zstd layers: $(cat "$W/m")" || return 1
  local id
  id=$(config_id --tls-verify=false "docker://$PLAIN/test/zstd:v1")
  B pull -q "$PLAIN/test/zstd:v1" >"$W/out" 2>"$W/err" || fail "pull: $(cat "$W/err")" || return 1
  [ "$(cat "$W/out")" = "sha256:$id" ] || fail "id $(cat "$W/out"), skopeo's $id"
  [ "$(B run --rm "$PLAIN/test/zstd:v1" cat /layer2/file)" = 2 ] || fail "layer2 missing"
}

case_pull_platform () {
  local amd arm
  amd=$(config_id --tls-verify=false --override-arch amd64 "docker://$PLAIN/test/multi:v1")
  arm=$(config_id --tls-verify=false --override-arch arm64 "docker://$PLAIN/test/multi:v1")
  [ "$amd" != "$arm" ] || fail "the list's two images are one" || return 1
  [ "$(B pull -q "$PLAIN/test/multi:v1")" = "sha256:$amd" ] || fail "host platform: not amd64's"
  [ "$(B pull -q --platform linux/arm64 "$PLAIN/test/multi:v1")" = "sha256:$arm" ] ||
    fail "--platform linux/arm64: not arm64's"
  expect_failure "no image for platform linux/s390x (the registry has: linux/amd64, linux/arm64" \
    B pull --platform linux/s390x "$PLAIN/test/multi:v1"
}

case_push_skopeo_reads () {
  B pull -q "$PLAIN/test/three:v1" >/dev/null || fail "pull" || return 1
  B push "$PLAIN/test/three:v1" "$PLAIN/pushed/three:v2" >"$W/out" 2>"$W/err" ||
    fail "push: $(cat "$W/err")" || return 1
  local digest
  digest=$(sed -n 's/^Digest: //p' "$W/out")
  # Its layers came from test/three of the same registry: mounted, not sent.
  ! grep -q ': done' "$W/err" || fail "layers uploaded, not mounted: $(cat "$W/err")"
  [ "$(grep -c 'POST /v2/pushed/three/blobs/uploads/?mount=sha256.* 201 ' "$W/plain/log")" = 3 ] ||
    fail "not 3 cross-repository mounts (201) in the registry's log"
  B inspect --type image "$PLAIN/test/three:v1" | grep -q "\"$PLAIN/pushed/three@$digest\"" ||
    fail "inspect's RepoDigests lack the pushed one: $(B inspect --type image "$PLAIN/test/three:v1")" 
  [ "$digest" = "$(reg_manifest_digest "$PLAIN/pushed/three:v2")" ] || fail "digest $digest"
  [ "$(config_id --tls-verify=false "docker://$PLAIN/pushed/three:v2")" = "$THREE_ID" ] ||
    fail "skopeo sees another image id"
  # skopeo checks every blob's digest as it copies.
  reg_skopeo copy -q --src-tls-verify=false "docker://$PLAIN/pushed/three:v2" "dir:$W/skopeo-dir" ||
    fail "skopeo copy of what berth pushed failed"
  # The same image again: every blob is there (HEAD), same manifest.
  B push "$PLAIN/test/three:v1" "$PLAIN/pushed/three:v2" >"$W/out" 2>"$W/err" || fail "push again"
  ! grep -q ': done' "$W/err" || fail "blobs uploaded again: $(cat "$W/err")"
  grep -qx "Digest: $digest" "$W/out" || fail "another digest the second time"
}

case_push_chunked () {
  # A 20 MiB incompressible layer: over the one-PUT limit, sent in PATCHes.
  local id
  id=$(B load -i "$W/img/big.tar.img" 2>/dev/null | sed -n 's/^Loaded image: //p')
  [ -n "$id" ] || fail "load" || return 1
  B tag "${id#sha256:}" "$PLAIN/pushed/big:v1" || fail "tag" || return 1
  B push "$PLAIN/pushed/big:v1" >"$W/out" 2>"$W/err" || fail "push: $(cat "$W/err")" || return 1
  # The pushed tag's row shows the manifest digest push printed.
  [ "$(B images --digests --format '{{.Digest}}' | grep -c "^$(sed -n 's/^Digest: //p' "$W/out")$")" = 1 ] ||
    fail "images --digests does not show the pushed digest: $(B images --digests)"
  grep -q 'PATCH' "$W/plain/log" || fail "no PATCH in the registry's log"
  [ "sha256:$(config_id --tls-verify=false "docker://$PLAIN/pushed/big:v1")" = "$id" ] ||
    fail "skopeo sees another image id"
  reg_skopeo copy -q --src-tls-verify=false "docker://$PLAIN/pushed/big:v1" "dir:$W/skopeo-big" ||
    fail "skopeo copy failed"
}

case_push_podman_reads () {
  command -v podman >/dev/null || { skip "podman is not installed"; return 0; }
  B pull -q "$PLAIN/test/three:v1" >/dev/null && B push -q "$PLAIN/test/three:v1" \
    "$PLAIN/pushed/three:v2" >/dev/null || fail "berth pull and push" || return 1
  local P="podman --root $W/podman --runroot $W/podman-run --storage-driver vfs"
  $P pull -q --tls-verify=false "$PLAIN/pushed/three:v2" >"$W/out" 2>"$W/err" ||
    fail "podman pull: $(cat "$W/err")" || return 1
  [ "$(head -c 64 "$W/out")" = "$THREE_ID" ] || fail "podman's id $(cat "$W/out"), berth's $THREE_ID"
  [ "$($P run --rm --net none "$PLAIN/pushed/three:v2" cat /layer1/file 2>/dev/null)" = 1 ] ||
    echo "# podman could not run it here (not a failure of berth's push)"
  $P rmi -af >/dev/null 2>&1
}

case_unknown_tag () {
  expect_failure "pull $PLAIN/test/three:nope: .*manifest unknown" B pull "$PLAIN/test/three:nope"
}

case_corrupt_blob () {
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" corrupt || return 1
  expect_failure "pull $PROXY/test/slow:v1: .*blob sha256:[0-9a-f]*: digest mismatch" \
    B pull "$PROXY/test/slow:v1"
  local rc=$?
  proxy_stop "$W" "$PROXY_PORT"
  return $rc
}

case_dropped_connection () {
  # Half of each blob, then the connection closes: resumed with Range.
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" truncate || return 1
  local want
  want=$(config_id --tls-verify=false "docker://$PLAIN/test/slow:v1")
  B rmi "$PLAIN/test/slow:v1" >/dev/null 2>&1
  B pull -q "$PROXY/test/slow:v1" >"$W/out" 2>"$W/err"
  local rc=$?
  proxy_stop "$W" "$PROXY_PORT"
  [ $rc = 0 ] || fail "pull: $(cat "$W/err")" || return 1
  [ "$(cat "$W/out")" = "sha256:$want" ] || fail "id $(cat "$W/out")"
  grep -q ' 206 ' "$W/plain/log" || fail "no ranged (206) answer in the registry's log"
  B rmi "$PROXY/test/slow:v1" >/dev/null
}

case_registry_restart () {
  # The server goes away mid-blob and comes back: the pull goes on.
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" slow || return 1
  B pull -q "$PROXY/test/slow:v1" >"$W/out" 2>"$W/err" &
  local pid=$! i
  for ((i = 0; i < 100; i++)); do
    grep -q "^sending .*blobs" "$W/proxy-$PROXY_PORT.log" && break
    sleep 0.1
  done
  sleep 0.5
  proxy_stop "$W" "$PROXY_PORT"
  sleep 1
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" pass || return 1
  wait $pid; local rc=$?
  proxy_stop "$W" "$PROXY_PORT"
  [ $rc = 0 ] || fail "pull: $(cat "$W/err")" || return 1
  [ "$(cat "$W/out")" = "sha256:$(config_id --tls-verify=false "docker://$PLAIN/test/slow:v1")" ] ||
    fail "another id"
  B rmi "$PROXY/test/slow:v1" >/dev/null
}

case_retry_429 () {
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" status:429 || return 1
  B pull -q "$PROXY/test/shared:v1" >"$W/out" 2>"$W/err"
  local rc=$?
  proxy_stop "$W" "$PROXY_PORT"
  [ $rc = 0 ] || fail "pull: $(cat "$W/err")"
  B rmi "$PROXY/test/shared:v1" >/dev/null
}

case_status_503 () {
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" status-always:503 || return 1
  B rmi "$PLAIN/test/slow:v1" >/dev/null 2>&1
  expect_failure "pull $PROXY/test/slow:v1: GET /v2/test/slow/blobs/sha256:[0-9a-f]*: HTTP 503" \
    B pull "$PROXY/test/slow:v1"
  local rc=$?
  proxy_stop "$W" "$PROXY_PORT"
  return $rc
}

case_auth_tls () {
  local certs auth=$W/auth.json
  certs=$(reg_cert_dir "$W/tls")
  expect_failure "authentication required" B pull --cert-dir "$certs" --authfile "$auth" \
    "$TLS/private/three:v1" || return 1
  expect_failure "certificate" B pull --authfile "$auth" "$TLS/private/three:v1" || return 1
  echo wrong | B login --cert-dir "$certs" --authfile "$auth" -u alice --password-stdin "$TLS" \
    >"$W/out" 2>"$W/err" && fail "a wrong password logged in"
  grep -q "wrong user name or password" "$W/err" || fail "message: $(cat "$W/err")"
  [ ! -e "$auth" ] || fail "a wrong password was stored" || return 1
  echo s3cret | B login --cert-dir "$certs" --authfile "$auth" -u alice --password-stdin "$TLS" \
    >"$W/out" 2>"$W/err" || fail "login: $(cat "$W/err")" || return 1
  [ "$(stat -c %a "$auth")" = 600 ] || fail "auth file mode $(stat -c %a "$auth")"
  # skopeo reads the file berth wrote.
  reg_skopeo inspect --authfile "$auth" --cert-dir "$certs" "docker://$TLS/private/three:v1" \
    >/dev/null || fail "skopeo cannot use berth's auth file"
  [ "$(B pull -q --cert-dir "$certs" --authfile "$auth" "$TLS/private/three:v1")" = "sha256:$THREE_ID" ] ||
    fail "pull over TLS with the stored credentials"
  B push --cert-dir "$certs" --authfile "$auth" "$TLS/private/three:v1" "$TLS/private/copy:v1" \
    >/dev/null 2>"$W/err" || fail "push over TLS: $(cat "$W/err")"
  B logout --authfile "$auth" "$TLS" >/dev/null || fail "logout"
  ! grep -q "$TLS" "$auth" || fail "logout left the entry"
  expect_failure "authentication required" B pull --cert-dir "$certs" --authfile "$auth" \
    "$TLS/private/copy:v1"
}

case_auth_bearer () {
  # Docker Hub's token dance, the proxy as token server and gate.
  proxy_start "$W" "$PROXY_PORT" "$PORT_BASE" bearer || return 1
  expect_failure "unauthorized" B pull "$PROXY/test/shared:v1"
  expect_failure "unauthorized" B pull --creds alice:wrong "$PROXY/test/shared:v1"
  B pull -q --creds alice:s3cret "$PROXY/test/shared:v1" >"$W/out" 2>"$W/err" ||
    fail "pull with a token: $(cat "$W/err")"
  grep -q "^token scope=repository:test/shared:pull$" "$W/proxy-$PROXY_PORT.log" ||
    fail "no token asked for repository:test/shared:pull: $(grep token "$W/proxy-$PROXY_PORT.log")"
  echo s3cret | B login --authfile "$W/bearer.json" -u alice --password-stdin "$PROXY" >/dev/null ||
    fail "login through the token server"
  B rmi "$PROXY/test/shared:v1" >/dev/null 2>&1
  B pull -q --authfile "$W/bearer.json" "$PROXY/test/shared:v1" >/dev/null 2>"$W/err" ||
    fail "pull with the stored credentials: $(cat "$W/err")"
  proxy_stop "$W" "$PROXY_PORT"
}

case_registries_config () {
  # A mirror for a registry that does not exist, and certs-dirs holding
  # the TLS registry's CA: no --cert-dir needed.
  mkdir -p "$W/certs.d/$TLS" && cp "$W/tls/ca.crt" "$W/certs.d/$TLS/ca.crt"
  cat >"$W/registries.json" <<EOF2
{ "registry-mirrors": { "mirror-test.invalid:5000": ["http://$PLAIN"] },
  "certs-dirs": ["$W/certs.d"] }
EOF2
  export BERTH_REGISTRIES_CONFIG=$W/registries.json
  [ "$(B pull -q mirror-test.invalid:5000/test/three:v1)" = "sha256:$THREE_ID" ] ||
    fail "pull through the mirror"
  B images | grep -q "^mirror-test.invalid:5000/test/three  *v1 " || fail "not tagged by its own name"
  [ "$(B pull -q --creds alice:s3cret "$TLS/private/three:v1")" = "sha256:$THREE_ID" ] ||
    fail "TLS with the CA from certs-dirs"
  echo '{"registry-mirrors": ' >"$W/registries.json"
  expect_failure "registries config: .*registries.json" B pull "$PLAIN/test/three:v1"
  unset BERTH_REGISTRIES_CONFIG
}

case_concurrent_pulls () {
  local root2=$W/root2 i pids=()
  for i in 1 2 3; do
    "$BERTH" --root "$root2" pull -q "$PLAIN/test/three:v1" >"$W/c$i" 2>"$W/c$i.err" & pids+=($!)
  done
  for i in 0 1 2; do
    wait "${pids[$i]}" || fail "pull $((i + 1)): $(cat "$W/c$((i + 1)).err")"
  done
  [ "$(cat "$W/c1" "$W/c2" "$W/c3" | sort -u)" = "sha256:$THREE_ID" ] || fail "ids differ" || return 1
  [ "$("$BERTH" --root "$root2" images -q | wc -l)" = 1 ] || fail "not one image"
  [ -z "$(ls -A "$root2/tmp")" ] || fail "staging left in tmp/"
}

case_nothing_left () {
  B images -q | xargs -r "$BERTH" --root "$ROOT" rmi -f >/dev/null 2>&1
  [ -z "$(ls -A "$ROOT/blobs/sha256")" ] || fail "blobs left: $(ls "$ROOT/blobs/sha256")"
  [ -z "$(ls -A "$ROOT/tmp")" ] || fail "tmp/ left: $(ls "$ROOT/tmp")"
  ! grep -q " $W" /proc/mounts || fail "mounts left"
}

for c in "${CASES[@]}"; do
  rm -f "$W/failed" "$W/skip"
  ( "case_$c" ) >"$W/case.log" 2>&1
  rc=$?
  [ ! -e "$W/failed" ] || rc=1
  if [ $rc = 0 ] && [ -e "$W/skip" ]; then
    N=$((N + 1)); echo "ok $N - $c # SKIP $(cat "$W/skip")"
  else
    tap "$c" $rc "$W/case.log"
  fi
done

}
