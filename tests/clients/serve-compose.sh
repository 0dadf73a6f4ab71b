#!/bin/bash
# docker-compose (Debian's 1.29) against one Engine API socket, for
# test-serve.sh to compare between dockerd and berth serve: a project of
# two services sharing a named volume, one with an env file, both with a
# restart policy; up -d, ps, logs, exec, down -v. Prints what a user would
# look at.  Usage: serve-compose.sh unix://SOCKET IMAGE PROJECT WORKDIR
set -u
export DOCKER_HOST=$1
IMG=$2 P=$3 W=$4
mkdir -p "$W" && cd "$W" || exit 1
cat >docker-compose.yml <<YML
version: "3"
services:
  web:
    image: $IMG
    command: sh -c 'echo web up \$\$GREETING; sleep 300'
    env_file: web.env
    volumes:
      - data:/data
    restart: unless-stopped
  worker:
    image: $IMG
    command: sh -c 'echo worker writes; echo from-worker > /data/f; sleep 300'
    volumes:
      - data:/data
    restart: on-failure
volumes:
  data:
YML
echo 'GREETING=hello' >web.env
dc () { docker-compose --ansi never -p "$P" "$@"; }
# compose's progress lines come in the order its threads finish, padded
# to the names then in flight: sorted, spaces squeezed.
dc up -d 2>&1 | sed 's/  */ /g' | sort
echo "up: ${PIPESTATUS[0]}"
dc ps --services | sort
dc ps -q | wc -l
for _ in $(seq 50); do dc exec -T web test -s /data/f 2>/dev/null && break; sleep 0.2; done
dc exec -T web cat /data/f
dc exec -T web sh -c 'echo $GREETING; exit 3'; echo "exec: $?"
for _ in $(seq 50); do [ "$(dc logs --no-color 2>/dev/null | grep -c ' | ')" -ge 2 ] && break; sleep 0.2; done
dc logs --no-color | grep ' | ' | sed 's/ *| /|/' | sort
dc down -v 2>&1 | sed 's/  */ /g' | sort
echo "down: ${PIPESTATUS[0]}"
docker volume ls -q | grep -c "^${P}_"
docker ps -aq --filter "label=com.docker.compose.project=$P" | wc -l
