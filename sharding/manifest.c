/* manifest.c — reads the audio manifest of manifest.h: the header's columns, each row's cells
 * (kept as strings with their line), then class ids, the transcript vocabulary and token ids,
 * and group ids once every row is read. Records come from csv_record.h, class ids and group ids
 * from the CSV converter's rules (csv_targets.h), so both commands treat a cell alike. */
#include "manifest.h"

#include <stdlib.h>
#include <string.h>

#include "csv_record.h"
#include "csv_targets.h"
#include "dataset.h"
#include "fileio.h"

enum { COL_PATH, COL_LABEL, COL_TRANSCRIPT, COL_GROUP, COL_SPLIT, N_KNOWN };
static const char *const known_names[N_KNOWN] = {"path", "label", "transcript", "group", "split"};

/* The state of one st_manifest_read. */
typedef struct {
    const char *path;          /* the manifest */
    st_csv_rec_t c;
    int n_cols;
    int col[N_KNOWN];          /* column of each known name, or -1 */
    int64_t cap;
    char **labels, **transcripts, **group_cells; /* [cap] kept cells (NULL arrays without the column) */
    char *dir;                 /* the manifest's folder with a trailing '/', or "" */
} reader_t;

#define NOMEM(r, err) st_fail(err, ST_ERR_NOMEM, "%s: out of memory", (r)->path)

/* The folder part of `path` with its '/', or "" (a manifest in the current folder). */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return strndup(path, slash ? (size_t)(slash - path + 1) : 0);
}

/* Sorts the header into the known columns and the ignored ones. */
static st_status_t read_header(reader_t *r, st_manifest_t *m, st_error_t *err) {
    long line;
    int got = st_csv_rec_next(&r->c, &line, err);
    if (got < 0) return err && err->code != ST_OK ? err->code : ST_ERR_DATA;
    if (got == 0) return st_fail(err, ST_ERR_DATA, "%s: empty manifest (expected a header row: path,label or "
                                 "path,transcript, optionally group and split)", r->path);
    r->n_cols = r->c.n_fields;
    for (int k = 0; k < N_KNOWN; k++) r->col[k] = -1;
    size_t len = 0;
    for (int i = 0; i < r->n_cols; i++) {
        const char *h = st_csv_trim(st_csv_rec_field(&r->c, i));
        int k = 0;
        while (k < N_KNOWN && strcmp(h, known_names[k]) != 0) k++;
        if (k < N_KNOWN && r->col[k] >= 0)
            return st_fail(err, ST_ERR_DATA, "%s: line %ld: columns %d and %d are both named \"%s\"", r->path, line,
                           r->col[k] + 1, i + 1, h);
        if (k < N_KNOWN) {
            r->col[k] = i;
            continue;
        }
        if (len < sizeof m->ignored)
            len += (size_t)snprintf(m->ignored + len, sizeof m->ignored - len, "%s\"%.40s\"", m->n_ignored ? ", " : "", h);
        m->n_ignored++;
    }
    if (r->col[COL_PATH] < 0)
        return st_fail(err, ST_ERR_DATA, "%s: line %ld: no \"path\" column in the header (the audio files)", r->path, line);
    if (r->col[COL_LABEL] < 0 && r->col[COL_TRANSCRIPT] < 0)
        return st_fail(err, ST_ERR_DATA, "%s: line %ld: neither a \"label\" column (classification) nor a \"transcript\" "
                       "column (token sequences) in the header", r->path, line);
    return ST_OK;
}

/* Grows the row arrays to hold row m->n. */
static st_status_t grow(reader_t *r, st_manifest_t *m, st_error_t *err) {
    if (m->n < r->cap) return ST_OK;
    int64_t cap = r->cap ? 2 * r->cap : 256;
    size_t n = (size_t)cap;
    int ok = 1;
#define GROW(ptr, want) \
    if (want) { \
        void *p_ = realloc(ptr, n * sizeof *(ptr)); \
        if (p_) ptr = p_; \
        else ok = 0; \
    }
    GROW(m->paths, 1)
    GROW(m->lines, 1)
    GROW(r->labels, r->col[COL_LABEL] >= 0)
    GROW(r->transcripts, r->col[COL_TRANSCRIPT] >= 0)
    GROW(r->group_cells, r->col[COL_GROUP] >= 0)
    GROW(m->split, r->col[COL_SPLIT] >= 0)
#undef GROW
    if (!ok) return NOMEM(r, err);
    r->cap = cap;
    return ST_OK;
}

