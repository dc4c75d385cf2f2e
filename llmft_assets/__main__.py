import sys

from llmft_assets.cli import main

sys.exit(main())
