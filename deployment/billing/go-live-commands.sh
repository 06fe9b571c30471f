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
# Prometheus metric labels, paths and the 1k+500 gpt-4o reference charge of the contract.
SMOKE_MODEL="gpt-4o"
SMOKE_EXPECTED_CREDITS="50"

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

# ---------- JSON and HTTP helpers (curl, jq) ----------
# Every JSON document and JWT claim set is built with `jq -n --arg`, so any value (a quote in a user id)
# stays a JSON string; fields are read with jq too.
json_get() { printf '%s' "$1" | jq -j "$2 // empty" 2>/dev/null || true; }

# Decimal strings compared as numbers without floats: "50.000000000000000000" == "50".
decimal_norm() {
  local v="$1"
  if [[ "$v" == *.* ]]; then v="${v%"${v##*[!0]}"}"; v="${v%.}"; fi
  printf '%s' "${v:-0}"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
b64url_decode() {
  local s="${1//-/+}"; s="${s//_//}"
  while (( ${#s} % 4 )); do s="$s="; done
  printf '%s' "$s" | openssl base64 -d -A
}

HTTP_STATUS="" HTTP_BODY="" HTTP_HEADERS=""
# http METHOD PATH TOKEN BODY [HEADER...]: sets HTTP_STATUS, HTTP_BODY, HTTP_HEADERS.
http() {
  local method="$1" path="$2" token="$3" body="$4"; shift 4
  local args=(-sS --max-time 20 -o "$WORK_DIR/body" -D "$WORK_DIR/headers" -w '%{http_code}' -X "$method" "$BASE_URL$path")
  if [[ -n "$token" ]]; then args+=(-H "Authorization: Bearer $token"); fi
  if [[ -n "$body" ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$body"); fi
  local header
  for header in "$@"; do args+=(-H "$header"); done
  show curl "${args[@]}"
  if [[ "$DRY_RUN" == 1 ]]; then HTTP_STATUS="dry-run" HTTP_BODY="{}" HTTP_HEADERS=""; return 0; fi
  HTTP_STATUS="$(curl "${args[@]}" || printf 'curl-error')"
  HTTP_BODY="$(cat "$WORK_DIR/body" 2>/dev/null || true)"
  HTTP_HEADERS="$(tr -d '\r' <"$WORK_DIR/headers" 2>/dev/null || true)"
}

header_value() { printf '%s\n' "$HTTP_HEADERS" | awk -v h="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" -F': ' 'tolower($1)==h {print $2}' | tail -n 1; }

# expect LABEL STATUS...: passes when HTTP_STATUS is one of them (always passes in --dry-run).
expect() {
  local label="$1"; shift
  if [[ "$DRY_RUN" == 1 ]]; then ok "$label (dry run)"; return 0; fi
  local want
  for want in "$@"; do if [[ "$HTTP_STATUS" == "$want" ]]; then ok "$label: $HTTP_STATUS"; return 0; fi; done
  fail "$label: got $HTTP_STATUS, want $*: $(printf '%s' "$HTTP_BODY" | head -c 300)"
  return 1
}

check() {
  local label="$1" actual="$2" wanted="$3"
  if [[ "$DRY_RUN" == 1 ]]; then return 0; fi
  if [[ "$actual" == "$wanted" ]]; then ok "$label = $actual"; else fail "$label: got '$actual', want '$wanted'"; fi
}

# ---------- tokens ----------
mint_token() {
  local sub="$1" scope="${2:-}" now claims header
  now="$(date +%s)"
  claims="$(jq -cn --arg sub "$sub" --arg scope "$scope" --arg iss "${JWT_ISSUER:-}" --arg aud "${JWT_AUDIENCE:-}" --argjson now "$now" \
    '{sub: $sub, iat: $now, exp: ($now + 900)} + (if $scope != "" then {scope: $scope} else {} end)
      + (if $iss != "" then {iss: $iss} else {} end) + (if $aud != "" then {aud: $aud} else {} end)')"
  header="$(printf '{"alg":"RS256","typ":"JWT"}' | b64url).$(printf '%s' "$claims" | b64url)"
  printf '%s.%s' "$header" "$(printf '%s' "$header" | openssl dgst -sha256 -sign "$JWT_SIGNING_KEY_FILE" -binary | b64url)"
}

load_tokens() {
  if [[ -n "${JWT_SIGNING_KEY_FILE:-}" ]]; then
    USER_TOKEN="${USER_TOKEN:-$(mint_token "${SMOKE_USER_ID:-smoke-user}")}"
    GATEWAY_TOKEN="${GATEWAY_TOKEN:-$(mint_token llm-gateway usage:write)}"
    ADMIN_TOKEN="${ADMIN_TOKEN:-$(mint_token go-live-smoke billing:admin)}"
  fi
  if [[ "$DRY_RUN" == 1 ]]; then
    USER_TOKEN="${USER_TOKEN:-USER_TOKEN}" GATEWAY_TOKEN="${GATEWAY_TOKEN:-GATEWAY_TOKEN}" ADMIN_TOKEN="${ADMIN_TOKEN:-ADMIN_TOKEN}"
  fi
  [[ -n "${USER_TOKEN:-}" && -n "${GATEWAY_TOKEN:-}" && -n "${ADMIN_TOKEN:-}" ]] ||
    die "smoke needs USER_TOKEN, GATEWAY_TOKEN and ADMIN_TOKEN (or JWT_SIGNING_KEY_FILE)"
}

# Stripe-Signature for PAYLOAD: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<payload>").
stripe_signature() {
  local payload="$1" secret="$2" t
  t="$(date +%s)"
  printf 't=%s,v1=%s' "$t" "$(printf '%s.%s' "$t" "$payload" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)"
}

# a - b for decimal strings, exact (no float near credits).
decimal_sub() { node "$SCRIPT_DIR/decimal-sub.js" "$1" "$2"; }

# ---------- smoke ----------
# usage_json USER_ID REQUEST_ID INPUT_TOKENS OUTPUT_TOKENS: a reconcile body for $SMOKE_MODEL.
usage_json() {
  jq -cn --arg userId "$1" --arg requestId "$2" --arg model "$SMOKE_MODEL" --argjson inputTokens "$3" --argjson outputTokens "$4" \
    '{userId: $userId, requestId: $requestId, model: $model, inputTokens: $inputTokens, outputTokens: $outputTokens}'
}

cmd_smoke() {
  step "Smoke test against $BASE_URL (run $RUN_ID)"
  load_tokens
  local corr="smoke-$RUN_ID" user_id before after funded

  step "Health endpoints"
  http GET /healthz "" "" "X-Correlation-Id: $corr-healthz"; expect "GET /healthz" 200 || true
  http GET /readyz "" "" "X-Correlation-Id: $corr-readyz"; expect "GET /readyz" 200 || true

  step "Authentication: a valid JWT accepted, forged ones refused"
  http GET /v1/balance "$USER_TOKEN" "" "X-Correlation-Id: $corr-auth"; expect "valid token on GET /v1/balance" 200 || true
  user_id="$(json_get "$HTTP_BODY" .userId)"
  before="$(json_get "$HTTP_BODY" .balance)"
  if [[ "$DRY_RUN" == 1 ]]; then user_id="smoke-user" before="0"; fi
  [[ -n "$user_id" ]] || { fail "no userId in the balance response"; return 1; }
  ok "smoke user $user_id, balance $before"
  local payload
  payload="$(printf '%s' "$USER_TOKEN" | cut -d. -f2)"
  # alg "none" with the real claims, and the real signature over claims naming another user.
  FORGED_TOKEN="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$payload."
  TAMPERED_TOKEN="$(printf '%s' "$USER_TOKEN" | cut -d. -f1).$(jq -cjn --argjson exp "$(( $(date +%s) + 600 ))" '{sub: "finance-admin", scope: "billing:admin", exp: $exp}' | b64url).$(printf '%s' "$USER_TOKEN" | cut -d. -f3)"
  http GET /v1/balance "$FORGED_TOKEN" ""; expect "alg=none token refused" 401 || true
  http GET /v1/balance "$TAMPERED_TOKEN" ""; expect "token with altered claims refused" 401 || true
  if [[ "$DRY_RUN" != 1 ]]; then
    if [[ -n "$(header_value WWW-Authenticate)" ]]; then ok "401 carries WWW-Authenticate"; else fail "401 without WWW-Authenticate"; fi
  fi

  if [[ "${SMOKE_STRIPE:-0}" == 1 ]]; then
    smoke_fund_by_purchase "$user_id" "$corr" || true
  else
    step "Funding: admin adjustment of $SMOKE_EXPECTED_CREDITS credits (SMOKE_STRIPE=1 funds through a Stripe test purchase)"
    http POST /v1/admin/credits/adjustments "$ADMIN_TOKEN" "$(jq -cn --arg userId "$user_id" --arg amount "$SMOKE_EXPECTED_CREDITS" \
      --arg reason "go-live smoke $RUN_ID" '{userId: $userId, amount: $amount, reason: $reason}')" \
      "Idempotency-Key: $corr-grant" "X-Correlation-Id: $corr-grant"
    expect "POST /v1/admin/credits/adjustments" 201 || true
  fi
  http GET /v1/balance "$USER_TOKEN" ""
  funded="$(json_get "$HTTP_BODY" .balance)"
  [[ "$DRY_RUN" == 1 ]] || ok "balance after funding: $funded"

  step "Usage: 1,000 input + 500 output tokens of $SMOKE_MODEL cost $SMOKE_EXPECTED_CREDITS credits"
  local usage_body
  usage_body="$(usage_json "$user_id" "$corr-call" 1000 500)"
  http POST /v1/usage/reconcile "$GATEWAY_TOKEN" "$usage_body" "X-Correlation-Id: $corr-usage"
  expect "POST /v1/usage/reconcile" 201 || true
  local first_body="$HTTP_BODY"
  check "credits charged" "$(decimal_norm "$(json_get "$first_body" .credits)")" "$SMOKE_EXPECTED_CREDITS"
  check "correlationId of the charge" "$(json_get "$first_body" .correlationId)" "$corr-usage"
  if [[ "$DRY_RUN" != 1 && -n "$funded" ]]; then
    check "balance after the charge" "$(decimal_norm "$(json_get "$first_body" .balance)")" "$(decimal_sub "$funded" "$SMOKE_EXPECTED_CREDITS")"
  fi

  step "Idempotent replay of the same call"
  http POST /v1/usage/reconcile "$GATEWAY_TOKEN" "$usage_body" "X-Correlation-Id: $corr-replay"
  expect "replayed POST /v1/usage/reconcile" 200 || true
  check "Idempotent-Replayed header" "$(header_value Idempotent-Replayed)" "true"
  check "replayed transactionId" "$(json_get "$HTTP_BODY" .transactionId)" "$(json_get "$first_body" .transactionId)"
  http GET /v1/balance "$USER_TOKEN" ""
  after="$(json_get "$HTTP_BODY" .balance)"
  check "balance unchanged by the replay" "$(decimal_norm "$after")" "$(decimal_norm "$(json_get "$first_body" .balance)")"

  step "CSV export carries correlation ids"
  http GET /v1/ledger/export.csv "$USER_TOKEN" "" "X-Correlation-Id: $corr-export"
  expect "GET /v1/ledger/export.csv" 200 || true
  if [[ "$DRY_RUN" != 1 ]]; then
    if [[ "$(header_value Content-Type)" == text/csv* ]]; then ok "Content-Type $(header_value Content-Type)"; else fail "Content-Type $(header_value Content-Type)"; fi
    if printf '%s\n' "$HTTP_BODY" | head -n 1 | grep -q 'correlation_id'; then ok "header row names correlation_id"; else fail "no correlation_id column"; fi
    if printf '%s\n' "$HTTP_BODY" | grep -F "$corr-call" | grep -qF "$corr-usage"; then ok "the charge's row carries correlation id $corr-usage"; else fail "no row with request $corr-call and correlation id $corr-usage"; fi
  fi

  step "Insufficient credits: 402 naming requiredCredits"
  http POST /v1/usage/reconcile "$GATEWAY_TOKEN" "$(usage_json "$user_id" "$corr-too-big" 0 1000000000)" "X-Correlation-Id: $corr-402"
  expect "oversized call refused" 402 || true
  if [[ "$DRY_RUN" != 1 ]]; then
    local required
    required="$(json_get "$HTTP_BODY" .requiredCredits)"
    if [[ -n "$required" ]]; then ok "requiredCredits = $required"; else fail "402 without requiredCredits: $HTTP_BODY"; fi
    http GET /v1/balance "$USER_TOKEN" ""
    check "balance unchanged by the refusal" "$(decimal_norm "$(json_get "$HTTP_BODY" .balance)")" "$(decimal_norm "$after")"
  fi
  [[ "$FAILURES" == 0 ]]
}

# SMOKE_STRIPE=1, Stripe TEST mode only. Proves the service's own path: POST /v1/credits/purchase
# creates a real test-mode Checkout Session, then the checkout.session.completed event Stripe
# would send (built and signed HERE with STRIPE_WEBHOOK_SECRET, since nobody can pay a Checkout
# page without a browser) credits the package once, with a `purchase` ledger entry carrying the
# webhook's correlation id. It does NOT prove Stripe's own Checkout payment or Stripe delivering
# the event: `webhook` checks delivery to the endpoint, preflight the endpoint registration.
smoke_fund_by_purchase() {
  local user_id="$1" corr="$2" purchase_id session_id total price cents balance_before event signature entry
  local webhook_corr="$corr-purchase-webhook" payment_intent="pi_smoke_${RUN_ID//[^A-Za-z0-9]/_}"
  step "Funding: \$5 starter purchase in Stripe test mode, paid by a webhook event this script signs"
  [[ -n "${STRIPE_WEBHOOK_SECRET:-}" || "$DRY_RUN" == 1 ]] || { fail "SMOKE_STRIPE=1 needs STRIPE_WEBHOOK_SECRET"; return 1; }
  http GET /v1/balance "$USER_TOKEN" ""
  balance_before="$(json_get "$HTTP_BODY" .balance)"
  http POST /v1/credits/purchase "$USER_TOKEN" '{"packageId":"starter"}' "Idempotency-Key: $corr-purchase" "X-Correlation-Id: $corr-purchase"
  expect "POST /v1/credits/purchase" 201 || return 1
  purchase_id="$(json_get "$HTTP_BODY" .purchaseId)"
  session_id="$(json_get "$HTTP_BODY" .stripeCheckoutSessionId)"
  total="$(decimal_norm "$(json_get "$HTTP_BODY" .totalCredits)")"
  price="$(json_get "$HTTP_BODY" .priceUsd)"
  if [[ "$DRY_RUN" == 1 ]]; then purchase_id="<purchaseId>" session_id="<stripeCheckoutSessionId>" total="5000" price="5"; fi
  [[ -n "$purchase_id" && -n "$session_id" ]] || { fail "purchase response without purchaseId or stripeCheckoutSessionId: $HTTP_BODY"; return 1; }
  # A self-signed "paid" event for a live session would credit money never received.
  if [[ "$session_id" == cs_live_* ]]; then fail "Checkout Session $session_id is live mode: SMOKE_STRIPE=1 is for test mode only"; return 1; fi
  check "starter package credits" "$total" "5000"
  # amount_total in cents, from the decimal price the service quoted (the webhook compares both).
  cents="$(decimal_norm "$price")"
  if [[ "$cents" == *.* ]]; then cents="${cents%%.*}$(printf '%-2.2s' "${cents#*.}" | tr ' ' 0)"; else cents="${cents}00"; fi
  cents="$((10#${cents:-0}))"
  check "amount_total of the starter package (cents)" "$cents" "500"
  ok "purchase $purchase_id, Checkout Session $session_id"
  event="$(jq -cn --arg id "evt_smoke_$RUN_ID" --argjson created "$(date +%s)" --arg session "$session_id" --argjson cents "$cents" \
    --arg pi "$payment_intent" --arg user "$user_id" --arg purchase "$purchase_id" \
    '{id: $id, object: "event", type: "checkout.session.completed", livemode: false, created: $created,
      data: {object: {id: $session, object: "checkout.session", mode: "payment", livemode: false, payment_status: "paid",
        status: "complete", amount_total: $cents, currency: "usd", payment_intent: $pi, client_reference_id: $user,
        metadata: {purchaseId: $purchase, userId: $user, packageId: "starter"}}}}')"
  signature="$(stripe_signature "$event" "${STRIPE_WEBHOOK_SECRET:-whsec_dry_run}")"
  http_raw_webhook "$event" "$signature" "$webhook_corr"
  expect "signed checkout.session.completed" 200 || return 1
  check "webhook outcome" "$(json_get "$HTTP_BODY" .outcome)" "processed"
  http GET "/v1/credits/purchases/$purchase_id" "$USER_TOKEN" ""
  expect "GET /v1/credits/purchases/{id}" 200 || true
  check "purchase status" "$(json_get "$HTTP_BODY" .status)" "paid"
  http GET /v1/balance "$USER_TOKEN" ""
  if [[ "$DRY_RUN" != 1 && -n "$balance_before" ]]; then
    check "credits added by the purchase" "$(decimal_sub "$(json_get "$HTTP_BODY" .balance)" "$balance_before")" "$total"
  fi
  http GET "/v1/ledger?limit=50" "$USER_TOKEN" ""
  expect "GET /v1/ledger" 200 || true
  if [[ "$DRY_RUN" != 1 ]]; then
    entry="$(ledger_entry "$HTTP_BODY" purchase "$session_id")"
    if [[ -z "$entry" ]]; then fail "no purchase entry for $session_id in the ledger"; return 1; fi
    check "purchase ledger entry amount" "$(decimal_norm "${entry%% *}")" "$total"
    check "purchase ledger entry correlationId" "${entry#* }" "$webhook_corr"
  fi
}

# "amount correlationId" of the ledger entry of TYPE whose reference is REF, from a /v1/ledger page.
ledger_entry() {
  printf '%s' "$1" | jq -j --arg t "$2" --arg r "$3" \
    'first(.data[]? | select(.type == $t and .reference == $r) | "\(.amount) \(.correlationId)") // empty' 2>/dev/null || true
}

# POST a raw Stripe event [with its correlation id] (the webhook route reads the raw body; no JSON re-encoding).
http_raw_webhook() {
  local event="$1" signature="$2" corr="${3:-smoke-$RUN_ID-webhook}"
  http POST /v1/webhooks/stripe "" "$event" "Stripe-Signature: $signature" "X-Correlation-Id: $corr"
}

# ---------- webhook ----------
cmd_webhook() {
  step "Webhook: a signed test event delivered to $BASE_URL/v1/webhooks/stripe"
  local secret="${STRIPE_WEBHOOK_SECRET:-}"
  if [[ -z "$secret" ]]; then
    # The operator's kube credentials can read the synced secret; it is never printed.
    capture secret kubectl -n "$NAMESPACE" get secret "$KUBE_SECRET" -o "jsonpath={.data.STRIPE_WEBHOOK_SECRET}"
    if [[ -n "$secret" ]]; then secret="$(printf '%s' "$secret" | openssl base64 -d -A)"; fi
    STRIPE_WEBHOOK_SECRET="$secret"
  fi
  [[ -n "$secret" || "$DRY_RUN" == 1 ]] || die "no STRIPE_WEBHOOK_SECRET (env or secret $KUBE_SECRET)"
  # An event type the service ignores by contract (200, nothing moves): safe in live mode.
  local event
  event="$(jq -cn --arg id "$RUN_ID" --argjson created "$(date +%s)" \
    '{id: "evt_golive_\($id)", object: "event", type: "scholarlink.go_live.ping", livemode: false, created: $created,
      data: {object: {id: "golive_\($id)", object: "ping"}}}')"
  http_raw_webhook "$event" "$(stripe_signature "$event" "${secret:-whsec_dry_run}")"
  expect "signed test event acknowledged" 200 || true
  http_raw_webhook "$event" "$(stripe_signature "$event" "${secret:-whsec_dry_run}")"
  expect "same event redelivered: acknowledged, no second effect" 200 || true
  http_raw_webhook "$event" "t=$(date +%s),v1=$(printf '0%.0s' {1..64})"
  expect "event with a bad signature refused" 400 || true
  [[ "$FAILURES" == 0 ]]
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
