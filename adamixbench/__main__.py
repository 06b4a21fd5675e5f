from adamixbench.sources.offline import apply_offline_defaults

apply_offline_defaults()  # before the CLI imports transformers / datasets, which read these once

import sys  # noqa: E402

if sys.argv[1:2] == ["serve"]:  # the warm engine imports the CLI in each fork, never the other way round
    from adamixbench.engine.server import main as serve_main

    raise SystemExit(serve_main(sys.argv[2:]))

from adamixbench.engine.cli import main  # noqa: E402

raise SystemExit(main())
