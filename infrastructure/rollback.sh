#!/usr/bin/env bash
# rollback.sh: redeploys the graphmill functions as they were at an earlier commit.
#
# Usage: infrastructure/rollback.sh --project PROJECT_ID [--region REGION] [--dry-run]
#                                   GIT_SHA [FUNCTION...]
#
# GIT_SHA must name a commit this repository knows (a full or abbreviated sha, e.g. a function's
# git-sha label as shown by deployed-versions.sh or the drift check); anything else is refused before
# any gcloud call. The commit is checked out into a temporary git worktree (your checkout is not
# touched) and deployed from there by this checkout's deploy.sh, so the functions get that commit's
# code and its git-sha label with today's infrastructure settings. Functions that did not exist at
# that commit are skipped. The worktree is removed afterwards, also on failure.
#
# Environment: as for deploy.sh (NEO4J_URI is required).

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

main() {
  parse_common_args "$@"
  set -- ${ARGS[@]+"${ARGS[@]}"}
  (($# >= 1)) || die "which commit? usage: rollback.sh [--project P] [--region R] [--dry-run] GIT_SHA [FUNCTION...]"
  local requested=$1
  shift
  local name
  for name in "$@"; do
    require_known_function "$name"
  done
  require_tools git

  local commit
  commit=$(resolve_commit "$requested")
  local worktree="$GRAPHMILL_TMP/source"
  check_out_worktree "$commit" "$worktree"

  local functions=()
  if (($# > 0)); then functions=("$@"); else functions=("${GRAPHMILL_FUNCTIONS[@]}"); fi
  local present=()
  for name in "${functions[@]}"; do
    if [[ -d $worktree/functions/$name ]]; then
      present+=("$name")
    else
      log_warn "$name does not exist at ${commit:0:12}: skipped"
    fi
  done
  ((${#present[@]} > 0)) || die "none of ${functions[*]} exists at ${commit:0:12}"

  log_step "rolling back ${present[*]} to ${commit:0:12} ($(git -C "$worktree" log -1 --format='%cI %s'))"
  local deploy_args=("--project=$PROJECT" "--region=$REGION" --source-dir "$worktree")
  if [[ $DRY_RUN == true ]]; then deploy_args+=(--dry-run); fi
  "$GRAPHMILL_INFRA_DIR/deploy.sh" "${deploy_args[@]}" "${present[@]}"
}

# Prints the full sha of a commit the repository has; dies on anything else (unknown sha, a branch
# name that is not a commit, an option).
resolve_commit() {
  local requested=$1 commit
  [[ $requested =~ ^[0-9a-fA-F]{7,40}$ ]] ||
    die "not a git sha: $requested (give the 7 to 40 hex digits of a commit)"
  if ! commit=$(git -C "$GRAPHMILL_ROOT" rev-parse --verify --quiet "$requested^{commit}"); then
    die "unknown commit $requested: not in this repository (git fetch, or check the sha)"
  fi
  printf '%s' "$commit"
}

# A detached worktree outside the checkout: a fresh tree of exactly that commit (no node_modules, no
# dist, nothing uncommitted), filtered at upload by that commit's own .gcloudignore.
check_out_worktree() {
  local commit=$1 worktree=$2
  git -C "$GRAPHMILL_ROOT" worktree add --quiet --detach "$worktree" "$commit" >&2
  on_exit git -C "$GRAPHMILL_ROOT" worktree remove --force "$worktree"
}

main "$@"
