/* hakmem learn: picks the cheapest of K candidate strategies from the costs
 * of the epochs that ran them (the adaptive layer's background thread).
 *
 * Before an epoch the caller asks hk_learn_next() which candidate to run,
 * after it hk_learn_report() takes the epoch's cost (> 0, lower is better).
 * The module does not know what a candidate is: the caller maps the index to
 * knob values.  All state is in hk_learn_t, owned by the caller; the fields
 * above "private" may be read (for logs and stats), never written.
 *
 * Selectors: HK_SEL_ELO, round robins of 4-epoch ABBA matches with ELO
 * ratings (a side's cost: its mean over its last HK_LEARN_WINDOW epochs),
 * eliminating all but the top M from the second round on; HK_SEL_UCB1,
 * one bandit choice per epoch.  Once converged (FROZEN) the winner runs every
 * epoch, and drift of its cost re-opens learning.  Deterministic: a function
 * of the seed and of the sequence of reported costs. */
#ifndef HK_LEARN_H
#define HK_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_LEARN_MAX    8
#define HK_LEARN_WINDOW 8 /* ELO: a side's cost in a match, over its last epochs */
#define HK_LEARN_PAIRS  (HK_LEARN_MAX * (HK_LEARN_MAX - 1) / 2)

enum { HK_LEARN_LEARNING, HK_LEARN_FROZEN };
enum { HK_SEL_ELO, HK_SEL_UCB1 };

/* What one hk_learn_report() did (bits), for one log line per decision.
 * IGNORED: the cost was <= 0, NaN or above 1e300 (inf): nothing changed,
 * the same candidate is next. */
enum {
  HK_LEARN_EV_NONE = 0,
  HK_LEARN_EV_IGNORED = 1u << 0,    /* invalid cost dropped                       */
  HK_LEARN_EV_MATCH = 1u << 1,      /* ELO match decided: last_a, last_b, ...     */
  HK_LEARN_EV_ELIMINATED = 1u << 2, /* last_eliminated left the alive mask        */
  HK_LEARN_EV_FROZEN = 1u << 3,     /* converged on winner                        */
  HK_LEARN_EV_REOPENED = 1u << 4,   /* the winner's cost drifted: learning again  */
};

typedef struct hk_learn_cand_s {
  double rating; /* ELO; on re-opening pulled half-way back to 1500 */
  /* Since the last (re)opening, frozen epochs included: */
  uint32_t plays;                 /* epochs run                                      */
  uint32_t wins, losses, draws;   /* ELO matches                             */
  double cost_sum;                /* hk_learn_mean_cost() = cost_sum / plays         */
  double reward_sum;              /* UCB1: sum of min(best cost seen / cost, 1)      */
  double recent[HK_LEARN_WINDOW]; /* its last epochs' costs, at plays % W  */
} hk_learn_cand_t;

typedef struct hk_learn_s {
  unsigned k, m, selector;
  unsigned state;   /* HK_LEARN_LEARNING or HK_LEARN_FROZEN            */
  unsigned winner;  /* frozen on, or the best so far                   */
  uint32_t alive;   /* bit i: candidate i still competes               */
  uint32_t reopens; /* times drift re-opened learning                  */
  uint32_t rounds;  /* ELO round robins completed since (re)opening    */
  uint64_t epochs;  /* reports accepted, over the whole life           */
  hk_learn_cand_t cand[HK_LEARN_MAX];
  /* The last decided match (HK_LEARN_EV_MATCH): A played epochs 1 and 4. */
  unsigned last_a, last_b;
  double last_cost_a, last_cost_b; /* A's, B's mean over their last W epochs */
  double last_score_a;             /* 1 A won, 0.5 draw, 0 B won           */
  uint32_t last_eliminated;        /* mask (HK_LEARN_EV_ELIMINATED)        */
  /* private */
  uint64_t rng;
  uint8_t pair[HK_LEARN_PAIRS][2]; /* this round's matches, in order       */
  unsigned npairs, pos, step;      /* match pair[pos], epoch step of 4     */
  double ep[4];                    /* its epochs' costs so far: A B B A     */
  double best_cost;                /* UCB1: lowest cost seen (0: none)     */
  unsigned frozen_n, drift_run;
  double baseline, ewma;
} hk_learn_t;

/* k in 2..HK_LEARN_MAX and 1 <= m <= k (clamped); selector HK_SEL_*. */
void hk_learn_init(hk_learn_t *l, unsigned k, unsigned m, unsigned selector, uint64_t seed);
/* The candidate to run in the coming epoch. */
unsigned hk_learn_next(const hk_learn_t *l);
/* The cost of the epoch that ran hk_learn_next(); returns HK_LEARN_EV_* bits. */
unsigned hk_learn_report(hk_learn_t *l, double cost);
/* A fixed candidate's epoch (no selection): only its plays and mean cost,
 * so that a static run is measured as learning measures its candidates. */
void hk_learn_record(hk_learn_t *l, unsigned i, double cost);
/* Mean cost of candidate i since the last (re)opening; 0 if it has not run. */
double hk_learn_mean_cost(const hk_learn_t *l, unsigned i);

/* ELO: expected score of A against B; the update of one match. */
double hk_learn_expected(double ra, double rb);
void hk_learn_elo(double *ra, double *rb, double score_a);
/* libm stand-ins (the library is linked without -lm), ~1e-15 relative:
 * exp on [-700, 700] (clamped), ln and sqrt on [2^-1022, 1e300]. */
double hk_learn_exp(double x);
double hk_learn_ln(double x);
double hk_learn_sqrt(double x);

#endif /* HK_LEARN_H */
