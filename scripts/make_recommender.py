#!/usr/bin/python3
"""make_recommender.py - a seeded, synthetic gift-recommender dataset with known noise ceilings.

Usage: python3 scripts/make_recommender.py OUT_PREFIX [--scenarios N] [--variants V] [--seed S]
       (defaults: 6000 scenarios x 4 variants = 24,000 rows, seed 0; numpy only)

Writes OUT_PREFIX.csv and OUT_PREFIX.ceiling.json and prints the ceiling table. It exists to
give strata's multi-task training (issue 13) a task whose best achievable scores are known: the
targets come from a hidden rule plus noise of known size, so a trained model can be compared
with the rule itself.

Inputs of a scenario (who the gift is for and why):
  relationship  id 0..10  (partner, parent, child, sibling, grandparent, friend, colleague, boss,
                           neighbour, teacher, acquaintance)
  occasion      id 0..9   (birthday, christmas, anniversary, wedding, graduation, housewarming,
                           retirement, thank_you, get_well, new_baby)
  budget_tier   id 0..3   (low 10-30, medium 30-80, high 80-200, luxury 200-600)
  preference    id 0..6   (practical, sentimental, experiential, luxurious, fun, eco, surprise)
  hobby_0..6    0/1, 1 to 3 of them set (sports, cooking, reading, gaming, gardening, music, travel)
  age           years, uniform 10..85
  budget        log-uniform inside the tier's range
All ids are uniform; the number of hobbies is uniform in {1, 2, 3}, then which ones.

Variants: each scenario is written V times ("augmented variants"): the same ids and hobbies,
age + N(0, 1.5) clipped to 5..95 and budget x exp(N(0, 0.1)) clipped to the tier's range; age
is written with 1 decimal, budget with 2, and the rule reads the written values. Each variant
draws its own target noise. The `scenario` column (the group id) is the scenario's number: the
variants of a scenario must stay in the same split part. 20% of the scenarios (exactly
round(0.2 N), a seeded permutation) are `test`, the rest `train`; rows are in scenario order.

The hidden rule (its tables are drawn once from numpy's default_rng(RULE_SEED = 13), whatever
--seed is, so every seed samples the same task; --seed only draws scenarios, split and noise):
  za = (age - 45) / 20,  zb = (ln budget - ln 80) / 1.2
  category score, 8 classes (experience, gadget, book, clothing, home, sports_gear, beauty, food):
      s[c] = REL[rel, c] + OCC[occ, c] + PREF[pref, c] + TIER[tier, c] + sum_h hobby_h HOB[h, c]
             + W_AGE[c] za + W_BUD[c] zb                 (tables N(0, 1), weights N(0, 0.8))
      c* = argmax_c s[c]  (the rule's most likely category)
  tools, 45 items, independent Bernoulli(sigmoid(t[j])) with
      t[j] = -6 + 4 [the hobby of tool j is set] + 4 [tool j fits the occasion] + 4 [tool j fits c*]
      (each tool has one hobby, j mod 7; each occasion fits 4 tools and each category 6, drawn
      once): a tool with two or three of the signals has p >= 0.88, one with one signal 0.12,
      one with none 0.002 (about 4.9 tools per row)
  reward, real:  v = 5 + sum_c q[c] (RT[tier, c] + A[c] za) - 0.5 za^2   (RT N(0, 1), A N(0, 0.6)),
      q = softmax(s / CAT_TEMP), the category distribution the labels are drawn from (before the
      flips): the reward is smooth in the inputs (with c* in place of q it jumps at every
      category boundary and a small MLP reached R^2 0.46-0.48 where the rule had 0.75)
Noise (known):
  category = argmax_c (s[c] + G_c) with G_c Gumbel(0, CAT_TEMP = 0.5) (that is, a draw from
             softmax(s / 0.5)); then with probability CAT_FLIP = 0.05 replaced by a uniform class
  tools    = the Bernoulli draws above
  reward   = v + N(0, REWARD_STD = 0.5), written with 4 decimals

Ceilings: the noise-free rule scored on the noisy targets, per split part: category accuracy
(c* vs the labels), tools micro-F1 at threshold 0.5 (tool j predicted when sigmoid(t[j]) >= 0.5,
vs the drawn sets), reward R^2 (v vs the rewards, 1 - SSE / SS around the part's mean). A model
that scores near the ceiling has learnt the rule; no model can beat it except by chance. The
baselines are what knowing nothing gives: the most frequent train category, every tool
predicted, the train mean reward (R^2 about 0). docs/multitask.md has the measured figures.
"""
import argparse
import json
import sys

