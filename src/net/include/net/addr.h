/*
** net/addr.h: node addresses as text ("host:port", IPv4 or [IPv6]), the
** part of src/net other components may use (the CLI checks --listen and
** --join with it before starting anything). Any thread.
*/
#ifndef STAGE_NET_ADDR_H
#define STAGE_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Parse "host:port" into *ss. 0 or STAGE_EINVAL. */
int stage__addr_parse(const char *text, struct sockaddr_storage *ss);
/* Format *sa as "host:port" into buf. 0 or STAGE_EINVAL. */
int stage__addr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
