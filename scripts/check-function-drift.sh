#!/usr/bin/env bash
# check-function-drift.sh: does every deployed graphmill function run the latest change to its sources?
#
# Usage: scripts/check-function-drift.sh [-v] [--project PROJECT_ID] [--region REGION]
#                                        [--max-age-hours H] [FUNCTION...]
#
#   -v, --verbose   list the commits each function is missing
#   --max-age-hours how long a function may lag behind before it is stale (default 24)
#   FUNCTION...     default: every graphmill function
#
# For a function F, its sources are functions/F and shared/. The script compares, on the current
# checkout (HEAD; it needs the full history: fetch-depth 0 in CI):
#   deployed  the commit named by F's git-sha label (gcloud functions describe; updateTime is shown)
#   latest    the newest commit on HEAD touching the sources (git log -1 -- the paths function_source_paths gives)
#   missing   the commits on HEAD touching the sources that deployed does not contain
#             (git rev-list deployed..HEAD -- functions/F shared)
# and reports one of:
#   up to date    latest is deployed, or an ancestor of deployed (so missing is empty)
#   warning       missing is not empty, but its oldest commit was committed less than H hours ago
#                 (the deploy that follows a merge may still be on its way); or F is not deployed at
#                 all (not drift, but worth seeing)
#   stale         missing is not empty and its oldest commit is H hours old or more; or F has no
#                 git-sha label, or a label naming a commit this repository does not have
# Colour only when stdout is a terminal (and NO_COLOR is unset).
#
# Exit status: 0 nothing stale, 1 something stale, 2 usage error or a failed gcloud/git call.
# Needs gcloud, git and jq; read-only.

# shellcheck source=SCRIPTDIR/../infrastructure/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../infrastructure/lib.sh"

main() {
  parse_common_args "$@"
  [[ $DRY_RUN == false ]] || die "the drift check only reads; --dry-run does not apply"
  VERBOSE=false
  MAX_AGE_HOURS=24
  local functions=()
  set -- ${ARGS[@]+"${ARGS[@]}"}
  while (($#)); do
    case "$1" in
      -v | --verbose) VERBOSE=true; shift ;;
      --max-age-hours)
        (($# >= 2)) || die "--max-age-hours needs a value"
        MAX_AGE_HOURS=$2
        shift 2 ;;
      --max-age-hours=*) MAX_AGE_HOURS=${1#*=}; shift ;;
      -*) die "unknown option: $1 (see --help)" ;;
      *) require_known_function "$1"; functions+=("$1"); shift ;;
    esac
  done
  [[ $MAX_AGE_HOURS =~ ^[0-9]+$ ]] || die "--max-age-hours must be a whole number of hours"
  ((${#functions[@]} > 0)) || functions=("${GRAPHMILL_FUNCTIONS[@]}")
  require_tools gcloud git jq
  git -C "$GRAPHMILL_ROOT" rev-parse --verify --quiet HEAD >/dev/null || die "$GRAPHMILL_ROOT has no commits"
  if [[ $(git -C "$GRAPHMILL_ROOT" rev-parse --is-shallow-repository) == true ]]; then
    log_warn "shallow clone: commits outside it count as unknown (fetch the full history)"
  fi
  set_output_colours

  NOW=$(date +%s)
  local name up_to_date=0 warnings=0 stale=0
  printf 'Function drift in %s/%s (HEAD %s, stale after %s h)\n' "$PROJECT" "$REGION" \
    "$(git -C "$GRAPHMILL_ROOT" rev-parse --short=12 HEAD)" "$MAX_AGE_HOURS"
  for name in "${functions[@]}"; do
    check_function "$name"
    case "$STATUS" in
      'up to date') up_to_date=$((up_to_date + 1)) ;;
      warning) warnings=$((warnings + 1)) ;;
      stale) stale=$((stale + 1)) ;;
    esac
  done
  printf 'summary: %d up to date, %d warning, %d stale\n' "$up_to_date" "$warnings" "$stale"
  ((stale == 0))
}

set_output_colours() {
  if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
    GREEN=$'\e[32m' YELLOW=$'\e[33m' RED=$'\e[31m' RESET=$'\e[0m'
  else
    GREEN='' YELLOW='' RED='' RESET=''
  fi
}

# report STATUS NAME DETAIL: one line per function; sets STATUS for the summary.
report() {
  STATUS=$1
  local colour
  case "$1" in
    'up to date') colour=$GREEN ;;
    warning) colour=$YELLOW ;;
    *) colour=$RED ;;
  esac
  printf '%s%-10s%s %-18s %s\n' "$colour" "$1" "$RESET" "$2" "$3"
}

# age SECONDS: "3 h", "2 d", "45 min".
age() {
  local seconds=$1
  if ((seconds >= 172800)); then printf '%d d' $((seconds / 86400))
  elif ((seconds >= 3600)); then printf '%d h' $((seconds / 3600))
  else printf '%d min' $((seconds / 60)); fi
}

git_in_repo() { git -C "$GRAPHMILL_ROOT" "$@"; }

check_function() {
  local name=$1 paths label deployed_at deployed latest
  mapfile -t paths < <(function_source_paths "$name")

  if ! query gcloud functions describe "$name" --gen2 "--region=$REGION" "--project=$PROJECT" --format=json; then
    report warning "$name" "not deployed"
    return
  fi
  label=$(jq_field "$QUERY_OUTPUT" '.labels["git-sha"]')
  deployed_at=$(jq_field "$QUERY_OUTPUT" '.updateTime')
  local note=''
  if [[ $label == *-dirty ]]; then
    label=${label%-dirty}
    note=', deployed with uncommitted changes'
  fi
  if [[ -z $label ]]; then
    report stale "$name" "no git-sha label (updated ${deployed_at:-?}): deployed by hand?"
    return
  fi
  if ! deployed=$(git_in_repo rev-parse --verify --quiet "$label^{commit}"); then
    report stale "$name" "deployed $label (updated ${deployed_at:-?}): a commit this repository does not have"
    return
  fi

  latest=$(git_in_repo log -1 --format='%H%x09%ct' HEAD -- "${paths[@]}")
  latest=${latest%%$'\t'*}
  if [[ -z $latest ]] || git_in_repo merge-base --is-ancestor "$latest" "$deployed"; then
    report 'up to date' "$name" "deployed ${label:0:12} (updated ${deployed_at:-?})$note"
    return
  fi

  local missing oldest_time count oldest_age
  missing=$(git_in_repo log --format='%ct' "$deployed..HEAD" -- "${paths[@]}")
  count=$(grep -c . <<<"$missing")
  oldest_time=$(sort -n <<<"$missing" | head -n 1)
  oldest_age=$((NOW - oldest_time))
  local detail
  detail="deployed ${label:0:12} (updated ${deployed_at:-?}$note), $count commit(s) behind ${latest:0:12}, oldest missing $(age "$oldest_age") old"
  if ((oldest_age >= MAX_AGE_HOURS * 3600)); then
    report stale "$name" "$detail"
  else
    report warning "$name" "$detail"
  fi
  if [[ $VERBOSE == true ]]; then
    git_in_repo log --oneline "$deployed..HEAD" -- "${paths[@]}" | sed 's/^/             missing: /'
  fi
}

main "$@"
