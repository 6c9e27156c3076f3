/* csv_text.c — a CSV input mapped, with the pages behind the reader dropped, or read whole
 * (csv_text.h). */
#include "csv_text.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

st_status_t st_csv_text_open(const char *path, st_csv_text_t *t, st_error_t *err) {
    t->text = NULL, t->size = 0, t->mapped = 0, t->dropped = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)sb.st_size, MADV_SEQUENTIAL);
            t->text = m, t->size = (size_t)sb.st_size, t->mapped = 1;
        }
    }
    if (fd >= 0) close(fd);
    if (t->mapped) return ST_OK;
    t->text = st_read_file(path, &t->size, err); /* a pipe, an empty file: read whole (its errors) */
    return t->text ? ST_OK : err ? err->code : ST_ERR_IO;
}

void st_csv_text_drop_before(st_csv_text_t *t, const char *p, int all) {
    if (!t->mapped || p <= t->text) return;
    size_t at = (size_t)(p - t->text);
    if (!all && at < t->dropped + ST_CSV_TEXT_DROP_BYTES) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = at / page * page;
    if (n > 0) madvise(t->text, n, MADV_DONTNEED);
    t->dropped = at < t->dropped ? t->dropped : at;
}

void st_csv_text_close(st_csv_text_t *t) {
    if (t->mapped) munmap(t->text, t->size);
    else free(t->text);
    t->text = NULL, t->size = 0, t->mapped = 0;
}
