#!/usr/bin/env bash
# Backups of Hangar's records database (matches, allocations, player sessions), and restoring them.
#
#   disaster-recovery.sh backup             pg_dump the database into $BACKUP_DIR (what the CronJob runs)
#   disaster-recovery.sh list               the backups in $BACKUP_DIR, oldest first
#   disaster-recovery.sh restore NAME|latest --yes
#                                           replace the database's contents with that backup
#   disaster-recovery.sh hold               check the settings, then keep this pod up for an hour so
#                                           list and restore can be run in it with kubectl exec
#
# Settings, the deployment guide's names (nothing has a default that could point at the wrong place):
#   DATABASE_URL, or DB_HOST, DB_NAME, DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE); DB_PORT (5432)
#   and DB_SSLMODE (disable) are optional
#   BACKUP_DIR             where the dumps are (the CronJob mounts the hangar-backups volume there)
#   BACKUP_RETENTION_DAYS  backup only: dumps older than this are deleted after a good backup (default: keep all)
#
# Any missing setting stops the script before it touches anything: it names every one and exits 2.
# Exit codes: 0 done, 1 failed, 2 missing or wrong settings or arguments.
set -euo pipefail

prog=$(basename "$0")

usage() {
  cat >&2 <<EOF
usage: $prog backup
       $prog list
       $prog restore NAME|latest --yes
       $prog hold
EOF
  exit 2
}

fail() {
  echo "$prog: $*" >&2
  exit 1
}

missing=()
need() {
  for var in "$@"; do
    if [ -z "${!var:-}" ]; then missing+=("$var"); fi
  done
}

# Collects what the database connection lacks into $missing.
check_database_settings() {
  if [ -n "${DATABASE_URL:-}" ]; then
    case "$DATABASE_URL" in
      postgres://* | postgresql://*) ;;
      *) echo "$prog: DATABASE_URL must start with postgres:// or postgresql://" >&2; exit 2 ;;
    esac
    return
  fi
  need DB_HOST DB_NAME DB_USER
  if [ -z "${DB_PASSWORD:-}" ] && [ -z "${DB_PASSWORD_FILE:-}" ]; then missing+=("DB_PASSWORD (or DB_PASSWORD_FILE)"); fi
}

check_backup_dir() {
  need BACKUP_DIR
}

refuse_if_missing() {
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "$prog: refusing to $1: not set: ${missing[*]}" >&2
    exit 2
  fi
  if [ -n "${BACKUP_DIR:-}" ] && [ ! -d "$BACKUP_DIR" ]; then
    echo "$prog: refusing to $1: BACKUP_DIR $BACKUP_DIR is not a directory" >&2
    exit 2
  fi
}

# Exports libpq's variables for pg_dump / pg_restore; the password never appears on a command line.
connect_settings() {
  if [ -n "${DATABASE_URL:-}" ]; then
    target="$DATABASE_URL"
    label="DATABASE_URL"
    return
  fi
  export PGHOST="$DB_HOST" PGPORT="${DB_PORT:-5432}" PGDATABASE="$DB_NAME" PGUSER="$DB_USER" PGSSLMODE="${DB_SSLMODE:-disable}"
  if [ -n "${DB_PASSWORD_FILE:-}" ]; then
    [ -r "$DB_PASSWORD_FILE" ] || { echo "$prog: DB_PASSWORD_FILE $DB_PASSWORD_FILE cannot be read" >&2; exit 2; }
    PGPASSWORD=$(cat "$DB_PASSWORD_FILE")
  else
    PGPASSWORD="$DB_PASSWORD"
  fi
  export PGPASSWORD
  target="$DB_NAME"
  label="$DB_USER@$DB_HOST:${DB_PORT:-5432}/$DB_NAME"
}

list_dumps() {
  # Names carry a UTC timestamp, so name order is time order.
  find "$BACKUP_DIR" -maxdepth 1 -type f -name 'hangar-*.dump' -printf '%f\n' | LC_ALL=C sort
}

