#!/usr/bin/env bash
# ScholarLink Billing go-live: preflight, canary rollout, smoke test, webhook check, rollback.
# Run `go-live-commands.sh --help`. Every run writes a log file (path printed at the start).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

NAMESPACE="${NAMESPACE:-scholarlink-prod}"
DOMAIN="${DOMAIN:-billing.scholarlink.app}"
# smoke and webhook need it given explicitly (main); the production commands default to https://$DOMAIN.
BASE_URL="${BASE_URL:-}"
BASE_URL="${BASE_URL%/}"
ROLLOUT="${ROLLOUT:-scholarlink-billing}"
CONTAINER="${CONTAINER:-billing}"
IMAGE_NAME="${IMAGE_NAME:-ghcr.io/scholarlink/billing}"
IMAGE="${IMAGE:-}"
OVERLAY_DIR="${OVERLAY_DIR:-$REPO_ROOT/k8s/overlays/production}"
EXTERNAL_SECRET="${EXTERNAL_SECRET:-scholarlink-billing}"
KUBE_SECRET="${KUBE_SECRET:-scholarlink-billing-secrets}"
EXPECTED_CONTEXT="${EXPECTED_CONTEXT:-}"
DB_INSTANCE="${DB_INSTANCE:-scholarlink-billing-prod}"
AWS_REGION="${AWS_REGION:-us-east-1}"
CANARY_TIMEOUT_SECONDS="${CANARY_TIMEOUT_SECONDS:-5400}"
ROLLBACK_BUDGET_SECONDS="${ROLLBACK_BUDGET_SECONDS:-300}"
CERT_MIN_DAYS="${CERT_MIN_DAYS:-14}"
STRIPE_API="${STRIPE_API:-https://api.stripe.com}"
WEBHOOK_EVENTS=(checkout.session.completed checkout.session.async_payment_succeeded checkout.session.async_payment_failed checkout.session.expired charge.refunded charge.dispute.created charge.dispute.closed)

DRY_RUN=0
COMMAND=""
FAILURES=0
RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--dry-run] {full|preflight|smoke|webhook|canary|rollback}

Commands
  preflight  tools, kube context and namespace, DNS of $DOMAIN, TLS certificate and expiry,
             ExternalSecret synced, database reachable and pending migrations, Stripe webhook
             endpoint registered for the live URL, then an RDS snapshot taken and waited for
  canary     apply the production overlay with IMAGE, watch every canary step (5% 25% 50% 100%)
             and its analysis; stops at the first failed gate (Argo Rollouts has then aborted)
  smoke      post-deployment checks against BASE_URL (required): /healthz and /readyz 200, a JWT accepted
             and forged ones refused, funding (admin grant, or SMOKE_STRIPE=1 below),
             1k+500 gpt-4o tokens = 50 credits, an idempotent replay, the CSV export carrying
             correlation ids, a 402 naming requiredCredits
  webhook    a signed test event delivered to BASE_URL/v1/webhooks/stripe (required) and acknowledged,
             its redelivery acknowledged once more, a bad signature refused
  rollback   abort and undo the rollout, confirm the stable pods are ready (budget ${ROLLBACK_BUDGET_SECONDS}s)
  full       preflight, canary, smoke, webhook in order; stops at the first failure and offers
             a rollback (AUTO_ROLLBACK=1 rolls back without asking)

Options
  --dry-run  print every command instead of running it (smoke and webhook print their requests)
  -h, --help this text

