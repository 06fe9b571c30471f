/*
 * pacer: first charges (POST /v1/usage/reconcile) at a fixed rate, open loop, for the bench's half-peak
 * scenario. C for the reason the peak scenarios run under wrk and the floor under pgbench: on two shared
 * cores every millisecond the load generator spends is one the server cannot, and the bench's Node
 * generator spends ~0.3 ms per paced request (a timer wake-up and an answer wake-up each), pgbench ~0.05.
 *
 *   pacer <host> <port> <connections> <seconds> <rate> <token> <requestIdPrefix> <wallets>
 *
 * Request i falls due at start + i / rate. It goes out on a free connection (one request in flight per
 * connection, keep-alive) or waits for one; its latency runs from its due time, not from the write, so a
 * server that falls behind shows in the percentiles (no coordinated omission), like bench/lib/http-load.ts.
 * At the deadline it stops sending and waits up to 10 s for the answers in flight. Answers must be framed
 * by Content-Length; anything else counts as an error. Prints one line: PACERJSON {...}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF 16384
#define GRACE_NS 10000000000LL

struct conn {
  int fd;
  int busy;        /* a request is in flight */
  int64_t due;     /* its due time (ns) */
  char out[2048];
  int out_len, out_pos;
  char in[BUF];
  int in_len;
};

static struct sockaddr_in addr;
static struct conn *conns;
static int nconns, epfd;
static int64_t start_ns, interval_ns, deadline_ns, total_due;
static int64_t sent, answered, statuses[600], err_connect, err_read, err_bad, err_timeout;
static double *lat;
static int64_t lat_cap;
static const char *token, *prefix;
static int wallets;
static uint64_t rng = 88172645463325252ULL;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t next_random(void) { /* xorshift64: a spread of wallets, nothing more */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static void watch(struct conn *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(epfd, op, c->fd, &ev);
}

static int open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) return close(c->fd), c->fd = -1, -1;
  c->busy = 0, c->in_len = 0;
  watch(c, EPOLLIN, EPOLL_CTL_ADD);
  return 0;
}

/* A broken connection loses its request (an error) and is replaced at once. */
static void reopen(struct conn *c, int64_t *counter) {
  if (c->busy) (*counter)++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (open_conn(c) != 0) err_connect++;
}

static void flush_out(struct conn *c) {
  while (c->out_pos < c->out_len) {
    ssize_t n = write(c->fd, c->out + c->out_pos, c->out_len - c->out_pos);
    if (n > 0) { c->out_pos += n; continue; }
    if (n < 0 && errno == EAGAIN) return watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
    return reopen(c, &err_read);
  }
  watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

static void send_next(struct conn *c) {
  char body[512];
  int body_len = snprintf(body, sizeof body,
                          "{\"userId\":\"bench-%d\",\"requestId\":\"%s%lld\",\"model\":\"gpt-4o-mini\",\"inputTokens\":100,\"outputTokens\":50}",
                          1 + (int)(next_random() % (uint64_t)wallets), prefix, (long long)sent);
  c->out_len = snprintf(c->out, sizeof c->out,
                        "POST /v1/usage/reconcile HTTP/1.1\r\nHost: %s:%d\r\ncontent-type: application/json\r\n"
                        "authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
                        inet_ntoa(addr.sin_addr), ntohs(addr.sin_port), token, body_len, body);
  c->out_pos = 0;
  c->due = start_ns + sent * interval_ns;
  c->busy = 1;
  sent++;
  flush_out(c);
}

/* Hands every request that has fallen due to a free connection, oldest first. */
static void dispatch(int64_t t) {
  if (t >= deadline_ns) return; /* what was due and never found a connection counts as unsent */
  int64_t fell_due = t < start_ns ? 0 : (t - start_ns) / interval_ns + 1;
  if (fell_due > total_due) fell_due = total_due;
  for (int i = 0; i < nconns && sent < fell_due; i++)
    if (!conns[i].busy && conns[i].fd >= 0) send_next(&conns[i]);
}

static void record(struct conn *c, int status) {
  if (answered == lat_cap) lat = realloc(lat, sizeof *lat * (lat_cap = lat_cap ? lat_cap * 2 : 65536));
  lat[answered++] = (now_ns() - c->due) / 1e6;
  statuses[status]++;
  c->busy = 0;
}

/* Reads what arrived; one whole answer (head + Content-Length body) completes the request in flight. */
static void on_readable(struct conn *c) {
  ssize_t n = read(c->fd, c->in + c->in_len, BUF - c->in_len);
  if (n <= 0) { if (n < 0 && errno == EAGAIN) return; return reopen(c, &err_read); }
  c->in_len += n;
  char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) { if (c->in_len == BUF) reopen(c, &err_bad); return; }
  *end = 0;
  int status = strncmp(c->in, "HTTP/1.1 ", 9) == 0 ? atoi(c->in + 9) : 0;
  long length = -1;
  int close_after = 0;
  for (char *line = strstr(c->in, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "content-length:", 15) == 0) length = strtol(line + 17, NULL, 10);
    if (strncasecmp(line + 2, "connection: close", 17) == 0) close_after = 1;
  }
  long head = end + 4 - c->in;
  if (status < 200 || status > 599 || length < 0 || !c->busy) return reopen(c, &err_bad);
  if (c->in_len < head + length) { *end = '\r'; return; } /* the body is still on its way */
  record(c, status);
  c->in_len = 0;
  if (close_after) reopen(c, &err_read);
}

