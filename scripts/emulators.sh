#!/usr/bin/env bash
# Starts (or stops) the Firestore and Pub/Sub emulators on loopback, when the Google Cloud SDK and its
# emulator components are installed, so the contract suites also run against them. Without them this
# prints why and does nothing: the Firestore/Pub/Sub suites then skip with that reason.
#
#   scripts/emulators.sh start   # prints FIRESTORE_EMULATOR_HOST= / PUBSUB_EMULATOR_HOST= lines (eval-able)
#   scripts/emulators.sh stop
set -euo pipefail

state_dir="${GRAPHMILL_STATE_DIR:-.graphmill}/emulators"
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for() { # name url seconds
  local deadline=$((SECONDS + $3))
  until curl -fsS -o /dev/null "$2" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "emulators: $1 did not answer on $2 within $3 s (log: $state_dir/$1.log)" >&2
      return 1
    fi
    sleep 0.5
  done
}

start() {
  if ! command -v gcloud >/dev/null 2>&1; then
    echo "emulators: gcloud is not installed; the Firestore and Pub/Sub suites will skip" >&2
    return 0
  fi
  local sdk
  sdk="$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")"
  if [ ! -d "$sdk/platform/cloud-firestore-emulator" ] || [ ! -d "$sdk/platform/pubsub-emulator" ]; then
    echo "emulators: the Firestore/Pub/Sub emulator components are not installed; their suites will skip" >&2
    return 0
  fi
  mkdir -p "$state_dir"
  local fs_port ps_port
  fs_port="$(free_port)"
  ps_port="$(free_port)"
  setsid gcloud emulators firestore start --host-port="127.0.0.1:$fs_port" --project=graphmill-test \
    >"$state_dir/firestore.log" 2>&1 &
  echo $! >"$state_dir/firestore.pid"
  setsid gcloud beta emulators pubsub start --host-port="127.0.0.1:$ps_port" --project=graphmill-test \
    >"$state_dir/pubsub.log" 2>&1 &
  echo $! >"$state_dir/pubsub.pid"
  wait_for firestore "http://127.0.0.1:$fs_port/" 90
  wait_for pubsub "http://127.0.0.1:$ps_port/" 90
  printf 'FIRESTORE_EMULATOR_HOST=127.0.0.1:%s\nPUBSUB_EMULATOR_HOST=127.0.0.1:%s\n' "$fs_port" "$ps_port" \
    | tee "$state_dir/emulators.env"
}

stop() {
  local name pid
  for name in firestore pubsub; do
    if [ -f "$state_dir/$name.pid" ]; then
      pid="$(cat "$state_dir/$name.pid")"
      # setsid made the emulator its own process group: end the whole group (gcloud + the Java server).
      kill -TERM -- "-$pid" 2>/dev/null || true
      rm -f "$state_dir/$name.pid"
    fi
  done
  rm -f "$state_dir/emulators.env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
