/* The OCI linux.seccomp object as an LXC "version 2" seccomp profile
 * (lxc.seccomp.profile), so the lxc driver loads the same filter as native.
 *
 * Contract: returns the profile text, or NULL with an error naming the part
 * of the OCI object that LXC's format cannot express (an action other than
 * allow, errno, kill and trap; an operator it lacks). Architectures are not
 * written: LXC adds the host's compat architectures itself. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

char *berth_lxc_seccomp_profile (JsonObject *seccomp, GError **error);
