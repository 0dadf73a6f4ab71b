/* berth-net-probe: the network phases' both ends (berth bench, docs/
 * benchmarking.md). Static, so the bench can bind it into any image.
 *
 *   berth-net-probe serve PORT          TCP server on every address, one
 *                                       connection at a time, until killed
 *   berth-net-probe stream HOST PORT MIB  send MIB MiB; print MiB/s
 *   berth-net-probe rtt HOST PORT N       N one-byte round trips; print the
 *                                       median in microseconds
 *   berth-net-probe udp-echo PORT        UDP: answer each datagram with itself
 *   berth-net-probe udp HOST PORT TEXT   send TEXT, print the answer (3 s)
 *
 * A client's first byte picks the server's part: 'S' reads to the end and
 * answers the byte count (8 bytes), 'E' echoes every byte. Only the
 * transfer is timed, not the connect. Errors go to stderr with errno's
 * text, and the exit code is 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (128 * 1024)

static int
fail (const char *what)
{
  fprintf (stderr, "berth-net-probe: %s: %s\n", what, strerror (errno));
  return 1;
}

static double
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* All of @len bytes written (@out) or read; -1 on an error or an early
 * end. */
static int
transfer_all (int fd, void *buf, size_t len, int out)
{
  char *p = buf;
  while (len > 0)
    {
      ssize_t n = out ? write (fd, p, len) : read (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      p += n;
      len -= n;
    }
  return 0;
}

static int
write_all (int fd, const void *buf, size_t len)
{
  return transfer_all (fd, (void *) buf, len, 1);
}

static int
read_full (int fd, void *buf, size_t len)
{
  return transfer_all (fd, buf, len, 0);
}

static void
serve_one (int conn)
{
  static char buf[CHUNK];
  char mode;
  if (read_full (conn, &mode, 1) < 0)
    return;
  int one = 1;
  setsockopt (conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (mode == 'S')
    {
      uint64_t total = 0;
      ssize_t n;
      while ((n = read (conn, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        total += n > 0 ? (uint64_t) n : 0;
      write_all (conn, &total, sizeof total);
    }
  else if (mode == 'E')
    {
      char c;
      while (read_full (conn, &c, 1) == 0 && write_all (conn, &c, 1) == 0)
        ;
    }
}

static int
serve (const char *port_text)
{
  int sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return fail ("socket");
  int one = 1;
  setsockopt (sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (port_text)) };
  if (bind (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    return fail ("bind");
  if (listen (sock, 16) < 0)
    return fail ("listen");
  for (;;)
    {
      int conn = accept4 (sock, NULL, NULL, SOCK_CLOEXEC);
      if (conn < 0 && errno == EINTR)
        continue;
      if (conn < 0)
        return fail ("accept");
      serve_one (conn);
      close (conn);
    }
}

/* @host is an IPv4 address: a static binary cannot resolve names. */
static int
connect_to (const char *host, const char *port, char mode)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (port)) };
  if (inet_pton (AF_INET, host, &addr.sin_addr) != 1)
    {
      fprintf (stderr, "berth-net-probe: %s: not an IPv4 address\n", host);
      return -1;
    }
  /* The server may still be starting: a refused connection is retried
   * for up to five seconds. */
  for (int tries = 0;; tries++)
    {
      int sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sock < 0)
        return fail ("socket"), -1;
      if (connect (sock, (struct sockaddr *) &addr, sizeof addr) == 0)
        {
          int one = 1;
          setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (write_all (sock, &mode, 1) == 0)
            return sock;
          fail ("write");
          close (sock);
          return -1;
        }
      int errsv = errno;
      close (sock);
      errno = errsv;
      if (errsv != ECONNREFUSED || tries >= 500)
        return fail ("connect"), -1;
      usleep (10000);
    }
}

static int
stream (const char *host, const char *port, const char *mib_text)
{
  static char buf[CHUNK];
  uint64_t total = (uint64_t) atoi (mib_text) << 20, sent = 0, acked = 0;
  int sock = connect_to (host, port, 'S');
  if (sock < 0)
    return 1;
  memset (buf, 'x', sizeof buf);
  double t0 = now_us ();
  while (sent < total)
    {
      size_t n = total - sent < sizeof buf ? total - sent : sizeof buf;
      if (write_all (sock, buf, n) < 0)
        return fail ("write");
      sent += n;
    }
  shutdown (sock, SHUT_WR);
  if (read_full (sock, &acked, sizeof acked) < 0 || acked != total)
    {
      fprintf (stderr, "berth-net-probe: the server got %llu of %llu bytes\n",
               (unsigned long long) acked, (unsigned long long) total);
      return 1;
    }
  double seconds = (now_us () - t0) / 1e6;
  printf ("%.1f\n", (double) total / (1 << 20) / seconds);
  close (sock);
  return 0;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static int
rtt (const char *host, const char *port, const char *count_text)
{
  int count = atoi (count_text);
  if (count < 1)
    count = 1;
  double *samples = calloc (count, sizeof *samples);
  int sock = connect_to (host, port, 'E');
  if (sock < 0 || samples == NULL)
    return 1;
  for (int i = 0; i < count; i++)
    {
      char c = 'x';
      double t0 = now_us ();
      if (write_all (sock, &c, 1) < 0 || read_full (sock, &c, 1) < 0)
        return fail ("echo");
      samples[i] = now_us () - t0;
    }
  qsort (samples, count, sizeof *samples, compare_double);
  printf ("%.1f\n", samples[count / 2]);
  free (samples);
  close (sock);
  return 0;
}

static int
udp_echo (const char *port_text)
{
  int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return fail ("socket");
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (port_text)) };
  if (bind (sock, (struct sockaddr *) &addr, sizeof addr) < 0)
    return fail ("bind");
  for (;;)
    {
      char buf[2048];
      struct sockaddr_in from;
      socklen_t len = sizeof from;
      ssize_t n = recvfrom (sock, buf, sizeof buf, 0, (struct sockaddr *) &from, &len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return fail ("recvfrom");
      sendto (sock, buf, n, 0, (struct sockaddr *) &from, len);
    }
}

/* One datagram there and its answer back, retried each 300 ms for 3 s:
 * the server may still be starting. */
static int
udp (const char *host, const char *port, const char *text)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (atoi (port)) };
  if (inet_pton (AF_INET, host, &addr.sin_addr) != 1)
    {
      fprintf (stderr, "berth-net-probe: %s: not an IPv4 address\n", host);
      return 1;
    }
  int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return fail ("socket");
  struct timeval tv = { .tv_usec = 300000 };
  setsockopt (sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int tries = 0; tries < 10; tries++)
    {
      char buf[2048];
      if (sendto (sock, text, strlen (text), 0, (struct sockaddr *) &addr, sizeof addr) < 0)
        return fail ("sendto");
      ssize_t n = recv (sock, buf, sizeof buf - 1, 0);
      if (n >= 0)
        {
          buf[n] = '\0';
          printf ("%s\n", buf);
          return 0;
        }
    }
  fprintf (stderr, "berth-net-probe: no answer from %s:%s\n", host, port);
  return 1;
}

int
main (int argc, char **argv)
{
  /* A client gone early must not take the server with it. */
  signal (SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp (argv[1], "udp-echo") == 0)
    return udp_echo (argv[2]);
  if (argc == 5 && strcmp (argv[1], "udp") == 0)
    return udp (argv[2], argv[3], argv[4]);
  if (argc == 3 && strcmp (argv[1], "serve") == 0)
    return serve (argv[2]);
  if (argc == 5 && strcmp (argv[1], "stream") == 0)
    return stream (argv[2], argv[3], argv[4]);
  if (argc == 5 && strcmp (argv[1], "rtt") == 0)
    return rtt (argv[2], argv[3], argv[4]);
  fprintf (stderr, "usage: berth-net-probe serve PORT | stream HOST PORT MIB | rtt HOST PORT N"
                   " | udp-echo PORT | udp HOST PORT TEXT\n");
  return 2;
}
