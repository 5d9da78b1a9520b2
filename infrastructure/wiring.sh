# shellcheck shell=bash
# wiring.sh: what can only be set up once a function exists, shared by setup.sh and deploy.sh.
# Sourced after lib.sh, never executed.
#
# For one deployed function:
#   - run.invoker on its Cloud Run service for whoever calls it (the invoker account for the scheduled
#     and event functions, DEPLOYER_SA for health, ORCHESTRATE_INVOKERS for orchestrate);
#   - its Cloud Scheduler job (created, or updated when its schedule, URL or identity changed);
#   - for an event function: the dead-letter policy and retry backoff of the push subscription that
#     Eventarc created for its trigger. gcloud cannot set these at deploy time, so they are set here
#     with `gcloud pubsub subscriptions update` on the subscription named by the function's trigger
#     (function -> eventTrigger.trigger -> transport.pubsub.subscription). A redeploy keeps the
#     trigger; a changed trigger gets a new subscription, which the next deploy or setup run wires.
#
# Every step reads first and changes only what differs, so a second run changes nothing.

readonly EVENT_MIN_RETRY_DELAY=10s
readonly EVENT_MAX_RETRY_DELAY=600s

# Members allowed to invoke a function, one per line.
function_invokers() {
  load_function_spec "$1"
  if [[ $FN_TRIGGER == topic || -n $FN_SCHEDULER_JOB ]]; then
    printf 'serviceAccount:%s\n' "$(invoker_sa_email)"
  fi
  if [[ $1 == health && -n ${DEPLOYER_SA:-} ]]; then
    printf 'serviceAccount:%s\n' "$DEPLOYER_SA" # deploy.yml checks health with the deployer's identity
  fi
  if [[ $1 == orchestrate && -n ${ORCHESTRATE_INVOKERS:-} ]]; then
    tr ',' '\n' <<<"$ORCHESTRATE_INVOKERS" | sed '/^$/d'
  fi
}

# wire_deployed_function NAME: returns 1 (and changes nothing) when NAME is not deployed.
wire_deployed_function() {
  local name=$1 function_json service uri member
  require_known_function "$name"
  if ! query gcloud functions describe "$name" --gen2 "--region=$REGION" "--project=$PROJECT" --format=json; then
    return 1
  fi
  function_json=$QUERY_OUTPUT
  service=$(jq_field "$function_json" '(.serviceConfig.service // "") | split("/") | last')
  uri=$(jq_field "$function_json" '.serviceConfig.uri')
  [[ -n $service && -n $uri ]] || die "function $name has no Cloud Run service yet (is a deploy still running?)"

  while IFS= read -r member; do
    ensure_role run-service "$service" "$member" roles/run.invoker
  done < <(function_invokers "$name")

  load_function_spec "$name"
  if [[ -n $FN_SCHEDULER_JOB ]]; then
    ensure_scheduler_job "$name" "$uri"
  fi
  if [[ $FN_TRIGGER == topic ]]; then
    ensure_event_subscription_dead_letters "$name" "$function_json"
  fi
}

# ensure_scheduler_job NAME URI: Cloud Scheduler POSTs {} to the function every FN_SCHEDULE, with an
# OIDC token of the invoker account whose audience is the function's URL. The attempt deadline
# outlasts the function's timeout so that Scheduler does not record a run as failed while it works.
ensure_scheduler_job() {
  local name=$1 uri=$2 job=$FN_SCHEDULER_JOB invoker deadline
  invoker=$(invoker_sa_email)
  deadline="$((FN_TIMEOUT_SECONDS + 60))s"
  local settings=(
    "--location=$REGION" "--schedule=$FN_SCHEDULE" --time-zone=Etc/UTC
    "--uri=$uri" --http-method=POST '--message-body={}'
    "--oidc-service-account-email=$invoker" "--oidc-token-audience=$uri"
    "--attempt-deadline=$deadline" "--project=$PROJECT"
  )
  if query gcloud scheduler jobs describe "$job" "--location=$REGION" "--project=$PROJECT" --format=json; then
    if scheduler_job_matches "$QUERY_OUTPUT" "$uri" "$invoker" "$deadline"; then
      log_exists "scheduler job $job ($FN_SCHEDULE -> $name)"
      return 0
    fi
    run gcloud scheduler jobs update http "$job" "${settings[@]}" --update-headers=Content-Type=application/json
  else
    run_create gcloud scheduler jobs create http "$job" "${settings[@]}" \
      --headers=Content-Type=application/json "--description=graphmill: calls $name"
  fi
}

