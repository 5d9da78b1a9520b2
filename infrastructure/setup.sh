#!/usr/bin/env bash
# setup.sh: prepares a Google Cloud project for graphmill (everything except the functions' code).
#
# Usage: infrastructure/setup.sh --project PROJECT_ID [--region REGION] [--dry-run]
#
# Creates what is missing, and leaves what exists alone:
#   APIs; service accounts graphmill-runtime (the functions) and graphmill-scheduler (Cloud Scheduler
#   and Eventarc calls) with least-privilege roles; Secret Manager secrets neo4j-password and
#   slack-webhook-url (no values); topics ingest-requests and phase-completions, their dead-letter
#   topics and a pull subscription on each dead-letter topic; the Firestore database and its composite
#   indexes (firestore.indexes.json); the BigQuery dataset and tables (bigquery/*.json); log-based
#   metrics, alert policies and a dashboard (monitoring/). For the functions that are already deployed
#   it also applies the wiring that deploy.sh applies (invokers, scheduler jobs, dead-letter policies
#   of the Eventarc subscriptions), so a second run after a deploy completes anything missing.
#
# Idempotent: every resource is described before it is created, a create that races with another
# run accepts ALREADY_EXISTS, and IAM bindings are added only when the policy lacks them. A second run
# on a complete project only reads. --dry-run prints the changes a real run would make, on stdout,
# one "+ command" per line; the read-only checks run in both modes.
#
# Environment (optional):
#   GOOGLE_CLOUD_PROJECT, GRAPHMILL_REGION     instead of --project / --region (default europe-west1)
#   BIGQUERY_DATASET (graphmill), BIGQUERY_LOCATION, FIRESTORE_LOCATION (both default to the region)
#   GCS_SOURCE_BUCKETS        comma-separated buckets the functions may read documents from
#   DEPLOYER_SA               e-mail of the CI deploy account: gets the roles deploy.sh needs
#   ORCHESTRATE_INVOKERS      comma-separated members (serviceAccount:...) allowed to call orchestrate
#   ALERT_NOTIFICATION_CHANNELS  comma-separated notification channel names for new alert policies

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/wiring.sh
source "$GRAPHMILL_INFRA_DIR/wiring.sh"

readonly REQUIRED_APIS=(
  artifactregistry.googleapis.com bigquery.googleapis.com cloudbuild.googleapis.com
  cloudfunctions.googleapis.com cloudresourcemanager.googleapis.com cloudscheduler.googleapis.com
  eventarc.googleapis.com firestore.googleapis.com iam.googleapis.com iamcredentials.googleapis.com
  logging.googleapis.com monitoring.googleapis.com pubsub.googleapis.com run.googleapis.com
  secretmanager.googleapis.com storage.googleapis.com
)

# Project-level roles of the runtime account. BigQuery dataEditor is granted on the project, not on
# the dataset: dataset-level IAM through bq is not generally available for datasets, and graphmill
# expects a project of its own. In a shared project, replace it with a WRITER entry in the dataset's
# access list (bq show --format=prettyjson, edit "access", bq update --source).
readonly RUNTIME_PROJECT_ROLES=(
  roles/datastore.user roles/bigquery.dataEditor roles/bigquery.jobUser
  roles/logging.logWriter roles/monitoring.metricWriter
)

# What the CI deploy account needs: deploy functions, act as the two accounts it deploys with, and
# read what deploy.sh checks after a deploy (its writes happen only when something is missing, which
# after a first deploy by an administrator it never is).
readonly DEPLOYER_PROJECT_ROLES=(
  roles/cloudfunctions.developer roles/run.viewer roles/cloudscheduler.viewer
  roles/eventarc.viewer roles/pubsub.viewer
)

