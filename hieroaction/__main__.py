import sys

from hieroaction.cli import main

sys.exit(main())
