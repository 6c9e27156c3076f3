/* progress.c — the per-epoch terminal line and the in-place progress bar (see progress.h). */
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clock.h"

static int digits(int n) {
    int d = 1;
    while (n >= 10) n /= 10, d++;
    return d;
}

int st_epoch_line_format(char *buf, size_t size, const st_epoch_line_t *e) {
    char val[80], train[48] = "";
    const char *metric = e->val_metric ? e->val_metric : "acc";
    if (isnan(e->val_loss) && isnan(e->val_accuracy)) snprintf(val, sizeof val, "val -");
    else if (isnan(e->val_accuracy)) snprintf(val, sizeof val, "val loss %.4f", e->val_loss);
    else snprintf(val, sizeof val, "val loss %.4f %s %.2f%%", e->val_loss, metric, 100.0 * e->val_accuracy);
    if (!isnan(e->train_accuracy)) snprintf(train, sizeof train, " acc %.2f%%", 100.0 * e->train_accuracy);
    char flags[40] = "";
    if (e->best || e->checkpoint)
        snprintf(flags, sizeof flags, "  [%s%s%s]", e->best ? "best" : "", e->best && e->checkpoint ? ", " : "",
                 e->checkpoint ? "checkpoint" : "");
    int has_warn = e->collapse_warning && e->collapse_warning[0];
    return snprintf(buf, size,
                    "epoch %*d/%d  train loss %.4f%s  %s  lr %.3g  %.1f s  %.0f samples/s%s%s%s",
                    digits(e->n_epochs), e->epoch, e->n_epochs, e->train_loss, train, val,
                    e->lr, e->seconds, e->samples_per_s, flags, has_warn ? "  WARNING: " : "",
                    has_warn ? e->collapse_warning : "");
}

void st_epoch_line_print(FILE *out, const st_epoch_line_t *e) {
    char line[1024];
    st_epoch_line_format(line, sizeof line, e);
    fprintf(out, "%s\n", line);
    fflush(out);
}

/* A terminal device: the tty, console and pseudo-terminal majors of Linux (devices.txt). */
static int is_terminal_device(const struct stat *s) {
    unsigned m = major(s->st_rdev);
    return S_ISCHR(s->st_mode) && (m == 4 || m == 5 || (m >= 136 && m <= 143));
}

int st_progress_output_is_terminal(FILE *out) {
    if (!out || !isatty(fileno(out))) return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE")) return 1;
    /* Under mpirun a rank's stdout is a pseudo-terminal of the launcher even when the launcher's
     * own output goes to a file: look where the launcher (the parent) writes. */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/1", (int)getppid());
    struct stat s;
    return stat(path, &s) == 0 && is_terminal_device(&s);
}

void st_progress_begin(st_progress_t *p, FILE *out, st_progress_mode_t mode, int epoch, int n_epochs,
                       int64_t total_steps) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = out && (mode == ST_PROGRESS_ALWAYS || (mode == ST_PROGRESS_AUTO && st_progress_output_is_terminal(out)));
    p->epoch = epoch;
    p->n_epochs = n_epochs;
    p->total_steps = total_steps;
    p->t_start = st_clock_s();
    p->t_last_draw = -1;
}

void st_progress_update(st_progress_t *p, int64_t steps_done, int64_t samples_done, double running_loss) {
    if (!p->enabled) return;
    double t = st_clock_s();
    if (p->t_last_draw >= 0 && t - p->t_last_draw < ST_PROGRESS_MIN_INTERVAL_S) return;
    p->t_last_draw = t;
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int filled = p->total_steps > 0 ? (int)((double)WIDTH * (double)steps_done / (double)p->total_steps) : 0;
    if (filled > WIDTH) filled = WIDTH;
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[WIDTH] = '\0';
    char rate[32];
    double dt = t - p->t_start;
    if (dt > 0) snprintf(rate, sizeof rate, "%.0f samples/s", (double)samples_done / dt);
    else snprintf(rate, sizeof rate, "- samples/s");
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %*d/%d [%s] %lld/%lld steps  %s  loss %.4f", digits(p->n_epochs),
                     p->epoch, p->n_epochs, bar, (long long)steps_done, (long long)p->total_steps, rate, running_loss);
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    /* pad over a longer previous line */
    fprintf(p->out, "\r%s%*s", line, p->drawn_len > n ? p->drawn_len - n : 0, "");
    fflush(p->out);
    if (n > p->drawn_len) p->drawn_len = n;
}

void st_progress_end(st_progress_t *p) {
    if (!p->enabled || p->drawn_len == 0) return;
    fprintf(p->out, "\r%*s\r", p->drawn_len, "");
    fflush(p->out);
    p->drawn_len = 0;
}
