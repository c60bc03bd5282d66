"""PyInstaller entry script of the bundle's executables (see build.spec).

``pneumo_desktop/app.py`` uses relative imports, so it cannot be the frozen script itself (the
script runs as ``__main__``, outside its package); this launcher imports it instead.

One script serves both commands: invoked as ``pneumo-scan`` (the Windows console executable,
or the symbolic link beside ``pneumo-desktop`` on Linux) it runs the headless scanner, else
the desktop application.
"""

import os
import sys

if os.path.basename(sys.argv[0]).lower().removesuffix(".exe") == "pneumo-scan":
    from pneumo_desktop.cli import scan_main as main
else:
    from pneumo_desktop.app import main

raise SystemExit(main())
