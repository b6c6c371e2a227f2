/*
** util/errors.c: names and messages of the STAGE_E* codes, and the
** library's version. Any thread: the tables are constant.
*/
#include <string.h>

#include "stage/errors.h"
#include "stage/stage.h"

#define ERR_NAME(code, name, msg) name,
#define ERR_MSG(code, name, msg) msg,
static const char *const names[] = {STAGE_ERRNO_MAP(ERR_NAME)};
static const char *const messages[] = {STAGE_ERRNO_MAP(ERR_MSG)};
#define NCODES ((int)(sizeof names / sizeof names[0]))

static int index_of(int err) {
    int i = err - (STAGE__ERRNO_BASE + 1);
    return i >= 0 && i < NCODES ? i : -1;
}

const char *stage_strerror(int err) {
    int i = index_of(err);
    return i < 0 ? "unknown error" : messages[i];
}

const char *stage_err_name(int err) {
    int i = index_of(err);
    return i < 0 ? "Error" : names[i];
}

int stage_err_from_name(const char *name) {
    for (int i = 0; i < NCODES; i++)
        if (strcmp(names[i], name) == 0) return STAGE__ERRNO_BASE + 1 + i;
    return STAGE_EINVAL;
}

unsigned stage_version(void) {
    return STAGE_VERSION_HEX;
}

const char *stage_version_string(void) {
    return STAGE_VERSION;
}
