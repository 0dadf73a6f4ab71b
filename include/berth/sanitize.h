/* Hooks for the sanitizer build (./configure --enable-sanitizers,
 * docs/sanitizers.md); nothing in any other build. */
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define BERTH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BERTH_ASAN 1
#endif
#endif

#ifdef BERTH_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* LeakSanitizer checks a process at exit(), not at _exit(): a long-lived
 * forked process that ends with _exit (the container's monitor) calls this
 * first, so that what it leaked over its life is reported too (to the
 * report file; its exit code is left alone). */
static inline void
berth_leak_check (void)
{
#ifdef BERTH_ASAN
  __lsan_do_recoverable_leak_check ();
#endif
}