/* A copy of a non-empty cell of column k, or an error naming the line and the column. */
static st_status_t take_cell(reader_t *r, int k, long line, char **out, st_error_t *err) {
    const char *s = st_csv_trim(st_csv_rec_field(&r->c, r->col[k]));
    if (!*s) return st_fail(err, ST_ERR_DATA, "%s: line %ld: empty %s", r->path, line, known_names[k]);
    const char *bad = st_csv_bad_name(s);
    if (bad) return st_fail(err, ST_ERR_DATA, "%s: line %ld: the %s %s", r->path, line, known_names[k], bad);
    if (k == COL_LABEL && strlen(s) >= ST_NAME_MAX)
        return st_fail(err, ST_ERR_DATA, "%s: line %ld: label \"%.20s...\" is longer than %d bytes", r->path, line, s,
                       ST_NAME_MAX - 1);
    if (k != COL_PATH || s[0] == '/' || !r->dir[0]) *out = strdup(s);
    else if (asprintf(out, "%s%s", r->dir, s) < 0) *out = NULL;
    return *out ? ST_OK : NOMEM(r, err);
}

/* Keeps the current record as row m->n. */
static st_status_t keep_row(reader_t *r, st_manifest_t *m, long line, st_error_t *err) {
    ST_TRY(grow(r, m, err));
    int64_t i = m->n;
    m->lines[i] = line;
    m->paths[i] = NULL;
    if (r->labels) r->labels[i] = NULL;
    if (r->transcripts) r->transcripts[i] = NULL;
    if (r->group_cells) r->group_cells[i] = NULL;
    m->n++; /* counted first so that st_manifest_free frees a half-kept row */
    if (r->col[COL_SPLIT] >= 0) {
        char why[96];
        const char *s = st_csv_trim(st_csv_rec_field(&r->c, r->col[COL_SPLIT]));
        if (st_csv_parse_split(s, &m->split[i], why, sizeof why))
            return st_fail(err, ST_ERR_DATA, "%s: line %ld, column \"split\": %s", r->path, line, why);
    }
    ST_TRY(take_cell(r, COL_PATH, line, &m->paths[i], err));
    if (r->labels) ST_TRY(take_cell(r, COL_LABEL, line, &r->labels[i], err));
    if (r->transcripts) ST_TRY(take_cell(r, COL_TRANSCRIPT, line, &r->transcripts[i], err));
    if (r->group_cells) ST_TRY(take_cell(r, COL_GROUP, line, &r->group_cells[i], err));
    return ST_OK;
}

static st_status_t read_rows(reader_t *r, st_manifest_t *m, st_error_t *err) {
    long line;
    int got;
    while ((got = st_csv_rec_next(&r->c, &line, err)) > 0) {
        if (r->c.n_fields != r->n_cols)
            return st_fail(err, ST_ERR_DATA, "%s: line %ld has %d field%s but the header has %d", r->path, line,
                           r->c.n_fields, r->c.n_fields == 1 ? "" : "s", r->n_cols);
        ST_TRY(keep_row(r, m, line, err));
    }
    if (got < 0) return err && err->code != ST_OK ? err->code : ST_ERR_DATA;
    if (m->n == 0) return st_fail(err, ST_ERR_DATA, "%s: no rows after the header", r->path);
    return ST_OK;
}

/* ---- transcripts -------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Why a token cannot be in the vocabulary, or NULL. */
static const char *bad_token(const char *t) {
    if (strcmp(t, ST_MANIFEST_BLANK) == 0) return "is the blank's name (index 0, reserved)";
    if (strlen(t) >= ST_NAME_MAX) return "is too long (at most 63 bytes)";
    return st_csv_bad_name(t);
}

/* Tokens of s: runs of characters other than space and tab. */
static int64_t count_tokens(const char *s) {
    int64_t k = 0;
    for (int in = 0; *s; s++) {
        int sep = *s == ' ' || *s == '\t';
        k += !sep && !in;
        in = !sep;
    }
    return k;
}

/* Splits every transcript in place at spaces and tabs: tok [n_tok] pointers, row i's tokens
 * from first[i] to first[i + 1]. */
static st_status_t split_tokens(reader_t *r, st_manifest_t *m, char ***tok, int64_t **first, st_error_t *err) {
    int64_t total = 0;
    for (int64_t i = 0; i < m->n; i++) total += count_tokens(r->transcripts[i]);
    *tok = malloc((size_t)(total ? total : 1) * sizeof **tok);
    *first = malloc((size_t)(m->n + 1) * sizeof **first);
    if (!*tok || !*first) return NOMEM(r, err);
    int64_t k = 0;
    for (int64_t i = 0; i < m->n; i++) {
        (*first)[i] = k;
        for (char *s = strtok(r->transcripts[i], " \t"); s; s = strtok(NULL, " \t")) {
            const char *bad = bad_token(s);
            if (bad) return st_fail(err, ST_ERR_DATA, "%s: line %ld: transcript token \"%.40s\" %s", r->path, m->lines[i], s, bad);
            (*tok)[k++] = s;
        }
        if (k - (*first)[i] > (1 << 20))
            return st_fail(err, ST_ERR_DATA, "%s: line %ld: a transcript of more than 2^20 tokens", r->path, m->lines[i]);
    }
    (*first)[m->n] = k;
    return ST_OK;
}

