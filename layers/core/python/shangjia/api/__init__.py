"""The HTTP API (``/api``): one Powertools resolver, pydantic request and response models, the
route table in one place (``shangjia.api.routes.ROUTES``), the role rules of ``shangjia.auth``.

- ``context``: the resolver, the principal of the request, the errors' answers;
- ``merchant``: what merchants (and editors, ops for them) use: uploads, batches, products, reports;
- ``staff``: the board, review, failures, DLQs, settings, editor assignments;
- ``board``: the kanban board's read model.

``docs/api.md`` is the reference; ``docs/openapi.json`` is generated (``make docs``).
"""