scheduler_job_matches() {
  jq -e --arg schedule "$FN_SCHEDULE" --arg uri "${2%/}" --arg sa "$3" --arg deadline "$4" '
    .schedule == $schedule and .timeZone == "Etc/UTC" and .attemptDeadline == $deadline
    and .httpTarget.httpMethod == "POST"
    and ((.httpTarget.uri // "") | rtrimstr("/")) == $uri
    and .httpTarget.oidcToken.serviceAccountEmail == $sa
    and ((.httpTarget.oidcToken.audience // "") | rtrimstr("/")) == $uri' <<<"$1" >/dev/null
}

# ensure_event_subscription_dead_letters NAME FUNCTION_JSON: after MAX_DELIVERY_ATTEMPTS failed
# deliveries (the function threw: a retryable failure) Pub/Sub moves the event to TOPIC-dlq, where the
# DLQ pull subscription keeps it for inspection; redeliveries back off from 10 s to 10 min.
ensure_event_subscription_dead_letters() {
  local name=$1 function_json=$2 trigger subscription dead_letter_topic
  load_function_spec "$name"
  load_project_number
  trigger=$(jq_field "$function_json" '.eventTrigger.trigger')
  [[ -n $trigger ]] || die "function $name has no Eventarc trigger"
  query gcloud eventarc triggers describe "$trigger" --format=json || die "Eventarc trigger $trigger of $name not found"
  subscription=$(jq_field "$QUERY_OUTPUT" '.transport.pubsub.subscription')
  [[ -n $subscription ]] || die "Eventarc trigger $trigger has no Pub/Sub subscription"
  dead_letter_topic="projects/$PROJECT/topics/$FN_TOPIC$DEAD_LETTER_SUFFIX"

  query gcloud pubsub subscriptions describe "$subscription" --format=json ||
    die "subscription $subscription of trigger $trigger not found"
  if jq -e --arg topic "$dead_letter_topic" --argjson attempts "$MAX_DELIVERY_ATTEMPTS" \
    --arg min "$EVENT_MIN_RETRY_DELAY" --arg max "$EVENT_MAX_RETRY_DELAY" '
      .deadLetterPolicy.deadLetterTopic == $topic and .deadLetterPolicy.maxDeliveryAttempts == $attempts
      and .retryPolicy.minimumBackoff == $min and .retryPolicy.maximumBackoff == $max' \
    <<<"$QUERY_OUTPUT" >/dev/null; then
    log_exists "dead letters of $name: ${subscription##*/} -> ${dead_letter_topic##*/} after $MAX_DELIVERY_ATTEMPTS attempts"
  else
    run gcloud pubsub subscriptions update "$subscription" \
      "--dead-letter-topic=$dead_letter_topic" "--max-delivery-attempts=$MAX_DELIVERY_ATTEMPTS" \
      "--min-retry-delay=$EVENT_MIN_RETRY_DELAY" "--max-retry-delay=$EVENT_MAX_RETRY_DELAY" \
      "--project=$PROJECT"
  fi
  # Pub/Sub acknowledges the original message only if its agent may subscribe to it.
  ensure_role subscription "$subscription" "$(pubsub_service_agent)" roles/pubsub.subscriber
}