main() {
  parse_common_args "$@"
  ((${#ARGS[@]} == 0)) || die "unexpected arguments: ${ARGS[*]} (see --help)"
  require_tools gcloud bq jq
  BIGQUERY_DATASET=${BIGQUERY_DATASET:-$DEFAULT_BIGQUERY_DATASET}
  BIGQUERY_LOCATION=${BIGQUERY_LOCATION:-$REGION}
  FIRESTORE_LOCATION=${FIRESTORE_LOCATION:-$REGION}

  log_step "graphmill setup: project $PROJECT, region $REGION$(dry_run_note)"
  load_project_number
  enable_apis
  ensure_service_accounts
  ensure_secrets
  ensure_topics_and_dead_letters
  ensure_firestore
  ensure_bigquery
  grant_runtime_roles
  grant_invoker_roles
  grant_deployer_roles
  ensure_log_metrics
  ensure_alert_policies
  ensure_dashboard
  wire_deployed_functions
  log_step "done"
  print_next_steps
}

enable_apis() {
  log_step "APIs"
  query gcloud services list --enabled "--project=$PROJECT" '--format=value(config.name)' ||
    die "cannot list the enabled services of $PROJECT"
  local enabled=$QUERY_OUTPUT api missing=()
  for api in "${REQUIRED_APIS[@]}"; do
    if grep -qxF "$api" <<<"$enabled"; then log_exists "$api"; else missing+=("$api"); fi
  done
  if ((${#missing[@]} > 0)); then
    run gcloud services enable "${missing[@]}" "--project=$PROJECT"
  fi
}

ensure_service_accounts() {
  log_step "service accounts"
  ensure_service_account "$RUNTIME_SA_NAME" "graphmill functions" \
    "Identity of the graphmill functions at run time"
  ensure_service_account "$INVOKER_SA_NAME" "graphmill invoker" \
    "Calls the graphmill functions: Cloud Scheduler jobs (OIDC) and Eventarc Pub/Sub triggers"
}

ensure_service_account() {
  local name=$1 display_name=$2 description=$3 email="$1@$PROJECT.iam.gserviceaccount.com"
  if query gcloud iam service-accounts describe "$email" "--project=$PROJECT" --format=json; then
    log_exists "service account $email"
  else
    run_create gcloud iam service-accounts create "$name" "--display-name=$display_name" \
      "--description=$description" "--project=$PROJECT"
  fi
}

# Secrets are created empty: values are added by a person (see docs/deployment.md), never by a script
# that would have to hold them.
ensure_secrets() {
  log_step "secrets"
  local secret
  for secret in "${SECRETS[@]}"; do
    if query gcloud secrets describe "$secret" "--project=$PROJECT" --format=json; then
      log_exists "secret $secret"
      if query gcloud secrets versions list "$secret" "--project=$PROJECT" --filter=state:ENABLED --limit=1 --format=json &&
        [[ $(jq 'length' <<<"${QUERY_OUTPUT:-[]}") == 0 ]]; then
        log_warn "secret $secret has no enabled version yet: add its value before deploying"
      fi
    else
      run_create gcloud secrets create "$secret" --replication-policy=automatic \
        "--labels=app=$APP_LABEL" "--project=$PROJECT"
    fi
  done
}

ensure_topics_and_dead_letters() {
  log_step "Pub/Sub"
  local topic
  for topic in "${EVENT_TOPICS[@]}"; do
    ensure_topic "$topic"
    ensure_topic "$topic$DEAD_LETTER_SUFFIX"
    ensure_dead_letter_subscription "$topic"
  done
}

ensure_topic() {
  if query gcloud pubsub topics describe "$1" "--project=$PROJECT" --format=json; then
    log_exists "topic $1"
  else
    run_create gcloud pubsub topics create "$1" "--labels=app=$APP_LABEL" "--project=$PROJECT"
  fi
}

# A pull subscription on TOPIC-dlq keeps dead-lettered events for 7 days for inspection and replay
# (gcloud pubsub subscriptions pull TOPIC-dlq-sub); without one, Pub/Sub would drop them.
ensure_dead_letter_subscription() {
  local topic=$1 subscription="$1$DEAD_LETTER_SUBSCRIPTION_SUFFIX"
  if query gcloud pubsub subscriptions describe "$subscription" "--project=$PROJECT" --format=json; then
    log_exists "subscription $subscription"
  else
    run_create gcloud pubsub subscriptions create "$subscription" "--topic=$topic$DEAD_LETTER_SUFFIX" \
      --ack-deadline=60 --message-retention-duration=7d --expiration-period=never \
      "--labels=app=$APP_LABEL" "--project=$PROJECT"
  fi
}

ensure_firestore() {
  log_step "Firestore"
  if query gcloud firestore databases describe '--database=(default)' "--project=$PROJECT" --format=json; then
    local type
    type=$(jq_field "$QUERY_OUTPUT" '.type')
    [[ $type == FIRESTORE_NATIVE ]] ||
      die "the (default) Firestore database of $PROJECT is $type; graphmill needs Native mode"
    log_exists "database (default), Native mode, $(jq_field "$QUERY_OUTPUT" '.locationId')"
  else
    run_create gcloud firestore databases create '--database=(default)' "--location=$FIRESTORE_LOCATION" \
      --type=firestore-native "--project=$PROJECT"
  fi
  ensure_firestore_indexes
}

# An index is identified by collection group, scope and ordered fields. Firestore lists the implicit
# trailing __name__ field of each composite index; it is not part of the definition and is ignored.
readonly INDEX_KEY_OF_DEFINITION='[.collectionGroup, .queryScope,
  (.fields | map(.fieldPath + ":" + (.order // .arrayConfig)) | join(","))] | join("|")'
readonly INDEX_KEY_OF_LIVE_INDEX='[(.name | capture("collectionGroups/(?<group>[^/]+)/").group), .queryScope,
  (.fields | map(select(.fieldPath != "__name__")) | map(.fieldPath + ":" + (.order // .arrayConfig)) | join(","))]
  | join("|")'

ensure_firestore_indexes() {
  local definitions="$GRAPHMILL_INFRA_DIR/firestore.indexes.json" live_keys='' index key
  if query gcloud firestore indexes composite list '--database=(default)' "--project=$PROJECT" --format=json; then
    live_keys=$(jq -r ".[] | $INDEX_KEY_OF_LIVE_INDEX" <<<"${QUERY_OUTPUT:-[]}")
  fi
  while IFS= read -r index; do
    key=$(jq -r "$INDEX_KEY_OF_DEFINITION" <<<"$index")
    if grep -qxF "$key" <<<"$live_keys"; then
      log_exists "index $key"
      continue
    fi
    local field_configs=()
    mapfile -t field_configs < <(jq -r '.fields[] |
      "--field-config=field-path=\(.fieldPath)," + (if .order then "order=\(.order | ascii_downcase)"
      else "array-config=\(.arrayConfig | ascii_downcase)" end)' <<<"$index")
    # --async: building can take minutes; a second run sees the index (CREATING) and skips it.
    run_create gcloud firestore indexes composite create '--database=(default)' \
      "--collection-group=$(jq -r '.collectionGroup' <<<"$index")" \
      "--query-scope=$(jq -r '.queryScope | ascii_downcase' <<<"$index")" \
      "${field_configs[@]}" --async "--project=$PROJECT"
  done < <(jq -c '.indexes[]' "$definitions")
}

ensure_bigquery() {
  log_step "BigQuery"
  local dataset="$PROJECT:$BIGQUERY_DATASET"
  if query bq "--project_id=$PROJECT" show --format=json "$dataset"; then
    log_exists "dataset $dataset"
  else
    run_create bq "--project_id=$PROJECT" "--location=$BIGQUERY_LOCATION" mk --dataset \
      "--description=graphmill completion records and document status" "$dataset"
  fi
  # completions: one row per completion record, insertId = completion_id; queried by day and document.
  ensure_bigquery_table completions "One row per completion record (insertId = completion_id)" \
    --time_partitioning_type=DAY --time_partitioning_field=occurred_at --clustering_fields=document_id
  # document_status: the aggregate kept with MERGE ... ON document_id, phase.
  ensure_bigquery_table document_status "Latest status per document and phase (maintained with MERGE)" \
    --clustering_fields=document_id,phase
}

# ensure_bigquery_table NAME DESCRIPTION MK_OPTIONS...: creates the table from bigquery/NAME.json, or
# adds the columns the file has and the table lacks (BigQuery only adds columns; a changed type is
# reported, not applied).
ensure_bigquery_table() {
  local name=$1 description=$2 table="$PROJECT:$BIGQUERY_DATASET.$1"
  local schema="$GRAPHMILL_INFRA_DIR/bigquery/$1.json"
  shift 2
  if query bq "--project_id=$PROJECT" show --schema --format=json "$table"; then
    local live=$QUERY_OUTPUT missing changed
    missing=$(jq -r --argjson live "$live" '($live | map(.name)) as $names | .[] | select(.name as $n | $names | index($n) | not) | .name' "$schema")
    changed=$(jq -r --argjson live "$live" '.[] as $want | $live[] | select(.name == $want.name and .type != $want.type) | .name' "$schema")
    [[ -z $changed ]] || log_warn "table $table: type differs from $schema for: $changed (not changed; migrate by hand)"
    if [[ -n $missing ]]; then
      log_info "table $table lacks: $(tr '\n' ' ' <<<"$missing")"
      run bq "--project_id=$PROJECT" update "$table" "$schema"
    else
      log_exists "table $table"
    fi
  else
    run_create bq "--project_id=$PROJECT" mk --table "--schema=$schema" "--description=$description" "$@" "$table"
  fi
}

grant_runtime_roles() {
  log_step "roles of $RUNTIME_SA_NAME"
  local member role topic secret bucket
  member="serviceAccount:$(runtime_sa_email)"
  for role in "${RUNTIME_PROJECT_ROLES[@]}"; do
    ensure_role project "$PROJECT" "$member" "$role"
  done
  for topic in "${EVENT_TOPICS[@]}"; do
    ensure_role topic "$topic" "$member" roles/pubsub.publisher
    ensure_role topic "$topic" "$member" roles/pubsub.viewer # health checks the topics exist (topics.get)
  done
  for secret in "${SECRETS[@]}"; do
    ensure_role secret "$secret" "$member" roles/secretmanager.secretAccessor
  done
  if [[ -n ${GCS_SOURCE_BUCKETS:-} ]]; then
    while IFS= read -r bucket; do
      if [[ -n $bucket ]]; then
        ensure_role bucket "${bucket#gs://}" "$member" roles/storage.objectViewer
      fi
    done < <(tr ',' '\n' <<<"$GCS_SOURCE_BUCKETS")
  fi
}

# The invoker account gets run.invoker per function when the function exists (wiring.sh). Here: the
# Pub/Sub service agent may forward dead letters, acknowledge them at the source (wiring.sh), and
# mint the tokens of the invoker account for authenticated push (needed in projects created before
# April 2021, harmless after).
grant_invoker_roles() {
  log_step "dead-lettering and push authentication"
  local agent topic
  agent=$(pubsub_service_agent)
  for topic in "${EVENT_TOPICS[@]}"; do
    ensure_role topic "$topic$DEAD_LETTER_SUFFIX" "$agent" roles/pubsub.publisher
  done
  ensure_role service-account "$(invoker_sa_email)" "$agent" roles/iam.serviceAccountTokenCreator
}

grant_deployer_roles() {
  [[ -n ${DEPLOYER_SA:-} ]] || return 0
  log_step "roles of the deploy account $DEPLOYER_SA"
  local member="serviceAccount:$DEPLOYER_SA" role
  for role in "${DEPLOYER_PROJECT_ROLES[@]}"; do
    ensure_role project "$PROJECT" "$member" "$role"
  done
  ensure_role service-account "$(runtime_sa_email)" "$member" roles/iam.serviceAccountUser
  ensure_role service-account "$(invoker_sa_email)" "$member" roles/iam.serviceAccountUser
}

# Log-based metrics are brought in line with their file (a changed filter is applied); they are the
# inputs of the alert policies and the dashboard.
ensure_log_metrics() {
  log_step "log-based metrics"
  local file name
  for file in "$GRAPHMILL_INFRA_DIR"/monitoring/metrics/*.json; do
    name=$(basename "$file" .json)
    if query gcloud logging metrics describe "$name" "--project=$PROJECT" --format=json; then
      if jq -e --slurpfile want "$file" '
          [.description, .filter, .valueExtractor, .labelExtractors]
          == ($want[0] | [.description, .filter, .valueExtractor, .labelExtractors])' \
        <<<"$QUERY_OUTPUT" >/dev/null; then
        log_exists "metric $name"
      else
        run gcloud logging metrics update "$name" "--config-from-file=$file" "--project=$PROJECT"
      fi
    else
      run_create gcloud logging metrics create "$name" "--config-from-file=$file" "--project=$PROJECT"
    fi
  done
}

# Alert policies have no id of their own choosing: they are matched by display name. An existing
# policy is left as it is (people tune thresholds and channels in the console); to apply a changed
# file, delete the policy and run setup again.
ensure_alert_policies() {
  log_step "alert policies"
  query gcloud alpha monitoring policies list "--project=$PROJECT" --format=json ||
    die "cannot list the alert policies of $PROJECT"
  local existing file display_name channels=()
  existing=$(jq -r '.[].displayName' <<<"${QUERY_OUTPUT:-[]}")
  if [[ -n ${ALERT_NOTIFICATION_CHANNELS:-} ]]; then
    channels=("--notification-channels=$ALERT_NOTIFICATION_CHANNELS")
  fi
  for file in "$GRAPHMILL_INFRA_DIR"/monitoring/alert-*.json; do
    display_name=$(jq -r '.displayName' "$file")
    if grep -qxF "$display_name" <<<"$existing"; then
      log_exists "alert policy \"$display_name\""
    else
      run_create gcloud alpha monitoring policies create "--policy-from-file=$file" \
        ${channels[@]+"${channels[@]}"} "--project=$PROJECT"
    fi
  done
}

ensure_dashboard() {
  log_step "dashboard"
  local file="$GRAPHMILL_INFRA_DIR/monitoring/dashboard.json" display_name
  display_name=$(jq -r '.displayName' "$file")
  query gcloud monitoring dashboards list "--project=$PROJECT" --format=json ||
    die "cannot list the dashboards of $PROJECT"
  if jq -e --arg name "$display_name" 'any(.[]; .displayName == $name)' <<<"${QUERY_OUTPUT:-[]}" >/dev/null; then
    log_exists "dashboard \"$display_name\""
  else
    run_create gcloud monitoring dashboards create "--config-from-file=$file" "--project=$PROJECT"
  fi
}

wire_deployed_functions() {
  log_step "deployed functions (invokers, scheduler jobs, dead letters)"
  local name not_deployed=()
  for name in "${GRAPHMILL_FUNCTIONS[@]}"; do
    wire_deployed_function "$name" || not_deployed+=("$name")
  done
  if ((${#not_deployed[@]} > 0)); then
    log_info "not deployed yet (deploy.sh wires them): ${not_deployed[*]}"
  fi
}

print_next_steps() {
  cat >&2 <<EOF

Next:
  1. Store the secret values (once, and again to rotate; the functions pick a new version up without a redeploy):
       printf '%s' "\$NEO4J_PASSWORD" | gcloud secrets versions add $NEO4J_PASSWORD_SECRET --data-file=- --project=$PROJECT
       printf '%s' "\$SLACK_WEBHOOK_URL" | gcloud secrets versions add $SLACK_WEBHOOK_SECRET --data-file=- --project=$PROJECT
  2. Deploy:  NEO4J_URI=neo4j+s://... infrastructure/deploy.sh --project $PROJECT --region $REGION
EOF
}

main "$@"
