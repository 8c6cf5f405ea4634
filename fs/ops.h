/*
 * ops.h — the FUSE low-level operations table of zkfs (ops.c).
 */
#ifndef ZKFS_FS_OPS_H
#define ZKFS_FS_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops zkfs_ops;

#endif
