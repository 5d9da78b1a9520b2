# shellcheck shell=bash disable=SC2034
# (SC2034: the names and FN_* variables defined here are used by the scripts that source this file.)
# lib.sh: shared helpers of the graphmill operations scripts (setup.sh, deploy.sh, rollback.sh,
# deployed-versions.sh, scripts/check-function-drift.sh). Sourced, never executed.
#
# What it gives a script:
#   - strict mode (errexit, nounset, pipefail) and a scratch directory removed on exit;
#   - the names every script agrees on (topics, service accounts, secrets, dataset) and the catalogue
#     of functions (trigger, memory, timeout, concurrency, schedule): change them here, only here;
#   - parse_common_args: --project, --region, --dry-run, -h/--help;
#   - run: prints the exact command ("+ gcloud ...", shell-quoted, on stdout) and runs it unless
#     --dry-run; run_create, the same for a create, accepting ALREADY_EXISTS (and nothing else) as
#     success; run_iam_binding, retrying while IAM does not know a new service account yet;
#   - query: read-only commands (describe, list, get-iam-policy, show) that run in --dry-run too, so a
#     dry run takes the same decisions as a real run. A NOT_FOUND answer means "absent"; any other
#     failure (permission denied, no credentials) stops the script instead of being mistaken for
#     "absent";
#   - ensure_role: adds an IAM binding only when the resource's policy lacks it.
#
# Commands never read stdin (</dev/null): they run inside `while read` loops and must not eat their
# input, and nothing may wait for an answer. Everything human goes to stderr; stdout carries only the
# "+ command" lines, so `setup.sh --dry-run > plan.txt` is the list of changes a real run would make.

set -Eeuo pipefail

if ((BASH_VERSINFO[0] < 4)); then
  echo "graphmill scripts need bash >= 4 (macOS: brew install bash)" >&2
  exit 2
fi

GRAPHMILL_INFRA_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
GRAPHMILL_ROOT=$(cd -- "$GRAPHMILL_INFRA_DIR/.." && pwd)
readonly GRAPHMILL_INFRA_DIR GRAPHMILL_ROOT

# --- names shared by every script ---------------------------------------------------------------

readonly DEFAULT_REGION=europe-west1
readonly RUNTIME=nodejs24
readonly APP_LABEL=graphmill

readonly INGEST_TOPIC=ingest-requests
readonly PHASE_TOPIC=phase-completions
readonly EVENT_TOPICS=("$INGEST_TOPIC" "$PHASE_TOPIC")
readonly DEAD_LETTER_SUFFIX=-dlq
readonly DEAD_LETTER_SUBSCRIPTION_SUFFIX=-dlq-sub
readonly MAX_DELIVERY_ATTEMPTS=10

readonly RUNTIME_SA_NAME=graphmill-runtime
readonly INVOKER_SA_NAME=graphmill-scheduler

readonly NEO4J_PASSWORD_SECRET=neo4j-password
readonly SLACK_WEBHOOK_SECRET=slack-webhook-url
readonly SECRETS=("$NEO4J_PASSWORD_SECRET" "$SLACK_WEBHOOK_SECRET")

readonly DEFAULT_BIGQUERY_DATASET=graphmill

# Deploy order: HTTP functions first, then the event functions, then the scheduled ones.
readonly GRAPHMILL_FUNCTIONS=(orchestrate health ingestEvent phaseTransition replayDeadLetters watchdog reconcile)

