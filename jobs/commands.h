/* commands.h — the CLI commands that run under MPI (`train`, `eval`); main.c dispatches. */
#ifndef ST_COMMANDS_H
#define ST_COMMANDS_H

/* strata train CONFIG.json [--set key.path=value ...] [--resume auto|PATH] [--stop-after-steps N] */
int st_cmd_train(int argc, char **argv);

/* strata eval CHECKPOINT DATA.h5 [--split test|val|train|all] [--out DIR] */
int st_cmd_eval(int argc, char **argv);

/* strata verify CONFIG.json --steps N --ranks 1,2,4 [--set key.path=value ...] */
int st_cmd_verify(int argc, char **argv);

#endif
