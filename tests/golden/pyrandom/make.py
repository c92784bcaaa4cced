"""Golden values for src/prompt/pyrandom.rs from CPython's own `random` module.

Standard library only. Run with CPython 3.11 (the values below were made with the version
recorded in the output's "python" field):

    python3.11 tests/golden/pyrandom/make.py > tests/golden/pyrandom/golden.json

Shuffles: for each seed and each n in 1..=2000, `random.seed(seed); random.shuffle(list(range(n)))`
stored as the first 16 hex digits of SHA-256 over the comma-joined permutation ("3,0,2,1"), so
any single misplaced element changes it; a few permutations are also stored in full.
"""

import hashlib
import json
import platform
import random
import sys

SHUFFLE_SEEDS = [1, 44]
MAX_LEN = 2000
FULL_LENGTHS = [1, 2, 3, 10, 57]
# Seeds of one and two 32-bit words, and the edges between them.
SEEDS = [0, 1, 44, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1]


def permutation_digest(values):
    joined = ",".join(str(v) for v in values)
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def shuffled(seed, n):
    rng = random.Random(seed)
    items = list(range(n))
    rng.shuffle(items)
    return items


def main():
    out = {
        "python": platform.python_version(),
        "shuffle_digests": {
            str(seed): [permutation_digest(shuffled(seed, n)) for n in range(1, MAX_LEN + 1)]
            for seed in SHUFFLE_SEEDS
        },
        "shuffle_full": [
            {"seed": seed, "n": n, "permutation": shuffled(seed, n)}
            for seed in SHUFFLE_SEEDS
            for n in FULL_LENGTHS
        ],
    }

    # getrandbits(k) for k = 0..=64 in one stream per seed; u64 values as strings so that
    # JSON readers keep every bit.
    out["getrandbits"] = []
    for seed in SEEDS:
        rng = random.Random(seed)
        out["getrandbits"].append(
            {"seed": str(seed), "values": [str(rng.getrandbits(k)) for k in range(65)]}
        )

    out["random"] = []
    for seed in SEEDS:
        rng = random.Random(seed)
        out["random"].append({"seed": str(seed), "values": [repr(rng.random()) for _ in range(20)]})

    # sample: k <= 5 and large populations take the set branch, the others the pool branch;
    # several draws from one generator check that both consume the stream identically.
    out["sample"] = []
    for seed in [1, 44]:
        rng = random.Random(seed)
        for n, k in [(10, 0), (10, 3), (10, 10), (21, 5), (22, 5), (84, 6), (86, 6),
                     (300, 30), (1000, 100), (1000, 400), (100000, 7), (5000, 2000)]:
            out["sample"].append(
                {"seed": seed, "n": n, "k": k, "result": rng.sample(range(n), k)}
            )

    out["choice_randint"] = []
    for seed in [1, 44]:
        rng = random.Random(seed)
        draws = []
        for i in range(200):
            if i % 2 == 0:
                draws.append(rng.choice(range(1, 1 + i // 2 + 1)))
            else:
                draws.append(rng.randint(-(i * 7), i * 13))
        out["choice_randint"].append({"seed": seed, "draws": draws})

    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
