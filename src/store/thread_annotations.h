#pragma once

// Clang thread-safety annotations (no-ops elsewhere), as leveldb's
// port/thread_annotations.h. They document which mutex guards which member.

#if defined(__clang__)
#define KILN_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define KILN_THREAD_ANNOTATION_(x)
#endif

#define KILN_GUARDED_BY(x) KILN_THREAD_ANNOTATION_(guarded_by(x))
#define KILN_EXCLUDES(...) KILN_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define KILN_REQUIRES(...) KILN_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
