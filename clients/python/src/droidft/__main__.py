import sys

from droidft.cli import main

sys.exit(main())
