/* berth_fd_cloexec_from and its fallbacks for kernels before 5.11 (no
 * CLOSE_RANGE_CLOEXEC), which the host's kernel may never take: the file is
 * included so its static fallbacks can be called directly. */
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

/* What a command inherited, listed before it opens anything of its own. */
static void
test_list_open (void)
{
  Fds f;
  fds_setup (&f);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) fds = berth_fd_list_open (f.fds[0], &error);
  g_assert_no_error (error);
  /* Ours among them (the test harness may hold others), ascending, and
   * nothing below @first. */
  guint found = 0;
  for (guint i = 0; i < fds->len; i++)
    {
      int fd = g_array_index (fds, int, i);
      g_assert_cmpint (fd, >=, f.fds[0]);
      if (i > 0)
        g_assert_cmpint (fd, >, g_array_index (fds, int, i - 1));
      for (guint k = 0; k < G_N_ELEMENTS (f.fds); k++)
        found += fd == f.fds[k];
    }
  g_assert_cmpuint (found, ==, G_N_ELEMENTS (f.fds));
  close (f.guard);
  for (guint i = 0; i < G_N_ELEMENTS (f.fds); i++)
    close (f.fds[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fd/cloexec-from", test_cloexec_from);
  g_test_add_func ("/fd/cloexec-listed", test_cloexec_listed);
  g_test_add_func ("/fd/cloexec-by-number", test_cloexec_by_number);
  g_test_add_func ("/fd/name", test_fd_of_name);
  g_test_add_func ("/fd/list-open", test_list_open);
  return g_test_run ();
}
