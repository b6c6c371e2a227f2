/*
** util/sanitize.h: STAGE_UNDER_TSAN is 1 when ThreadSanitizer instruments
** this translation unit (gcc's -fsanitize=thread defines __SANITIZE_THREAD__;
** clang answers __has_feature(thread_sanitizer)), else 0.
**
** TSan holds an asynchronous signal back until the thread that took it
** calls an atomic or a libc function TSan intercepts. The few places that
** wait for a signal in code that makes no such call (a pure Lua loop, a
** futex wait, which the kernel restarts after the handler) test this.
*/
#ifndef STAGE_UTIL_SANITIZE_H
#define STAGE_UTIL_SANITIZE_H

#if defined(__SANITIZE_THREAD__)
#define STAGE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STAGE_UNDER_TSAN 1
#endif
#endif
#ifndef STAGE_UNDER_TSAN
#define STAGE_UNDER_TSAN 0
#endif

#endif
