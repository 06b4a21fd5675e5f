from .offline import apply_offline_defaults

apply_offline_defaults()  # before the CLI imports transformers / datasets, which read these once

from .cli import main  # noqa: E402

raise SystemExit(main())