import numpy as np

RULE_SEED = 13
CAT_TEMP, CAT_FLIP, REWARD_STD = 0.5, 0.05, 0.5
TOOL_BIAS, TOOL_SIGNAL = -6.0, 4.0          # tool logit: bias + TOOL_SIGNAL per signal present
AGE_CURVE = 0.5                              # reward: - AGE_CURVE za^2
TEST_FRACTION = 0.2
NAMES = {
    "relationship": ["partner", "parent", "child", "sibling", "grandparent", "friend", "colleague", "boss",
                     "neighbour", "teacher", "acquaintance"],
    "occasion": ["birthday", "christmas", "anniversary", "wedding", "graduation", "housewarming", "retirement",
                 "thank_you", "get_well", "new_baby"],
    "budget_tier": ["low", "medium", "high", "luxury"],
    "preference": ["practical", "sentimental", "experiential", "luxurious", "fun", "eco", "surprise"],
    "hobby": ["sports", "cooking", "reading", "gaming", "gardening", "music", "travel"],
    "category": ["experience", "gadget", "book", "clothing", "home", "sports_gear", "beauty", "food"],
}
N_REL, N_OCC, N_TIER, N_PREF, N_HOB, N_CAT, N_TOOLS = 11, 10, 4, 7, 7, 8, 45
TIER_BOUNDS = np.array([10.0, 30.0, 80.0, 200.0, 600.0])   # tier k: budget in [B[k], B[k+1]]


def make_rule():
    """The hidden rule's tables, always the same (RULE_SEED)."""
    g = np.random.default_rng(RULE_SEED)
    r = {
        "REL": g.normal(0, 1, (N_REL, N_CAT)), "OCC": g.normal(0, 1, (N_OCC, N_CAT)),
        "PREF": g.normal(0, 1, (N_PREF, N_CAT)), "TIER": g.normal(0, 1, (N_TIER, N_CAT)),
        "HOB": g.normal(0, 1, (N_HOB, N_CAT)), "W_AGE": g.normal(0, 0.8, N_CAT), "W_BUD": g.normal(0, 0.8, N_CAT),
        "RT": g.normal(0, 1, (N_TIER, N_CAT)), "A": g.normal(0, 0.6, N_CAT),
    }
    r["TOOL_HOBBY"] = np.arange(N_TOOLS) % N_HOB                                  # [45] one hobby per tool
    r["OCC_TOOLS"] = np.zeros((N_OCC, N_TOOLS))                                   # [10, 45] 0/1, 4 per row
    r["CAT_TOOLS"] = np.zeros((N_CAT, N_TOOLS))                                   # [8, 45] 0/1, 6 per row
    for o in range(N_OCC):
        r["OCC_TOOLS"][o, g.choice(N_TOOLS, 4, replace=False)] = 1
    for c in range(N_CAT):
        r["CAT_TOOLS"][c, g.choice(N_TOOLS, 6, replace=False)] = 1
    return r


def draw_scenarios(n, seed):
    """The scenarios' ids, hobbies and base age/budget (stream 1 of the seed)."""
    g = np.random.default_rng([seed, 1])
    s = {"relationship": g.integers(0, N_REL, n), "occasion": g.integers(0, N_OCC, n),
         "budget_tier": g.integers(0, N_TIER, n), "preference": g.integers(0, N_PREF, n)}
    n_hob = g.integers(1, 4, n)
    hob = np.zeros((n, N_HOB), np.int64)
    for i in range(n):
        hob[i, g.choice(N_HOB, n_hob[i], replace=False)] = 1
    s["hobby"] = hob
    s["age"] = g.uniform(10, 85, n)
    lo, hi = np.log(TIER_BOUNDS[s["budget_tier"]]), np.log(TIER_BOUNDS[s["budget_tier"] + 1])
    s["budget"] = np.exp(g.uniform(lo, hi))
    return s