cmd_backup() {
  check_database_settings
  check_backup_dir
  if [ -n "${BACKUP_RETENTION_DAYS:-}" ] && ! [[ "$BACKUP_RETENTION_DAYS" =~ ^[0-9]+$ && "$BACKUP_RETENTION_DAYS" -ge 1 ]]; then
    echo "$prog: BACKUP_RETENTION_DAYS must be a whole number of days, at least 1" >&2
    exit 2
  fi
  refuse_if_missing "back up"
  connect_settings
  local name="hangar-$(date -u +%Y%m%dT%H%M%SZ).dump"
  local partial="$BACKUP_DIR/.$name.partial"
  trap 'rm -f "$partial"' EXIT
  echo "$prog: dumping $label into $BACKUP_DIR/$name"
  pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$partial" "$target" || fail "pg_dump failed; no backup written"
  # A dump that pg_restore cannot read is no backup.
  pg_restore --list "$partial" >/dev/null || fail "the dump cannot be read back; no backup written"
  mv "$partial" "$BACKUP_DIR/$name"
  trap - EXIT
  echo "$prog: wrote $name ($(stat -c %s "$BACKUP_DIR/$name") bytes)"
  if [ -n "${BACKUP_RETENTION_DAYS:-}" ]; then
    find "$BACKUP_DIR" -maxdepth 1 -type f -name 'hangar-*.dump' -mtime "+$BACKUP_RETENTION_DAYS" -print -delete | sed "s|^|$prog: deleted old backup |"
  fi
}

cmd_list() {
  check_backup_dir
  refuse_if_missing "list backups"
  local n=0
  while IFS= read -r name; do
    printf '%s\t%s\t%s\n' "$name" "$(stat -c %s "$BACKUP_DIR/$name")" "$(date -u -r "$BACKUP_DIR/$name" +%Y-%m-%dT%H:%M:%SZ)"
    n=$((n + 1))
  done < <(list_dumps)
  [ "$n" -gt 0 ] || echo "$prog: no backups in $BACKUP_DIR" >&2
}

cmd_restore() {
  local which="${1:-}" confirm="${2:-}"
  [ -n "$which" ] || usage
  check_database_settings
  check_backup_dir
  refuse_if_missing "restore"
  local name
  if [ "$which" = latest ]; then
    name=$(list_dumps | tail -n 1)
    [ -n "$name" ] || fail "no backups in $BACKUP_DIR"
  else
    name=$(basename "$which")
    [ -f "$BACKUP_DIR/$name" ] || fail "no backup named $name in $BACKUP_DIR (see: $prog list)"
  fi
  connect_settings
  if [ "$confirm" != "--yes" ]; then
    echo "$prog: restoring $name replaces the contents of $label." >&2
    echo "$prog: stop the allocator and matchmaker first, then run again with --yes: $prog restore $which --yes" >&2
    exit 2
  fi
  echo "$prog: restoring $name into $label"
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$target" "$BACKUP_DIR/$name" ||
    fail "pg_restore failed; the transaction was rolled back and the database is as it was"
  echo "$prog: restored $name"
}

cmd_hold() {
  check_database_settings
  check_backup_dir
  refuse_if_missing "hold"
  echo "$prog: settings complete; holding for ${HOLD_SECONDS:-3600} s (kubectl exec ... -- bash $0 list | restore NAME --yes)"
  exec sleep "${HOLD_SECONDS:-3600}"
}

case "${1:-}" in
  hold) [ $# -eq 1 ] || usage; cmd_hold ;;
  backup) [ $# -eq 1 ] || usage; cmd_backup ;;
  list) [ $# -eq 1 ] || usage; cmd_list ;;
  restore) [ $# -ge 2 ] && [ $# -le 3 ] || usage; cmd_restore "$2" "${3:-}" ;;
  *) usage ;;
esac
