/* An image's /etc/passwd and /etc/group (core/util/passwd.c). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* The contents of @relpath in the image's rootfs, resolved inside it (the
 * image's /etc/passwd may be a symlink to anywhere on the host); at most
 * 16 MiB. A missing file (or @rootfs_dir NULL) gives "". */
char *berth_rootfs_read_file (const char *rootfs_dir, const char *relpath, GError **error);
/* A decimal id as the kernel and runc take it: 0 .. 2^31-1. */
gboolean berth_passwd_parse_id (const char *s, guint32 *id);
/* The fields of the first line of @data (an /etc/passwd or /etc/group) with
 * at least @min_fields fields, a numeric id in field 2, and @name in field 0
 * (or, when @name is NULL, @id in field 2); NULL when none. */
char **berth_passwd_find_entry (const char *data, guint min_fields, const char *name, guint32 id);
/* @uid's home directory in the image at @rootfs_dir, or "/" where the file
 * or the user is missing, as runc sets HOME for a process whose env has none. */
char *berth_passwd_user_home (const char *rootfs_dir, guint32 uid);

G_END_DECLS
