# Shell functions shared by the examples' run scripts (examples/*/run), sourced after the
# script has set: $state (its state directory), $log (where quiet output goes), $verbose (show it
# instead), $literal (may overwrite images of the same name that it did not build) and the
# container label $label. Images an example builds carry consul-tutorial.built=1, containers
# its label consul-tutorial.state=<state dir>; `down` removes only those.
# shellcheck shell=bash
step() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# quiet CMD...: runs CMD with its output in $log (shown on failure), or shown with TUTORIAL_VERBOSE.
quiet() {
  if [ -n "$verbose" ]; then
    "$@"
  elif ! "$@" >>"$log" 2>&1; then
    printf -- '---- the end of %s:\n' "$log" >&2
    tail -n 30 "$log" >&2
    die "failed: $*"
  fi
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timed out waiting for $what (logs: $state)"
    sleep 0.1
  done
}

built_here() { # built_here IMAGE: does it carry the label of the images this script builds?
  [ "$(docker image inspect -f '{{index .Config.Labels "consul-tutorial.built"}}' "$1" 2>/dev/null)" = 1 ]
}

# claim_tag TAG: may this script (re)build TAG? Refuses an image it did not build, unless
# TUTORIAL_LITERAL_NAMES says so; records TAG in $state/images for `down`; after the build,
# forget_old removes the image TAG named before if this script built it and nothing uses it.
declare -A old_id=()
claim_tag() {
  local tag=$1 id
  id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || id=""
  if [ -n "$id" ] && ! built_here "$tag"; then
    [ -n "$literal" ] || die "an image $tag exists that this script did not build; choose another namespace with TUTORIAL_IMAGES"
    warn "overwriting the image $tag, which this script did not build (TUTORIAL_LITERAL_NAMES); the old image stays as $id, restore it with: docker tag $id $tag"
    id=""
  fi
  old_id[$tag]=$id
  grep -qxF "$tag" "$state/images" 2>/dev/null || echo "$tag" >>"$state/images"
}
forget_old() {
  local tag=$1 old=${old_id[$1]:-} now
  now=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null) || now=""
  if [ -n "$old" ] && [ "$old" != "$now" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

# free_name NAME: removes our container NAME; refuses one this tutorial did not create.
free_name() {
  local have
  have=$(docker container inspect -f '{{index .Config.Labels "consul-tutorial.state"}}' "$1" 2>/dev/null) || return 0
  [ "$have" = "$state" ] || die "a container named $1 exists that this tutorial ($state) did not create"
  docker rm -f "$1" >/dev/null
}

# stop_processes NAME...: stops the processes of $state/NAME.pid and the nginx under
# $state/nginx, and waits (5 s at most) for them to exit.
stop_processes() {
  local p alive
  for p in "$@"; do
    if [ -f "$state/$p.pid" ]; then kill "$(cat "$state/$p.pid")" 2>/dev/null || true; fi
  done
  if [ -f "$state/nginx/logs/nginx.pid" ]; then
    nginx -p "$state/nginx/" -c conf/nginx.conf -s stop 2>/dev/null || kill "$(cat "$state/nginx/logs/nginx.pid")" 2>/dev/null || true
  fi
  for _ in $(seq 1 50); do
    alive=0
    for p in "$@"; do
      if [ -f "$state/$p.pid" ] && kill -0 "$(cat "$state/$p.pid")" 2>/dev/null; then alive=1; fi
    done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
}

# remove_ours: removes the containers labelled $label and the images listed in $state/images
# that this script built; prints "N containers, M image tags".
remove_ours() {
  local ids containers=0 images=0 tag
  ids=$(docker ps -aq --filter "label=$label")
  if [ -n "$ids" ]; then
    containers=$(echo "$ids" | wc -l)
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  if [ -f "$state/images" ]; then
    while read -r tag; do
      if built_here "$tag" && docker rmi "$tag" >/dev/null 2>&1; then images=$((images + 1)); fi
    done <"$state/images"
  fi
  echo "$containers containers, $images image tags"
}
