#!/usr/bin/env bash
# Validates docker-compose.yml with a Compose implementation other than the
# compose-go library that worker/compose_test.go uses: Debian's docker-compose
# (the Python tool, 1.29). No Docker engine runs on these machines, so this
# parses, interpolates and checks the file against the Compose schema; it
# starts nothing. The default services and the demo profile are both checked.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker-compose from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Without recommends: docker-compose recommends docker.io, a whole engine
  # that `config` does not need.
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

# A fixed project name: the same check whatever the folder is called.
export COMPOSE_PROJECT_NAME=recur
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile demo config -q
echo "docker-compose.yml is valid for docker-compose $(docker-compose version --short)"
