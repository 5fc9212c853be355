"""`python -m broker` is the same as the `customs-broker` console script."""

import sys

from broker.cli import main

sys.exit(main())
