import sys

from deeppc.cli import main

sys.exit(main())