def expand_variants(s, v, seed):
    """Each scenario repeated v times with jittered age and budget (stream 2), rounded as written."""
    g = np.random.default_rng([seed, 2])
    rows = {k: np.repeat(a, v, axis=0) for k, a in s.items()}
    n = len(rows["age"])
    rows["age"] = np.round(np.clip(rows["age"] + g.normal(0, 1.5, n), 5, 95), 1)
    tier = rows["budget_tier"]
    b = np.clip(rows["budget"] * np.exp(g.normal(0, 0.1, n)), TIER_BOUNDS[tier], TIER_BOUNDS[tier + 1])
    rows["budget"] = np.round(b, 2)
    rows["scenario"] = np.repeat(np.arange(len(s["age"])), v)
    return rows


def apply_rule(r, x):
    """The noise-free rule: category scores [n, 8], c* [n], tool probabilities [n, 45], reward [n]."""
    za = (x["age"] - 45) / 20
    zb = (np.log(x["budget"]) - np.log(80)) / 1.2
    score = (r["REL"][x["relationship"]] + r["OCC"][x["occasion"]] + r["PREF"][x["preference"]] +
             r["TIER"][x["budget_tier"]] + x["hobby"] @ r["HOB"] + np.outer(za, r["W_AGE"]) + np.outer(zb, r["W_BUD"]))
    cat = score.argmax(axis=1)
    q = np.exp((score - score.max(axis=1, keepdims=True)) / CAT_TEMP)             # [n, 8] softmax(s / T)
    q /= q.sum(axis=1, keepdims=True)
    has_hobby = x["hobby"][:, r["TOOL_HOBBY"]]                                     # [n, 45]
    logit = TOOL_BIAS + TOOL_SIGNAL * (has_hobby + r["OCC_TOOLS"][x["occasion"]] + r["CAT_TOOLS"][cat])
    prob = 1 / (1 + np.exp(-logit))
    per_cat = r["RT"][x["budget_tier"]] + np.outer(za, r["A"])                    # [n, 8]
    reward = 5 + (q * per_cat).sum(axis=1) - AGE_CURVE * za ** 2
    return score, cat, prob, reward


def draw_targets(score, prob, reward, seed):
    """The noisy targets (stream 3): category, tools [n, 45] 0/1, reward (4 decimals)."""
    g = np.random.default_rng([seed, 3])
    n = len(reward)
    gumbel = -np.log(-np.log(g.uniform(np.finfo(float).tiny, 1, score.shape)))
    cat = (score + CAT_TEMP * gumbel).argmax(axis=1)
    flip = g.uniform(size=n) < CAT_FLIP
    cat[flip] = g.integers(0, N_CAT, int(flip.sum()))
    tools = (g.uniform(size=prob.shape) < prob).astype(np.int64)
    rew = np.round(reward + g.normal(0, REWARD_STD, n), 4)
    return cat, tools, rew


def metrics(cat_pred, cat, tool_pred, tools, rew_pred, rew):
    """Category accuracy, tools micro-F1, reward R^2 of predictions against targets."""
    tp = int((tool_pred & tools).sum())
    fp, fn = int((tool_pred & (1 - tools)).sum()), int(((1 - tool_pred) & tools).sum())
    ss = float(((rew - rew.mean()) ** 2).sum())
    return {"category_accuracy": round(float((cat_pred == cat).mean()), 6),
            "tools_micro_f1": round(2 * tp / (2 * tp + fp + fn), 6) if tp + fp + fn else 0.0,
            "reward_r2": round(1 - float(((rew - rew_pred) ** 2).sum()) / ss, 6) if ss > 0 else 0.0}


