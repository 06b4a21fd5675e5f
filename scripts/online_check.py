"""`make online-check [PIN=1]`: load one split of every pinned hub dataset and the config + tokenizer of every
pinned backbone, check them against adamixbench/sources/pins.py, print ``item | source | revision | rows | ok``;
``--pin`` writes the current commits into the pins table (adamixbench/engine/online_check.py).

Unlike the other entry points this does NOT switch the hub off by default: it exists to reach it. With
``HF_HUB_OFFLINE=1`` (or no network) it says so and checks nothing.

    python scripts/online_check.py          # check
    python scripts/online_check.py --pin    # re-pin (make online-check PIN=1)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adamixbench.engine.online_check import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
