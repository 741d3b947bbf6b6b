"""`python -m deep_research_mcp ...`: the same as the `deep-research` console script (host configs can use it when
the script is not on the host's PATH)."""

import sys

from .entry import main

sys.exit(main())
