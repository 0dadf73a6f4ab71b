#include "config.h"
#include <berth/fdutil.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* getdents64's record; glibc's struct dirent64 needs _LARGEFILE64_SOURCE
 * and its getdents64 wrapper glibc 2.30, so the kernel's layout is spelled
 * out here. */
struct berth_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* A decimal name as a descriptor number, -1 for anything else ("."). */
static int
fd_of_name (const char *name)
{
  long fd = 0;
  if (*name == '\0')
    return -1;
  for (; *name; name++)
    {
      if (*name < '0' || *name > '9' || fd > 0xfffffff)
        return -1;
      fd = fd * 10 + (*name - '0');
    }
  return (int) fd;
}

typedef int (*ListedFdFunc) (int fd, void *data);

/* Call @func for each fd >= @first that directory @dir (/proc/self/fd)
 * lists, @dir itself left alone (the caller closes it); stops at the first
 * -1. Changing a descriptor's flags does not change the listing, so one
 * pass sees each. */
static int
for_each_listed_fd (int dir, int first, ListedFdFunc func, void *data)
{
  char buf[4096] __attribute__ ((aligned (8)));
  for (;;)
    {
      long n = syscall (SYS_getdents64, dir, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? -1 : 0;
      for (long off = 0; off < n;)
        {
          struct berth_dirent64 *d = (struct berth_dirent64 *) (buf + off);
          int fd = fd_of_name (d->d_name);
          off += d->d_reclen;
          if (fd >= first && fd != dir && func (fd, data) < 0)
            return -1;
        }
    }
}

static int
mark_cloexec (int fd, void *data)
{
  (void) data;
  return fcntl (fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF ? -1 : 0;
}

/* No /proc (a container without one): @func for every number that may be
 * open. A descriptor above the current limit stays open when the limit is
 * lowered, so the bound is the hard limit, capped at 2^20, the kernel's
 * default nr_open (about a million calls: a fraction of a second). @func
 * must take EBADF for a number that is not open. */
static int
for_each_number (int first, ListedFdFunc func, void *data)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return -1;
  rlim_t last = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1U << 20) ? (1U << 20) : rl.rlim_max;
  for (rlim_t fd = first; fd < last; fd++)
    if (func ((int) fd, data) < 0)
      return -1;
  return 0;
}

static int
cloexec_by_number (int first)
{
  return for_each_number (first, mark_cloexec, NULL);
}

int
berth_fd_cloexec_from (int first)
{
  if (syscall (SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
  /* EINVAL: the flag is newer than the kernel (5.11); ENOSYS: close_range
   * is (5.9). Probed on each call: the result is cheap and a cached answer
   * would need state shared with the forked child. */
  if (errno != EINVAL && errno != ENOSYS)
    return -1;
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return cloexec_by_number (first);
  int r = for_each_listed_fd (dir, first, mark_cloexec, NULL);
  int errsv = errno;
  close (dir);
  errno = errsv;
  return r;
}

/* The descriptors berth_fd_close_except keeps. */
typedef struct {
  const int *fds;
  size_t n;
} KeptFds;

static int
is_kept (const KeptFds *k, int fd)
{
  for (size_t i = 0; i < k->n; i++)
    if (k->fds[i] == fd)
      return 1;
  return 0;
}

/* The lowest kept descriptor >= @from, or -1. */
static int
next_kept (const KeptFds *k, int from)
{
  int next = -1;
  for (size_t i = 0; i < k->n; i++)
    if (k->fds[i] >= from && (next < 0 || k->fds[i] < next))
      next = k->fds[i];
  return next;
}

static int
close_unless_kept (int fd, void *data)
{
  if (!is_kept (data, fd))
    close (fd); /* EBADF (by number: not open) is what we want anyway */
  return 0;
}

/* close_range over each gap between the kept descriptors. */
static int
close_gaps (int first, const KeptFds *k)
{
  for (int lo = first;;)
    {
      int kept = next_kept (k, lo);
      if (kept != lo
          && syscall (SYS_close_range, (unsigned) lo, kept < 0 ? ~0U : (unsigned) kept - 1, 0) < 0)
        return -1;
      if (kept < 0)
        return 0;
      lo = kept + 1;
    }
}

int
berth_fd_close_except (int first, const int *keep, size_t n_keep)
{
  KeptFds k = { keep, n_keep };
  if (close_gaps (first, &k) == 0)
    return 0;
  /* ENOSYS before 5.9; EINVAL or EPERM where a seccomp filter refuses the
   * call. Whatever the gaps closed so far, the walk closes the rest. */
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return for_each_number (first, close_unless_kept, &k);
  int r = for_each_listed_fd (dir, first, close_unless_kept, &k);
  int errsv = errno;
  close (dir);
  errno = errsv;
  return r;
}
