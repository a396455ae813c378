"""Code shared by wingmate, wmpidproxy and wmexec.

Importing this package, or any module in it, has no side effects: each entry
script sets up logging and signal handling for itself.
"""

__version__ = "0.1.0"
