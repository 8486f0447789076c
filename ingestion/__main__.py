import sys

from ingestion.cli import main

if __name__ == "__main__":  # extract workers are spawned and re-import this module
    sys.exit(main())
