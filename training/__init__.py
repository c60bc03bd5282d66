"""Training package for pneumo_desktop: regenerates the models in ``models/`` and their cards.

The desktop app never imports this package; the two meet only through the files it writes
(``<name>.keras`` plus ``<name>.card.json`` and plots).
"""
