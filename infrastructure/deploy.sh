#!/usr/bin/env bash
# deploy.sh: deploys the graphmill functions (Cloud Run functions, gen2, nodejs24) from a git checkout.
#
# Usage: infrastructure/deploy.sh --project PROJECT_ID [--region REGION] [--dry-run]
#                                 [--source-dir DIR] [--allow-dirty] [FUNCTION...]
#
#   FUNCTION...     orchestrate health ingestEvent phaseTransition replayDeadLetters watchdog reconcile
#                   (default: all of them)
#   --source-dir    the checkout to upload (default: this repository); rollback.sh passes a worktree
#   --allow-dirty   deploy even though uploaded files differ from the commit; the git-sha label then
#                   ends in -dirty
#
# Every function is deployed from the same source tree (--source, filtered by .gcloudignore) with
# --entry-point=NAME; the buildpack runs `npm ci` and the package's `gcp-build` script (tsc), so
# nothing is compiled here. Each gets its trigger, memory, timeout, concurrency and retry setting from
# the catalogue in lib.sh, runs as graphmill-runtime, and is labelled git-sha=<commit>,app=graphmill.
# Afterwards the wiring of wiring.sh is applied (invokers, scheduler jobs, dead-letter policies).
# Run setup.sh once before the first deploy.
#
# Environment:
#   NEO4J_URI (required), NEO4J_USERNAME (default neo4j), BIGQUERY_DATASET (default graphmill)
#   GRAPHMILL_BUILD_TIME      default: now (UTC); set it to compare a dry run with a real run
#   DEPLOYER_SA, ORCHESTRATE_INVOKERS   as for setup.sh (who may call health / orchestrate)
#
# Secrets: the functions get the secret NAMES (NEO4J_PASSWORD_SECRET=neo4j-password,
# SLACK_WEBHOOK_SECRET=slack-webhook-url) and read the values at run time through the Secret Manager
# API, with a TTL cache; an authentication failure drops the cached Neo4j password and fetches it once
# more. A rotated password (a new secret version) is therefore picked up without a redeploy.
# graphmill-runtime may access exactly these two secrets (setup.sh). Injecting values with
# --set-secrets=NEO4J_PASSWORD=neo4j-password:<version> is the alternative for a team that prefers
# pinned versions: reproducible, but every rotation then needs a redeploy (and :latest would be
# resolved only when an instance starts). See docs/deployment.md.

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/wiring.sh
source "$GRAPHMILL_INFRA_DIR/wiring.sh"

# The files .gcloudignore uploads: a change in them that is not committed makes the label lie.
readonly UPLOADED_PATHS=(functions shared cli scripts package.json package-lock.json tsconfig.json tsconfig.build.json .gcloudignore)

