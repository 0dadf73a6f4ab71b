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

/* No /proc (a container without one): every number that may be open. A
 * descriptor above the current limit stays open when the limit is lowered,
 * so the bound is the hard limit, capped at 2^20, the kernel's default
 * nr_open (about a million fcntl calls: a fraction of a second). */
static int
cloexec_by_number (int first)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return -1;
  rlim_t last = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1U << 20) ? (1U << 20) : rl.rlim_max;
  for (rlim_t fd = first; fd < last; fd++)
    if (fcntl ((int) fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
      return -1;
  return 0;
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

static int
append_fd (int fd, void *data)
{
  g_array_append_val ((GArray *) data, fd);
  return 0;
}

static gint
compare_fds (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

GArray *
berth_fd_list_open (int first, GError **error)
{
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = dir < 0 ? -1 : for_each_listed_fd (dir, first, append_fd, fds);
  int errsv = errno;
  if (dir >= 0)
    close (dir);
  if (r < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "list /proc/self/fd: %s",
                   g_strerror (errsv));
      return NULL;
    }
  g_array_sort (fds, compare_fds);
  return g_steal_pointer (&fds);
}