# load_function_spec NAME: sets the FN_* variables describing one function; returns 1 for an unknown name.
#   FN_TRIGGER        http | topic
#   FN_TOPIC          the Pub/Sub topic of an event function
#   FN_MEMORY         --memory
#   FN_TIMEOUT_SECONDS --timeout (also exported to the function as FUNCTION_TIMEOUT_SECONDS, from which
#                     the document lease is computed: both come from this one number)
#   FN_CONCURRENCY    requests per instance; more than 1 needs a whole CPU (FN_CPU=1)
#   FN_MAX_INSTANCES  --max-instances: with FN_CONCURRENCY it bounds the Neo4j connections a function can
#                     open (each request holds at most one): orchestrate 10 x 8 + ingestEvent 20 x 1 +
#                     health 2 + the scheduled ones 1 each = at most 105, inside a Neo4j server's default
#                     of 400 Bolt threads (docs/deployment.md). Raise them together.
#   FN_SCHEDULE, FN_SCHEDULER_JOB  cron and job name of the functions Cloud Scheduler calls
load_function_spec() {
  FN_TOPIC='' FN_CONCURRENCY=1 FN_CPU='' FN_SCHEDULE='' FN_SCHEDULER_JOB='' FN_MAX_INSTANCES=1
  case "$1" in
    orchestrate)
      FN_TRIGGER=http FN_MEMORY=512Mi FN_TIMEOUT_SECONDS=540 FN_CONCURRENCY=8 FN_CPU=1 FN_MAX_INSTANCES=10 ;;
    ingestEvent)
      FN_TRIGGER=topic FN_TOPIC=$INGEST_TOPIC FN_MEMORY=512Mi FN_TIMEOUT_SECONDS=540 FN_MAX_INSTANCES=20 ;;
    phaseTransition)
      FN_TRIGGER=topic FN_TOPIC=$PHASE_TOPIC FN_MEMORY=256Mi FN_TIMEOUT_SECONDS=60 FN_MAX_INSTANCES=10 ;;
    replayDeadLetters)
      FN_TRIGGER=http FN_MEMORY=512Mi FN_TIMEOUT_SECONDS=540
      FN_SCHEDULE='*/15 * * * *' FN_SCHEDULER_JOB=graphmill-replay-dead-letters ;;
    health)
      FN_TRIGGER=http FN_MEMORY=256Mi FN_TIMEOUT_SECONDS=30 FN_MAX_INSTANCES=2 ;;
    watchdog)
      FN_TRIGGER=http FN_MEMORY=256Mi FN_TIMEOUT_SECONDS=60
      FN_SCHEDULE='*/10 * * * *' FN_SCHEDULER_JOB=graphmill-watchdog ;;
    reconcile)
      FN_TRIGGER=http FN_MEMORY=512Mi FN_TIMEOUT_SECONDS=540
      FN_SCHEDULE='0 * * * *' FN_SCHEDULER_JOB=graphmill-reconcile ;;
    *) return 1 ;;
  esac
}

# The paths whose commits change what a function runs (used by the drift check): its folder, the shared
# code, the package main that loads it, and the dependency manifests the buildpack installs from.
function_source_paths() {
  printf '%s\n' "functions/$1" shared functions/index.ts package.json package-lock.json
}

# --- output -------------------------------------------------------------------------------------

if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
  _C_BOLD=$'\e[1m' _C_DIM=$'\e[2m' _C_YELLOW=$'\e[33m' _C_RED=$'\e[31m' _C_RESET=$'\e[0m'
else
  _C_BOLD='' _C_DIM='' _C_YELLOW='' _C_RED='' _C_RESET=''
fi

log_step() { printf '%s==> %s%s\n' "$_C_BOLD" "$*" "$_C_RESET" >&2; }
log_info() { printf '    %s\n' "$*" >&2; }
log_exists() { printf '%s    = %s%s\n' "$_C_DIM" "$*" "$_C_RESET" >&2; }
log_warn() { printf '%s    ! %s%s\n' "$_C_YELLOW" "$*" "$_C_RESET" >&2; }
die() {
  printf '%serror: %s%s\n' "$_C_RED" "$*" "$_C_RESET" >&2
  exit 2
}

# Prints a script's header comment (the comment lines after the shebang) as its usage.
print_usage() {
  sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0" >&2
}

# --- scratch space and cleanup ------------------------------------------------------------------

GRAPHMILL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/graphmill.XXXXXX")
_CLEANUP_COMMANDS=()

# on_exit CMD...: runs CMD when the script exits (last registered, first run).
on_exit() {
  local quoted
  printf -v quoted '%q ' "$@"
  _CLEANUP_COMMANDS=("$quoted" "${_CLEANUP_COMMANDS[@]}")
}

_run_cleanup() {
  local status=$? command
  for command in "${_CLEANUP_COMMANDS[@]}"; do
    eval "$command" || true # cleanup must not hide the script's own exit status
  done
  rm -rf "$GRAPHMILL_TMP"
  exit "$status"
}
trap _run_cleanup EXIT

# --- arguments ----------------------------------------------------------------------------------