/* The vocabulary (after the blank) from the tokens themselves: distinct, sorted by strcmp. */
static st_status_t vocab_from_tokens(reader_t *r, st_manifest_t *m, char **tok, int64_t n_tok, st_error_t *err) {
    char **s = malloc((size_t)(n_tok ? n_tok : 1) * sizeof *s);
    if (!s) return NOMEM(r, err);
    memcpy(s, tok, (size_t)n_tok * sizeof *s);
    qsort(s, (size_t)n_tok, sizeof *s, cmp_str);
    int64_t k = 0;
    for (int64_t i = 0; i < n_tok; i++)
        if (i == 0 || strcmp(s[i], s[i - 1]) != 0) s[k++] = s[i];
    st_status_t rc = ST_OK;
    if (k + 1 > ST_MAX_CLASSES)
        rc = st_fail(err, ST_ERR_DATA, "%s: %lld distinct transcript tokens; at most %d", r->path, (long long)k,
                     ST_MAX_CLASSES - 1);
    if (rc == ST_OK && !(m->vocab = calloc((size_t)k + 1, sizeof *m->vocab))) rc = NOMEM(r, err);
    if (rc == ST_OK) m->n_vocab = (int)k + 1;
    for (int64_t i = 0; rc == ST_OK && i <= k; i++)
        if (!(m->vocab[i] = strdup(i ? s[i - 1] : ST_MANIFEST_BLANK))) rc = NOMEM(r, err);
    free(s);
    return rc;
}

/* The vocabulary (after the blank) from a file: one token a line, in order. */
static st_status_t vocab_from_file(reader_t *r, st_manifest_t *m, const char *vpath, st_error_t *err) {
    size_t size = 0;
    char *text = st_read_file(vpath, &size, err);
    if (!text) return err ? err->code : ST_ERR_IO;
    int cap = 1;
    for (size_t i = 0; i < size; i++) cap += text[i] == '\n';
    st_status_t rc = (m->vocab = calloc((size_t)cap + 1, sizeof *m->vocab)) ? ST_OK : NOMEM(r, err);
    if (rc == ST_OK && !(m->vocab[m->n_vocab++] = strdup(ST_MANIFEST_BLANK))) rc = NOMEM(r, err);
    long line = 0;
    for (char *save = NULL, *s = text; rc == ST_OK && s < text + size; s = save) {
        char *nl = memchr(s, '\n', (size_t)(text + size - s));
        save = nl ? nl + 1 : text + size;
        if (nl) *nl = '\0';
        line++;
        size_t n = strlen(s);
        if (n && s[n - 1] == '\r') s[n - 1] = '\0';
        char *t = st_csv_trim(s);
        if (!*t) continue;
        const char *bad = strpbrk(t, " \t") ? "holds a space (one token a line)" : bad_token(t);
        for (int v = 1; !bad && v < m->n_vocab; v++)
            if (strcmp(m->vocab[v], t) == 0) bad = "is listed twice";
        if (bad) rc = st_fail(err, ST_ERR_DATA, "%s: line %ld: token \"%.40s\" %s", vpath, line, t, bad);
        else if (!(m->vocab[m->n_vocab++] = strdup(t))) rc = NOMEM(r, err);
    }
    if (rc == ST_OK && m->n_vocab < 2) rc = st_fail(err, ST_ERR_DATA, "%s: no tokens (one token a line)", vpath);
    free(text);
    return rc;
}

typedef struct { const char *name; int32_t id; } vocab_entry_t;

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const vocab_entry_t *)a)->name, ((const vocab_entry_t *)b)->name);
}

/* Token ids [n, max_len] and lengths [n] through a sorted copy of the vocabulary. */
static st_status_t token_ids(reader_t *r, st_manifest_t *m, char **tok, const int64_t *first, const char *vpath,
                             st_error_t *err) {
    int V = m->n_vocab;
    vocab_entry_t *e = malloc((size_t)V * sizeof *e);
    for (int64_t i = 0; i < m->n; i++)
        if (first[i + 1] - first[i] > m->max_len) m->max_len = (int)(first[i + 1] - first[i]);
    m->tokens = calloc((size_t)m->n * (size_t)m->max_len, sizeof *m->tokens);
    m->token_lengths = malloc((size_t)m->n * sizeof *m->token_lengths);
    if (!e || !m->tokens || !m->token_lengths) return free(e), NOMEM(r, err);
    for (int v = 0; v < V - 1; v++) e[v] = (vocab_entry_t){m->vocab[v + 1], v + 1};
    qsort(e, (size_t)V - 1, sizeof *e, cmp_entry);
    st_status_t rc = ST_OK;
    for (int64_t i = 0; i < m->n && rc == ST_OK; i++) {
        m->token_lengths[i] = (int32_t)(first[i + 1] - first[i]);
        for (int64_t k = first[i]; k < first[i + 1] && rc == ST_OK; k++) {
            vocab_entry_t key = {tok[k], 0}, *hit = bsearch(&key, e, (size_t)V - 1, sizeof *e, cmp_entry);
            if (hit) m->tokens[i * m->max_len + (k - first[i])] = hit->id;
            else rc = st_fail(err, ST_ERR_DATA, "%s: line %ld: token \"%.40s\" is not in the vocabulary %s", r->path,
                              m->lines[i], tok[k], vpath);
        }
    }
    free(e);
    return rc;
}

