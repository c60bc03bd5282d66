"""How pneumo_desktop is frozen and packaged for clinics: build code, not shipped in the app.

- ``spec_rules`` — what the PyInstaller bundle leaves out (unused Qt, test suites, system
  libraries) and how its libraries are stripped; ``build.spec`` calls these functions.
- ``launcher`` — the frozen programs' entry script (``pneumo-desktop`` and ``pneumo-scan``).
- ``bundle`` — builds the onedir folder in its own virtual environment.
- ``deb``, ``tarball``, ``nsis`` — the Linux ``.deb`` and ``.tar.gz``, the Windows installer.
- ``python3 -m pneumo_packaging {bundle,deb,tarball,nsis,linux}`` runs them (see README).

Not named ``packaging``: that is the PyPA library pip, PyInstaller and pytest import, and a
folder of that name at the repository root would shadow it for every command run from there.
Only the standard library is imported at module level, so the commands run with any Python
3.11+ (the build environment is made by ``bundle``).
"""
