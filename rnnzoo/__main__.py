"""`python -m rnnzoo ...`: the same command line as `rnnzoo ...`."""

from rnnzoo.cli import console_main

if __name__ == "__main__":
    console_main()
