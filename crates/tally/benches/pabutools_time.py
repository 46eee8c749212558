#!/usr/bin/env python3
"""Times pabutools on one pabulib instance and rule, the way
shared/tools/pb_oracle.py calls it, for the tally bench (benches/tally.rs).

Usage: pabutools_time.py FILE.pb RULE REPEATS TIMEOUT_S
  RULE: greedy | mes | mes-add1

Prints one JSON object: the selection (project ids, sorted as strings),
the best time of the rule call over at least REPEATS runs and as many as
fit in 2 s (fewer when a run takes long: no new run starts after
TIMEOUT_S / 2 in total), how many runs,
and, untimed by pabutools' own figures but measured here, how long parsing
and as_multiprofile() took. The timed call is the oracle's: the rule on the
multiprofile, with sat_class, so it includes building the satisfaction
profile; as_multiprofile() (merging identical ballots) runs before the clock
starts, as in the oracle. A run longer than TIMEOUT_S is stopped:
"timed_out": true.
"""
import json
import signal
import sys
import time

from pabutools.election import (parse_pabulib, Cost_Sat, Additive_Cardinal_Sat,
                                Additive_Borda_Sat, ApprovalProfile, CumulativeProfile,
                                CardinalProfile, OrdinalProfile)
from pabutools.rules import method_of_equal_shares, greedy_utilitarian_welfare


class Slow(Exception):
    pass


def _alarm(*_):
    raise Slow()


def main():
    path, rule, repeats, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    t = time.perf_counter()
    inst, prof = parse_pabulib(path)
    parse_s = time.perf_counter() - t
    if isinstance(prof, ApprovalProfile):
        sat = Cost_Sat
    elif isinstance(prof, (CumulativeProfile, CardinalProfile)):
        sat = Additive_Cardinal_Sat
    elif isinstance(prof, OrdinalProfile):
        sat = Additive_Borda_Sat
    else:
        raise SystemExit(f"unknown profile type in {path}")
    t = time.perf_counter()
    mp = prof.as_multiprofile()
    multiprofile_s = time.perf_counter() - t
    call = {
        "greedy": lambda: greedy_utilitarian_welfare(inst, mp, sat_class=sat),
        "mes": lambda: method_of_equal_shares(inst, mp, sat_class=sat),
        "mes-add1": lambda: method_of_equal_shares(inst, mp, sat_class=sat,
                                                   voter_budget_increment=1),
    }[rule]
    best, runs, selected, timed_out = None, 0, None, False
    signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    # At least REPEATS runs, and as many more (up to 100) as fit in 2 s,
    # like ours; no new run after TIMEOUT_S / 2.
    while runs < 100 and (runs < repeats or time.perf_counter() - started < 2.0) and (
            runs == 0 or time.perf_counter() - started < timeout / 2):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        t = time.perf_counter()
        try:
            out = call()
        except Slow:
            timed_out = True
            break
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - t
        runs += 1
        best = took if best is None else min(best, took)
        selected = sorted(str(p.name) for p in out)
    json.dump({"selected": selected, "best_s": best, "runs": runs, "timed_out": timed_out,
               "timeout_s": timeout, "parse_s": parse_s, "multiprofile_s": multiprofile_s},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