static st_status_t read_transcripts(reader_t *r, st_manifest_t *m, const char *vpath, st_error_t *err) {
    char **tok = NULL;
    int64_t *first = NULL;
    st_status_t rc = split_tokens(r, m, &tok, &first, err);
    for (int64_t i = 0; rc == ST_OK && i < m->n; i++)
        if (first[i + 1] == first[i])
            rc = st_fail(err, ST_ERR_DATA, "%s: line %ld: empty transcript", r->path, m->lines[i]);
    if (rc == ST_OK)
        rc = vpath ? vocab_from_file(r, m, vpath, err) : vocab_from_tokens(r, m, tok, first[m->n], err);
    if (rc == ST_OK) rc = token_ids(r, m, tok, first, vpath, err);
    free(tok);
    free(first);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Class ids, token ids and group ids from the kept cells. */
static st_status_t finish(reader_t *r, st_manifest_t *m, const char *vpath, st_error_t *err) {
    if (r->labels) {
        if (!(m->y = malloc((size_t)m->n * sizeof *m->y))) return NOMEM(r, err);
        ST_TRY(st_csv_class_ids(r->labels, m->lines, m->n, r->path, "label", m->y, &m->n_classes, &m->class_names,
                                &m->labels_are_ids, err));
    }
    if (r->transcripts) ST_TRY(read_transcripts(r, m, vpath, err));
    else if (vpath)
        return st_fail(err, ST_ERR_CONFIG, "%s: a vocabulary (%s) but no \"transcript\" column", r->path, vpath);
    if (r->group_cells && (!(m->groups = malloc((size_t)m->n * sizeof *m->groups)) ||
                           !st_csv_string_groups(r->group_cells, m->n, m->groups, &m->n_groups)))
        return NOMEM(r, err);
    return ST_OK;
}

static void free_cells(char **cells, int64_t n) {
    if (cells)
        for (int64_t i = 0; i < n; i++) free(cells[i]);
    free(cells);
}

st_status_t st_manifest_read(st_manifest_t *m, const char *path, const char *vocab_path, st_error_t *err) {
    memset(m, 0, sizeof *m);
    size_t size = 0;
    char *text = st_read_file(path, &size, err);
    if (!text) return err ? err->code : ST_ERR_IO;
    reader_t r = {.path = path, .dir = folder_of(path)};
    st_csv_rec_init(&r.c, path, text, size);
    st_status_t rc = r.dir ? read_header(&r, m, err) : NOMEM(&r, err);
    if (rc == ST_OK) rc = read_rows(&r, m, err);
    if (rc == ST_OK) rc = finish(&r, m, vocab_path, err);
    free_cells(r.labels, m->n);
    free_cells(r.transcripts, m->n);
    free_cells(r.group_cells, m->n);
    free(r.dir);
    st_csv_rec_free(&r.c);
    free(text);
    return rc;
}

void st_manifest_free(st_manifest_t *m) {
    if (!m) return;
    free_cells(m->paths, m->n);
    free_cells(m->class_names, m->n_classes);
    free_cells(m->vocab, m->n_vocab);
    free(m->lines);
    free(m->y);
    free(m->tokens);
    free(m->token_lengths);
    free(m->groups);
    free(m->split);
    memset(m, 0, sizeof *m);
}

void st_manifest_keep(st_manifest_t *m, const uint8_t *keep) {
    int64_t k = 0;
    for (int64_t i = 0; i < m->n; i++) {
        if (!keep[i]) {
            free(m->paths[i]);
            continue;
        }
        m->paths[k] = m->paths[i];
        m->lines[k] = m->lines[i];
        if (m->y) m->y[k] = m->y[i];
        if (m->tokens) {
            memmove(m->tokens + k * m->max_len, m->tokens + i * m->max_len, (size_t)m->max_len * sizeof *m->tokens);
            m->token_lengths[k] = m->token_lengths[i];
        }
        if (m->groups) m->groups[k] = m->groups[i];
        if (m->split) m->split[k] = m->split[i];
        k++;
    }
    m->n = k;
}
