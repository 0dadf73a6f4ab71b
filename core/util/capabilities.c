/* Linux capability names, as the OCI runtime config and Docker spell them:
 * shared by the spec builder and the exec drivers. */
#include "config.h"
#include <berth/capabilities.h>
#include <linux/capability.h>

/* Indexed by capability number (designated by the kernel's own constants),
 * so all_caps[n] is capability n and the list is in number order. */
#define CAP_ENTRY(x) [CAP_##x] = "CAP_" #x
static const char *const all_caps[] = {
  CAP_ENTRY (CHOWN),           CAP_ENTRY (DAC_OVERRIDE),    CAP_ENTRY (DAC_READ_SEARCH),
  CAP_ENTRY (FOWNER),          CAP_ENTRY (FSETID),          CAP_ENTRY (KILL),
  CAP_ENTRY (SETGID),          CAP_ENTRY (SETUID),          CAP_ENTRY (SETPCAP),
  CAP_ENTRY (LINUX_IMMUTABLE), CAP_ENTRY (NET_BIND_SERVICE), CAP_ENTRY (NET_BROADCAST),
  CAP_ENTRY (NET_ADMIN),       CAP_ENTRY (NET_RAW),         CAP_ENTRY (IPC_LOCK),
  CAP_ENTRY (IPC_OWNER),       CAP_ENTRY (SYS_MODULE),      CAP_ENTRY (SYS_RAWIO),
  CAP_ENTRY (SYS_CHROOT),      CAP_ENTRY (SYS_PTRACE),      CAP_ENTRY (SYS_PACCT),
  CAP_ENTRY (SYS_ADMIN),       CAP_ENTRY (SYS_BOOT),        CAP_ENTRY (SYS_NICE),
  CAP_ENTRY (SYS_RESOURCE),    CAP_ENTRY (SYS_TIME),        CAP_ENTRY (SYS_TTY_CONFIG),
  CAP_ENTRY (MKNOD),           CAP_ENTRY (LEASE),           CAP_ENTRY (AUDIT_WRITE),
  CAP_ENTRY (AUDIT_CONTROL),   CAP_ENTRY (SETFCAP),         CAP_ENTRY (MAC_OVERRIDE),
  CAP_ENTRY (MAC_ADMIN),       CAP_ENTRY (SYSLOG),          CAP_ENTRY (WAKE_ALARM),
  CAP_ENTRY (BLOCK_SUSPEND),   CAP_ENTRY (AUDIT_READ),      CAP_ENTRY (PERFMON),
  CAP_ENTRY (BPF),             CAP_ENTRY (CHECKPOINT_RESTORE),
  [CAP_CHECKPOINT_RESTORE + 1] = NULL,
};
/* The size follows the highest index: capabilities 0..40 and the NULL. A
 * name left out above would be a NULL hole ending the list early, so keep
 * one line per number when adding. */
G_STATIC_ASSERT (G_N_ELEMENTS (all_caps) == CAP_CHECKPOINT_RESTORE + 2);

const char *const *
berth_all_capabilities (void)
{
  return all_caps;
}

char *
berth_capability_normalize (const char *name)
{
  g_autofree char *upper = g_ascii_strup (name, -1);
  g_autofree char *full = g_str_has_prefix (upper, "CAP_") ? g_steal_pointer (&upper)
                                                            : g_strconcat ("CAP_", upper, NULL);
  if (!g_strv_contains (all_caps, full))
    return NULL;
  return g_steal_pointer (&full);
}
