"""Entry point for `python -m billing_sync`."""

from billing_sync.cli import main

if __name__ == "__main__":
    main()