main() {
  parse_common_args "$@"
  SOURCE_DIR=$GRAPHMILL_ROOT
  ALLOW_DIRTY=false
  FUNCTIONS=()
  parse_deploy_args ${ARGS[@]+"${ARGS[@]}"}
  require_tools gcloud git jq
  ((${#FUNCTIONS[@]} > 0)) || FUNCTIONS=("${GRAPHMILL_FUNCTIONS[@]}")

  resolve_source_version
  read_function_environment
  log_step "deploying ${FUNCTIONS[*]} at $VERSION_LABEL to $PROJECT/$REGION$(dry_run_note)"
  check_setup_was_run

  local name
  for name in "${FUNCTIONS[@]}"; do
    deploy_function "$name"
  done

  log_step "wiring (invokers, scheduler jobs, dead letters)"
  for name in "${FUNCTIONS[@]}"; do
    if ! wire_deployed_function "$name"; then
      [[ $DRY_RUN == true ]] || die "$name is not found after its deploy"
      log_info "$name is not deployed yet: a real run wires it right after deploying it"
    fi
  done
  log_step "deployed $VERSION_LABEL$(dry_run_note)"
}

parse_deploy_args() {
  while (($#)); do
    case "$1" in
      --source-dir)
        (($# >= 2)) || die "--source-dir needs a value"
        SOURCE_DIR=$2
        shift 2 ;;
      --source-dir=*) SOURCE_DIR=${1#*=}; shift ;;
      --allow-dirty) ALLOW_DIRTY=true; shift ;;
      -*) die "unknown option: $1 (see --help)" ;;
      *)
        require_known_function "$1"
        FUNCTIONS+=("$1")
        shift ;;
    esac
  done
  [[ -d $SOURCE_DIR ]] || die "no such directory: $SOURCE_DIR"
  SOURCE_DIR=$(cd -- "$SOURCE_DIR" && pwd)
}

# Sets GIT_SHA (full, for GRAPHMILL_VERSION) and VERSION_LABEL (12 hex digits, a valid label value:
# lowercase, at most 63 characters).
resolve_source_version() {
  GIT_SHA=$(git -C "$SOURCE_DIR" rev-parse --verify HEAD) || die "$SOURCE_DIR is not a git checkout"
  VERSION_LABEL=$(git -C "$SOURCE_DIR" rev-parse --short=12 HEAD)
  local changes
  changes=$(git -C "$SOURCE_DIR" status --porcelain -- "${UPLOADED_PATHS[@]}")
  if [[ -n $changes ]]; then
    if [[ $ALLOW_DIRTY != true ]]; then
      printf '%s\n' "$changes" >&2
      die "uncommitted changes in the files that would be uploaded; commit them or pass --allow-dirty"
    fi
    log_warn "deploying uncommitted changes; labelled $VERSION_LABEL-dirty"
    VERSION_LABEL="$VERSION_LABEL-dirty"
  fi
}

read_function_environment() {
  [[ -n ${NEO4J_URI:-} ]] || die "NEO4J_URI is required (e.g. neo4j+s://xxxx.databases.neo4j.io)"
  NEO4J_USERNAME=${NEO4J_USERNAME:-neo4j}
  BIGQUERY_DATASET=${BIGQUERY_DATASET:-$DEFAULT_BIGQUERY_DATASET}
  BUILD_TIME=${GRAPHMILL_BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
}

# The environment of one function, as one --set-env-vars value (which replaces the previous set, so
# a variable dropped here disappears from the function too).
function_env_vars() {
  local vars=(
    GRAPHMILL_MODE=gcp
    "GOOGLE_CLOUD_PROJECT=$PROJECT"
    "NEO4J_URI=$NEO4J_URI"
    "NEO4J_USERNAME=$NEO4J_USERNAME"
    "NEO4J_PASSWORD_SECRET=$NEO4J_PASSWORD_SECRET"
    "SLACK_WEBHOOK_SECRET=$SLACK_WEBHOOK_SECRET"
    "BIGQUERY_DATASET=$BIGQUERY_DATASET"
    "INGEST_TOPIC=$INGEST_TOPIC"
    "PHASE_TOPIC=$PHASE_TOPIC"
    "GRAPHMILL_VERSION=$GIT_SHA"
    "GRAPHMILL_BUILD_TIME=$BUILD_TIME"
    "FUNCTION_TIMEOUT_SECONDS=$FN_TIMEOUT_SECONDS"
  )
  local var
  for var in "${vars[@]}"; do
    [[ $var != *,* ]] || die "a comma in an environment value would split it: $var"
  done
  local IFS=,
  printf '%s' "${vars[*]}"
}

check_setup_was_run() {
  query gcloud iam service-accounts describe "$(runtime_sa_email)" "--project=$PROJECT" --format=json ||
    die "service account $(runtime_sa_email) not found: run infrastructure/setup.sh first"
}

deploy_function() {
  local name=$1 env_vars
  load_function_spec "$name"
  env_vars=$(function_env_vars)
  local command=(
    gcloud functions deploy "$name" --gen2 "--project=$PROJECT" "--region=$REGION"
    "--runtime=$RUNTIME" "--source=$SOURCE_DIR" "--entry-point=$name"
  )
  case "$FN_TRIGGER" in
    http)
      command+=(--trigger-http --no-allow-unauthenticated) ;;
    topic)
      # --retry: a thrown (retryable) failure is redelivered by Pub/Sub until the dead-letter policy
      # set by wiring.sh moves it to the -dlq topic; Eventarc calls the function as the invoker account.
      command+=("--trigger-topic=$FN_TOPIC" --retry "--trigger-service-account=$(invoker_sa_email)") ;;
  esac
  command+=("--memory=$FN_MEMORY")
  if [[ -n $FN_CPU ]]; then
    command+=("--cpu=$FN_CPU") # a concurrency above 1 needs at least one whole CPU
  fi
  command+=(
    "--timeout=${FN_TIMEOUT_SECONDS}s" "--concurrency=$FN_CONCURRENCY" "--max-instances=$FN_MAX_INSTANCES"
    "--service-account=$(runtime_sa_email)"
    "--set-env-vars=$env_vars"
    "--update-labels=git-sha=$VERSION_LABEL,app=$APP_LABEL"
    --quiet
  )
  log_step "$name"
  run "${command[@]}"
}

main "$@"
