"""Shangjia (上架): the product-listing domain core.

Nothing in this package imports boto3 except ``shangjia.adapters`` (the AWS side of the
ports declared in ``shangjia.ports``) and ``shangjia.localcloud`` (the emulator runtime).
"""

__version__ = "0.1.0"