# parse_common_args "$@": sets PROJECT, REGION, DRY_RUN and leaves every other argument, in order, in
# ARGS. The project comes from --project or GOOGLE_CLOUD_PROJECT (never from the gcloud config, so a
# forgotten `gcloud config set project` cannot send a deploy to the wrong project); the region from
# --region, GRAPHMILL_REGION, or europe-west1.
parse_common_args() {
  PROJECT=${GOOGLE_CLOUD_PROJECT:-}
  REGION=${GRAPHMILL_REGION:-$DEFAULT_REGION}
  DRY_RUN=false
  ARGS=()
  while (($#)); do
    case "$1" in
      --project | --region)
        (($# >= 2)) || die "$1 needs a value"
        if [[ $1 == --project ]]; then PROJECT=$2; else REGION=$2; fi
        shift 2 ;;
      --project=*) PROJECT=${1#*=}; shift ;;
      --region=*) REGION=${1#*=}; shift ;;
      --dry-run) DRY_RUN=true; shift ;;
      -h | --help) print_usage; exit 0 ;;
      --) shift; ARGS+=("$@"); break ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
  [[ -n $PROJECT ]] || die "no project: pass --project PROJECT_ID or set GOOGLE_CLOUD_PROJECT"
  [[ $PROJECT =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "not a valid project id: $PROJECT"
  [[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "not a valid region: $REGION"
}

# " (dry run)" in --dry-run, else nothing: for headings.
dry_run_note() {
  if [[ $DRY_RUN == true ]]; then printf ' (dry run)'; fi
}

# Dies unless every named command is on PATH.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not on PATH"
  done
}

# Dies unless NAME is one of GRAPHMILL_FUNCTIONS.
require_known_function() {
  load_function_spec "$1" || die "unknown function: $1 (known: ${GRAPHMILL_FUNCTIONS[*]})"
}

runtime_sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$RUNTIME_SA_NAME" "$PROJECT"; }
invoker_sa_email() { printf '%s@%s.iam.gserviceaccount.com' "$INVOKER_SA_NAME" "$PROJECT"; }

# --- running commands ---------------------------------------------------------------------------

# Prints a command the way it is run: "+ " then the shell-quoted words, on stdout.
print_command() {
  local quoted
  printf -v quoted '%q ' "$@"
  printf '+ %s\n' "${quoted% }"
}

# run CMD...: prints CMD, then runs it unless --dry-run.
run() {
  print_command "$@"
  [[ $DRY_RUN == true ]] && return 0
  "$@" </dev/null
}

# run_create CMD...: like run, for a create that a describe just found necessary. If the resource
# appeared in between (another operator, a previous run that timed out after the server had created
# it), the ALREADY_EXISTS answer is accepted; every other failure fails the script.
run_create() {
  print_command "$@"
  [[ $DRY_RUN == true ]] && return 0
  local err_file="$GRAPHMILL_TMP/create.err" status=0
  "$@" </dev/null 2>"$err_file" || status=$?
  cat "$err_file" >&2
  if ((status != 0)) && grep -qiE 'ALREADY_EXISTS|already exists' "$err_file"; then
    log_exists "already exists (created concurrently); continuing"
    return 0
  fi
  return "$status"
}

# run_iam_binding CMD...: like run, retrying while IAM does not yet know a service account created
# seconds ago (IAM is eventually consistent; the first binding of a new account often fails once).
run_iam_binding() {
  print_command "$@"
  [[ $DRY_RUN == true ]] && return 0
  local attempts=${GRAPHMILL_IAM_ATTEMPTS:-6} delay=${GRAPHMILL_IAM_RETRY_SECONDS:-10}
  local err_file="$GRAPHMILL_TMP/iam.err" attempt status
  for ((attempt = 1; ; attempt++)); do
    status=0
    "$@" </dev/null >/dev/null 2>"$err_file" || status=$?
    if ((status == 0)); then return 0; fi
    if ((attempt >= attempts)) || ! grep -qE 'does not exist|NOT_FOUND' "$err_file"; then
      cat "$err_file" >&2
      return "$status"
    fi
    log_info "IAM does not know the member yet; retrying in ${delay}s ($attempt/$attempts)"
    sleep "$delay"
  done
}

# is_not_found_answer FILE: does a failed command's output say that the resource does not exist?
# Permission and credential errors are checked first: "Permission denied on resource (or it may not
# exist)" must stop the script, not make it create something.
is_not_found_answer() {
  if grep -qE 'PERMISSION_DENIED|UNAUTHENTICATED|[Aa]ccess [Dd]enied|do not currently have an active account|[Rr]eauthentication' "$1"; then
    return 1
  fi
  grep -qE 'NOT_FOUND|[Nn]ot found|does not exist|status=\[404\]' "$1"
}

# query CMD...: runs a read-only command, also in --dry-run. Its stdout is left in QUERY_OUTPUT.
# Returns 0 when it succeeded, 1 when the resource does not exist; any other failure ends the script.
QUERY_OUTPUT=''
query() {
  local out_file="$GRAPHMILL_TMP/query.out" err_file="$GRAPHMILL_TMP/query.err" status=0
  "$@" </dev/null >"$out_file" 2>"$err_file" || status=$?
  if ((status == 0)); then
    QUERY_OUTPUT=$(<"$out_file")
    return 0
  fi
  QUERY_OUTPUT=''
  cat "$out_file" >>"$err_file" # bq prints its errors on stdout
  if is_not_found_answer "$err_file"; then
    return 1
  fi
  local quoted
  printf -v quoted '%q ' "$@"
  printf '%s\n' "query failed: ${quoted% }" >&2
  cat "$err_file" >&2
  exit 2
}

# jq_field JSON FILTER: prints one field of a JSON document ('' when absent or null).
jq_field() {
  jq -r "($2) // empty" <<<"$1"
}

# --- project facts ------------------------------------------------------------------------------

PROJECT_NUMBER=''

# Reads the project number once (the Pub/Sub service agent's address is built from it).
load_project_number() {
  [[ -n $PROJECT_NUMBER ]] && return 0
  query gcloud projects describe "$PROJECT" --format=json || die "project $PROJECT not found"
  PROJECT_NUMBER=$(jq_field "$QUERY_OUTPUT" '.projectNumber')
  [[ $PROJECT_NUMBER =~ ^[0-9]+$ ]] || die "could not read the number of project $PROJECT"
}

# The Google-managed identity through which Pub/Sub forwards undeliverable messages to a dead-letter
# topic (and signs push requests); it needs the roles setup.sh and deploy.sh grant it.
# load_project_number must have run (not inside $(...), where what it loads would be lost).
pubsub_service_agent() {
  [[ -n $PROJECT_NUMBER ]] || die "internal: pubsub_service_agent before load_project_number"
  printf 'serviceAccount:service-%s@gcp-sa-pubsub.iam.gserviceaccount.com' "$PROJECT_NUMBER"
}

# --- IAM ----------------------------------------------------------------------------------------

# iam_policy_command KIND RESOURCE VERB: fills IAM_COMMAND with the command that reads
# (VERB=get-iam-policy) or extends (VERB=add-iam-policy-binding) the IAM policy of one resource.
iam_policy_command() {
  local kind=$1 resource=$2 verb=$3
  case "$kind" in
    project) IAM_COMMAND=(gcloud projects "$verb" "$resource") ;;
    topic) IAM_COMMAND=(gcloud pubsub topics "$verb" "$resource" "--project=$PROJECT") ;;
    subscription) IAM_COMMAND=(gcloud pubsub subscriptions "$verb" "$resource" "--project=$PROJECT") ;;
    secret) IAM_COMMAND=(gcloud secrets "$verb" "$resource" "--project=$PROJECT") ;;
    service-account) IAM_COMMAND=(gcloud iam service-accounts "$verb" "$resource" "--project=$PROJECT") ;;
    bucket) IAM_COMMAND=(gcloud storage buckets "$verb" "gs://$resource") ;;
    run-service) IAM_COMMAND=(gcloud run services "$verb" "$resource" "--region=$REGION" "--project=$PROJECT") ;;
    *) die "unknown IAM resource kind: $kind" ;;
  esac
}

