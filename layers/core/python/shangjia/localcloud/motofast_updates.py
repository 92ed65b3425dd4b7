"""moto's UpdateItem expression validator without the work AWS does not do (``motofast``'s part).

The validator makes ten passes over the parsed update expression (12 % of the emulator's time in
the 2,000-product bench, py-spy 2026-12-03). Each pass built its map of node types (a new dict of
bound methods) for every node it visited and asked moto's abstract ``Node`` class for every node
whether it is one; both depend on the types only and are memoized per type, as are the handler a
pass picks for a node (``process``) and the checks of ``find_clauses`` (three walks of the
expression per update, to count its ADD, REMOVE and SET). And the parsed expression is not deep-copied for its last validation (nothing reads it after): an update of an
existing item validates it once, a new item's twice (moto validates it before creating the item:
that first one keeps moto's copy); ``motofast.update_item`` says which through
``_local.ast_copies``.

moto is pinned (``requirements-dev.txt``); ``tests/integration/test_motofast.py`` compares the
answers and errors of the same updates with moto's own.
"""

from __future__ import annotations


def install(_originals: dict, _local) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Expression, Node, UpdateExpressionFunction
    from moto.dynamodb.parsing.validators import Validator

    original_init = _originals["validator_init"] = Validator.__init__
    _originals["traverse"] = DepthFirstTraverser.traverse_node_recursively
    _originals["nodes_to_be_processed"] = DepthFirstTraverser.nodes_to_be_processed
    is_node: dict = {}
    processed: dict = {}

    def validator_init(self, expression, expression_attribute_names, expression_attribute_values, item, table):
        copies = getattr(_local, "ast_copies", None)
        if copies is None or copies > 0:        # not in an update, or a validation before the last
            if copies:
                _local.ast_copies = copies - 1
            return original_init(self, expression, expression_attribute_names, expression_attribute_values,
                                 item, table)
        _local.ast_copies = None        # the request's last validation: nothing reads the expression after it
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item, self.table = item, table
        self.processors = self.get_ast_processors()
        self.node_to_validate = expression

    def nodes_to_be_processed(self):
        kinds = processed.get(type(self))
        if kinds is None:
            kinds = processed[type(self)] = tuple(self._processing_map().keys())
        return kinds

    def traverse_node_recursively(self, node, child_id=-1):
        # moto's, with ``isinstance`` against its abstract Node and the pass's node types memoized
        kind = type(node)
        node_like = is_node.get(kind)
        if node_like is None:
            node_like = is_node[kind] = isinstance(node, Node)
        if node_like:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            key = (type(self), kind)
            wanted = processed.get(key)
            if wanted is None:
                wanted = processed[key] = isinstance(node, self.nodes_to_be_processed())
            if wanted:
                node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    _originals["process"] = DepthFirstTraverser.process
    handlers: dict = {}

    def process(self, node):
        # moto's: the first handler of the pass's map whose node class the node is; which one
        # depends on the two types only (each map's values are the pass's own methods)
        key = (type(self), type(node))
        fn = handlers.get(key)
        if fn is None:
            for class_key, handler in self._processing_map().items():
                if isinstance(node, class_key):
                    if getattr(handler, "__self__", None) is not self:
                        return handler(node)            # not a method of the pass: moto's way, unmemoized
                    fn = handlers[key] = handler.__func__
                    break
            else:
                return None
        return fn(self, node)

    _originals["find_clauses"] = Node.find_clauses
    descends: dict = {}

    def find_clauses(self, clause_types):
        # moto's (three walks of the expression per update, for ADD, REMOVE and SET), with its
        # isinstance checks against the abstract node classes memoized per type
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            down = descends.get(kind)
            if down is None:
                down = descends[kind] = isinstance(child, (Expression, UpdateExpressionFunction))
            if down:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    Node.find_clauses = find_clauses
    Validator.__init__ = validator_init
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively
    DepthFirstTraverser.process = process


def uninstall(_originals: dict) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.validators import Validator

    Validator.__init__ = _originals.pop("validator_init")
    from moto.dynamodb.parsing.ast_nodes import Node

    Node.find_clauses = _originals.pop("find_clauses")
    DepthFirstTraverser.traverse_node_recursively = _originals.pop("traverse")
    DepthFirstTraverser.process = _originals.pop("process")
    DepthFirstTraverser.nodes_to_be_processed = _originals.pop("nodes_to_be_processed")
