# faasflow host agent. faasflow-hosts sends it to each host over ssh (`bash -s` on stdin), after
# variable assignments that say what to do (FF_ACTION, FF_DIR, the components: FF_KIND[i], …);
# a release payload, when one is sent, follows this text on stdin. Every action is idempotent and
# reports what it found or changed as lines `@<verb> <words…>`:
#   @fact <key> <value>     @ok <what is already right>     @change <what was changed>
#   @state <kind> <name> <running|stopped> <pid> <release> <health> <workers> <freshness>
#   @error <what went wrong and what to do>   (then exit 1)
# Without systemd the same file runs from an installed release as the supervisor of one
# component: `agent.sh supervise KIND NAME DIR USER NODE` (restarts it when it fails).

ff_say() { printf '@%s\n' "$*"; }
ff_fail() { printf '@error %s\n' "$*"; exit 1; }
ff_log() { printf '%s faasflow-supervise: %s\n' "$(date -u +%FT%TZ)" "$*"; }

ff_init_system() {
  case "$FF_INIT" in
    systemd)
      command -v systemctl >/dev/null 2>&1 || ff_fail "init = systemd, but $(hostname) has no systemctl"
      echo systemd ;;
    none) echo none ;;
    *) if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd; else echo none; fi ;;
  esac
}

ff_node() {
  NODE_BIN=$(command -v "$FF_NODE" 2>/dev/null) ||
    ff_fail "node ($FF_NODE) not found on $(hostname); install Node.js >= 20.10 or set node = /path/to/node in the inventory"
  NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node') || ff_fail "$NODE_BIN does not run on $(hostname)"
  local major=${NODE_VERSION%%.*} rest=${NODE_VERSION#*.}
  local minor=${rest%%.*}
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 10 ]; }; then
    ff_fail "node $NODE_VERSION at $NODE_BIN on $(hostname) is too old; faasflow needs >= 20.10"
  fi
}

