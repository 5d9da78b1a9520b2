#!/usr/bin/env bash
# deployed-versions.sh: prints which commit each graphmill function runs.
#
# Usage: infrastructure/deployed-versions.sh --project PROJECT_ID [--region REGION] [FUNCTION...]
#
# One line per function, tab-separated: NAME, the git-sha label ("-" when the function is not
# deployed or has no label) and the update time. deploy.yml records this before deploying so that a
# failed health check can roll every function back to the commit it ran before (rollback.sh).
# Read-only.

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

main() {
  parse_common_args "$@"
  [[ $DRY_RUN == false ]] || die "deployed-versions.sh only reads; --dry-run does not apply"
  require_tools gcloud jq
  local functions=("${GRAPHMILL_FUNCTIONS[@]}") name
  if ((${#ARGS[@]} > 0)); then functions=("${ARGS[@]}"); fi
  for name in "${functions[@]}"; do
    require_known_function "$name"
    if query gcloud functions describe "$name" --gen2 "--region=$REGION" "--project=$PROJECT" --format=json; then
      jq -r --arg name "$name" '[$name, (.labels["git-sha"] // "-"), (.updateTime // "-")] | @tsv' <<<"$QUERY_OUTPUT"
    else
      printf '%s\t-\t-\n' "$name"
    fi
  done
}

main "$@"
