"""
C{python -m txsockjs.client URL [--transport NAME]}; see L{txsockjs.client._cli}.
"""

from ._cli import main

if __name__ == "__main__":
    main()
