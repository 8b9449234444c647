"""`python -m localdesk`: run the whole desk locally."""

import sys

from localdesk.main import main

sys.exit(main())
