"""cdir web app, as a Space and a clone start it: ``python app.py [options]``.

The same app as ``cdir app [options]`` from an installed package; it is built in
:mod:`cdir.app.main`.
"""

from cdir.app.main import main

if __name__ == "__main__":
    main()