# policy_has_binding POLICY_JSON ROLE MEMBER: is MEMBER granted ROLE without a condition?
policy_has_binding() {
  jq -e --arg role "$2" --arg member "$3" \
    'any(.bindings[]?; .role == $role and .condition == null and any(.members[]?; . == $member))' \
    <<<"$1" >/dev/null
}

_PROJECT_POLICY=''

# ensure_role KIND RESOURCE MEMBER ROLE: grants ROLE to MEMBER on one resource unless its policy
# already has that binding. The project policy is read once per run: it is one document for all the
# project-level roles, and no binding is checked twice.
ensure_role() {
  local kind=$1 resource=$2 member=$3 role=$4 policy
  if [[ $kind == project ]]; then
    if [[ -z $_PROJECT_POLICY ]]; then
      iam_policy_command project "$resource" get-iam-policy
      query "${IAM_COMMAND[@]}" --format=json || die "cannot read the IAM policy of project $resource"
      _PROJECT_POLICY=$QUERY_OUTPUT
    fi
    policy=$_PROJECT_POLICY
  else
    iam_policy_command "$kind" "$resource" get-iam-policy
    # A resource that this dry run would have created has no policy yet: nothing is granted on it.
    if query "${IAM_COMMAND[@]}" --format=json; then policy=$QUERY_OUTPUT; else policy='{}'; fi
  fi
  if policy_has_binding "$policy" "$role" "$member"; then
    log_exists "$role on $kind $resource for $member"
    return 0
  fi
  iam_policy_command "$kind" "$resource" add-iam-policy-binding
  if [[ $kind == project ]]; then
    # --condition=None: an unconditional binding; without it gcloud asks when the policy has conditions.
    run_iam_binding "${IAM_COMMAND[@]}" "--member=$member" "--role=$role" --condition=None
  else
    run_iam_binding "${IAM_COMMAND[@]}" "--member=$member" "--role=$role"
  fi
}