def write_csv(path, x, test, cat, tools, rew):
    """OUT_PREFIX.csv: the header of docs/multitask.md, one row per variant, in scenario order."""
    head = (["scenario", "split", "age", "budget", "relationship", "occasion", "budget_tier", "preference"] +
            [f"hobby_{h}" for h in range(N_HOB)] + ["category"] + [f"tool_{j}" for j in range(N_TOOLS)] + ["reward"])
    fmt = "%d,%s,%.1f,%.2f,%d,%d,%d,%d," + ",".join(["%d"] * N_HOB) + ",%d," + ",".join(["%d"] * N_TOOLS) + ",%.4f\n"
    part = np.where(test, "test", "train")
    with open(path, "w", newline="") as f:
        f.write(",".join(head) + "\n")
        for i in range(len(rew)):
            f.write(fmt % (x["scenario"][i], part[i], x["age"][i], x["budget"][i], x["relationship"][i],
                           x["occasion"][i], x["budget_tier"][i], x["preference"][i], *x["hobby"][i], cat[i],
                           *tools[i], rew[i]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_prefix", help="writes OUT_PREFIX.csv and OUT_PREFIX.ceiling.json")
    ap.add_argument("--scenarios", type=int, default=6000, help="number of scenarios (default 6000)")
    ap.add_argument("--variants", type=int, default=4, help="rows per scenario (default 4)")
    ap.add_argument("--seed", type=int, default=0, help="draws scenarios, split and noise (default 0)")
    a = ap.parse_args()
    if a.scenarios < 5 or a.variants < 1 or a.seed < 0:
        ap.error("--scenarios must be at least 5, --variants at least 1, --seed at least 0")
    rule = make_rule()
    x = expand_variants(draw_scenarios(a.scenarios, a.seed), a.variants, a.seed)
    test_scen = np.random.default_rng([a.seed, 4]).permutation(a.scenarios)[:round(TEST_FRACTION * a.scenarios)]
    test = np.isin(x["scenario"], test_scen)
    score, c_star, prob, v = apply_rule(rule, x)
    cat, tools, rew = draw_targets(score, prob, v, a.seed)
    write_csv(a.out_prefix + ".csv", x, test, cat, tools, rew)

    tool_pred = (prob >= 0.5).astype(np.int64)
    ceiling = {p: metrics(c_star[m], cat[m], tool_pred[m], tools[m], v[m], rew[m])
               for p, m in (("train", ~test), ("test", test))}
    majority = np.bincount(cat[~test], minlength=N_CAT).argmax()
    baseline = {p: metrics(np.full(m.sum(), majority), cat[m], np.ones_like(tools[m]), tools[m],
                           np.full(m.sum(), rew[~test].mean()), rew[m]) for p, m in (("train", ~test), ("test", test))}
    report = {
        "generator": "scripts/make_recommender.py", "seed": a.seed, "scenarios": a.scenarios, "variants": a.variants,
        "rows": {"train": int((~test).sum()), "test": int(test.sum())},
        "noise": {"rule_seed": RULE_SEED, "category_gumbel_scale": CAT_TEMP, "category_flip": CAT_FLIP,
                  "reward_std": REWARD_STD, "tool_bias": TOOL_BIAS, "tool_signal": TOOL_SIGNAL,
                  "reward_age_curve": AGE_CURVE},
        "ceiling": ceiling,
        "baseline": baseline,
        "names": NAMES,
    }
    with open(a.out_prefix + ".ceiling.json", "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(f"make_recommender: {a.out_prefix}.csv: {len(rew)} rows ({a.scenarios} scenarios x {a.variants} "
          f"variants; {report['rows']['train']} train, {report['rows']['test']} test), seed {a.seed}")
    print(f"{'':28s}{'ceiling train':>14s}{'ceiling test':>14s}{'baseline test':>15s}")
    for key, label in (("category_accuracy", "category accuracy"), ("tools_micro_f1", "tools micro-F1 @0.5"),
                       ("reward_r2", "reward R^2")):
        print(f"{label:28s}{ceiling['train'][key]:14.3f}{ceiling['test'][key]:14.3f}{baseline['test'][key]:15.3f}")


if __name__ == "__main__":
    sys.exit(main())
