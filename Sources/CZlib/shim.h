#ifndef SYNCJOBS_CZLIB_SHIM_H
#define SYNCJOBS_CZLIB_SHIM_H
#include <zlib.h>

// inflateInit2 is a macro that passes the library version and the stream's size.
static inline int czlib_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif
