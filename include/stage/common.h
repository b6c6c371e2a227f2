/*
** stage/common.h: what every public header of Stage shares — the version
** and the export macro. Included by the others; no need to include it.
*/
#ifndef STAGE_COMMON_H
#define STAGE_COMMON_H

/* The version these headers belong to; stage_version() tells the one of
** the library a program runs with. CMakeLists.txt checks they agree with
** the project's version. */
#define STAGE_VERSION_MAJOR 0
#define STAGE_VERSION_MINOR 1
#define STAGE_VERSION_PATCH 0
#define STAGE_VERSION "0.1.0"
/* One number that orders versions: 0x000100 for 0.1.0. */
#define STAGE_VERSION_HEX                                                      \
    ((STAGE_VERSION_MAJOR << 16) | (STAGE_VERSION_MINOR << 8) |                \
     STAGE_VERSION_PATCH)

/* Marks what the shared library exports; everything else is hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define STAGE_EXTERN __attribute__((visibility("default")))
#else
#define STAGE_EXTERN
#endif

#ifdef __cplusplus
#define STAGE_BEGIN_DECLS extern "C" {
#define STAGE_END_DECLS }
#else
#define STAGE_BEGIN_DECLS
#define STAGE_END_DECLS
#endif

#endif
