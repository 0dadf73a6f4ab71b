#!/bin/bash
# berth-runc under `dockerd --userns-remap=default` (containers' root is
# the host's uid 100000, through the dockremap ranges dockerd makes),
# differentially against runc, with test-docker.sh's harness and the
# scenarios of tests/clients/docker-userns-scenarios.
export DOCKER_SCENARIOS=docker-userns-scenarios
export DOCKERD_EXTRA_FLAGS=--userns-remap=default
exec "$(dirname "$0")/test-docker.sh" "$@"