Environment (defaults in brackets)
  BASE_URL                     the service checked: required by smoke and webhook (e.g.
                               http://127.0.0.1:3000 for a local npm start); https://$DOMAIN
                               for preflight, canary, rollback and full
  NAMESPACE [$NAMESPACE]   ROLLOUT [$ROLLOUT]
  IMAGE (canary, full)         e.g. $IMAGE_NAME:1.0.1@sha256:...
  USER_TOKEN GATEWAY_TOKEN ADMIN_TOKEN   bearer tokens for smoke (a dedicated smoke user, the
                               gateway's usage:write, billing:admin); or JWT_SIGNING_KEY_FILE
                               (RS256 PEM) with JWT_ISSUER, JWT_AUDIENCE, SMOKE_USER_ID to mint them
  SMOKE_STRIPE=1 + STRIPE_WEBHOOK_SECRET   smoke funds through a \$5 starter purchase instead
                               (Stripe TEST mode deployments only; refused for a cs_live_ session).
                               Proves the service's purchase -> signed webhook -> credit path:
                               POST /v1/credits/purchase creates a real test-mode Checkout
                               Session, then a checkout.session.completed event that the SCRIPT
                               builds and signs with STRIPE_WEBHOOK_SECRET credits 5,000 credits,
                               the purchase is paid and a purchase ledger entry carries the
                               webhook's correlation id. Does NOT prove Stripe's own Checkout
                               payment nor Stripe delivering the event (paying a Checkout page
                               needs a browser); pay one test card by hand for that.
  STRIPE_SECRET_KEY            preflight: list webhook endpoints (read-only)
  PREFLIGHT_DATABASE_URL       preflight: database reached through a tunnel, pending migrations
  EXPECTED_CONTEXT             preflight: the kube context that must be current
  DB_INSTANCE [$DB_INSTANCE]  AWS_REGION [$AWS_REGION]
  GO_LIVE_LOG_DIR              where run logs go [$(default_log_dir)]
  NO_COLOR=1                   plain output
EOF
}

# ---------- output, log file, command runner ----------
if [[ -t 1 && -z "${NO_COLOR:-}" ]] || [[ -n "${FORCE_COLOR:-}" ]]; then
  C_BLUE=$'\033[1;34m' C_GREEN=$'\033[32m' C_RED=$'\033[31m' C_YELLOW=$'\033[33m' C_DIM=$'\033[2m' C_OFF=$'\033[0m'
else
  C_BLUE="" C_GREEN="" C_RED="" C_YELLOW="" C_DIM="" C_OFF=""
fi

step() { printf '\n%s==> %s%s\n' "$C_BLUE" "$*" "$C_OFF"; }
ok() { printf '%s  ok%s   %s\n' "$C_GREEN" "$C_OFF" "$*"; }
warn() { printf '%s  warn%s %s\n' "$C_YELLOW" "$C_OFF" "$*"; }
fail() { printf '%s  FAIL%s %s\n' "$C_RED" "$C_OFF" "$*"; FAILURES=$((FAILURES + 1)); }
die() { printf '%sERROR%s %s\n' "$C_RED" "$C_OFF" "$*" >&2; exit 1; }

# Never print a credential: tokens and secrets are replaced by *** in every displayed command.
redact() {
  local text="$*" name value
  for name in USER_TOKEN GATEWAY_TOKEN ADMIN_TOKEN STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET PREFLIGHT_DATABASE_URL FORGED_TOKEN TAMPERED_TOKEN; do
    value="${!name:-}"
    if [[ -n "$value" ]]; then text="${text//"$value"/***}"; fi
  done
  printf '%s' "$text"
}

# Commands are shown as typed: arguments a shell would split, expand or glob are quoted.
show() {
  local arg line=""
  for arg in "$@"; do
    if [[ "$arg" == "|" || "$arg" == "</dev/null" ]]; then line+="$arg "  # a pipeline shown as such
    elif [[ "$arg" =~ [[:space:]\'\"\\\$\`\*\?\[\<\>\|\&\;\(\)] ]]; then line+="$(printf '%q' "$arg") "
    else line+="$arg "; fi
  done
  printf '%s  $ %s%s\n' "$C_DIM" "$(redact "${line% }")" "$C_OFF"
}

# run CMD...: prints the command; runs it unless --dry-run.
run() {
  show "$@"
  if [[ "$DRY_RUN" == 1 ]]; then return 0; fi
  "$@"
}

# capture VAR CMD...: like run, but stores stdout in VAR (empty in --dry-run).
capture() {
  local __var="$1"; shift
  show "$@"
  if [[ "$DRY_RUN" == 1 ]]; then printf -v "$__var" '%s' ""; return 0; fi
  local __out
  __out="$("$@")"
  printf -v "$__var" '%s' "$__out"
}

need() {
  local tool
  for tool in "$@"; do
    if command -v "$tool" >/dev/null 2>&1; then ok "tool $tool: $(command -v "$tool")"
    elif [[ "$DRY_RUN" == 1 ]]; then warn "tool $tool not installed (dry run goes on)"
    else fail "tool $tool not installed"; fi
  done
}

default_log_dir() { printf '%s' "${XDG_STATE_HOME:-${HOME:-/tmp}/.local/state}/scholarlink-billing/go-live"; }

open_log() {
  local dir="${GO_LIVE_LOG_DIR:-$(default_log_dir)}"
  if ! mkdir -p "$dir" 2>/dev/null || [[ ! -w "$dir" ]]; then dir="${TMPDIR:-/tmp}/scholarlink-billing-go-live"; mkdir -p "$dir"; fi
  LOG_FILE="$dir/go-live-$COMMAND-$RUN_ID.log"
  exec > >(tee -a "$LOG_FILE") 2>&1
  printf '%sScholarLink Billing go-live: %s%s (run %s%s)\ntarget: %s\nlog file: %s\n' "$C_BLUE" "$COMMAND" "$C_OFF" "$RUN_ID" "$([[ "$DRY_RUN" == 1 ]] && printf ', dry run')" "$BASE_URL" "$LOG_FILE"
}

# ---------- HTTP helper (curl) for rollback's readiness check; JSON is built and read with jq ----------
HTTP_STATUS="" HTTP_BODY=""
# http METHOD PATH TOKEN BODY [HEADER...]: sets HTTP_STATUS and HTTP_BODY.
http() {
  local method="$1" path="$2" token="$3" body="$4"; shift 4
  local args=(-sS --max-time 20 -o "$WORK_DIR/body" -w '%{http_code}' -X "$method" "$BASE_URL$path")
  if [[ -n "$token" ]]; then args+=(-H "Authorization: Bearer $token"); fi
  if [[ -n "$body" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  local header
  for header in "$@"; do args+=(-H "$header"); done
  show curl "${args[@]}"
  if [[ "$DRY_RUN" == 1 ]]; then HTTP_STATUS="dry-run" HTTP_BODY="{}"; return 0; fi
  HTTP_STATUS="$(curl "${args[@]}" || printf 'curl-error')"
  HTTP_BODY="$(cat "$WORK_DIR/body" 2>/dev/null || true)"
}

# expect LABEL STATUS...: passes when HTTP_STATUS is one of them (always passes in --dry-run).
expect() {
  local label="$1"; shift
  if [[ "$DRY_RUN" == 1 ]]; then ok "$label (dry run)"; return 0; fi
  local want
  for want in "$@"; do if [[ "$HTTP_STATUS" == "$want" ]]; then ok "$label: $HTTP_STATUS"; return 0; fi; done
  fail "$label: got $HTTP_STATUS, want $*: $(printf '%s' "$HTTP_BODY" | head -c 300)"
  return 1
}

# ---------- smoke and webhook: deployment/billing/go-live-checks.ts ----------
# The HTTP checks are TypeScript, typed with the service's own schemas; they print the same ok/FAIL lines and
# inherit the tokens, SMOKE_STRIPE and STRIPE_WEBHOOK_SECRET from this environment.
checks() {
  RUN_ID="$RUN_ID" DRY_RUN="$DRY_RUN" BASE_URL="$BASE_URL" \
    node --require "$REPO_ROOT/node_modules/ts-node/register/transpile-only" "$SCRIPT_DIR/go-live-checks.ts" "$@" ||
    { FAILURES=$((FAILURES + 1)); return 1; }
}

cmd_smoke() { checks smoke; }

cmd_webhook() {
  if [[ -z "${STRIPE_WEBHOOK_SECRET:-}" ]]; then
    # The operator's kube credentials can read the synced secret; it is never printed.
    local secret
    capture secret kubectl -n "$NAMESPACE" get secret "$KUBE_SECRET" -o "jsonpath={.data.STRIPE_WEBHOOK_SECRET}"
    if [[ -n "$secret" ]]; then STRIPE_WEBHOOK_SECRET="$(printf '%s' "$secret" | openssl base64 -d -A)"; export STRIPE_WEBHOOK_SECRET; fi
  fi
  [[ -n "${STRIPE_WEBHOOK_SECRET:-}" || "$DRY_RUN" == 1 ]] || die "no STRIPE_WEBHOOK_SECRET (env or secret $KUBE_SECRET)"
  checks webhook
}

# ---------- preflight ----------
# The certificate billing.scholarlink.app serves, verified against the system's trust store.
served_certificate() {
  openssl s_client -connect "$DOMAIN:443" -servername "$DOMAIN" -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout "$@"
}

cmd_preflight() {
  local out
  step "Tools"
  need kubectl curl openssl aws node jq
  if [[ "$DRY_RUN" == 1 ]] || kubectl argo rollouts version >/dev/null 2>&1; then ok "kubectl argo rollouts plugin"; else fail "kubectl argo rollouts plugin missing"; fi

  step "Kubernetes context and namespace"
  capture out kubectl config current-context
  if [[ -n "$EXPECTED_CONTEXT" && "$DRY_RUN" != 1 && "$out" != "$EXPECTED_CONTEXT" ]]; then fail "context is '$out', expected '$EXPECTED_CONTEXT'"; else ok "context ${out:-(dry run)}"; fi
  run kubectl get namespace "$NAMESPACE" -o name || fail "namespace $NAMESPACE missing"
  run kubectl -n "$NAMESPACE" get gateway,httproute,rollout,analysistemplate -o name || fail "billing objects missing in $NAMESPACE"

  step "DNS of $DOMAIN"
  capture out getent hosts "$DOMAIN"
  if [[ -n "$out" || "$DRY_RUN" == 1 ]]; then ok "$DOMAIN resolves: ${out:-(dry run)}"; else fail "$DOMAIN does not resolve"; fi

  step "TLS certificate of $DOMAIN"
  show openssl s_client -connect "$DOMAIN:443" -servername "$DOMAIN" -verify_return_error "</dev/null" "|" openssl x509 -noout -subject -issuer -enddate -checkend "$((CERT_MIN_DAYS * 86400))"
  if [[ "$DRY_RUN" != 1 ]]; then
    if out="$(served_certificate -subject -issuer -enddate -checkend "$((CERT_MIN_DAYS * 86400))")"; then
      ok "certificate valid for $CERT_MIN_DAYS+ days: $(printf '%s' "$out" | tr '\n' ' ')"
    else
      fail "certificate missing, invalid or expiring within $CERT_MIN_DAYS days: $(printf '%s' "$out" | tr '\n' ' ')"
    fi
  fi
  run kubectl -n "$NAMESPACE" wait --for=condition=Ready certificate/billing-scholarlink-app --timeout=60s || fail "cert-manager Certificate not Ready"

  step "ExternalSecret synced from AWS Secrets Manager"
  run kubectl -n "$NAMESPACE" wait --for=condition=Ready "externalsecret/$EXTERNAL_SECRET" --timeout=60s || fail "ExternalSecret $EXTERNAL_SECRET not synced"
  capture out kubectl -n "$NAMESPACE" get secret "$KUBE_SECRET" -o "jsonpath={.data}"
  if [[ "$DRY_RUN" != 1 ]]; then
    local key
    for key in DATABASE_URL STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET REDIS_URL; do
      if jq -e --arg k "$key" 'has($k)' <<<"$out" >/dev/null 2>&1; then ok "secret has $key"; else fail "secret lacks $key"; fi
    done
  fi

  step "Database reachable, pending migrations"
  capture out aws rds describe-db-instances --region "$AWS_REGION" --db-instance-identifier "$DB_INSTANCE" --query "DBInstances[0].DBInstanceStatus" --output text
  if [[ "$DRY_RUN" == 1 || "$out" == available ]]; then ok "RDS $DB_INSTANCE ${out:-(dry run)}"; else fail "RDS $DB_INSTANCE is '$out'"; fi
  if [[ -n "${PREFLIGHT_DATABASE_URL:-}" ]]; then
    capture out psql "$PREFLIGHT_DATABASE_URL" -Atc "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL"
    local dir pending=0
    for dir in "$REPO_ROOT"/prisma/migrations/*/; do
      dir="$(basename "$dir")"
      if ! grep -qx "$dir" <<<"$out"; then pending=$((pending + 1)); printf '  pending migration: %s\n' "$dir"; fi
    done
    ok "$pending pending migration(s); the rollout's first step applies them"
    # The connection gate divides by the max_connections written in the overlay: they must agree.
    local gate_max
    capture out psql "$PREFLIGHT_DATABASE_URL" -Atc "SHOW max_connections"
    gate_max="$(grep -A1 'name: db-max-connections' "$OVERLAY_DIR/analysis-database.patch.yaml" | sed -n 's/.*value: "\{0,1\}\([0-9]*\)"\{0,1\}.*/\1/p')"
    if [[ "$DRY_RUN" == 1 || "$out" == "$gate_max" ]]; then ok "max_connections ${out:-(dry run)} matches the gate's $gate_max"; else fail "max_connections is $out, the gate assumes $gate_max"; fi
  else
    warn "PREFLIGHT_DATABASE_URL unset: pending migrations are listed by the rollout's db-migrate Job log"
  fi

  step "Stripe webhook endpoint registered for $BASE_URL/v1/webhooks/stripe"
  if [[ -n "${STRIPE_SECRET_KEY:-}" || "$DRY_RUN" == 1 ]]; then
    capture out curl -sS --max-time 20 -u "${STRIPE_SECRET_KEY:-sk_dry_run}:" "$STRIPE_API/v1/webhook_endpoints?limit=100"
    if [[ "$DRY_RUN" != 1 ]]; then
      local endpoint
      endpoint="$(printf '%s' "$out" | jq -j --arg url "$BASE_URL/v1/webhooks/stripe" \
        'first(.data[]? | select(.url == $url and .status == "enabled") | .enabled_events | join(" ")) // empty')"
      if [[ -z "$endpoint" ]]; then fail "no enabled Stripe webhook endpoint for $BASE_URL/v1/webhooks/stripe"
      else
        local event
        for event in "${WEBHOOK_EVENTS[@]}"; do
          if [[ " $endpoint " == *" $event "* || " $endpoint " == *" * "* ]]; then ok "endpoint receives $event"; else fail "endpoint misses $event"; fi
        done
      fi
    fi
  else
    fail "STRIPE_SECRET_KEY unset: cannot check the webhook endpoint"
  fi

  if [[ "$FAILURES" != 0 ]]; then fail "preflight checks failed: no snapshot taken"; return 1; fi
  step "Pre-deployment database snapshot"
  local snapshot="$DB_INSTANCE-pre-go-live-${RUN_ID,,}"
  snapshot="${snapshot//[^a-z0-9-]/-}"
  run aws rds create-db-snapshot --region "$AWS_REGION" --db-instance-identifier "$DB_INSTANCE" --db-snapshot-identifier "$snapshot" || { fail "snapshot not started"; return 1; }
  run aws rds wait db-snapshot-available --region "$AWS_REGION" --db-snapshot-identifier "$snapshot" || { fail "snapshot $snapshot not available"; return 1; }
  ok "snapshot $snapshot available"
}

# ---------- canary ----------
rollout_field() { kubectl -n "$NAMESPACE" get rollout "$ROLLOUT" -o "jsonpath=$1"; }

cmd_canary() {
  [[ -n "$IMAGE" ]] || die "canary needs IMAGE (e.g. $IMAGE_NAME:1.0.1@sha256:...)"
  step "Canary: $ROLLOUT -> $IMAGE"
  # A throwaway overlay on top of production sets the image everywhere it appears (the Rollout
  # and the migration Job); kustomize's own `edit set image` would rewrite the committed file.
  local dir="$WORK_DIR/overlay" ref="$IMAGE" digest="" tag="" expected
  # IMAGE is [registry[:port]/]name[:tag][@sha256:...]; a digest wins over a tag, as in kustomize.
  if [[ "$ref" == *@* ]]; then digest="${ref#*@}"; ref="${ref%%@*}"; fi
  if [[ "${ref##*/}" == *:* ]]; then tag="${ref##*:}"; ref="${ref%:*}"; fi
  expected="$ref${digest:+@$digest}"
  if [[ -z "$digest" && -n "$tag" ]]; then expected="$ref:$tag"; fi
  mkdir -p "$dir"
  # kustomize wants the base as a relative path.
  {
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\n' "$(realpath --relative-to="$dir" "$OVERLAY_DIR")"
    printf 'images:\n  - name: %s\n    newName: %s\n' "$IMAGE_NAME" "$ref"
    if [[ -n "$digest" ]]; then printf '    digest: %s\n' "$digest"; elif [[ -n "$tag" ]]; then printf '    newTag: "%s"\n' "$tag"; fi
  } >"$dir/kustomization.yaml"
  # Rendering is local and offline, so it runs in a dry run too: the images about to be applied.
  local images
  images="$(kubectl kustomize "$dir" | grep -E '^ +image: ' | sed 's/^ *image: //' | sort -u)" || { fail "the overlay does not render"; return 1; }
  if [[ "$images" == "$expected" ]]; then ok "renders with image $expected (Rollout and migration Job)"; else fail "rendered images: $images"; return 1; fi
  # A brand-new Rollout goes straight to 100% without running its steps, so the migration step
  # would not run: on the first deployment the migrations run as a one-off Job right after the
  # apply (the new pods stay unready, /readyz 503, until it has finished).
  local first=0
  if [[ "$DRY_RUN" == 1 ]] || ! kubectl -n "$NAMESPACE" get rollout "$ROLLOUT" -o name >/dev/null 2>&1; then first=1; fi
  run kubectl diff -k "$dir" || true
  run kubectl apply --server-side --force-conflicts -k "$dir" || { fail "apply failed"; return 1; }
  if [[ "$first" == 1 ]]; then initial_migration || return 1; fi

  step "Watching steps and analysis (migrations, then 5% 25% 50% 100%, gates at each)"
  if [[ "$DRY_RUN" == 1 ]]; then
    show kubectl -n "$NAMESPACE" get rollout "$ROLLOUT" -o "jsonpath={.status.phase} {.status.currentStepIndex}"
    show kubectl -n "$NAMESPACE" get analysisrun -l "rollouts-pod-template-hash=<canary hash>"
    show kubectl argo rollouts status "$ROLLOUT" -n "$NAMESPACE" --timeout "${CANARY_TIMEOUT_SECONDS}s"
    return 0
  fi
  local started last="" now phase index message weight runs
  started="$(date +%s)"
  while :; do
    now="$(date +%s)"
    (( now - started < CANARY_TIMEOUT_SECONDS )) || { fail "rollout not done after ${CANARY_TIMEOUT_SECONDS}s"; return 1; }
    phase="$(rollout_field '{.status.phase}')"
    index="$(rollout_field '{.status.currentStepIndex}')"
    weight="$(rollout_field '{.status.canary.weights.canary.weight}')"
    message="$(rollout_field '{.status.message}')"
    runs="$(kubectl -n "$NAMESPACE" get analysisrun -l "rollouts-pod-template-hash=$(rollout_field '{.status.currentPodHash}')" \
      -o 'jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}' 2>/dev/null || true)"
    if [[ "$phase $index $weight $runs" != "$last" ]]; then
      printf '  %s step %s/%s, canary weight %s%%, %s %s\n' "$phase" "${index:-?}" "$(rollout_field '{.spec.strategy.canary.steps}' | grep -o '{' | wc -l)" "${weight:-0}" "${runs:-no analysis yet}" "${message:+($message)}"
      last="$phase $index $weight $runs"
    fi
    if [[ "$runs" == *=Failed* || "$runs" == *=Error* || "$phase" == Degraded ]]; then
      fail "a gate failed: Argo Rollouts aborted and sent traffic back to the stable version"
      kubectl -n "$NAMESPACE" get analysisrun -l "rollouts-pod-template-hash=$(rollout_field '{.status.currentPodHash}')" \
        -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{range .status.metricResults[*]}  {.name}: {.phase} {.message}{"\n"}{end}{end}' || true
      return 1
    fi
    if [[ "$runs" == *=Inconclusive* ]]; then warn "a gate was inconclusive (no data): the rollout waits for 'kubectl argo rollouts promote|abort $ROLLOUT -n $NAMESPACE'"; fi
    if [[ "$phase" == Healthy && "$(rollout_field '{.status.stableRS}')" == "$(rollout_field '{.status.currentPodHash}')" ]]; then
      ok "rollout complete: $IMAGE is stable at 100% after $(( $(date +%s) - started ))s"
      return 0
    fi
    sleep 10
  done
}

# The migration Job of the AnalysisTemplate as a stand-alone Job (JSON on stdin and stdout).
migration_job_from_template() {
  jq -c 'first(.spec.metrics[] | .provider.job // empty) as $job
    | {apiVersion: "batch/v1", kind: "Job",
       metadata: ({generateName: "scholarlink-billing-db-migrate-initial-"} + (if $job.metadata.labels then {labels: $job.metadata.labels} else {} end)),
       spec: $job.spec}'
}

initial_migration() {
  step "First deployment (or --dry-run): migrations as a one-off Job, since a new Rollout runs no steps"
  show kubectl -n "$NAMESPACE" get analysistemplate scholarlink-billing-db-migrate -o json "|" migration_job_from_template "|" kubectl -n "$NAMESPACE" create -f - -o name
  if [[ "$DRY_RUN" == 1 ]]; then show kubectl -n "$NAMESPACE" wait --for=condition=complete "job/<created>" --timeout=600s; return 0; fi
  local job
  job="$(kubectl -n "$NAMESPACE" get analysistemplate scholarlink-billing-db-migrate -o json | migration_job_from_template | kubectl -n "$NAMESPACE" create -f - -o name)" ||
    { fail "could not create the migration Job"; return 1; }
  if ! run kubectl -n "$NAMESPACE" wait --for=condition=complete "$job" --timeout=600s; then
    kubectl -n "$NAMESPACE" logs "$job" || true
    fail "migrations failed: $job"
    return 1
  fi
  run kubectl -n "$NAMESPACE" logs "$job"
  ok "migrations applied by $job"
}

# ---------- rollback ----------
cmd_rollback() {
  step "Rollback of $ROLLOUT (budget ${ROLLBACK_BUDGET_SECONDS}s)"
  local started stable
  started="$(date +%s)"
  # abort: traffic back to the stable ReplicaSet at once (it kept its full size during the canary).
  run kubectl argo rollouts abort "$ROLLOUT" -n "$NAMESPACE" || warn "nothing to abort"
  # undo: the spec back to the previous revision; promote --full skips the steps and gates for
  # that known-good revision, so a rollback after a completed rollout is not a 40-minute canary.
  run kubectl argo rollouts undo "$ROLLOUT" -n "$NAMESPACE" || fail "undo failed"
  run kubectl argo rollouts promote --full "$ROLLOUT" -n "$NAMESPACE" || warn "promote --full: already stable"
  run kubectl argo rollouts status "$ROLLOUT" -n "$NAMESPACE" --timeout "${ROLLBACK_BUDGET_SECONDS}s" || fail "rollout not healthy in ${ROLLBACK_BUDGET_SECONDS}s"
  capture stable kubectl -n "$NAMESPACE" get rollout "$ROLLOUT" -o "jsonpath={.status.stableRS}"
  run kubectl -n "$NAMESPACE" wait --for=condition=Ready pod -l "app.kubernetes.io/name=scholarlink-billing,app.kubernetes.io/component=api,rollouts-pod-template-hash=${stable:-<stable hash>}" --timeout "${ROLLBACK_BUDGET_SECONDS}s" ||
    fail "stable pods not ready"
  http GET /readyz "" ""
  expect "public /readyz after rollback" 200 || true
  local elapsed=$(( $(date +%s) - started ))
  if (( elapsed > ROLLBACK_BUDGET_SECONDS )); then fail "rollback took ${elapsed}s (budget ${ROLLBACK_BUDGET_SECONDS}s)"; else ok "rollback done in ${elapsed}s"; fi
  warn "revert the image in git (k8s/overlays/production) so the next apply does not roll forward again"
  [[ "$FAILURES" == 0 ]]
}

# ---------- full ----------
cmd_full() {
  local phase
  for phase in preflight canary smoke webhook; do
    if ! "cmd_$phase"; then
      fail "go-live stopped at '$phase'"
      [[ "$phase" == preflight ]] && return 1
      local answer="${AUTO_ROLLBACK:-}"
      if [[ -z "$answer" && -t 0 ]]; then read -r -p "Roll back now? [y/N] " answer; fi
      if [[ "$answer" == [yY1]* ]]; then FAILURES=0; cmd_rollback || true; else warn "no rollback: run '$0 rollback' to undo"; fi
      return 1
    fi
  done
  ok "go-live complete"
}

# ---------- main ----------
main() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      full | preflight | smoke | webhook | canary | rollback)
        [[ -z "$COMMAND" ]] || die "one command at a time"
        COMMAND="$1" ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  [[ -n "$COMMAND" ]] || { usage >&2; exit 2; }
  if [[ -z "$BASE_URL" ]]; then
    case "$COMMAND" in
      # Never aim a check at production by accident: the operator names the target.
      smoke | webhook) die "$COMMAND needs BASE_URL, the service to check: BASE_URL=https://$DOMAIN, or http://127.0.0.1:3000 for a local npm start" ;;
      *) BASE_URL="https://$DOMAIN" ;;
    esac
  fi
  command -v jq >/dev/null 2>&1 || die "jq is required (Debian package jq): it builds and reads every JSON document"
  WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/go-live.XXXXXX")"
  trap 'rm -rf "$WORK_DIR"' EXIT
  open_log
  local started status=0
  started="$(date +%s)"
  "cmd_$COMMAND" || status=$?
  if [[ "$status" == 0 && "$FAILURES" == 0 ]]; then
    printf '\n%s%s passed%s in %ss (log: %s)\n' "$C_GREEN" "$COMMAND" "$C_OFF" "$(( $(date +%s) - started ))" "$LOG_FILE"
  else
    printf '\n%s%s FAILED%s (%s failure(s)) in %ss (log: %s)\n' "$C_RED" "$COMMAND" "$C_OFF" "$FAILURES" "$(( $(date +%s) - started ))" "$LOG_FILE"
    exit 1
  fi
}

# Sourcing the file (the tests do) defines the helpers without running anything.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