static int cmp(const void *a, const void *b) { return *(const double *)a < *(const double *)b ? -1 : *(const double *)a > *(const double *)b; }
static double pct(double p) { return answered ? lat[(int64_t)(p / 100 * answered + 0.999999) - 1] : 0; }

int main(int argc, char **argv) {
  if (argc != 9) return fprintf(stderr, "usage: pacer host port connections seconds rate token prefix wallets\n"), 2;
  addr.sin_family = AF_INET, addr.sin_port = htons(atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &addr.sin_addr);
  nconns = atoi(argv[3]);
  double seconds = atof(argv[4]), rate = atof(argv[5]);
  token = argv[6], prefix = argv[7], wallets = atoi(argv[8]);
  interval_ns = (int64_t)(1e9 / rate);
  total_due = (int64_t)(seconds * rate);
  epfd = epoll_create1(0);
  conns = calloc(nconns, sizeof *conns);
  for (int i = 0; i < nconns; i++) if (open_conn(&conns[i]) != 0) err_connect++;
  int timer = timerfd_create(CLOCK_MONOTONIC, 0);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, timer, &tev);
  start_ns = now_ns();
  deadline_ns = start_ns + (int64_t)(seconds * 1e9);

  struct epoll_event events[64];
  for (;;) {
    int64_t t = now_ns();
    dispatch(t);
    int in_flight = 0, free = 0;
    for (int i = 0; i < nconns; i++) in_flight += conns[i].busy, free += !conns[i].busy && conns[i].fd >= 0;
    if (t >= deadline_ns && (in_flight == 0 || t >= deadline_ns + GRACE_NS)) { err_timeout += in_flight; break; }
    /* wake at the next due time when a connection is free to take it, at the deadline, or when answers arrive */
    int64_t next = deadline_ns + GRACE_NS;
    if (t < deadline_ns) next = sent < total_due && free > 0 ? start_ns + sent * interval_ns : deadline_ns;
    struct itimerspec its = {.it_value = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL}};
    timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, NULL);
    int n = epoll_wait(epfd, events, 64, -1);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (!c) { uint64_t x; if (read(timer, &x, sizeof x) < 0) {} continue; }
      if (events[i].events & EPOLLOUT) flush_out(c);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
  }
  qsort(lat, answered, sizeof *lat, cmp);
  printf("PACERJSON {\"requests\":%lld,\"sent\":%lld,\"unsent\":%lld,\"durationUs\":%lld,\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"statuses\":{",
         (long long)answered, (long long)sent, (long long)(total_due - sent), (long long)((now_ns() - start_ns) / 1000), pct(50), pct(95), pct(99));
  for (int s = 0, first = 1; s < 600; s++) if (statuses[s]) printf("%s\"%d\":%lld", first ? "" : ",", s, (long long)statuses[s]), first = 0;
  printf("},\"errors\":{\"connect\":%lld,\"read\":%lld,\"bad\":%lld,\"timeout\":%lld}}\n",
         (long long)err_connect, (long long)err_read, (long long)err_bad, (long long)err_timeout);
  return 0;
}
