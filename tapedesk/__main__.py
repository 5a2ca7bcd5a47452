"""`python -m tapedesk`: the same program as the `tapedesk` console script."""

import sys

from tapedesk.tui.launch import main

sys.exit(main())
