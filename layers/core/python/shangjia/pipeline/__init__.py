"""The pipeline's stage logic, written against ``shangjia.ports`` (no AWS imports).

Each stage function takes a ``Deps`` bundle and one message, is idempotent on a business key
(merchant + product + batch + stage), and raises ``Transient`` for what should be retried.
"""
