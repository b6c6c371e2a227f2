/*
** net/keyfile.c: cluster key files — reading one (a regular file, only
** its owner may read or write it, 64 hex digits on one line), writing a
** new random one with mode 0600, and telling loopback addresses from the
** others (a node without a key listens on loopback only).
** Any thread: plain file I/O.
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "net/addr.h"
#include "net/keyfile.h"
#include "stage/errors.h"
#include "stage/net.h"

_Static_assert(STAGE_CLUSTER_KEY_BYTES == STAGE__CLUSTER_KEY_BYTES,
               "the public key size is the layer's");

void stage__keyfile_wipe(void *p, size_t n) {
    sodium_memzero(p, n);
}

/* The hex text of a key file: 64 digits and a newline. */
#define KEY_TEXT (2 * STAGE__CLUSTER_KEY_BYTES + 1)

/* Check that st, the file at path, is fit to hold a key. 0, or
** STAGE_EINVAL with a message in err. */
static int check_mode(const char *path, const struct stat *st, char *err,
                      size_t errlen) {
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen,
                 "cluster key '%s' is not a regular file: give the path of "
                 "a key file (stage keygen FILE makes one)",
                 path);
        return STAGE_EINVAL;
    }
    if (st->st_mode & 077) {
        snprintf(err, errlen,
                 "cluster key '%s' can be read or written by others (mode "
                 "%04o): it is ignored; run chmod 600 '%s'",
                 path, (unsigned)(st->st_mode & 07777), path);
        return STAGE_EINVAL;
    }
    if (st->st_uid != geteuid() && st->st_uid != 0) {
        snprintf(err, errlen,
                 "cluster key '%s' belongs to another user (uid %u): it is "
                 "ignored",
                 path, (unsigned)st->st_uid);
        return STAGE_EINVAL;
    }
    return 0;
}

/* Parse text[0..n) as 64 hex digits, then optional white space. */
static int parse_key(const char *text, size_t n,
                     uint8_t key[STAGE__CLUSTER_KEY_BYTES]) {
    size_t bin = 0;
    const char *end = NULL;
    if (sodium_hex2bin(key, STAGE__CLUSTER_KEY_BYTES, text, n, NULL, &bin,
                       &end) ||
        bin != STAGE__CLUSTER_KEY_BYTES)
        return STAGE_EINVAL;
    for (; end < text + n; end++)
        if (*end != '\n' && *end != '\r' && *end != ' ' && *end != '\t')
            return STAGE_EINVAL;
    return 0;
}

int stage__keyfile_read(const char *path, uint8_t key[STAGE__CLUSTER_KEY_BYTES],
                        char *err, size_t errlen) {
    char text[4 * KEY_TEXT];
    struct stat st;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "cannot initialise libsodium");
        return STAGE_EIO;
    }
    /* non-blocking: a FIFO (or a device) is refused by check_mode, not
    ** waited on in open until a writer comes */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read cluster key '%s': %s", path,
                 strerror(errno));
        return STAGE_EIO;
    }
    int rc = fstat(fd, &st) ? STAGE_EIO : check_mode(path, &st, err, errlen);
    ssize_t n = rc ? 0 : read(fd, text, sizeof text);
    close(fd);
    if (rc == STAGE_EIO)
        snprintf(err, errlen, "cannot read cluster key '%s': %s", path,
                 strerror(errno));
    if (rc) return rc;
    if (n < 0) {
        snprintf(err, errlen, "cannot read cluster key '%s': %s", path,
                 strerror(errno));
        return STAGE_EIO;
    }
    if ((size_t)n == sizeof text || parse_key(text, (size_t)n, key)) {
        snprintf(err, errlen,
                 "cluster key '%s' is not a key: it must hold 64 hexadecimal "
                 "digits on one line (stage keygen FILE makes one)",
                 path);
        sodium_memzero(text, sizeof text);
        return STAGE_EINVAL;
    }
    sodium_memzero(text, sizeof text);
    if (sodium_is_zero(key, STAGE__CLUSTER_KEY_BYTES)) {
        snprintf(err, errlen,
                 "cluster key '%s' is all zeros: anyone can guess it; give "
                 "a key made by stage keygen FILE",
                 path);
        return STAGE_EINVAL;
    }
    return 0;
}

/* Write the hex text of a new key to fd. 0 or errno. */
static int write_key(int fd) {
    uint8_t key[STAGE__CLUSTER_KEY_BYTES];
    char text[KEY_TEXT + 1];
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(text, sizeof text, key, sizeof key);
    text[KEY_TEXT - 1] = '\n';
    ssize_t n = write(fd, text, KEY_TEXT);
    int e = n == KEY_TEXT ? 0 : n < 0 ? errno : EIO;
    if (!e && fsync(fd)) e = errno;
    sodium_memzero(key, sizeof key);
    sodium_memzero(text, sizeof text);
    return e;
}

int stage__keyfile_generate(const char *path, bool force, char *err,
                            size_t errlen) {
    char tmp[4096];
    if (sodium_init() < 0) {
        snprintf(err, errlen, "cannot initialise libsodium");
        return STAGE_EIO;
    }
    /* with force, a new file takes the old one's place at once: never a
    ** moment with the old file's mode and the new key */
    int n = snprintf(tmp, sizeof tmp, "%s.new.%ld", path, (long)getpid());
    const char *target = force ? tmp : path;
    if (n < 0 || (size_t)n >= sizeof tmp) {
        snprintf(err, errlen, "cluster key path '%s' is too long", path);
        return STAGE_EINVAL;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen,
                 "'%s' exists and is not a regular file: it is not replaced, "
                 "even with --force; give another FILE",
                 path);
        return STAGE_EEXISTS;
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && !force) {
        snprintf(err, errlen,
                 "'%s' exists: it is not replaced (give --force to replace "
                 "it, and restart every node with the new key)",
                 path);
        return STAGE_EEXISTS;
    }
    int e = fd < 0 ? errno : 0;
    if (!e) e = fchmod(fd, 0600) ? errno : write_key(fd); /* umask-proof */
    if (fd >= 0 && close(fd) && !e) e = errno;
    if (!e && force && rename(tmp, path)) e = errno;
    if (e) {
        if (fd >= 0) unlink(target);
        snprintf(err, errlen, "cannot write cluster key '%s': %s", path,
                 strerror(e));
        return STAGE_EIO;
    }
    return 0;
}

int stage__addr_is_loopback(const char *text) {
    struct sockaddr_storage ss;
    if (stage__addr_parse(text, &ss)) return 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}
