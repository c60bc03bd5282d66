"""pneumo_desktop: offline screening of paediatric chest X-rays for pneumonia.

Decision support for a radiologist, not a diagnosis.
"""

__version__ = "0.1.0"