# ff_health URL WAIT_S [MIN_WORKERS]: prints the /healthz body once it answers 200 (and, for the
# master, counts at least MIN_WORKERS ready workers); exit 1 after WAIT_S seconds.
ff_health() {
  "$NODE_BIN" -e '
    const [url, waitS, minWorkers] = process.argv.slice(1);
    const deadline = Date.now() + Number(waitS) * 1000;
    (async () => {
      for (;;) {
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
          const body = await r.text();
          if (r.ok && (minWorkers === undefined || (JSON.parse(body).workers ?? 0) >= Number(minWorkers))) {
            process.stdout.write(body.replace(/\s+/g, " "));
            return;
          }
        } catch {}
        if (Date.now() >= deadline) process.exit(1);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();' "$@"
}

ff_pidfile() { echo "$FF_DIR/run/${FF_KIND[$1]}-${FF_NAME[$1]}.pid"; }

# The pid of component i's main process (systemd) or supervisor (fallback), or nothing.
ff_running_pid() {
  local i=$1 pid
  if [ "$INIT" = systemd ]; then
    if systemctl is-active --quiet "${FF_UNIT[$i]}.service"; then
      systemctl show -p MainPID --value "${FF_UNIT[$i]}.service"
    fi
    return 0
  fi
  local f; f=$(ff_pidfile "$i")
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "supervise ${FF_KIND[$i]} ${FF_NAME[$i]} "; then
    echo "$pid"
  fi
}

# ff_write PATH MODE CONTENT LABEL: writes only when the content or mode differs.
ff_write() {
  local path=$1 mode=$2 content=$3 label=$4
  if [ -f "$path" ] && printf '%s' "$content" | cmp -s - "$path" && [ "$(stat -c %a "$path")" = "$mode" ]; then
    ff_say ok "$label unchanged"
    return 1
  fi
  local tmp="$path.tmp.$$"
  (umask 077 && printf '%s' "$content" >"$tmp")
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  ff_say change "$label written ($path)"
}

ff_ensure_user() {
  [ "$FF_USER" = root ] && return 0
  if id -u "$FF_USER" >/dev/null 2>&1; then return 0; fi
  useradd --system --home-dir "$FF_DIR" --no-create-home --shell /usr/sbin/nologin "$FF_USER" ||
    ff_fail "could not create the service user $FF_USER"
  ff_say change "service user $FF_USER created"
}

ff_unpack() {
  local rel="$FF_DIR/releases/$FF_RELEASE"
  if [ -d "$rel" ]; then
    if [ "$FF_PAYLOAD_BYTES" -gt 0 ]; then head -c "$FF_PAYLOAD_BYTES" >/dev/null; fi
    ff_say ok "release $FF_RELEASE already unpacked"
    return 0
  fi
  [ "$FF_PAYLOAD_BYTES" -gt 0 ] || ff_fail "release $FF_RELEASE is not on $(hostname) and none was sent"
  local tmp="$FF_DIR/releases/.incoming-$$"
  rm -rf "$tmp" "$tmp.tgz"
  mkdir -p "$tmp"
  head -c "$FF_PAYLOAD_BYTES" >"$tmp.tgz"
  if ! echo "$FF_PAYLOAD_SHA256  $tmp.tgz" | sha256sum -c --status; then
    rm -rf "$tmp" "$tmp.tgz"
    ff_fail "the release upload to $(hostname) is corrupt (sha256 mismatch); run install again"
  fi
  tar -xzf "$tmp.tgz" -C "$tmp" --no-same-owner
  rm -f "$tmp.tgz"
  chmod -R go-w "$tmp"
  if ! mv -T "$tmp" "$rel" 2>/dev/null; then
    # Unpacked meanwhile by another run sharing this folder (same content: same id).
    [ -d "$rel" ] || ff_fail "cannot move the unpacked release into $rel"
    rm -rf "$tmp"
    ff_say ok "release $FF_RELEASE already unpacked"
    return 0
  fi
  ff_say change "release $FF_RELEASE unpacked"
}

ff_switch_current() {
  local want="releases/$FF_RELEASE" have
  have=$(readlink "$FF_DIR/current" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then ff_say ok "current release is $FF_RELEASE"; return 0; fi
  ln -sfn "$want" "$FF_DIR/.current.$$"
  mv -T "$FF_DIR/.current.$$" "$FF_DIR/current"
  have=${have#releases/}
  ff_say change "current release switched to $FF_RELEASE (was ${have:-none})"
}

# Keeps the current release, the ones running components use, and the two newest others.
ff_prune() {
  local keep=" $FF_RELEASE " i pid r
  for i in "${!FF_KIND[@]}"; do
    pid=$(ff_running_pid "$i")
    [ -n "$pid" ] && keep="$keep $(basename "$(readlink "/proc/$pid/cwd" 2>/dev/null)") "
  done
  local n=0
  for r in $(ls -1t "$FF_DIR/releases"); do
    case "$keep" in *" $r "*) continue ;; esac
    n=$((n + 1))
    if [ "$n" -gt 2 ]; then rm -rf "${FF_DIR:?}/releases/$r"; ff_say change "old release $r removed"; fi
  done
}

ff_install() {
  [ "$(id -u)" = 0 ] || ff_fail "install needs root on $(hostname); add sudo to ssh_command (e.g. ssh {dest} sudo)"
  ff_node
  ff_ensure_user
  install -d -m 755 "$FF_DIR" "$FF_DIR/releases"
  install -d -m 700 "$FF_DIR/etc"
  install -d -m 755 -o "$FF_USER" "$FF_DIR/log" "$FF_DIR/run" "$FF_DIR/data"
  ff_unpack
  ff_switch_current
  local i reload=0
  for i in "${!FF_KIND[@]}"; do
    ff_write "${FF_ENVFILE[$i]}" 600 "${FF_ENV[$i]}" "config of ${FF_KIND[$i]} ${FF_NAME[$i]}" || true
    if [ "${FF_KIND[$i]}" = worker ]; then install -d -m 750 -o "$FF_USER" "$FF_DIR/data/worker-${FF_NAME[$i]}"; fi
    if [ "$INIT" = systemd ]; then
      if ff_write "/etc/systemd/system/${FF_UNIT[$i]}.service" 644 "${FF_UNITTEXT[$i]//@NODE@/$NODE_BIN}" "unit ${FF_UNIT[$i]}"; then reload=1; fi
    fi
  done
  if [ "$reload" = 1 ]; then systemctl daemon-reload; ff_say change "systemd reloaded"; fi
  if [ "$INIT" = systemd ]; then
    for i in "${!FF_KIND[@]}"; do
      if ! systemctl is-enabled --quiet "${FF_UNIT[$i]}.service"; then
        systemctl enable --quiet "${FF_UNIT[$i]}.service"
        ff_say change "unit ${FF_UNIT[$i]} enabled (starts at boot)"
      fi
    done
  fi
  ff_prune
}

ff_log_tail() {
  if [ "$INIT" = systemd ]; then journalctl -u "${FF_UNIT[$1]}.service" -n 5 --no-pager 2>/dev/null | tr '\n' '|'
  else tail -n 5 "$FF_DIR/log/${FF_KIND[$1]}-${FF_NAME[$1]}.log" 2>/dev/null | tr '\n' '|'; fi
}

ff_start_one() {
  local i=$1 pid
  pid=$(ff_running_pid "$i")
  if [ -n "$pid" ]; then ff_say ok "${FF_KIND[$i]} ${FF_NAME[$i]} already running (pid $pid)"; return 0; fi
  [ -f "$FF_DIR/current/dist/${FF_KIND[$i]}/main.js" ] || ff_fail "no release installed in $FF_DIR on $(hostname); run install first"
  [ -f "${FF_ENVFILE[$i]}" ] || ff_fail "${FF_ENVFILE[$i]} is missing on $(hostname); run install first"
  if [ "$INIT" = systemd ]; then
    systemctl start "${FF_UNIT[$i]}.service"
  else
    local agent; agent="$(readlink -f "$FF_DIR/current")/deploy/hosts/agent.sh"
    setsid bash "$agent" supervise "${FF_KIND[$i]}" "${FF_NAME[$i]}" "$FF_DIR" "$FF_USER" "$NODE_BIN" \
      >>"$FF_DIR/log/${FF_KIND[$i]}-${FF_NAME[$i]}.log" 2>&1 </dev/null &
  fi
  ff_health "${FF_HEALTH[$i]}" "$FF_WAIT_S" >/dev/null ||
    ff_fail "${FF_KIND[$i]} ${FF_NAME[$i]} did not answer ${FF_HEALTH[$i]} within ${FF_WAIT_S}s; last log lines: $(ff_log_tail "$i")"
  ff_say change "${FF_KIND[$i]} ${FF_NAME[$i]} started (pid $(ff_running_pid "$i"))"
}

ff_stop_one() {
  local i=$1 pid
  pid=$(ff_running_pid "$i")
  if [ -z "$pid" ]; then ff_say ok "${FF_KIND[$i]} ${FF_NAME[$i]} not running"; return 0; fi
  if [ "$INIT" = systemd ]; then
    systemctl stop "${FF_UNIT[$i]}.service"
  else
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 250 ]; do sleep 0.1; waited=$((waited + 1)); done
    # The supervisor leads its own process group: whatever is left of it goes at once.
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    rm -f "$(ff_pidfile "$i")"
  fi
  ff_say change "${FF_KIND[$i]} ${FF_NAME[$i]} stopped"
}

# Seconds since the epoch when process `pid` started.
ff_started_at() {
  local btime ticks
  btime=$(awk '/^btime/ {print $2}' /proc/stat)
  ticks=$(awk '{print $22}' "/proc/$1/stat")
  echo $((btime + ticks / $(getconf CLK_TCK)))
}

# Whether component i, running as pid, lags what is installed: old-release, new-config or current.
ff_freshness() {
  local i=$1 pid=$2 rel cur
  rel=$(basename "$(readlink "/proc/$pid/cwd" 2>/dev/null || echo -)")
  cur=$(basename "$(readlink -f "$FF_DIR/current" 2>/dev/null || echo -)")
  if [ "$rel" != "$cur" ]; then echo old-release
  elif [ -f "${FF_ENVFILE[$i]}" ] && [ "$(stat -c %Y "${FF_ENVFILE[$i]}")" -gt "$(ff_started_at "$pid")" ]; then echo new-config
  else echo current; fi
}

# Restarts the running components that lag the installed release or configuration.
ff_refresh() {
  local i pid why
  for i in "${!FF_KIND[@]}"; do
    pid=$(ff_running_pid "$i")
    if [ -z "$pid" ]; then ff_say ok "${FF_KIND[$i]} ${FF_NAME[$i]} is not running (start starts it)"; continue; fi
    why=$(ff_freshness "$i" "$pid")
    if [ "$why" = current ]; then ff_say ok "${FF_KIND[$i]} ${FF_NAME[$i]} runs the installed release and configuration"; continue; fi
    ff_say change "restarting ${FF_KIND[$i]} ${FF_NAME[$i]} ($why)"
    ff_stop_one "$i"
    ff_start_one "$i"
  done
}

ff_status() {
  local i pid rel body health workers
  for i in "${!FF_KIND[@]}"; do
    pid=$(ff_running_pid "$i")
    if [ -z "$pid" ]; then ff_say state "${FF_KIND[$i]}" "${FF_NAME[$i]}" stopped - - - - -; continue; fi
    rel=$(basename "$(readlink "/proc/$pid/cwd" 2>/dev/null || echo -)")
    if body=$(ff_health "${FF_HEALTH[$i]}" 0); then health=ok; else health=down; fi
    workers=$(printf '%s' "$body" | sed -n 's/.*"workers":\([0-9]*\).*/\1/p')
    ff_say state "${FF_KIND[$i]}" "${FF_NAME[$i]}" running "$pid" "$rel" "$health" "${workers:--}" "$(ff_freshness "$i" "$pid")"
  done
  ff_say fact current "$(basename "$(readlink "$FF_DIR/current" 2>/dev/null || echo none)")"
}

ff_supervise() {
  local kind=$1 name=$2 dir=$3 user=$4 node=$5
  local pidfile="$dir/run/$kind-$name.pid" envfile="$dir/etc/$kind-$name.env"
  local stopping=0 child='' backoff=1 code started
  echo $$ >"$pidfile"
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  trap '[ "$(cat "$pidfile" 2>/dev/null)" = $$ ] && rm -f "$pidfile"' EXIT
  local runas=()
  if [ "$user" != root ] && [ "$(id -u)" = 0 ]; then
    runas=(setpriv "--reuid=$user" "--regid=$(id -g "$user")" --init-groups --)
  fi
  while :; do
    cd "$dir/current" || exit 1
    (set -a && . "$envfile" && set +a && exec ${runas[@]+"${runas[@]}"} "$node" "dist/$kind/main.js") &
    child=$!
    started=$SECONDS
    ff_log "started $kind $name (pid $child) from $(pwd -P)"
    while :; do
      code=0
      wait "$child" || code=$?
      kill -0 "$child" 2>/dev/null || break
    done
    child=''
    [ "$stopping" = 1 ] && exit 0
    ff_log "$kind $name exited with code $code"
    [ "$code" = 0 ] && exit 0
    if [ $((SECONDS - started)) -gt 60 ]; then backoff=1; fi
    ff_log "restarting $kind $name in ${backoff}s"
    sleep "$backoff" &
    child=$!
    wait "$child" || true
    child=''
    [ "$stopping" = 1 ] && exit 0
    backoff=$((backoff * 2 > 30 ? 30 : backoff * 2))
  done
}

ff_main() {
  INIT=$(ff_init_system)
  case "$FF_ACTION" in
    probe)
      ff_say fact init "$INIT"
      ff_node
      ff_say fact node "$NODE_BIN" "$NODE_VERSION"
      if [ -d "$FF_DIR/releases/$FF_RELEASE" ]; then ff_say fact release present; else ff_say fact release missing; fi ;;
    install) ff_install ;;
    start) ff_node; for i in "${!FF_KIND[@]}"; do ff_start_one "$i"; done ;;
    stop) for ((i = ${#FF_KIND[@]} - 1; i >= 0; i--)); do ff_stop_one "$i"; done ;;
    refresh) ff_node; ff_refresh ;;
    status) ff_node; ff_status ;;
    await-workers)
      ff_node
      local body
      body=$(ff_health "$FF_MASTER_HEALTH" "$FF_WAIT_S" "$FF_EXPECT_WORKERS") ||
        ff_fail "fewer than $FF_EXPECT_WORKERS workers registered with the master within ${FF_WAIT_S}s"
      ff_say ok "master sees $(printf '%s' "$body" | sed -n 's/.*"workers":\([0-9]*\).*/\1/p') ready workers" ;;
    *) ff_fail "unknown action $FF_ACTION" ;;
  esac
}

if [ "${1:-}" = supervise ]; then shift; ff_supervise "$@"; exit 0; fi
ff_main; exit 0
