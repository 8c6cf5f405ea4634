#!/usr/bin/python3
"""five — a 5-voter ensemble under load (6 clients; each phase's history
checked for linearizability and every member's data compared, see
tests/lib/ensembletest.py):

  minority kills   two voters at once killed -9 and restarted, three times: the
                   leader and a follower, two followers, two at random; the
                   time from the kill to the first acknowledged write begun
                   after it is printed when the leader was among them
  (the leader-alone kill is failover.py's; ZK_FIVE_LEADER_KILLS=N adds N here)

Usage: five.py [FLAVOR]   FLAVOR (or $ZK_ENSEMBLE_KINDS): apache (default),
       zkfs, mixed, all, or kinds joined by '+'.  TAP on stdout.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ensembletest import Suite  # noqa: E402
import failover  # noqa: E402  (the phases are the same, with another size)


def main():
    suite = Suite("five")
    for flavor, ens in suite.ensembles(voters=5):
        if int(os.environ.get("ZK_FIVE_LEADER_KILLS", "0")):
            failover.leader_kills(suite, ens, rounds=int(os.environ["ZK_FIVE_LEADER_KILLS"]))
        failover.minority_kills(suite, ens, rounds=3, size=2)
    suite.done()


if __name__ == "__main__":
    main()
