/* berth_fd_cloexec_from and berth_fd_close_except, and their fallbacks for
 * kernels before 5.11 (no CLOSE_RANGE_CLOEXEC) or 5.9 (no close_range),
 * which the host's kernel may never take: the file is included so its
 * static fallbacks can be called directly. */
#include "../core/util/fdutil.c"
#include <fcntl.h>
#include <glib.h>
#include <unistd.h>

/* A guard fd below @first and three fds from @first on (the last one high,
 * past any gap), none close-on-exec. Returns @first. */
typedef struct {
  int guard;
  int fds[3];
} Fds;

static int
open_plain (void)
{
  int fd = open ("/dev/null", O_RDONLY);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
fds_setup (Fds *f)
{
  f->guard = open_plain ();
  f->fds[0] = open_plain ();
  f->fds[1] = open_plain ();
  f->fds[2] = dup2 (f->fds[1], 900);
  g_assert_cmpint (f->fds[2], ==, 900);
  g_assert_cmpint (f->fds[0], >, f->guard);
}

/* Each fd from @first on is close-on-exec, the guard still is not. */
static void
fds_check (Fds *f)
{
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (fcntl (f->fds[i], F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (fcntl (f->guard, F_GETFD), ==, 0);
  close (f->guard);
  for (int i = 0; i < 3; i++)
    close (f->fds[i]);
}

static void
test_cloexec_from (void)
{
  Fds f;
  fds_setup (&f);
  g_assert_cmpint (berth_fd_cloexec_from (f.fds[0]), ==, 0);
  fds_check (&f);
}

/* The path of kernels before 5.11 with /proc mounted. */
static void
test_cloexec_listed (void)
{
  Fds f;
  fds_setup (&f);
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dir, >=, 0);
  g_assert_cmpint (for_each_listed_fd (dir, f.fds[0], mark_cloexec, NULL), ==, 0);
  close (dir);
  fds_check (&f);
}

/* The path of kernels before 5.11 without /proc. */
static void
test_cloexec_by_number (void)
{
  Fds f;
  fds_setup (&f);
  g_assert_cmpint (cloexec_by_number (f.fds[0]), ==, 0);
  fds_check (&f);
}

static void
test_fd_of_name (void)
{
  g_assert_cmpint (fd_of_name ("0"), ==, 0);
  g_assert_cmpint (fd_of_name ("1234"), ==, 1234);
  g_assert_cmpint (fd_of_name ("."), ==, -1);
  g_assert_cmpint (fd_of_name (".."), ==, -1);
  g_assert_cmpint (fd_of_name (""), ==, -1);
  g_assert_cmpint (fd_of_name ("99999999999"), ==, -1);
}

/* For berth_fd_close_except: four fds high up (past whatever the test
 * harness holds), the second and fourth to keep, and a guard below them. */
typedef struct {
  int guard;
  int fds[4];
} HighFds;

static void
high_setup (HighFds *h)
{
  h->guard = open_plain ();
  int fd = open_plain ();
  static const int at[] = { 1000, 1001, 1002, 1010 };
  for (guint i = 0; i < G_N_ELEMENTS (at); i++)
    g_assert_cmpint (h->fds[i] = dup2 (fd, at[i]), ==, at[i]);
  close (fd);
}

/* The kept ones (and the guard) open, the others closed. */
static void
high_check (HighFds *h)
{
  g_assert_cmpint (fcntl (h->guard, F_GETFD), >=, 0);
  for (guint i = 0; i < G_N_ELEMENTS (h->fds); i++)
    {
      gboolean kept = i % 2 == 1;
      g_assert_cmpint (fcntl (h->fds[i], F_GETFD) >= 0, ==, kept);
      if (kept)
        close (h->fds[i]);
    }
  close (h->guard);
}

static const int keep_high[] = { -1, 1010, 1001, 2 };

static void
test_close_except (void)
{
  HighFds h;
  high_setup (&h);
  g_assert_cmpint (berth_fd_close_except (1000, keep_high, G_N_ELEMENTS (keep_high)), ==, 0);
  high_check (&h);
}

/* The path of kernels before 5.9 (or a filter refusing close_range). */
static void
test_close_except_listed (void)
{
  HighFds h;
  high_setup (&h);
  KeptFds k = { keep_high, G_N_ELEMENTS (keep_high) };
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dir, >=, 0);
  g_assert_cmpint (for_each_listed_fd (dir, 1000, close_unless_kept, &k), ==, 0);
  close (dir);
  high_check (&h);
}

/* ... and without /proc. */
static void
test_close_except_by_number (void)
{
  HighFds h;
  high_setup (&h);
  KeptFds k = { keep_high, G_N_ELEMENTS (keep_high) };
  g_assert_cmpint (for_each_number (1000, close_unless_kept, &k), ==, 0);
  high_check (&h);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fd/cloexec-from", test_cloexec_from);
  g_test_add_func ("/fd/cloexec-listed", test_cloexec_listed);
  g_test_add_func ("/fd/cloexec-by-number", test_cloexec_by_number);
  g_test_add_func ("/fd/name", test_fd_of_name);
  g_test_add_func ("/fd/close-except", test_close_except);
  g_test_add_func ("/fd/close-except-listed", test_close_except_listed);
  g_test_add_func ("/fd/close-except-by-number", test_close_except_by_number);
  return g_test_run ();
}
