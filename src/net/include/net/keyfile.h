/*
** net/keyfile.h: cluster key files, the part of src/net the CLI uses
** (stage keygen, --cluster-key). A key file holds 32 random bytes as 64
** hexadecimal digits on one line (so it can be copied by hand); it must
** be a regular file that only its owner can read or write, as ssh
** requires of a private key. docs/security.md tells how to make, share
** and rotate one. Any thread: plain file I/O, no libuv.
*/
#ifndef STAGE_NET_KEYFILE_H
#define STAGE_NET_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STAGE__CLUSTER_KEY_BYTES 32
/* Keys a node holds at once: the one it dials with, and one more it
** accepts during a rotation. */
#define STAGE__CLUSTER_KEYS 2

/* Read the key in the file at path into key. 0, or a STAGE_E* code with
** a message in err ("'k' can be read by others (mode 0644): ..."). */
int stage__keyfile_read(const char *path, uint8_t key[STAGE__CLUSTER_KEY_BYTES],
                        char *err, size_t errlen);
/* Write a new random key to a new file at path, mode 0600; an existing
** file is replaced only if force. 0, or a STAGE_E* code with a message in
** err. */
int stage__keyfile_generate(const char *path, bool force, char *err,
                            size_t errlen);
/* Zero p[0..n) in a way the compiler keeps (a key no longer needed). */
void stage__keyfile_wipe(void *p, size_t n);
/* 1 if text ("host:port") names a loopback address (127.0.0.0/8, ::1,
** localhost), else 0 (a wildcard address is not loopback). */
int stage__addr_is_loopback(const char *text);

#endif
